/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for the key process's TLS keys (master/keyring.c,
 * master/keyproc_acme.c, keyproc_answer): a key made for an ACME order is
 * used for nothing until installed; installed, it signs handshakes named
 * by its certificate's public key; the key it replaced still signs for
 * handshakes under way, and the one before that is gone; a worker naming
 * a key the key process does not hold gets a refusal; the mesh links'
 * client key signs client CertificateVerify inputs only, server keys
 * server ones only, and renewals never retire the client key.
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

/* Whether the key process signs a CertificateVerify input in context for hash. */
static int
signs_in(const uint8_t hash[KEYD_HASH_LEN], const char *context)
{
	struct keyd_req req;
	struct keyd_resp resp;
	const char *why;

	memset(&req, 0, sizeof(req));
	req.op = KEYD_SIGN;
	req.md = KEYD_SHA256;
	req.pad = KEYD_PAD_NONE;
	memset(req.tbs, 0x20, 64);
	memcpy(req.tbs + 64, context, strlen(context) + 1);
	req.tbs_len = KEYD_CV_PREFIX + 32;
	memcpy(req.key_hash, hash, KEYD_HASH_LEN);
	return keyproc_answer(&kp, &req, &resp, &why) == 0 && resp.ok &&
	    resp.sig_len > 0;
}

static int
signs(const uint8_t hash[KEYD_HASH_LEN])
{
	return signs_in(hash, KEYD_CV_CONTEXT);
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

static void
test_client_key_signs_client_inputs_only(void **state)
{
	uint8_t client[KEYD_HASH_LEN], a[KEYD_HASH_LEN], b[KEYD_HASH_LEN];
	const char *why;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	int i;

	(void)state;
	assert_non_null(key);
	assert_int_equal(keyring_hash_key(key, client), 0);
	assert_int_equal(keyring_add(&kp, key, client, KEYPROC_CLIENT, &why), 0);
	assert_true(signs_in(client, KEYD_CV_CLIENT));
	assert_false(signs_in(client, KEYD_CV_CONTEXT));
	new_key(a);
	assert_true(acme(KEYD_ACME_INSTALL, a, NULL));
	assert_true(signs_in(a, KEYD_CV_CONTEXT));
	assert_false(signs_in(a, KEYD_CV_CLIENT));
	for (i = 0; i < 2 * KEYPROC_TLS_KEYS; i++) {	/* renewals */
		new_key(b);
		assert_true(acme(KEYD_ACME_INSTALL, b, a));
		memcpy(a, b, sizeof(a));
	}
	assert_true(signs_in(client, KEYD_CV_CLIENT));
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
		cmocka_unit_test_setup(test_client_key_signs_client_inputs_only, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
