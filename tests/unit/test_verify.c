/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for who may use the relay: the -allow-keys parser
 * (common/allowlist.c), the verifier's protocol check
 * (common/verifyd_proto.c), how it reads tailscaled's and an admission
 * controller's answers as derper does (master/verifier_answer.c), and its
 * bounded cache (master/verifier_cache.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allowlist.h"
#include "keyfmt.h"
#include "verifier.h"
#include "verifier_answer.h"
#include "verifyd_proto.h"

static const char K1[] = "nodekey:0101010101010101010101010101010101010101010101010101010101010101";
static const char K2[] = "nodekey:ff02020202020202020202020202020202020202020202020202020202020202";

static int
parse(const char *text, struct allowlist *al, size_t *line, const char **why)
{
	return allowlist_parse(text, strlen(text), al, line, why);
}

static void
test_allowlist_keys_comments_blanks(void **state)
{
	char text[512];
	struct allowlist al;
	uint8_t k1[KEY_LEN], k3[KEY_LEN];
	const char *why = NULL;
	size_t line = 0;

	(void)state;
	snprintf(text, sizeof(text), "# relay users\n\n  %s   # laptop\r\n\t%s\n%s",
	    K2, K1, K2);
	assert_int_equal(parse(text, &al, &line, &why), 0);
	assert_int_equal(al.n, 2);		/* the duplicate counts once */
	assert_int_equal(key_parse_text(K1, strlen(K1), NODEKEY_PREFIX, k1), 0);
	assert_true(allowlist_has(&al, k1));
	memset(k3, 7, sizeof(k3));
	assert_false(allowlist_has(&al, k3));
	assert_true(memcmp(al.keys[0], al.keys[1], KEY_LEN) < 0);
	allowlist_free(&al);
	assert_int_equal(parse("", &al, &line, &why), 0);
	assert_int_equal(al.n, 0);
	assert_false(allowlist_has(&al, k1));
}

static void
test_allowlist_errors_name_the_line(void **state)
{
	static const struct {
		const char	*text;
		size_t		 line;
		const char	*why;
	} bad[] = {
		{ "# ok\n\nnodekey:abc\n", 3, "want nodekey:" },
		{ "0101010101010101010101010101010101010101010101010101010101010101", 1,
		    "want nodekey:" },
		{ "\n\n\n\nprivkey:0101010101010101010101010101010101010101010101010101010101010101\n",
		    5, "want nodekey:" },
	};
	char nul[100];
	struct allowlist al;
	const char *why;
	size_t i, line;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		line = 0;
		assert_int_equal(parse(bad[i].text, &al, &line, &why), -1);
		assert_int_equal(line, bad[i].line);
		assert_non_null(strstr(why, bad[i].why));
		assert_null(al.keys);
	}
	memcpy(nul, "\n# a\0b\n", 7);
	assert_int_equal(allowlist_parse(nul, 7, &al, &line, &why), -1);
	assert_int_equal(line, 2);
	assert_string_equal(why, "NUL byte");
}

static void
test_request_check(void **state)
{
	struct verifyd_req req, got;
	const char *why;

	(void)state;
	memset(&req, 0, sizeof(req));
	req.op = VERIFYD_LOGIN;
	req.key[5] = 1;
	assert_int_equal(verifyd_req_check(&req, sizeof(req), &got, &why), 0);
	assert_memory_equal(&req, &got, sizeof(req));
	assert_int_equal(verifyd_req_check(&req, sizeof(req) - 1, &got, &why), -1);
	req.op = 3;
	assert_int_equal(verifyd_req_check(&req, sizeof(req), &got, &why), -1);
	req.op = VERIFYD_RECHECK;
	req.key[5] = 0;
	assert_int_equal(verifyd_req_check(&req, sizeof(req), &got, &why), -1);
	assert_string_equal(verifyd_reason_name(VR_NOT_IN_TAILNET), "not_in_tailnet");
	assert_string_equal(verifyd_reason_name(VR_NREASONS), "invalid");
	assert_true(verifyd_refused(VR_ADMISSION_DENIED));
	assert_false(verifyd_refused(VR_ADMISSION_ERROR));
	assert_false(verifyd_refused(VR_BUSY));
}

static uint32_t
whois(long status, const char *body)
{
	const char *why = NULL;

	return verifier_whois_answer(status, body, strlen(body), &why);
}

static uint32_t
admit(long status, const char *body)
{
	const char *why = NULL;

	return verifier_admit_answer(status, body, strlen(body), &why);
}

/* derper: WhoIsNodeKey's 200 decodes, 404 is ErrPeerNotFound, else an error. */
static void
test_whois_answers(void **state)
{
	const char *why = NULL;

	(void)state;
	assert_int_equal(whois(200, "{\"Node\":{\"ID\":1}}"), VR_ADMITTED);
	assert_int_equal(whois(200, "null"), VR_ADMITTED);
	assert_int_equal(whois(200, "{\"Node\":"), VR_TAILSCALED_ERROR);
	assert_int_equal(whois(200, "[1]"), VR_TAILSCALED_ERROR);
	assert_int_equal(whois(404, "no match"), VR_NOT_IN_TAILNET);
	assert_int_equal(whois(500, ""), VR_TAILSCALED_ERROR);
	assert_int_equal(verifier_whois_answer(500, NULL, 0, &why), VR_TAILSCALED_ERROR);
	assert_int_equal(verifier_whois_answer(200, NULL, 0, &why), VR_TAILSCALED_ERROR);
	assert_int_equal(verifier_admit_answer(200, NULL, 0, &why), VR_ADMISSION_ERROR);
	assert_int_equal(verifier_whois_answer(400, "invalid 'addr' parameter", 24,
	    &why), VR_TAILSCALED_ERROR);
	assert_non_null(strstr(why, "too old"));
}

/* derper: 200, then json.Decoder over 4 KiB into {Allow bool}. */
static void
test_admission_answers(void **state)
{
	char *big;

	(void)state;
	assert_int_equal(admit(200, "{\"Allow\":true}"), VR_ADMITTED);
	assert_int_equal(admit(200, "{\"allow\":true,\"Other\":[1,2]}"), VR_ADMITTED);
	assert_int_equal(admit(200, "{\"Allow\":true} and then garbage"), VR_ADMITTED);
	assert_int_equal(admit(200, "{\"Allow\":false}"), VR_ADMISSION_DENIED);
	assert_int_equal(admit(200, "{}"), VR_ADMISSION_DENIED);
	assert_int_equal(admit(200, "null"), VR_ADMISSION_DENIED);
	assert_int_equal(admit(200, "{\"Allow\":null}"), VR_ADMISSION_DENIED);
	assert_int_equal(admit(200, "{\"Allow\":true,\"ALLOW\":false}"), VR_ADMISSION_DENIED);
	assert_int_equal(admit(200, "{\"Allow\":\"yes\"}"), VR_ADMISSION_ERROR);
	assert_int_equal(admit(200, "true"), VR_ADMISSION_ERROR);
	assert_int_equal(admit(200, "{\"Allow\": tru"), VR_ADMISSION_ERROR);
	assert_int_equal(admit(200, ""), VR_ADMISSION_ERROR);
	assert_int_equal(admit(403, "{\"Allow\":true}"), VR_ADMISSION_ERROR);
	/* A first value that ends past 4 KiB does not decode. */
	big = malloc(8192);
	assert_non_null(big);
	snprintf(big, 8192, "{\"Allow\":true,\"pad\":\"%0*d\"}", 5000, 0);
	assert_int_equal(admit(200, big), VR_ADMISSION_ERROR);
	snprintf(big, 8192, "{\"Allow\":true}%*s", 5000, "");
	assert_int_equal(admit(200, big), VR_ADMITTED);
	free(big);
}

static void
test_admission_request(void **state)
{
	uint8_t key[KEY_LEN], v4[16] = { [10] = 0xff, [11] = 0xff, 192, 0, 2, 1 };
	uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	char out[VERIFIER_ADMIT_REQ_MAX];

	(void)state;
	assert_int_equal(key_parse_text(K1, strlen(K1), NODEKEY_PREFIX, key), 0);
	assert_int_not_equal(verifier_admit_request(out, key, v4), 0);
	assert_string_equal(out, "{\"NodePublic\":\"nodekey:0101010101010101010101010101"
	    "010101010101010101010101010101010101\",\"Source\":\"192.0.2.1\"}");
	verifier_admit_request(out, key, v6);
	assert_non_null(strstr(out, "\"Source\":\"2001:db8::1\""));
}

static void
test_cache_lives_and_evicts_oldest(void **state)
{
	struct verifier_cache c;
	uint8_t key[KEY_LEN] = { 1 }, ip[16] = { 0 };
	uint32_t reason = 99, i;

	(void)state;
	vcache_init(&c, 4);
	vcache_put(&c, key, ip, VR_NOT_ALLOWED, 100);
	assert_int_equal(vcache_get(&c, key, ip, 50, &reason), 1);
	assert_int_equal(reason, VR_NOT_ALLOWED);
	assert_int_equal(vcache_get(&c, key, ip, 100, &reason), 0);	/* expired */
	ip[15] = 1;				/* same key, another address */
	assert_int_equal(vcache_get(&c, key, ip, 50, &reason), 0);
	ip[15] = 0;
	vcache_put(&c, key, ip, VR_ADMITTED, 200);	/* updated in place */
	assert_int_equal(vcache_get(&c, key, ip, 150, &reason), 1);
	assert_int_equal(reason, VR_ADMITTED);
	for (i = 2; i <= 5; i++) {		/* four more: the first goes */
		key[0] = (uint8_t)i;
		vcache_put(&c, key, ip, VR_ADMITTED, 1000);
	}
	key[0] = 1;
	assert_int_equal(vcache_get(&c, key, ip, 150, &reason), 0);
	for (i = 2; i <= 5; i++) {
		key[0] = (uint8_t)i;
		assert_int_equal(vcache_get(&c, key, ip, 150, &reason), 1);
	}
	free(c.e);
	free(c.buckets);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowlist_keys_comments_blanks),
		cmocka_unit_test(test_allowlist_errors_name_the_line),
		cmocka_unit_test(test_request_check),
		cmocka_unit_test(test_whois_answers),
		cmocka_unit_test(test_admission_answers),
		cmocka_unit_test(test_admission_request),
		cmocka_unit_test(test_cache_lives_and_evicts_oldest),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
