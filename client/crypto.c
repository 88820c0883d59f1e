/* SPDX-License-Identifier: BSD-3-Clause */
#include "crypto.h"

#include "keyfile.h"
#include "log.h"

void
ident_init(struct ident *id, const char *keyfile)
{
	char err[512] = "";
	int r;

	if ((id->priv = sodium_malloc(KEY_LEN)) == NULL)
		fatalx("out of memory for the key");
	if (keyfile == NULL) {
		randombytes_buf(id->priv, KEY_LEN);
		id->priv[0] &= 248;	/* clamped, as Tailscale's key.NewNode */
		id->priv[31] = (id->priv[31] & 127) | 64;
	} else if ((r = keyfile_load(keyfile, id->priv, err, sizeof(err))) != 0)
		fatalx("-k %s: %s", keyfile, r == KEYFILE_MISSING ?
		    "no such key file (derpd-keygen FILE makes one)" : err);
	crypto_scalarmult_base(id->pub, id->priv);
	sodium_mprotect_readonly(id->priv);
}

void
ident_free(struct ident *id)
{
	sodium_free(id->priv);
	id->priv = NULL;
}

int
e2e_shared(uint8_t shared[crypto_box_BEFORENMBYTES], const uint8_t peer[KEY_LEN],
    const struct ident *id)
{
	return crypto_box_beforenm(shared, peer, id->priv) == 0 ? 0 : -1;
}

size_t
e2e_seal(uint8_t *out, const uint8_t *msg, size_t len,
    const uint8_t shared[crypto_box_BEFORENMBYTES])
{
	randombytes_buf(out, crypto_box_NONCEBYTES);
	crypto_box_easy_afternm(out + crypto_box_NONCEBYTES, msg, len, out, shared);
	return len + E2E_OVERHEAD;
}

int
e2e_open(uint8_t *out, size_t *outlen, const uint8_t *in, size_t len,
    const uint8_t shared[crypto_box_BEFORENMBYTES])
{
	if (len < E2E_OVERHEAD || crypto_box_open_easy_afternm(out,
	    in + crypto_box_NONCEBYTES, len - crypto_box_NONCEBYTES, in,
	    shared) != 0)
		return -1;
	*outlen = len - E2E_OVERHEAD;
	return 0;
}
