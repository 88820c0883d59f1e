/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for the key process's TLS keys (master/keyring.c,
 * master/keyproc_acme.c, keyproc_answer): a key made for an ACME order is
 * used for nothing until installed; installed, it signs handshakes named
 * by its certificate's public key; the key it replaced still signs for
 * handshakes under way, and the one before that is gone; a worker naming
 * a key the key process does not hold gets a refusal.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/x509.h>
#include <string.h>

#include "keyproc.h"

static struct keyproc kp;
static struct keyd_acme_req areq;
static struct keyd_acme_resp aresp;

static int
acme(uint32_t op, const uint8_t *hash, const uint8_t *old)
{
	const char *why;
	int changed;

	memset(&areq, 0, sizeof(areq));
	areq.op = op;
	if (op == KEYD_ACME_CSR) {
		areq.nnames = 1;
		strcpy(areq.names[0], "derp.example.com");
	}
	if (hash != NULL)
		memcpy(areq.hash, hash, KEYD_HASH_LEN);
	if (old != NULL)
		memcpy(areq.old_hash, old, KEYD_HASH_LEN);
	assert_int_equal(keyproc_acme_answer(&kp, &areq, &aresp, &changed, &why), 0);
	return aresp.ok;
}

/* A new key aside; its hash. */
static void
new_key(uint8_t hash[KEYD_HASH_LEN])
{
	const unsigned char *p;
	X509_REQ *req;

	assert_true(acme(KEYD_ACME_CSR, NULL, NULL));
	p = aresp.der;
	req = d2i_X509_REQ(NULL, &p, (long)aresp.der_len);
	assert_non_null(req);
	assert_int_equal(X509_REQ_verify(req, X509_REQ_get0_pubkey(req)), 1);
	X509_REQ_free(req);
	memcpy(hash, aresp.hash, KEYD_HASH_LEN);
}

/* Whether the key process signs a CertificateVerify input for hash. */
static int
signs(const uint8_t hash[KEYD_HASH_LEN])
{
	static const char context[] = KEYD_CV_CONTEXT;
	struct keyd_req req;
	struct keyd_resp resp;
	const char *why;

	memset(&req, 0, sizeof(req));
	req.op = KEYD_SIGN;
	req.md = KEYD_SHA256;
	req.pad = KEYD_PAD_NONE;
	memset(req.tbs, 0x20, 64);
	memcpy(req.tbs + 64, context, sizeof(context));
	req.tbs_len = KEYD_CV_PREFIX + 32;
	memcpy(req.key_hash, hash, KEYD_HASH_LEN);
	return keyproc_answer(&kp, &req, &resp, &why) == 0 && resp.ok &&
	    resp.sig_len > 0;
}

static int
setup(void **state)
{
	(void)state;
	keyring_free(&kp);
	memset(&kp, 0, sizeof(kp));
	kp.keyring_fd = kp.acme_fd = -1;
	return 0;
}

static void
test_aside_until_installed(void **state)
{
	uint8_t a[KEYD_HASH_LEN];

	(void)state;
	new_key(a);
	assert_false(acme(KEYD_ACME_HAS, a, NULL));
	assert_false(signs(a));
	assert_true(acme(KEYD_ACME_INSTALL, a, NULL));
	assert_true(acme(KEYD_ACME_HAS, a, NULL));
	assert_true(signs(a));
	assert_false(acme(KEYD_ACME_INSTALL, a, NULL));	/* not aside any more */
}

static void
test_renewal_keeps_the_old_key_for_a_while(void **state)
{
	uint8_t a[KEYD_HASH_LEN], b[KEYD_HASH_LEN], c[KEYD_HASH_LEN];
	int i;

	(void)state;
	new_key(a);
	acme(KEYD_ACME_INSTALL, a, NULL);
	new_key(b);
	assert_true(acme(KEYD_ACME_INSTALL, b, a));
	assert_false(acme(KEYD_ACME_HAS, a, NULL));	/* not served */
	assert_true(signs(a));				/* but still signs */
	assert_true(signs(b));
	/* Renewals go on: the oldest retired keys make room. */
	for (i = 0; i < 2 * KEYPROC_TLS_KEYS; i++) {
		memcpy(a, b, sizeof(a));
		new_key(c);
		assert_true(acme(KEYD_ACME_INSTALL, c, b));
		memcpy(b, c, sizeof(b));
	}
	assert_true(signs(b));
	assert_true(signs(a));
}

static void
test_a_new_order_forgets_the_key_aside(void **state)
{
	uint8_t a[KEYD_HASH_LEN], b[KEYD_HASH_LEN];

	(void)state;
	new_key(a);
	new_key(b);
	assert_false(acme(KEYD_ACME_INSTALL, a, NULL));
	assert_true(acme(KEYD_ACME_INSTALL, b, NULL));
}

static void
test_malformed_requests_refused(void **state)
{
	const char *why;
	int changed;

	(void)state;
	memset(&areq, 0, sizeof(areq));
	areq.op = KEYD_ACME_CSR;
	areq.nnames = KEYD_ACME_NAMES + 1;
	assert_int_equal(keyproc_acme_answer(&kp, &areq, &aresp, &changed, &why), -1);
	areq.nnames = 1;
	memset(areq.names[0], 'a', sizeof(areq.names[0]));	/* unterminated */
	assert_int_equal(keyproc_acme_answer(&kp, &areq, &aresp, &changed, &why), -1);
	strcpy(areq.names[0], "no spaces allowed");
	assert_int_equal(keyproc_acme_answer(&kp, &areq, &aresp, &changed, &why), 0);
	assert_false(aresp.ok);
	assert_non_null(why);
	areq.op = 99;
	assert_int_equal(keyproc_acme_answer(&kp, &areq, &aresp, &changed, &why), -1);
}

static void
test_unknown_key_not_signed(void **state)
{
	uint8_t nobody[KEYD_HASH_LEN] = { 1, 2, 3 }, a[KEYD_HASH_LEN];

	(void)state;
	assert_false(signs(nobody));
	new_key(a);
	assert_true(acme(KEYD_ACME_INSTALL, a, NULL));
	assert_true(signs(a));
	assert_false(signs(nobody));	/* only the key named */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_aside_until_installed, setup),
		cmocka_unit_test_setup(test_renewal_keeps_the_old_key_for_a_while, setup),
		cmocka_unit_test_setup(test_a_new_order_forgets_the_key_aside, setup),
		cmocka_unit_test_setup(test_malformed_requests_refused, setup),
		cmocka_unit_test_setup(test_unknown_key_not_signed, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
