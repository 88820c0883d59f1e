/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for common/b64url.c: RFC 4648 section 5, no padding. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "b64url.h"

static void
test_rfc4648_vectors(void **state)
{
	static const char *in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *out[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE",
	    "Zm9vYmFy" };
	char buf[16];
	uint8_t dec[16];
	size_t i;

	(void)state;
	for (i = 0; i < 7; i++) {
		b64url_encode(buf, (const uint8_t *)in[i], strlen(in[i]));
		assert_string_equal(buf, out[i]);
		assert_int_equal(strlen(buf), B64URL_LEN(strlen(in[i])));
		assert_int_equal(b64url_decode(dec, sizeof(dec), out[i],
		    strlen(out[i])), strlen(in[i]));
		assert_memory_equal(dec, in[i], strlen(in[i]));
	}
}

static void
test_url_alphabet(void **state)
{
	static const uint8_t in[] = { 0xfb, 0xff, 0xbf };
	char buf[8];
	uint8_t dec[4];

	(void)state;
	b64url_encode(buf, in, sizeof(in));
	assert_string_equal(buf, "-_-_");
	assert_int_equal(b64url_decode(dec, sizeof(dec), "-_-_", 4), 3);
	assert_memory_equal(dec, in, 3);
	/* The standard alphabet's + and / are not base64url. */
	assert_int_equal(b64url_decode(dec, sizeof(dec), "+/+/", 4), -1);
}

static void
test_decode_rejects(void **state)
{
	uint8_t dec[8];

	(void)state;
	assert_int_equal(b64url_decode(dec, sizeof(dec), "Z", 1), -1);	/* length */
	assert_int_equal(b64url_decode(dec, sizeof(dec), "Zh", 2), -1);	/* tail bits */
	assert_int_equal(b64url_decode(dec, sizeof(dec), "Zm 9", 4), -1);
	assert_int_equal(b64url_decode(dec, 2, "Zm9v", 4), -1);	/* too small */
	assert_int_equal(b64url_decode(dec, sizeof(dec), "Zm8=", 4), 2);	/* padding ok */
	assert_int_equal(b64url_decode(dec, sizeof(dec), "", 0), 0);
}

static void
test_round_trip(void **state)
{
	uint8_t in[100], dec[100];
	char *enc;
	size_t n, i;

	(void)state;
	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 37 + 11);
	for (n = 0; n <= sizeof(in); n++) {
		enc = b64url_encode_alloc(in, n);
		assert_non_null(enc);
		assert_true(n == 0 || b64url_is_token(enc, strlen(enc)));
		assert_int_equal(b64url_decode(dec, sizeof(dec), enc, strlen(enc)), n);
		assert_memory_equal(dec, in, n);
		free(enc);
	}
}

static void
test_is_token(void **state)
{
	(void)state;
	assert_true(b64url_is_token("abc-_09XYZ", 10));
	assert_false(b64url_is_token("", 0));
	assert_false(b64url_is_token("ab/c", 4));
	assert_false(b64url_is_token("ab.c", 4));
	assert_false(b64url_is_token("ab=", 3));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors),
		cmocka_unit_test(test_url_alphabet),
		cmocka_unit_test(test_decode_rejects),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_is_token),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
