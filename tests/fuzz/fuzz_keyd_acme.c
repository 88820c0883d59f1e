/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for the key process's answers to the ACME child
 * (master/keyproc_acme.c, master/keyring.c): a hostile ACME child's
 * requests, in any order, with any names and hashes. Each input is a
 * script: one byte picks the operation, the next bytes its fields.
 *
 * Invariants: at most one key is set aside for an order; a CSR answered
 * carries that key and parses; a key is served only once installed, and
 * then HAS says so; a replaced key still signs (handshakes under way) but
 * is no longer served; malformed requests are refused, never acted on.
 */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <string.h>

#include "fuzz.h"
#include "keyproc.h"

static struct keyproc kp;

static size_t
take(const uint8_t **p, const uint8_t *end, void *dst, size_t n)
{
	size_t got = (size_t)(end - *p) < n ? (size_t)(end - *p) : n;

	memset(dst, 0, n);
	memcpy(dst, *p, got);
	*p += got;
	return got;
}

static int
count(int state)
{
	int i, n = 0;

	for (i = 0; i < KEYPROC_TLS_KEYS; i++)
		n += kp.tls[i].state == state;
	return n;
}

/* A CSR answered parses, is self-signed, and names the key set aside. */
static void
check_csr(const struct keyd_acme_resp *resp)
{
	const unsigned char *p = resp->der;
	uint8_t hash[KEYD_HASH_LEN];
	X509_REQ *req;

	CHECK(resp->der_len > 0 && resp->der_len <= sizeof(resp->der));
	req = d2i_X509_REQ(NULL, &p, (long)resp->der_len);
	CHECK(req != NULL && X509_REQ_verify(req, X509_REQ_get0_pubkey(req)) == 1);
	CHECK(keyring_hash_key(X509_REQ_get0_pubkey(req), hash) == 0);
	CHECK(memcmp(hash, resp->hash, KEYD_HASH_LEN) == 0);
	CHECK(keyring_find_state(&kp, hash, KEYPROC_ASIDE) != NULL);
	X509_REQ_free(req);
}

static void
one(const uint8_t **p, const uint8_t *end)
{
	static struct keyd_acme_req req;
	static struct keyd_acme_resp resp;
	uint8_t op, nnames, len, aside[KEYD_HASH_LEN];
	const char *why;
	int changed, rc, had_aside = 0;
	uint32_t i;

	take(p, end, &op, 1);
	memset(&req, 0, sizeof(req));
	req.op = op % 4;
	take(p, end, &nnames, 1);
	req.nnames = nnames % 3;
	for (i = 0; i < req.nnames; i++) {
		take(p, end, &len, 1);
		take(p, end, req.names[i], len % 32);
	}
	/* Hashes: mostly the key set aside (so installs happen), else bytes. */
	for (i = 0; i < KEYPROC_TLS_KEYS; i++)
		if (kp.tls[i].state == KEYPROC_ASIDE) {
			memcpy(aside, kp.tls[i].hash, KEYD_HASH_LEN);
			had_aside = 1;
		}
	if (take(p, end, &len, 1) && len % 2 == 0 && had_aside)
		memcpy(req.hash, aside, KEYD_HASH_LEN);
	else
		take(p, end, req.hash, 4);
	take(p, end, req.old_hash, 2);
	rc = keyproc_acme_answer(&kp, &req, &resp, &changed, &why);
	CHECK(rc == 0 || why != NULL);
	CHECK(resp.op == req.op);
	CHECK(count(KEYPROC_ASIDE) <= 1);
	if (rc == 0 && req.op == KEYD_ACME_CSR && resp.ok)
		check_csr(&resp);
	if (rc == 0 && req.op == KEYD_ACME_INSTALL && resp.ok) {
		CHECK(changed);
		CHECK(keyring_find_state(&kp, req.hash, KEYPROC_SERVED) != NULL);
		CHECK(keyring_find(&kp, req.hash) != NULL);
	}
	if (req.op == KEYD_ACME_HAS)
		CHECK(resp.ok == (keyring_find_state(&kp, req.hash, KEYPROC_SERVED) != NULL));
	if (req.op == 0 || req.op > KEYD_ACME_INSTALL)
		CHECK(rc == -1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	int steps;

	keyring_free(&kp);
	memset(&kp, 0, sizeof(kp));
	kp.keyring_fd = kp.acme_fd = -1;
	for (steps = 0; p < end && steps < 8; steps++)
		one(&p, end);
	return 0;
}
