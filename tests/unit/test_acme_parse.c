/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for acme/parse.c: the CA's JSON, accepted or refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "acme_parse.h"

#define PARSE(fn, s, out) fn((s), strlen(s), (out), err, sizeof(err))

static char err[256];

static void
test_directory(void **state)
{
	struct acme_directory d;
	const char *ok = "{\"newNonce\":\"https://ca/nonce\","
	    "\"newAccount\":\"https://ca/acct\",\"newOrder\":\"https://ca/order\","
	    "\"revokeCert\":\"https://ca/revoke\",\"meta\":{\"termsOfService\":"
	    "\"https://ca/tos\",\"externalAccountRequired\":true,\"profiles\":"
	    "{\"classic\":\"x\",\"shortlived\":\"y\"}}}";

	(void)state;
	assert_int_equal(PARSE(acme_parse_directory, ok, &d), 0);
	assert_string_equal(d.new_order, "https://ca/order");
	assert_true(d.eab_required);
	assert_int_equal(d.nprofiles, 2);
	assert_true(strcmp(d.profiles[0], "shortlived") == 0 ||
	    strcmp(d.profiles[1], "shortlived") == 0);
}

static void
test_directory_refused(void **state)
{
	static const char *bad[] = {
		"",
		"[]",
		"{\"newNonce\":\"https://ca/n\",\"newAccount\":\"https://ca/a\"}",
		"{\"newNonce\":\"https://ca/n\",\"newAccount\":\"https://ca/a\","
		    "\"newOrder\":\"http://ca/o\"}",
		"{\"newNonce\":\"https://ca/n\",\"newAccount\":\"https://ca/a\","
		    "\"newOrder\":42}",
		"{\"newNonce\":\"https://ca/n\",\"newAccount\":\"https://ca/a\","
		    "\"newOrder\":\"https://ca/o p\"}",
		"{\"newNonce\":\"https://ca/n\",\"newAccount\":\"https://ca/a\","
		    "\"newOrder\":\"https://ca/o\",\"meta\":[]}",
		"{\"newNonce\":\"https://ca/n\",\"newAccount\":\"https://ca/a\","
		    "\"newOrder\":\"https://ca/o\",\"meta\":{\"profiles\":\"x\"}}",
		"{\"newNonce\":\"https://ca/n\",\"newNonce\":\"https://ca/n\"}",
	};
	struct acme_directory d;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(PARSE(acme_parse_directory, bad[i], &d), -1);
	PARSE(acme_parse_directory, bad[3], &d);
	assert_string_equal(err, "directory: \"newOrder\" is not an https URL");
}

static void
test_order(void **state)
{
	struct acme_order o;
	const char *ok = "{\"status\":\"valid\",\"identifiers\":[{\"type\":\"dns\","
	    "\"value\":\"derp.test\"},{\"type\":\"ip\",\"value\":\"::1\"}],"
	    "\"authorizations\":[\"https://ca/a/1\",\"https://ca/a/2\"],"
	    "\"finalize\":\"https://ca/f\",\"certificate\":\"https://ca/c\"}";

	(void)state;
	assert_int_equal(PARSE(acme_parse_order, ok, &o), 0);
	assert_int_equal(o.status, ACME_ST_VALID);
	assert_int_equal(o.nauthz, 2);
	assert_string_equal(o.authz[1], "https://ca/a/2");
	assert_string_equal(o.certificate, "https://ca/c");
	assert_false(o.has_error);
}

static void
test_order_refused(void **state)
{
	static const char *bad[] = {
		/* valid without a certificate URL */
		"{\"status\":\"valid\",\"identifiers\":[{\"type\":\"dns\",\"value\":"
		    "\"a.test\"}],\"authorizations\":[\"https://ca/a\"],"
		    "\"finalize\":\"https://ca/f\"}",
		/* unknown status */
		"{\"status\":\"great\",\"identifiers\":[{\"type\":\"dns\",\"value\":"
		    "\"a.test\"}],\"authorizations\":[\"https://ca/a\"],"
		    "\"finalize\":\"https://ca/f\"}",
		/* no authorizations */
		"{\"status\":\"pending\",\"identifiers\":[{\"type\":\"dns\",\"value\":"
		    "\"a.test\"}],\"authorizations\":[],\"finalize\":\"https://ca/f\"}",
		/* an identifier of another type */
		"{\"status\":\"pending\",\"identifiers\":[{\"type\":\"email\",\"value\":"
		    "\"a@test\"}],\"authorizations\":[\"https://ca/a\"],"
		    "\"finalize\":\"https://ca/f\"}",
		/* a malformed DNS name */
		"{\"status\":\"pending\",\"identifiers\":[{\"type\":\"dns\",\"value\":"
		    "\"a..test\"}],\"authorizations\":[\"https://ca/a\"],"
		    "\"finalize\":\"https://ca/f\"}",
		/* error that is not an object */
		"{\"status\":\"invalid\",\"identifiers\":[{\"type\":\"dns\",\"value\":"
		    "\"a.test\"}],\"authorizations\":[\"https://ca/a\"],"
		    "\"finalize\":\"https://ca/f\",\"error\":\"bad\"}",
	};
	struct acme_order o;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(PARSE(acme_parse_order, bad[i], &o), -1);
}

static void
test_authz(void **state)
{
	struct acme_authz a;
	const char *ok = "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\","
	    "\"value\":\"derp.test\"},\"challenges\":["
	    "{\"type\":\"http-01\",\"url\":\"https://ca/c/1\",\"status\":\"pending\","
	    "\"token\":\"abcdefghijklmnopqrstuvwxyz012345\"},"
	    "{\"type\":\"dns-01\",\"url\":\"https://ca/c/2\",\"status\":\"pending\"},"
	    "{\"type\":\"tls-alpn-01\",\"url\":\"https://ca/c/3\",\"status\":"
	    "\"invalid\",\"token\":\"ABCDEFGHIJKLMNOPQRSTUVWXYZ-_0123\",\"error\":"
	    "{\"type\":\"urn:ietf:params:acme:error:connection\",\"detail\":"
	    "\"refused\\n\\u0007\"}}]}";

	(void)state;
	assert_int_equal(PARSE(acme_parse_authz, ok, &a), 0);
	assert_int_equal(a.ident.type, ACME_ID_DNS);
	assert_int_equal(a.nchallenges, 2);	/* dns-01 is not kept */
	assert_int_equal(a.challenges[0].type, ACME_CH_HTTP01);
	assert_int_equal(a.challenges[1].type, ACME_CH_TLSALPN01);
	assert_true(a.challenges[1].has_error);
	assert_string_equal(a.challenges[1].error.detail, "refused??");
}

static void
test_challenge_refused(void **state)
{
	static const char *bad[] = {
		"{\"type\":\"http-01\",\"url\":\"https://ca/c\",\"status\":\"pending\","
		    "\"token\":\"../../etc/passwd/xxxxxxxx\"}",
		"{\"type\":\"http-01\",\"url\":\"https://ca/c\",\"status\":\"pending\","
		    "\"token\":\"short\"}",
		"{\"type\":\"http-01\",\"url\":\"https://ca/c\",\"status\":\"pending\"}",
		"{\"type\":\"http-01\",\"url\":\"ftp://ca/c\",\"status\":\"pending\","
		    "\"token\":\"abcdefghijklmnopqrstuvwxyz012345\"}",
		"{\"type\":\"dns-01\",\"url\":\"https://ca/c\",\"status\":\"pending\","
		    "\"token\":\"abcdefghijklmnopqrstuvwxyz012345\"}",
	};
	struct acme_challenge c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(PARSE(acme_parse_challenge, bad[i], &c), -1);
}

static void
test_authz_wildcard_refused(void **state)
{
	struct acme_authz a;

	(void)state;
	assert_int_equal(PARSE(acme_parse_authz, "{\"status\":\"pending\","
	    "\"identifier\":{\"type\":\"dns\",\"value\":\"derp.test\"},"
	    "\"wildcard\":true,\"challenges\":[]}", &a), -1);
}

static void
test_problem(void **state)
{
	struct acme_problem p;
	const char *doc = "{\"type\":\"urn:ietf:params:acme:error:badNonce\","
	    "\"detail\":\"JWS has \\u001b[31man invalid nonce\",\"status\":400}";

	(void)state;
	acme_parse_problem(doc, strlen(doc), &p);
	assert_string_equal(p.type, "urn:ietf:params:acme:error:badNonce");
	assert_string_equal(p.detail, "JWS has ?[31man invalid nonce");
	assert_int_equal(p.status, 400);
	acme_parse_problem("<html>", 6, &p);
	assert_string_equal(p.type, "about:blank");
	assert_string_equal(p.detail, "");
	acme_parse_problem("{\"type\":7,\"status\":99999}", 25, &p);
	assert_string_equal(p.type, "about:blank");
	assert_int_equal(p.status, 0);
}

static void
test_ident_parse(void **state)
{
	struct acme_identifier id;

	(void)state;
	assert_int_equal(acme_ident_parse("Derp.Example.COM", &id), 0);
	assert_int_equal(id.type, ACME_ID_DNS);
	assert_string_equal(id.value, "derp.example.com");
	assert_int_equal(acme_ident_parse("0:0:0::1", &id), 0);
	assert_int_equal(id.type, ACME_ID_IP);
	assert_string_equal(id.value, "::1");
	assert_int_equal(acme_ident_parse("2001:DB8::0:1", &id), 0);
	assert_string_equal(id.value, "2001:db8::1");
	assert_int_equal(acme_ident_parse("192.0.2.1", &id), 0);
	assert_int_equal(id.type, ACME_ID_IP);
	assert_int_equal(acme_ident_parse("", &id), -1);
	assert_int_equal(acme_ident_parse("a/b", &id), -1);
	assert_int_equal(acme_ident_parse(".derp", &id), -1);
	assert_int_equal(acme_ident_parse("derp.", &id), -1);
	assert_int_equal(acme_ident_parse("*.derp.test", &id), -1);
}

static void
test_url_ok(void **state)
{
	(void)state;
	assert_true(acme_url_ok("https://ca.example/dir"));
	assert_false(acme_url_ok("http://ca.example/dir"));
	assert_false(acme_url_ok("https://"));
	assert_false(acme_url_ok("https:///path"));
	assert_false(acme_url_ok("https://ca/\x01"));
	assert_false(acme_url_ok("HTTPS://ca/dir"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_directory),
		cmocka_unit_test(test_directory_refused),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_order_refused),
		cmocka_unit_test(test_authz),
		cmocka_unit_test(test_challenge_refused),
		cmocka_unit_test(test_authz_wildcard_refused),
		cmocka_unit_test(test_problem),
		cmocka_unit_test(test_ident_parse),
		cmocka_unit_test(test_url_ok),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
