/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for client/httpparse.c: the response head of every
 * answer derpd-client reads (upgrades, probes, /debug/route).
 *
 * Invariants: an accepted head ends in CRLF CRLF within the input and the
 * size limit, its status is a three-digit number, and every header name and
 * value lies inside it without CR, LF or NUL; "incomplete" is only said of
 * input that has no complete head and is under the limit; a head parsed
 * from a prefix of the input parses the same when more bytes follow.
 */
#include <string.h>

#include "fuzz.h"
#include "httpc.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void
check_str(const struct httpc_str *s, const char *head, size_t len)
{
	CHECK(s->p >= head && s->len <= len && (size_t)(s->p - head) <= len - s->len);
	CHECK(memchr(s->p, '\r', s->len) == NULL && memchr(s->p, '\n', s->len) == NULL &&
	    memchr(s->p, '\0', s->len) == NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct httpc_resp r, again;
	long n = httpc_parse(buf, size, &r);
	size_t i;

	if (n == 0) {
		CHECK(size < HTTPC_HEAD_MAX);
		return 0;
	}
	if (n < 0)
		return 0;
	CHECK((size_t)n == r.head_len && r.head_len <= size &&
	    r.head_len <= HTTPC_HEAD_MAX && r.head_len >= 16);
	CHECK(memcmp(buf + n - 4, "\r\n\r\n", 4) == 0);
	CHECK(r.status >= 100 && r.status <= 599 && r.nhdr <= HTTPC_HEADERS_MAX);
	for (i = 0; i < r.nhdr; i++) {
		check_str(&r.name[i], buf, (size_t)n);
		check_str(&r.value[i], buf, (size_t)n);
		CHECK(r.name[i].len > 0);
		CHECK(httpc_header(&r, "") == NULL);
	}
	CHECK(httpc_parse(buf, (size_t)n, &again) == n && again.nhdr == r.nhdr &&
	    again.status == r.status);
	return 0;
}
