/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for worker/http.c: the HTTP/1.x request head parser
 * every client reaches before anything else.
 *
 * Checks that a complete head is no longer than the input (nor than
 * HTTP_MAX_HEAD), that every field it returns points inside the head it
 * parsed, that the field grammar holds, and that every shorter prefix of a
 * complete head is only "incomplete" (a parser that calls a prefix of a valid
 * head malformed would drop clients whose request arrives in pieces).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "fuzz.h"

/* Names the server looks up (worker/http_serve.c, worker/websocket.c). */
static const char *const names[] = {
	"Host", "Upgrade", "Connection", "Derp-Fast-Start", "Derp-Version",
	"Ideal-Node", "X-Tailscale-Challenge", "X-Forwarded-For",
	"Sec-WebSocket-Protocol", "Sec-WebSocket-Version", "Sec-WebSocket-Key",
	"", "x",
};

static const char *const tokens[] = {
	"derp", "websocket", "upgrade", "keep-alive", "", ",",
};

static void
check_str(const struct http_str *s, const char *buf, size_t head)
{
	CHECK(s->p != NULL);
	CHECK(s->p >= buf);
	CHECK(s->len <= head);
	CHECK((size_t)(s->p - buf) <= head - s->len);
}

static void
check_request(const struct http_request *req, const char *buf, size_t head)
{
	const struct http_str *v;
	size_t i, j, k;

	check_str(&req->method, buf, head);
	check_str(&req->target, buf, head);
	check_str(&req->path, buf, head);
	CHECK(req->method.len >= 1 && req->method.len <= 16);
	for (i = 0; i < req->method.len; i++)
		CHECK(req->method.p[i] >= 'A' && req->method.p[i] <= 'Z');
	CHECK(req->target.len >= 1);
	/* path is the target up to its first '?'. */
	CHECK(req->path.p == req->target.p);
	CHECK(req->path.len <= req->target.len);
	CHECK(memchr(req->path.p, '?', req->path.len) == NULL);
	CHECK(req->path.len == req->target.len ||
	    req->target.p[req->path.len] == '?');
	CHECK(req->minor == 0 || req->minor == 1);
	CHECK(req->nheaders <= HTTP_MAX_HEADERS);
	for (i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];

		check_str(&h->name, buf, head);
		check_str(&h->value, buf, head);
		CHECK(h->name.len >= 1);
		CHECK(memchr(h->name.p, ':', h->name.len) == NULL);
		for (j = 0; j < h->value.len; j++)
			CHECK(h->value.p[j] != '\r' && h->value.p[j] != '\n' &&
			    h->value.p[j] != '\0');
		if (h->value.len > 0) {
			CHECK(h->value.p[0] != ' ' && h->value.p[0] != '\t');
			CHECK(h->value.p[h->value.len - 1] != ' ' &&
			    h->value.p[h->value.len - 1] != '\t');
		}
	}

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		v = http_header(req, names[i]);
		if (v == NULL)
			continue;
		check_str(v, buf, head);
		(void)http_str_eq(v, "1");
		(void)http_str_caseeq(v, "derp");
		for (k = 0; k < sizeof(tokens) / sizeof(tokens[0]); k++)
			(void)http_list_has(v, tokens[k]);
	}
	/* Every header value, against every token, including ones it holds. */
	for (i = 0; i < req->nheaders; i++) {
		const struct http_str *hv = &req->headers[i].value;

		for (k = 0; k < sizeof(tokens) / sizeof(tokens[0]); k++)
			(void)http_list_has(hv, tokens[k]);
		/* A value always lists its own first item (when it has one). */
		if (hv->len > 0 && hv->len < 256 &&
		    memchr(hv->p, ',', hv->len) == NULL) {
			char tok[256];

			memcpy(tok, hv->p, hv->len);
			tok[hv->len] = '\0';
			if (strlen(tok) == hv->len)
				CHECK(http_list_has(hv, tok));
		}
	}
	(void)http_str_eq(&req->method, "GET");
	(void)http_str_eq(&req->path, "/derp");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_request req, req2;
	const char *buf = (const char *)data;
	int n, m;
	size_t cut;

	n = http_parse_request(buf, size, &req);
	CHECK(n == HTTP_INCOMPLETE || n == HTTP_BAD || n > 0);
	if (n <= 0)
		return 0;

	CHECK((size_t)n <= size);
	CHECK((size_t)n <= HTTP_MAX_HEAD);
	CHECK(buf[n - 1] == '\n');
	check_request(&req, buf, (size_t)n);

	/* The head alone parses to the same length. */
	m = http_parse_request(buf, (size_t)n, &req2);
	CHECK(m == n);
	CHECK(req2.nheaders == req.nheaders);

	/* Any prefix of a complete head is merely incomplete. */
	cut = (size_t)n - 1;
	CHECK(http_parse_request(buf, cut, &req2) == HTTP_INCOMPLETE);
	cut = size > 0 ? (size_t)data[0] % (size_t)n : 0;
	CHECK(http_parse_request(buf, cut, &req2) == HTTP_INCOMPLETE);
	return 0;
}
