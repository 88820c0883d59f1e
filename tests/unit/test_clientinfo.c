/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for worker/clientinfo.c: the ClientInfo JSON. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "clientinfo.h"
#include "keyfmt.h"

#define MESH_HEX "00112233445566778899aabbccddeeff0123456789ABCDEFfedcba9876543210"

static const uint8_t mesh_bytes[32] = {
	0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
	0xcc, 0xdd, 0xee, 0xff, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
	0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
};

static int
group_setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	json_setup();
	return 0;
}

/* Parses an exactly-sized copy (no NUL after it), so ASan sees over-reads. */
static int
parse(const char *s, struct client_info *ci, const char **why)
{
	size_t len = strlen(s);
	uint8_t *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, s, len);
	*why = NULL;
	memset(ci, 0x55, sizeof(*ci));	/* parse must reset every field */
	rc = clientinfo_parse(copy, len, ci, why);
	free(copy);
	return rc;
}

static void
expect_ok(const char *s, struct client_info *ci)
{
	const char *why;

	if (parse(s, ci, &why) != 0)
		fail_msg("rejected %s: %s", s, why ? why : "(null)");
}

static const char *
expect_err(const char *s)
{
	struct client_info ci;
	const char *why;

	if (parse(s, &ci, &why) != -1)
		fail_msg("accepted %s", s);
	assert_non_null(why);
	assert_true(why[0] != '\0');
	return why;
}

static void
test_version_and_can_ack_pings(void **state)
{
	struct client_info ci;

	(void)state;
	expect_ok("{\"version\":2,\"CanAckPings\":true}", &ci);
	assert_int_equal(ci.version, 2);
	assert_int_equal(ci.can_ack_pings, 1);
	assert_int_equal(ci.is_prober, 0);
	assert_int_equal(ci.has_mesh_key, 0);

	expect_ok("{\"version\":1,\"CanAckPings\":false,\"IsProber\":true}", &ci);
	assert_int_equal(ci.version, 1);
	assert_int_equal(ci.can_ack_pings, 0);
	assert_int_equal(ci.is_prober, 1);
}

static void
test_empty_object_zeroes_fields(void **state)
{
	struct client_info ci;
	uint8_t zero[32];

	(void)state;
	memset(zero, 0, sizeof(zero));
	expect_ok("{}", &ci);
	assert_int_equal(ci.version, 0);
	assert_int_equal(ci.can_ack_pings, 0);
	assert_int_equal(ci.is_prober, 0);
	assert_int_equal(ci.has_mesh_key, 0);
	assert_memory_equal(ci.mesh_key, zero, 32);
	expect_ok(" \n{ }\n", &ci);
}

static void
test_keys_case_insensitive(void **state)
{
	struct client_info ci;

	(void)state;
	expect_ok("{\"VERSION\":7,\"canackpings\":true,\"isprober\":true,"
	    "\"MESHKEY\":\"" MESH_HEX "\"}", &ci);
	assert_int_equal(ci.version, 7);
	assert_int_equal(ci.can_ack_pings, 1);
	assert_int_equal(ci.is_prober, 1);
	assert_int_equal(ci.has_mesh_key, 1);
	assert_memory_equal(ci.mesh_key, mesh_bytes, 32);
	expect_ok("{\"Version\":3,\"cAnAcKpInGs\":true}", &ci);
	assert_int_equal(ci.version, 3);
	assert_int_equal(ci.can_ack_pings, 1);
}

static void
test_null_values_ignored(void **state)
{
	struct client_info ci;

	(void)state;
	expect_ok("{\"version\":null,\"CanAckPings\":null,\"IsProber\":null,"
	    "\"meshKey\":null,\"AppName\":null}", &ci);
	assert_int_equal(ci.version, 0);
	assert_int_equal(ci.can_ack_pings, 0);
	assert_int_equal(ci.has_mesh_key, 0);
	/* A null after a value leaves the value (Go leaves the field alone). */
	expect_ok("{\"version\":2,\"Version\":null}", &ci);
	assert_int_equal(ci.version, 2);
}

static void
test_unknown_keys_ignored(void **state)
{
	struct client_info ci;

	(void)state;
	expect_ok("{\"version\":2,\"Whatever\":[1,{\"a\":\"b\"}],\"x\":1.5,"
	    "\"y\":\"s\",\"z\":false,\"CanAckPings\":true}", &ci);
	assert_int_equal(ci.version, 2);
	assert_int_equal(ci.can_ack_pings, 1);
}

static void
test_mesh_key_64_hex(void **state)
{
	struct client_info ci;

	(void)state;
	expect_ok("{\"version\":2,\"meshKey\":\"" MESH_HEX "\"}", &ci);
	assert_int_equal(ci.has_mesh_key, 1);
	assert_memory_equal(ci.mesh_key, mesh_bytes, 32);
}

static void
test_mesh_key_empty_means_none(void **state)
{
	struct client_info ci;

	(void)state;
	expect_ok("{\"version\":2,\"meshKey\":\"\"}", &ci);
	assert_int_equal(ci.has_mesh_key, 0);
}

static void
test_error_invalid_json(void **state)
{
	(void)state;
	expect_err("");
	expect_err("{");
	expect_err("{\"version\":2");
	expect_err("{\"version\":2,}");
	expect_err("{version:2}");
	expect_err("{\"version\":2}x");
	expect_err("{\"version\":2}{}");
}

static void
test_error_non_object(void **state)
{
	const char *arr, *num, *str, *bad;

	(void)state;
	arr = expect_err("[]");
	num = expect_err("2");
	str = expect_err("\"version\"");
	expect_err("null");
	expect_err("true");
	bad = expect_err("{");
	assert_string_equal(arr, num);
	assert_string_equal(num, str);
	assert_string_not_equal(arr, bad);
}

static void
test_error_wrong_types(void **state)
{
	(void)state;
	expect_err("{\"version\":\"2\"}");
	expect_err("{\"version\":2.5}");
	expect_err("{\"version\":2.0}");
	expect_err("{\"version\":1e2}");
	expect_err("{\"version\":true}");
	expect_err("{\"version\":[2]}");
	expect_err("{\"CanAckPings\":1}");
	expect_err("{\"CanAckPings\":\"true\"}");
	expect_err("{\"IsProber\":0}");
	expect_err("{\"meshKey\":5}");
	expect_err("{\"meshKey\":true}");
	/* A wrong type after a good field still fails the whole thing. */
	expect_err("{\"version\":2,\"CanAckPings\":true,\"canackpings\":1}");
}

static void
test_error_bad_mesh_key(void **state)
{
	char s[200];

	(void)state;
	snprintf(s, sizeof(s), "{\"meshKey\":\"%.63s\"}", MESH_HEX);
	expect_err(s);
	snprintf(s, sizeof(s), "{\"meshKey\":\"%s0\"}", MESH_HEX);
	expect_err(s);
	snprintf(s, sizeof(s), "{\"meshKey\":\"%.63sg\"}", MESH_HEX);
	expect_err(s);
	snprintf(s, sizeof(s), "{\"meshKey\":\"x%.63s\"}", MESH_HEX);
	expect_err(s);
	snprintf(s, sizeof(s), "{\"meshKey\":\"nodekey:%s\"}", MESH_HEX);
	expect_err(s);
	snprintf(s, sizeof(s), "{\"meshKey\":\" %.63s\"}", MESH_HEX);
	expect_err(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_and_can_ack_pings),
		cmocka_unit_test(test_empty_object_zeroes_fields),
		cmocka_unit_test(test_keys_case_insensitive),
		cmocka_unit_test(test_null_values_ignored),
		cmocka_unit_test(test_unknown_keys_ignored),
		cmocka_unit_test(test_mesh_key_64_hex),
		cmocka_unit_test(test_mesh_key_empty_means_none),
		cmocka_unit_test(test_error_invalid_json),
		cmocka_unit_test(test_error_non_object),
		cmocka_unit_test(test_error_wrong_types),
		cmocka_unit_test(test_error_bad_mesh_key),
	};

	return cmocka_run_group_tests_name("clientinfo", tests, group_setup, NULL);
}
