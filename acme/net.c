/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HTTPS to the CA through one libcurl handle: https only, no redirects,
 * bounded bodies and times, and the trust store from memory (no CA file or
 * directory is ever opened, so this works inside a sandbox). Every response's
 * Replay-Nonce is kept for the next signed request; a badNonce refusal is
 * retried with the fresh nonce it carried, a bounded number of times.
 */
#include "acme_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "acme_jws.h"
#include "b64url.h"
#include "log.h"

#define BADNONCE	"urn:ietf:params:acme:error:badNonce"

int
acme_fail(struct acme *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->err, sizeof(a->err), fmt, ap);
	va_end(ap);
	return -1;
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct acme_resp *r = arg;
	size_t len = size * n;
	char *p;

	if (len > ACME_PARSE_MAX_BODY - r->len) {
		r->oversize = 1;
		return 0;		/* makes curl fail the transfer */
	}
	if ((p = realloc(r->body, r->len + len + 1)) == NULL)
		return 0;
	memcpy(p + r->len, data, len);
	r->body = p;
	r->len += len;
	r->body[r->len] = '\0';
	return len;
}

/* A header value without surrounding blanks, if name matches. */
static int
header_value(const char *line, size_t len, const char *name, char *out,
    size_t cap)
{
	size_t n = strlen(name), start, end;

	if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return 0;
	for (start = n + 1; start < len && (line[start] == ' ' ||
	    line[start] == '\t'); start++)
		;
	for (end = len; end > start && (line[end - 1] == '\r' ||
	    line[end - 1] == '\n' || line[end - 1] == ' '); end--)
		;
	if (end - start >= cap)
		return -1;
	memcpy(out, line + start, end - start);
	out[end - start] = '\0';
	return 1;
}

static long
parse_retry_after(const char *v)
{
	char *end;
	long secs;
	time_t when;

	errno = 0;
	secs = strtol(v, &end, 10);
	if (end != v && *end == '\0' && errno == 0)
		return secs < 0 ? 0 : secs;
	if ((when = curl_getdate(v, NULL)) == -1)
		return -1;
	return when > time(NULL) ? (long)(when - time(NULL)) : 0;
}

static size_t
on_header(char *line, size_t size, size_t n, void *arg)
{
	struct acme_resp *r = arg;
	size_t len = size * n;
	char v[ACME_URL_MAX];

	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {	/* a new response */
		r->location[0] = r->nonce[0] = '\0';
		r->retry_after = -1;
	} else if (header_value(line, len, "Replay-Nonce", v, sizeof(v)) == 1) {
		if (strlen(v) < ACME_NONCE_MAX && b64url_is_token(v, strlen(v)))
			memcpy(r->nonce, v, strlen(v) + 1);
	} else if (header_value(line, len, "Location", v, sizeof(v)) == 1) {
		if (acme_url_ok(v))
			memcpy(r->location, v, strlen(v) + 1);
	} else if (header_value(line, len, "Retry-After", v, sizeof(v)) == 1)
		r->retry_after = parse_retry_after(v);
	return len;
}

int
net_init(struct acme *a)
{
	struct curl_blob ca = {
		.data = (void *)a->cfg.ca_pem, .len = a->cfg.ca_pem_len,
		.flags = CURL_BLOB_NOCOPY
	};
	CURL *c;

	if ((c = a->curl = curl_easy_init()) == NULL)
		return acme_fail(a, "curl_easy_init failed");
	a->hdr_jose = curl_slist_append(NULL,
	    "Content-Type: application/jose+json");
	a->hdr_pem = curl_slist_append(NULL,
	    "Content-Type: application/jose+json");
	if (a->hdr_pem != NULL)
		a->hdr_pem = curl_slist_append(a->hdr_pem,
		    "Accept: application/pem-certificate-chain");
	if (a->hdr_jose == NULL || a->hdr_pem == NULL ||
	    curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CAINFO, NULL) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CAPATH, NULL) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSLVERSION,
	    (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HTTP_VERSION,
	    (long)CURL_HTTP_VERSION_1_1) != CURLE_OK)
		return acme_fail(a, "libcurl lacks a required option");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "derpd-acme/1");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	return 0;
}

void
net_free(struct acme *a)
{
	curl_slist_free_all(a->hdr_jose);
	curl_slist_free_all(a->hdr_pem);
	curl_slist_free_all(a->resolve);
	if (a->curl != NULL)
		curl_easy_cleanup(a->curl);
}

void
net_resp_free(struct acme_resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* One request; 0 if a response arrived (any status), -1 on transport errors. */
static int
perform(struct acme *a, const char *what, const char *url,
    struct acme_resp *r)
{
	CURL *c = a->curl;
	CURLcode rc;
	long left = (long)(a->deadline - time(NULL));

	memset(r, 0, sizeof(*r));
	r->retry_after = -1;
	if (left <= 0)
		return acme_fail(a, "%s: gave up after %u s", what, a->cfg.timeout);
	if (resolve_url(a, what, url) == -1)
		return -1;
	/* No request outlives the deadline of the whole acme_obtain. */
	curl_easy_setopt(c, CURLOPT_TIMEOUT, left < 60 ? left : 60L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, left < 15 ? left : 15L);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	a->stats.requests++;
	if ((rc = curl_easy_perform(c)) != CURLE_OK) {
		acme_fail(a, "%s: %s", what, r->oversize ?
		    "response too large" : curl_easy_strerror(rc));
		net_resp_free(r);
		return -1;
	}
	if (r->body == NULL && (r->body = calloc(1, 1)) == NULL) {
		net_resp_free(r);
		return acme_fail(a, "%s: out of memory", what);
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->nonce[0] != '\0')
		memcpy(a->nonce, r->nonce, sizeof(a->nonce));
	return 0;
}

/* For a non-2xx response: a->err from its problem document. */
static int
fail_status(struct acme *a, const char *what, struct acme_resp *r,
    struct acme_problem *p)
{
	acme_parse_problem(r->body, r->len, p);
	if (p->detail[0] != '\0')
		return acme_fail(a, "%s: %s: %s (HTTP %ld)", what, p->type,
		    p->detail, r->status);
	return acme_fail(a, "%s: HTTP %ld%s", what, r->status,
	    strcmp(p->type, "about:blank") == 0 ? " (no problem document)" : "");
}

int
net_get(struct acme *a, const char *what, const char *url,
    struct acme_resp *r)
{
	struct acme_problem p;

	curl_easy_setopt(a->curl, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, NULL);
	if (perform(a, what, url, r) == -1)
		return -1;
	if (r->status / 100 == 2)
		return 0;
	fail_status(a, what, r, &p);
	net_resp_free(r);
	return -1;
}

static int
fetch_nonce(struct acme *a)
{
	struct acme_resp r;

	curl_easy_setopt(a->curl, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, NULL);
	if (perform(a, "newNonce", a->dir.new_nonce, &r) == -1)
		return -1;
	net_resp_free(&r);
	if (a->nonce[0] == '\0')
		return acme_fail(a, "newNonce: no Replay-Nonce header");
	return 0;
}

/* One signed POST with the current nonce, which it uses up. */
static int
post_once(struct acme *a, const char *what, const char *url,
    const char *payload, int want_pem, struct acme_resp *r)
{
	char *jws;
	int rc;

	if (a->nonce[0] == '\0' && fetch_nonce(a) == -1)
		return -1;
	jws = jws_sign(a->account_key, a->kid[0] != '\0' ? a->kid : NULL,
	    a->nonce, url, payload);
	a->nonce[0] = '\0';
	if (jws == NULL)
		return acme_fail(a, "%s: cannot sign the request", what);
	curl_easy_setopt(a->curl, CURLOPT_NOBODY, 0L);
	curl_easy_setopt(a->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(a->curl, CURLOPT_POSTFIELDS, jws);
	curl_easy_setopt(a->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(jws));
	curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER,
	    want_pem ? a->hdr_pem : a->hdr_jose);
	rc = perform(a, what, url, r);
	curl_easy_setopt(a->curl, CURLOPT_POSTFIELDS, NULL);
	free(jws);
	return rc;
}

int
net_post(struct acme *a, const char *what, const char *url,
    const char *payload, int want_pem, struct acme_resp *r)
{
	struct acme_problem p;
	long status;
	int tries;

	for (tries = 0;; tries++) {
		if (post_once(a, what, url, payload, want_pem, r) == -1)
			return -1;
		if (r->status / 100 == 2)
			return 0;
		fail_status(a, what, r, &p);
		status = r->status;
		net_resp_free(r);
		if (status != 400 || strcmp(p.type, BADNONCE) != 0 ||
		    tries == ACME_BADNONCE_RETRIES)
			return -1;
		a->stats.badnonce_retries++;
		log_debug("acme: %s: badNonce, retrying with a fresh nonce", what);
	}
}

int
net_wait(struct acme *a, long secs, const char *what)
{
	struct timespec ts;

	if (secs < 1)
		secs = 1;
	if (secs > 30)
		secs = 30;
	if (time(NULL) + secs > a->deadline)
		return acme_fail(a, "%s: gave up after %u s", what,
		    a->cfg.timeout);
	ts.tv_sec = secs;
	ts.tv_nsec = 0;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	return 0;
}
