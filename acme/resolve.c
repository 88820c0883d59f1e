/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Name lookups for the engine's requests, done here with getaddrinfo and
 * handed to libcurl as CURLOPT_RESOLVE entries. Debian's libcurl resolves
 * in a thread of its own otherwise, and the ACME child's sandbox has no
 * threads (no clone, no futex waits); with the address in its cache,
 * libcurl never starts one. An IP address in the URL needs no lookup.
 */
#include "acme_int.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#define RESOLVE_MAX	1024	/* "host:port:addr,addr,..." */
#define ADDRS_MAX	8

/* "[v6]" or "v4" of ai appended to out (comma first unless empty). */
static void
append_addr(char *out, size_t cap, const struct addrinfo *ai)
{
	char text[INET6_ADDRSTRLEN];
	const void *a = ai->ai_family == AF_INET ?
	    (const void *)&((const struct sockaddr_in *)ai->ai_addr)->sin_addr :
	    (const void *)&((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
	size_t n = strlen(out);

	if (inet_ntop(ai->ai_family, a, text, sizeof(text)) == NULL)
		return;
	snprintf(out + n, cap - n, ai->ai_family == AF_INET6 ? "%s[%s]" : "%s%s",
	    n > 0 && out[n - 1] != ':' ? "," : "", text);
}

static int
is_literal(const char *host)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, host, buf) == 1 ||
	    inet_pton(AF_INET6, host, buf) == 1 || host[0] == '[';
}

/* The entry for host:port, from getaddrinfo; 0 or -1 with a->err. */
static int
lookup(struct acme *a, const char *what, const char *host, const char *port,
    char *entry, size_t cap)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int rc, n = 0;

	if ((rc = getaddrinfo(host, NULL, &hints, &res)) != 0)
		return acme_fail(a, "%s: cannot resolve %s: %s", what, host,
		    gai_strerror(rc));
	snprintf(entry, cap, "%s:%s:", host, port);
	for (ai = res; ai != NULL && n < ADDRS_MAX; ai = ai->ai_next)
		if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6) {
			append_addr(entry, cap, ai);
			n++;
		}
	freeaddrinfo(res);
	return n > 0 ? 0 : acme_fail(a, "%s: %s has no IP address", what, host);
}

int
resolve_url(struct acme *a, const char *what, const char *url)
{
	char *host = NULL, *port = NULL, entry[RESOLVE_MAX];
	CURLU *u = curl_url();
	int rc = 0;

	if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
	    CURLUE_OK)
		rc = acme_fail(a, "%s: malformed URL", what);
	else if (!is_literal(host) && (rc = lookup(a, what, host, port, entry,
	    sizeof(entry))) == 0) {
		curl_slist_free_all(a->resolve);
		if ((a->resolve = curl_slist_append(NULL, entry)) == NULL ||
		    curl_easy_setopt(a->curl, CURLOPT_RESOLVE, a->resolve) !=
		    CURLE_OK)
			rc = acme_fail(a, "%s: out of memory", what);
	}
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}
