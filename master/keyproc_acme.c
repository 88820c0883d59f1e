/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The key process's answers to the ACME child (common/keyd_acme_proto.h):
 * a new certificate key and its CSR, and making that key the one served
 * once the CA issued its certificate. No I/O here (keyproc.c stores the
 * keys afterwards), so tests/fuzz/fuzz_keyd_acme.c drives it directly.
 */
#include "keyproc.h"

#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>

#include "acme.h"

static const uint8_t no_hash[KEYD_HASH_LEN];

/* Names as C strings, each ending inside its field; -1 if not. */
static int
names_of(const struct keyd_acme_req *req, const char *names[KEYD_ACME_NAMES])
{
	uint32_t i;

	if (req->nnames == 0 || req->nnames > KEYD_ACME_NAMES)
		return -1;
	for (i = 0; i < req->nnames; i++) {
		if (memchr(req->names[i], '\0', KEYD_ACME_NAME_MAX) == NULL)
			return -1;
		names[i] = req->names[i];
	}
	return 0;
}

/* Forgets the key set aside for an earlier order, if any. */
static void
drop_aside(struct keyproc *kp)
{
	int i;

	for (i = 0; i < KEYPROC_TLS_KEYS; i++)
		if (kp->tls[i].state == KEYPROC_ASIDE) {
			EVP_PKEY_free(kp->tls[i].key);
			memset(&kp->tls[i], 0, sizeof(kp->tls[i]));
		}
}

/*
 * A fresh key, set aside for this order, and its CSR. A failure to make
 * them is answered (ok = 0, *why set); malformed names are refused (-1).
 */
static int
csr(struct keyproc *kp, const struct keyd_acme_req *req,
    struct keyd_acme_resp *resp, const char **why)
{
	const char *names[KEYD_ACME_NAMES];
	uint8_t hash[KEYD_HASH_LEN], *der = NULL;
	size_t len = 0;
	EVP_PKEY *key;

	if (names_of(req, names) != 0)
		return (*why = "malformed names", -1);
	drop_aside(kp);
	if ((key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL)
		*why = "cannot make a key";
	else if (acme_csr_build(key, names, req->nnames, &der, &len) != 0 ||
	    len > sizeof(resp->der) || keyring_hash_key(key, hash) != 0) {
		EVP_PKEY_free(key);
		*why = "cannot make a CSR for these names";
	} else if (keyring_add(kp, key, hash, KEYPROC_ASIDE, why) == 0) {
		memcpy(resp->der, der, len);
		resp->der_len = (uint32_t)len;
		memcpy(resp->hash, hash, KEYD_HASH_LEN);
		resp->ok = 1;
	}
	free(der);
	ERR_clear_error();
	return 0;
}

static int
install(struct keyproc *kp, const struct keyd_acme_req *req,
    struct keyd_acme_resp *resp, int *changed)
{
	struct keyproc_tlskey *k, *old;

	if ((k = keyring_find_state(kp, req->hash, KEYPROC_ASIDE)) == NULL)
		return 0;		/* ok = 0: lost (a restart), or never made */
	if (memcmp(req->old_hash, no_hash, KEYD_HASH_LEN) != 0 &&
	    (old = keyring_find_state(kp, req->old_hash, KEYPROC_SERVED)) != NULL)
		keyring_set_state(kp, old, KEYPROC_RETIRING);
	keyring_set_state(kp, k, KEYPROC_SERVED);
	memcpy(resp->hash, k->hash, KEYD_HASH_LEN);
	resp->ok = 1;
	*changed = 1;
	return 0;
}

int
keyproc_acme_answer(struct keyproc *kp, const struct keyd_acme_req *req,
    struct keyd_acme_resp *resp, int *changed, const char **why)
{
	memset(resp, 0, sizeof(*resp));
	resp->op = req->op;
	*changed = 0;
	*why = NULL;
	switch (req->op) {
	case KEYD_ACME_HAS:
		resp->ok = keyring_find_state(kp, req->hash, KEYPROC_SERVED) != NULL;
		memcpy(resp->hash, req->hash, KEYD_HASH_LEN);
		return 0;
	case KEYD_ACME_CSR:
		return csr(kp, req, resp, why);
	case KEYD_ACME_INSTALL:
		return install(kp, req, resp, changed);
	default:
		return (*why = "unknown operation", -1);
	}
}
