/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for worker/http.c: the HTTP/1.x request head parser. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define DERP_UPGRADE \
	"GET /derp HTTP/1.1\r\n" \
	"Host: derp.example.com\r\n" \
	"Connection: Upgrade\r\n" \
	"Upgrade: DERP\r\n" \
	"User-Agent: DERP\r\n" \
	"\r\n"

#define DERP_UPGRADE_FAST \
	"GET /derp HTTP/1.1\r\n" \
	"Host: derp.example.com\r\n" \
	"Connection: Upgrade\r\n" \
	"Upgrade: DERP\r\n" \
	"Derp-Fast-Start: 1\r\n" \
	"\r\n"

static struct http_request req;

/* Parses a private, exactly-sized copy, so ASan sees any over-read. */
static int
parse(const char *s, size_t len)
{
	char *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, s, len);
	rc = http_parse_request(copy, len, &req);
	/* Fields point into the caller's buffer: check them before freeing. */
	if (rc > 0) {
		assert_true(req.method.p >= copy && req.method.p < copy + rc);
		assert_true(req.target.p >= copy && req.target.p < copy + rc);
		assert_ptr_equal(req.path.p, req.target.p);
	}
	free(copy);
	return rc;
}

static int
parse_str(const char *s)
{
	return parse(s, strlen(s));
}

/* Parses in place (fields stay valid). */
static int
parse_here(const char *s)
{
	return http_parse_request(s, strlen(s), &req);
}

static void
assert_str(const struct http_str *s, const char *want)
{
	assert_non_null(s);
	if (!http_str_eq(s, want))
		fail_msg("got \"%.*s\", want \"%s\"", (int)s->len, s->p, want);
}

/* ---- good requests ---- */

static void
test_derp_upgrade_parses(void **state)
{
	const char *s = DERP_UPGRADE;

	(void)state;
	assert_int_equal(parse_here(s), (int)strlen(s));
	assert_str(&req.method, "GET");
	assert_str(&req.target, "/derp");
	assert_str(&req.path, "/derp");
	assert_int_equal(req.minor, 1);
	assert_int_equal(req.nheaders, 4);
	assert_str(&req.headers[0].name, "Host");
	assert_str(&req.headers[0].value, "derp.example.com");
	assert_str(http_header(&req, "Upgrade"), "DERP");
	assert_str(http_header(&req, "Connection"), "Upgrade");
	assert_null(http_header(&req, "Derp-Fast-Start"));
}

static void
test_derp_upgrade_fast_start_parses(void **state)
{
	const char *s = DERP_UPGRADE_FAST;

	(void)state;
	assert_int_equal(parse_here(s), (int)strlen(s));
	assert_str(http_header(&req, "Derp-Fast-Start"), "1");
	assert_str(http_header(&req, "upgrade"), "DERP");
}

static void
test_head_length_excludes_following_bytes(void **state)
{
	static const char head[] = DERP_UPGRADE_FAST;
	char buf[sizeof(head) - 1 + 10], copy[sizeof(buf)];
	size_t hlen = sizeof(head) - 1;

	(void)state;
	memcpy(buf, head, hlen);
	/* A ClientInfo frame header and a few bytes of it follow. */
	memcpy(buf + hlen, "\x02\x00\x00\x00\x48" "abcde", 10);
	memcpy(copy, buf, sizeof(buf));
	assert_int_equal(http_parse_request(buf, sizeof(buf), &req), (int)hlen);
	assert_memory_equal(buf, copy, sizeof(buf));
	/* Even when what follows looks like more HTTP. */
	assert_int_equal(parse_str(DERP_UPGRADE "GET / HTTP/1.1\r\n\r\n"),
	    (int)strlen(DERP_UPGRADE));
}

static void
test_header_lookup_case_insensitive(void **state)
{
	(void)state;
	assert_true(parse_here(DERP_UPGRADE) > 0);
	assert_str(http_header(&req, "UPGRADE"), "DERP");
	assert_str(http_header(&req, "upgrade"), "DERP");
	assert_str(http_header(&req, "uPgRaDe"), "DERP");
	assert_str(http_header(&req, "host"), "derp.example.com");
	assert_null(http_header(&req, "Upgrad"));
	assert_null(http_header(&req, "Upgrades"));
	assert_null(http_header(&req, ""));
}

static void
test_header_lookup_returns_first(void **state)
{
	(void)state;
	assert_true(parse_here("GET / HTTP/1.1\r\nX-A: one\r\nx-a: two\r\n\r\n") > 0);
	assert_str(http_header(&req, "X-A"), "one");
}

static void
test_header_value_trimmed(void **state)
{
	(void)state;
	assert_true(parse_here("GET / HTTP/1.1\r\nA:   v  \t\r\nB:\r\n"
	    "C:\tx y\r\n\r\n") > 0);
	assert_str(http_header(&req, "A"), "v");
	assert_str(http_header(&req, "B"), "");
	assert_str(http_header(&req, "C"), "x y");
}

static void
test_list_has(void **state)
{
	struct http_str s = { "Upgrade, keep-alive", 19 };
	struct http_str t = { " a ,\tb\t,c,", 10 };
	struct http_str e = { "", 0 };

	(void)state;
	assert_true(http_list_has(&s, "upgrade"));
	assert_true(http_list_has(&s, "Upgrade"));
	assert_true(http_list_has(&s, "keep-alive"));
	assert_true(http_list_has(&s, "KEEP-ALIVE"));
	assert_false(http_list_has(&s, "keep"));
	assert_false(http_list_has(&s, "Upgrade, keep-alive"));
	assert_false(http_list_has(&s, "close"));
	assert_true(http_list_has(&t, "a"));
	assert_true(http_list_has(&t, "b"));
	assert_true(http_list_has(&t, "c"));
	assert_false(http_list_has(&t, "a b"));
	assert_false(http_list_has(&e, "a"));
}

static void
test_str_eq_and_caseeq(void **state)
{
	struct http_str s = { "DERPx", 4 };

	(void)state;
	assert_true(http_str_eq(&s, "DERP"));
	assert_false(http_str_eq(&s, "derp"));
	assert_false(http_str_eq(&s, "DERPx"));
	assert_false(http_str_eq(&s, "DER"));
	assert_true(http_str_caseeq(&s, "derp"));
	assert_false(http_str_caseeq(&s, "derpx"));
}

static void
test_path_strips_query(void **state)
{
	(void)state;
	assert_true(parse_here("GET /derp/probe?x=1&y=2 HTTP/1.1\r\n\r\n") > 0);
	assert_str(&req.target, "/derp/probe?x=1&y=2");
	assert_str(&req.path, "/derp/probe");
	assert_true(parse_here("GET /? HTTP/1.1\r\n\r\n") > 0);
	assert_str(&req.path, "/");
	assert_true(parse_here("GET /a?b?c HTTP/1.0\r\n\r\n") > 0);
	assert_str(&req.path, "/a");
	assert_int_equal(req.minor, 0);
}

static void
test_lf_only_line_endings(void **state)
{
	const char *s = "GET /derp HTTP/1.1\nHost: x\nUpgrade: DERP\n\n";

	(void)state;
	assert_int_equal(parse_here(s), (int)strlen(s));
	assert_int_equal(req.nheaders, 2);
	assert_str(http_header(&req, "Upgrade"), "DERP");
	/* Mixed. */
	s = "GET / HTTP/1.1\r\nHost: x\n\r\n";
	assert_int_equal(parse_here(s), (int)strlen(s));
	assert_str(http_header(&req, "Host"), "x");
}

static void
test_leading_empty_lines_skipped(void **state)
{
	const char *s = "\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n";

	(void)state;
	assert_int_equal(parse_here(s), (int)strlen(s));
	assert_str(&req.method, "GET");
	assert_str(&req.path, "/x");
	s = "\n\nGET /x HTTP/1.1\n\n";
	assert_int_equal(parse_here(s), (int)strlen(s));
	/* Only empty lines so far: need more. */
	assert_int_equal(parse_str("\r\n\r\n"), HTTP_INCOMPLETE);
}

static void
test_no_headers(void **state)
{
	(void)state;
	assert_int_equal(parse_str("GET / HTTP/1.0\r\n\r\n"), 18);
	assert_int_equal(req.nheaders, 0);
}

/* ---- incomplete ---- */

static void
check_every_prefix_incomplete(const char *s)
{
	size_t len, full = strlen(s);
	int rc;

	for (len = 0; len < full; len++) {
		rc = parse(s, len);
		if (rc != HTTP_INCOMPLETE)
			fail_msg("prefix of %zu/%zu bytes: %d, want 0", len, full, rc);
	}
	assert_int_equal(parse(s, full), (int)full);
}

static void
test_every_prefix_incomplete(void **state)
{
	(void)state;
	check_every_prefix_incomplete(DERP_UPGRADE);
	check_every_prefix_incomplete(DERP_UPGRADE_FAST);
	check_every_prefix_incomplete("GET / HTTP/1.1\n\n");
	check_every_prefix_incomplete("\r\nGET /?q HTTP/1.0\r\nA:\r\n\r\n");
}

/* ---- bad ---- */

static void
expect_bad(const char *s)
{
	int rc = parse_str(s);

	if (rc != HTTP_BAD)
		fail_msg("parsed \"%s\": %d, want HTTP_BAD", s, rc);
}

static void
test_bad_request_line(void **state)
{
	(void)state;
	expect_bad("get / HTTP/1.1\r\n\r\n");
	expect_bad("Get / HTTP/1.1\r\n\r\n");
	expect_bad("GET /\r\n\r\n");
	expect_bad("GET / \r\n\r\n");
	expect_bad("GET / HTTP/2.0\r\n\r\n");
	expect_bad("GET / HTTP/1.2\r\n\r\n");
	expect_bad("GET / http/1.1\r\n\r\n");
	expect_bad("GET / HTTP/1.1 \r\n\r\n");
	expect_bad("GET / HTTP/1.10\r\n\r\n");
	expect_bad("GET  / HTTP/1.1\r\n\r\n");
	expect_bad("GET /\tx HTTP/1.1\r\n\r\n");
	expect_bad(" GET / HTTP/1.1\r\n\r\n");
	expect_bad("GET\r\n\r\n");
	expect_bad("ABCDEFGHIJKLMNOPQ / HTTP/1.1\r\n\r\n");	/* 17-letter method */
	assert_true(parse_str("ABCDEFGHIJKLMNOP / HTTP/1.1\r\n\r\n") > 0);
}

static void
test_bad_obs_fold(void **state)
{
	(void)state;
	expect_bad("GET / HTTP/1.1\r\nX-A: one\r\n two\r\n\r\n");
	expect_bad("GET / HTTP/1.1\r\nX-A: one\r\n\ttwo\r\n\r\n");
}

static void
test_bad_header_syntax(void **state)
{
	(void)state;
	expect_bad("GET / HTTP/1.1\r\nNoColon\r\n\r\n");
	expect_bad("GET / HTTP/1.1\r\nName : v\r\n\r\n");
	expect_bad("GET / HTTP/1.1\r\nName\t: v\r\n\r\n");
	expect_bad("GET / HTTP/1.1\r\n: v\r\n\r\n");
	expect_bad("GET / HTTP/1.1\r\nNa(me: v\r\n\r\n");
	expect_bad("GET / HTTP/1.1\r\nA: v\x7f\r\n\r\n");
	expect_bad("GET / HTTP/1.1\r\nA: v\x01w\r\n\r\n");
}

static void
test_bad_nul_byte(void **state)
{
	static const char a[] = "GET / HTTP/1.1\r\nA: x\0y\r\n\r\n";
	static const char b[] = "GET /\0 HTTP/1.1\r\n\r\n";
	static const char c[] = "GET / HTTP/1.1\r\nA\0: x\r\n\r\n";

	(void)state;
	assert_int_equal(parse(a, sizeof(a) - 1), HTTP_BAD);
	assert_int_equal(parse(b, sizeof(b) - 1), HTTP_BAD);
	assert_int_equal(parse(c, sizeof(c) - 1), HTTP_BAD);
}

static void
test_bad_bare_cr(void **state)
{
	(void)state;
	expect_bad("GET / HTTP/1.1\r\nA: x\ry\r\n\r\n");
	expect_bad("GET /\r HTTP/1.1\r\n\r\n");
	expect_bad("GET / HTTP/1.1\r\r\n\r\n");
	expect_bad("GET / HTTP/1.1\r\nA: x\r\r\n\r\n");
	expect_bad("GET / HTTP/1.1\r\nA: x\r\n\r\r\n");
}

static void
test_too_many_headers(void **state)
{
	char buf[4096];
	size_t n;
	int i;

	(void)state;
	n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\n");
	for (i = 0; i < HTTP_MAX_HEADERS; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "H%d: v\r\n", i);
	snprintf(buf + n, sizeof(buf) - n, "\r\n");
	assert_true(parse_str(buf) > 0);
	assert_int_equal(req.nheaders, HTTP_MAX_HEADERS);
	snprintf(buf + n, sizeof(buf) - n, "One: more\r\n\r\n");
	expect_bad(buf);
}

static void
test_over_max_head_without_end_is_bad(void **state)
{
	size_t cap = HTTP_MAX_HEAD + 4096, n, len;
	char *buf = malloc(cap);

	(void)state;
	assert_non_null(buf);
	/* Valid 400-byte header lines (fewer than HTTP_MAX_HEADERS of them
	 * fill HTTP_MAX_HEAD), never an empty one. */
	n = (size_t)snprintf(buf, cap, "GET / HTTP/1.1\r\n");
	while (n + 400 < cap) {
		memcpy(buf + n, "X-Pad: ", 7);
		memset(buf + n + 7, 'a', 400 - 9);
		memcpy(buf + n + 398, "\r\n", 2);
		n += 400;
	}
	assert_true(HTTP_MAX_HEAD / 400 < HTTP_MAX_HEADERS);
	assert_int_equal(parse(buf, HTTP_MAX_HEAD - 1), HTTP_INCOMPLETE);
	assert_int_equal(parse(buf, HTTP_MAX_HEAD), HTTP_BAD);
	assert_int_equal(parse(buf, n), HTTP_BAD);

	/* One long line with no LF at all. */
	memset(buf, 'a', cap);
	memcpy(buf, "GET /", 5);
	assert_int_equal(parse(buf, HTTP_MAX_HEAD - 1), HTTP_INCOMPLETE);
	assert_int_equal(parse(buf, HTTP_MAX_HEAD), HTTP_BAD);
	assert_int_equal(parse(buf, cap), HTTP_BAD);

	/* A complete head of exactly HTTP_MAX_HEAD bytes is fine ... */
	memset(buf, 'a', cap);
	len = strlen("GET / HTTP/1.1\r\nX: ");
	memcpy(buf, "GET / HTTP/1.1\r\nX: ", len);
	memcpy(buf + HTTP_MAX_HEAD - 4, "\r\n\r\n", 4);
	assert_int_equal(parse(buf, HTTP_MAX_HEAD), HTTP_MAX_HEAD);
	assert_int_equal(parse(buf, cap), HTTP_MAX_HEAD);
	/* ... one byte more is not. */
	memset(buf + len, 'a', cap - len);
	memcpy(buf + HTTP_MAX_HEAD - 3, "\r\n\r\n", 4);
	assert_int_equal(parse(buf, HTTP_MAX_HEAD + 1), HTTP_BAD);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_derp_upgrade_parses),
		cmocka_unit_test(test_derp_upgrade_fast_start_parses),
		cmocka_unit_test(test_head_length_excludes_following_bytes),
		cmocka_unit_test(test_header_lookup_case_insensitive),
		cmocka_unit_test(test_header_lookup_returns_first),
		cmocka_unit_test(test_header_value_trimmed),
		cmocka_unit_test(test_list_has),
		cmocka_unit_test(test_str_eq_and_caseeq),
		cmocka_unit_test(test_path_strips_query),
		cmocka_unit_test(test_lf_only_line_endings),
		cmocka_unit_test(test_leading_empty_lines_skipped),
		cmocka_unit_test(test_no_headers),
		cmocka_unit_test(test_every_prefix_incomplete),
		cmocka_unit_test(test_bad_request_line),
		cmocka_unit_test(test_bad_obs_fold),
		cmocka_unit_test(test_bad_header_syntax),
		cmocka_unit_test(test_bad_nul_byte),
		cmocka_unit_test(test_bad_bare_cr),
		cmocka_unit_test(test_too_many_headers),
		cmocka_unit_test(test_over_max_head_without_end_is_bad),
	};

	return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
