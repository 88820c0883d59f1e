/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for common/meshpeers.c: the -mesh-with list, which
 * the master, the mesh dialer and every worker parse from their set-up.
 *
 * The input is the list's text (cut at the first NUL). Whatever it is, the
 * parser returns 0 or -1 with a message; on success every peer is sane
 * (NUL-terminated fields within their buffers, a port, a host that is a
 * name or an address, a dial host), what it parsed appears in the input,
 * and printing the peers back as a list and parsing that again gives the
 * same peers.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "meshpeers.h"

static struct mesh_peer a[MESH_MAX_PEERS], b[MESH_MAX_PEERS];

static int
terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static void
check_peer(const struct mesh_peer *p, const char *input)
{
	struct in6_addr a6;

	CHECK(terminated(p->host, sizeof(p->host)));
	CHECK(terminated(p->authority, sizeof(p->authority)));
	CHECK(terminated(p->dial, sizeof(p->dial)));
	CHECK(p->host[0] != '\0' && p->dial[0] != '\0');
	CHECK(p->port >= 1);
	CHECK(strstr(input, p->authority) != NULL);
	CHECK(strstr(p->authority, p->host) != NULL);
	CHECK(p->host_is_ip == (inet_pton(AF_INET, p->host, &a6) == 1 ||
	    inet_pton(AF_INET6, p->host, &a6) == 1));
	CHECK(strchr(p->host, ',') == NULL && strchr(p->dial, '/') == NULL);
}

/* The peers as a list again: authority, and /dial when it differs. */
static size_t
render(const struct mesh_peer *p, int n, char *out, size_t cap)
{
	size_t len = 0;
	int i;

	out[0] = '\0';
	for (i = 0; i < n && len < cap; i++)
		len += (size_t)snprintf(out + len, cap - len, "%s%s/%s%s%s",
		    i ? "," : "", p[i].authority, strchr(p[i].dial, ':') ? "[" : "",
		    p[i].dial, strchr(p[i].dial, ':') ? "]" : "");
	return len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char again[MESH_MAX_PEERS * 800];
	char *text = malloc(size + 1), err[512];
	int n = -1, m = -1, i, rc;

	if (text == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	err[0] = '\0';
	rc = mesh_peers_parse(text, a, &n, err, sizeof(err));
	CHECK(rc == 0 || rc == -1);
	if (rc != 0) {
		CHECK(err[0] != '\0' && terminated(err, sizeof(err)));
		free(text);
		return 0;
	}
	CHECK(n >= 0 && n <= MESH_MAX_PEERS);
	CHECK((n == 0) == (text[0] == '\0'));
	for (i = 0; i < n; i++)
		check_peer(&a[i], text);
	CHECK(render(a, n, again, sizeof(again)) < sizeof(again));
	CHECK(mesh_peers_parse(again, b, &m, err, sizeof(err)) == 0 && m == n);
	for (i = 0; i < n; i++) {
		CHECK(strcmp(a[i].host, b[i].host) == 0);
		CHECK(strcmp(a[i].authority, b[i].authority) == 0);
		CHECK(strcmp(a[i].dial, b[i].dial) == 0);
		CHECK(a[i].port == b[i].port && a[i].host_is_ip == b[i].host_is_ip);
	}
	free(text);
	return 0;
}
