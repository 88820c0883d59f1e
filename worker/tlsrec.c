/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TLS 1.3 records with the application traffic keys (RFC 8446 5.2, 7.1,
 * 7.2, 4.6.3): framing, nonces, the key schedule's "key", "iv" and
 * "traffic upd" steps. The AEADs and HKDF are OpenSSL's.
 */
#include "tlsrec.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <string.h>

#define NONCE_LEN	12
#define MAX_KEY		32
#define HS_KEY_UPDATE	24
#define KEY_UPDATE_LEN	5	/* type, uint24 length 1, request_update */
#define ALERT_CLOSE	0	/* close_notify */

/* HKDF-Expand-Label(secret, label, "", len) */
static int
expand_label(const struct tlsrec *r, const uint8_t *secret, const char *label,
    uint8_t *out, size_t len)
{
	uint8_t info[2 + 1 + 6 + 16 + 1];
	size_t ll = strlen(label), n = 0;
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY, ok;
	OSSL_PARAM p[5];
	EVP_KDF_CTX *kctx;
	EVP_KDF *kdf;

	if (ll > 16)
		return -1;
	info[n++] = (uint8_t)(len >> 8);
	info[n++] = (uint8_t)len;
	info[n++] = (uint8_t)(6 + ll);
	memcpy(info + n, "tls13 ", 6);
	n += 6;
	memcpy(info + n, label, ll);
	n += ll;
	info[n++] = 0;		/* empty context */
	if ((kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL)) == NULL)
		return -1;
	kctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	if (kctx == NULL)
		return -1;
	p[0] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	p[1] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)EVP_MD_get0_name(r->md), 0);
	p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)secret, r->secret_len);
	p[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n);
	p[4] = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(kctx, out, len, p) == 1;
	EVP_KDF_CTX_free(kctx);
	return ok ? 0 : -1;
}

/* d's key and iv from d->secret; its sequence number back to 0. */
static int
dir_keys(const struct tlsrec *r, struct tlsrec_dir *d, int enc)
{
	uint8_t key[MAX_KEY];
	int klen = EVP_CIPHER_get_key_length(r->cipher), rc = -1;

	if (klen <= 0 || klen > MAX_KEY)
		return -1;
	if (d->ctx == NULL && (d->ctx = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	if (expand_label(r, d->secret, "key", key, (size_t)klen) == 0 &&
	    expand_label(r, d->secret, "iv", d->iv, NONCE_LEN) == 0 &&
	    EVP_CipherInit_ex(d->ctx, EVP_CIPHER_CTX_get0_cipher(d->ctx) == NULL ?
	    r->cipher : NULL, NULL, key, NULL, enc) == 1)
		rc = 0;
	OPENSSL_cleanse(key, sizeof(key));
	d->seq = 0;
	return rc;
}

/* The next secret of d (KeyUpdate), and its keys. */
static int
dir_update(const struct tlsrec *r, struct tlsrec_dir *d, int enc)
{
	uint8_t next[TLSREC_MAX_SECRET];
	int rc;

	rc = expand_label(r, d->secret, "traffic upd", next, r->secret_len);
	if (rc == 0)
		memcpy(d->secret, next, r->secret_len);
	OPENSSL_cleanse(next, sizeof(next));
	return rc == 0 ? dir_keys(r, d, enc) : -1;
}

int
tlsrec_init(struct tlsrec *r, uint16_t suite, const uint8_t *rd_secret,
    const uint8_t *wr_secret, size_t secret_len)
{
	memset(r, 0, sizeof(*r));
	switch (suite) {
	case 0x1301:
		r->cipher = EVP_aes_128_gcm();
		r->md = EVP_sha256();
		break;
	case 0x1302:
		r->cipher = EVP_aes_256_gcm();
		r->md = EVP_sha384();
		break;
	case 0x1303:
		r->cipher = EVP_chacha20_poly1305();
		r->md = EVP_sha256();
		break;
	default:
		return -1;
	}
	r->secret_len = (size_t)EVP_MD_get_size(r->md);
	if (secret_len != r->secret_len || secret_len > TLSREC_MAX_SECRET) {
		memset(r, 0, sizeof(*r));
		return -1;
	}
	memcpy(r->rd.secret, rd_secret, secret_len);
	memcpy(r->wr.secret, wr_secret, secret_len);
	if (dir_keys(r, &r->rd, 0) != 0 || dir_keys(r, &r->wr, 1) != 0) {
		tlsrec_free(r);
		ERR_clear_error();
		return -1;
	}
	return 0;
}

void
tlsrec_free(struct tlsrec *r)
{
	EVP_CIPHER_CTX_free(r->rd.ctx);
	EVP_CIPHER_CTX_free(r->wr.ctx);
	OPENSSL_cleanse(r, sizeof(*r));
}

static void
nonce(const struct tlsrec_dir *d, uint8_t out[NONCE_LEN])
{
	int i;

	memcpy(out, d->iv, NONCE_LEN);
	for (i = 0; i < 8; i++)
		out[NONCE_LEN - 1 - i] ^= (uint8_t)(d->seq >> (8 * i));
}

ssize_t
tlsrec_record_len(const uint8_t *p, size_t n)
{
	size_t body;

	if (n < TLSREC_HDR)
		return 0;
	if (p[0] != TLSREC_DATA || p[1] != 3 || p[2] != 3)
		return -1;
	body = (size_t)p[3] << 8 | p[4];
	if (body < TLSREC_TAG + 1 || body > TLSREC_MAX_BODY)
		return -1;
	return n >= TLSREC_HDR + body ? (ssize_t)(TLSREC_HDR + body) : 0;
}

ssize_t
tlsrec_open(struct tlsrec *r, const uint8_t *rec, size_t len, uint8_t *out,
    uint8_t *type)
{
	EVP_CIPHER_CTX *ctx = r->rd.ctx;
	uint8_t iv[NONCE_LEN];
	size_t clen;
	ssize_t i;
	int n, fin;

	if (len < TLSREC_HDR + TLSREC_TAG + 1 || len > TLSREC_MAX ||
	    r->rd.seq == UINT64_MAX)
		return -1;
	/* RFC 8446 5.4: the inner plaintext, padding included, is at most
	 * 2^14 + 1 bytes (the record's 2^14 + 256 leaves room for AEADs). */
	if ((clen = len - TLSREC_HDR - TLSREC_TAG) > TLSREC_MAX_PLAIN + 1)
		return -1;
	nonce(&r->rd, iv);
	if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, iv) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TLSREC_TAG,
	    (void *)(rec + len - TLSREC_TAG)) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, rec, TLSREC_HDR) != 1 ||
	    EVP_DecryptUpdate(ctx, out, &n, rec + TLSREC_HDR, (int)clen) != 1 ||
	    (size_t)n != clen || EVP_DecryptFinal_ex(ctx, out + n, &fin) != 1) {
		OPENSSL_cleanse(out, clen);	/* nothing unverified is left */
		ERR_clear_error();
		return -1;
	}
	r->rd.seq++;
	/* The inner type is the last byte that is not padding. */
	for (i = (ssize_t)clen - 1; i >= 0 && out[i] == 0; i--)
		;
	if (i < 0)
		return -1;
	*type = out[i];
	/* A peer sending nothing but empty records or KeyUpdates costs an
	 * AEAD (or an HKDF) each and moves no data. */
	if (*type == TLSREC_DATA && i > 0)
		r->idle = 0;
	else if (++r->idle > TLSREC_MAX_IDLE)
		return -1;
	return i;
}

int
tlsrec_control(struct tlsrec *r, uint8_t type, const uint8_t *p, size_t n)
{
	if (type == TLSREC_ALERT) {
		if (n != 2 || p[1] != ALERT_CLOSE)
			return -1;
		r->closed = 1;
		return 0;
	}
	if (type != TLSREC_HANDSHAKE || n != KEY_UPDATE_LEN ||
	    p[0] != HS_KEY_UPDATE || p[1] != 0 || p[2] != 0 || p[3] != 1 ||
	    p[4] > 1)
		return -1;
	if (dir_update(r, &r->rd, 0) != 0) {
		ERR_clear_error();
		return -1;
	}
	if (p[4] == 1)
		r->send_key_update = 1;
	return 0;
}

/* Where tlsrec_seal is in its iovecs. */
struct cursor {
	const struct iovec *iov;
	int		 i;
	size_t		 off;
};

static int
encrypt_gather(EVP_CIPHER_CTX *ctx, struct cursor *cu, size_t len,
    uint8_t *out)
{
	const struct iovec *v;
	size_t take;
	int n;

	while (len > 0) {
		v = &cu->iov[cu->i];
		if ((take = v->iov_len - cu->off) == 0) {
			cu->i++;
			cu->off = 0;
			continue;
		}
		if (take > len)
			take = len;
		if (EVP_EncryptUpdate(ctx, out, &n, (const uint8_t *)v->iov_base +
		    cu->off, (int)take) != 1)
			return -1;
		out += take;
		len -= take;
		cu->off += take;
	}
	return 0;
}

/* One record of type with len content bytes from cu. */
static ssize_t
seal_record(struct tlsrec *r, uint8_t type, struct cursor *cu, size_t len,
    uint8_t *out)
{
	EVP_CIPHER_CTX *ctx = r->wr.ctx;
	size_t body = len + 1 + TLSREC_TAG;
	uint8_t iv[NONCE_LEN];
	int n;

	out[0] = TLSREC_DATA;
	out[1] = 3;
	out[2] = 3;
	out[3] = (uint8_t)(body >> 8);
	out[4] = (uint8_t)body;
	nonce(&r->wr, iv);
	if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, iv) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &n, out, TLSREC_HDR) != 1 ||
	    encrypt_gather(ctx, cu, len, out + TLSREC_HDR) != 0 ||
	    EVP_EncryptUpdate(ctx, out + TLSREC_HDR + len, &n, &type, 1) != 1 ||
	    EVP_EncryptFinal_ex(ctx, out + TLSREC_HDR + len + 1, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TLSREC_TAG,
	    out + TLSREC_HDR + len + 1) != 1) {
		ERR_clear_error();
		return -1;
	}
	r->wr.seq++;
	return (ssize_t)(TLSREC_HDR + body);
}

/* A record of type holding p[0..len). */
static ssize_t
seal_message(struct tlsrec *r, uint8_t type, const uint8_t *p, size_t len,
    uint8_t *out)
{
	struct iovec v = { (void *)p, len };
	struct cursor cu = { &v, 0, 0 };

	return seal_record(r, type, &cu, len, out);
}

static ssize_t
seal_key_update(struct tlsrec *r, uint8_t *out)
{
	static const uint8_t msg[KEY_UPDATE_LEN] = { HS_KEY_UPDATE, 0, 0, 1, 0 };
	ssize_t n;

	if ((n = seal_message(r, TLSREC_HANDSHAKE, msg, sizeof(msg), out)) < 0)
		return -1;
	if (dir_update(r, &r->wr, 1) != 0) {
		ERR_clear_error();
		return -1;
	}
	r->send_key_update = 0;
	return n;
}

int
tlsrec_update_due(const struct tlsrec *r)
{
	return r->send_key_update || r->wr.seq >= TLSREC_KEY_LIMIT;
}

ssize_t
tlsrec_seal(struct tlsrec *r, const struct iovec *iov, int iovcnt,
    uint8_t *out, size_t room, size_t *consumed)
{
	const size_t over = TLSREC_HDR + 1 + TLSREC_TAG;
	struct cursor cu = { iov, 0, 0 };
	size_t total = 0, done = 0, take;
	ssize_t n;
	int i;

	*consumed = 0;
	if (tlsrec_update_due(r)) {
		if (room < over + KEY_UPDATE_LEN)
			return 0;
		if ((done = (size_t)seal_key_update(r, out)) == (size_t)-1)
			return -1;
	}
	for (i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	while (*consumed < total && room - done > over) {
		take = total - *consumed;
		if (take > TLSREC_MAX_PLAIN)
			take = TLSREC_MAX_PLAIN;
		if (take > room - done - over)
			take = room - done - over;
		if ((n = seal_record(r, TLSREC_DATA, &cu, take, out + done)) < 0)
			return -1;
		done += (size_t)n;
		*consumed += take;
	}
	return (ssize_t)done;
}

ssize_t
tlsrec_seal_close(struct tlsrec *r, uint8_t *out, size_t room)
{
	static const uint8_t alert[2] = { 1, ALERT_CLOSE };

	if (room < TLSREC_HDR + sizeof(alert) + 1 + TLSREC_TAG)
		return -1;
	return seal_message(r, TLSREC_ALERT, alert, sizeof(alert), out);
}
