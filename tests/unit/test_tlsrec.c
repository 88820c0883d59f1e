/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for worker/tlsrec.c (TLS 1.3 records after OpenSSL's
 * handshake) against an independent peer: OpenSSL makes the handshake over
 * a socketpair, gives up its server side, and from then on the server end
 * is tlsrec with read() and write() while the client is still OpenSSL.
 * Data both ways (gathered, split across records, cut to fit a buffer),
 * KeyUpdate both ways, close_notify both ways, for each of the three
 * suites. Records OpenSSL will not send (tampered, padded oddly, over
 * 2^14, at a high sequence number) are made by a second record layer
 * written out here from RFC 8446 7.1 and 5.2 with EVP's AEADs and HKDF.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tlsrec.h"

#define BIG	(1 << 18)

/* The secrets the server's keylog callback saw. */
static struct {
	uint8_t	 client[TLSREC_MAX_SECRET], server[TLSREC_MAX_SECRET];
	size_t	 clen, slen;
} keylog;

struct fx {
	uint16_t	 suite;
	SSL_CTX		*sctx, *cctx;
	SSL		*c;		/* the client: OpenSSL throughout */
	int		 sfd, cfd;	/* server end, client end */
	struct tlsrec	 r;		/* the server, once OpenSSL is gone */
	uint8_t		 in[BIG];	/* what the server read, not yet opened */
	size_t		 nin;
};

/* The peer's side of the records, written out again (RFC 8446 7.1, 5.3). */
struct peer {
	uint16_t	 suite;
	uint8_t		 secret[TLSREC_MAX_SECRET];
	size_t		 slen;
	uint64_t	 seq;
};

static const uint16_t suite_1301 = 0x1301, suite_1302 = 0x1302,
    suite_1303 = 0x1303;

static const char *
suite_name(uint16_t suite)
{
	switch (suite) {
	case 0x1301: return "TLS_AES_128_GCM_SHA256";
	case 0x1302: return "TLS_AES_256_GCM_SHA384";
	default: return "TLS_CHACHA20_POLY1305_SHA256";
	}
}

static const EVP_CIPHER *
suite_cipher(uint16_t suite)
{
	switch (suite) {
	case 0x1301: return EVP_aes_128_gcm();
	case 0x1302: return EVP_aes_256_gcm();
	default: return EVP_chacha20_poly1305();
	}
}

static size_t
suite_hash_len(uint16_t suite)
{
	return suite == 0x1302 ? 48 : 32;
}

static void
fill(uint8_t *p, size_t n, uint32_t seed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		seed = seed * 1103515245 + 12345;
		p[i] = (uint8_t)(seed >> 16);
	}
}

/* HKDF-Expand-Label(secret, label, "", len). */
static void
expand_label(const struct peer *p, const uint8_t *secret, const char *label,
    uint8_t *out, size_t len)
{
	const char *md = p->suite == 0x1302 ? "SHA384" : "SHA256";
	size_t ll = strlen(label), n = 0;
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
	OSSL_PARAM prm[5];
	uint8_t info[64];
	EVP_KDF_CTX *kctx;
	EVP_KDF *kdf;

	info[n++] = 0;
	info[n++] = (uint8_t)len;
	info[n++] = (uint8_t)(6 + ll);
	memcpy(info + n, "tls13 ", 6);
	memcpy(info + n + 6, label, ll);
	n += 6 + ll;
	info[n++] = 0;
	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	assert_non_null(kdf);
	kctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	assert_non_null(kctx);
	prm[0] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	prm[1] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)md, 0);
	prm[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)secret, p->slen);
	prm[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n);
	prm[4] = OSSL_PARAM_construct_end();
	assert_int_equal(EVP_KDF_derive(kctx, out, len, prm), 1);
	EVP_KDF_CTX_free(kctx);
}

static void
peer_init(struct peer *p, uint16_t suite, const uint8_t *secret)
{
	memset(p, 0, sizeof(*p));
	p->suite = suite;
	p->slen = suite_hash_len(suite);
	memcpy(p->secret, secret, p->slen);
}

/* KeyUpdate: the next traffic secret, sequence numbers from 0. */
static void
peer_update(struct peer *p)
{
	uint8_t next[TLSREC_MAX_SECRET];

	expand_label(p, p->secret, "traffic upd", next, p->slen);
	memcpy(p->secret, next, p->slen);
	p->seq = 0;
}

/* AEAD over in[0..n) with the header as additional data; 1 or 0 (tag). */
static int
peer_aead(struct peer *p, int enc, const uint8_t hdr[TLSREC_HDR],
    const uint8_t *in, size_t n, uint8_t *out, uint8_t *tag)
{
	const EVP_CIPHER *cipher = suite_cipher(p->suite);
	uint8_t key[32], iv[12];
	EVP_CIPHER_CTX *ctx;
	int i, l, ok;

	expand_label(p, p->secret, "key", key, (size_t)EVP_CIPHER_get_key_length(cipher));
	expand_label(p, p->secret, "iv", iv, sizeof(iv));
	for (i = 0; i < 8; i++)
		iv[11 - i] ^= (uint8_t)(p->seq >> (8 * i));
	ctx = EVP_CIPHER_CTX_new();
	assert_non_null(ctx);
	assert_int_equal(EVP_CipherInit_ex(ctx, cipher, NULL, key, iv, enc), 1);
	if (!enc)
		assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG,
		    TLSREC_TAG, tag), 1);
	assert_int_equal(EVP_CipherUpdate(ctx, NULL, &l, hdr, TLSREC_HDR), 1);
	assert_int_equal(EVP_CipherUpdate(ctx, out, &l, in, (int)n), 1);
	assert_int_equal((size_t)l, n);
	ok = EVP_CipherFinal_ex(ctx, out + n, &l) == 1;
	if (ok && enc)
		assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG,
		    TLSREC_TAG, tag), 1);
	EVP_CIPHER_CTX_free(ctx);
	p->seq += ok;
	return ok;
}

/* A record whose TLSInnerPlaintext is inner[0..n) as given (type, padding). */
static size_t
peer_seal(struct peer *p, const uint8_t *inner, size_t n, uint8_t *rec)
{
	size_t body = n + TLSREC_TAG;

	rec[0] = 23;
	rec[1] = 3;
	rec[2] = 3;
	rec[3] = (uint8_t)(body >> 8);
	rec[4] = (uint8_t)body;
	assert_true(peer_aead(p, 1, rec, inner, n, rec + TLSREC_HDR,
	    rec + TLSREC_HDR + n));
	return TLSREC_HDR + body;
}

/* A record from tlsrec, opened here: its inner plaintext's length. */
static size_t
peer_open(struct peer *p, const uint8_t *rec, size_t len, uint8_t *inner)
{
	size_t n = len - TLSREC_HDR - TLSREC_TAG;

	assert_true(len >= TLSREC_HDR + TLSREC_TAG + 1);
	assert_int_equal(rec[0], 23);
	assert_int_equal(rec[1], 3);
	assert_int_equal(rec[2], 3);
	assert_int_equal((size_t)rec[3] << 8 | rec[4], len - TLSREC_HDR);
	assert_true(peer_aead(p, 0, rec, rec + TLSREC_HDR, n, inner,
	    (uint8_t *)rec + len - TLSREC_TAG));
	return n;
}

static int
unhex(const char *s, uint8_t *out, size_t max, size_t *len)
{
	size_t n = 0;
	unsigned int b;

	while (s[0] != '\0' && s[1] != '\0' && n < max) {
		if (sscanf(s, "%2x", &b) != 1)
			return -1;
		out[n++] = (uint8_t)b;
		s += 2;
	}
	*len = n;
	return s[0] == '\0' ? 0 : -1;
}

static void
keylog_cb(const SSL *s, const char *line)
{
	const char *sp;

	(void)s;
	if ((sp = strchr(line, ' ')) == NULL || (sp = strchr(sp + 1, ' ')) == NULL)
		return;
	if (strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24) == 0)
		assert_int_equal(unhex(sp + 1, keylog.client,
		    sizeof(keylog.client), &keylog.clen), 0);
	else if (strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24) == 0)
		assert_int_equal(unhex(sp + 1, keylog.server,
		    sizeof(keylog.server), &keylog.slen), 0);
}

static void
self_signed(SSL_CTX *ctx)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();

	assert_non_null(key);
	assert_non_null(x);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"tlsrec.test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, key);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	assert_int_equal(SSL_CTX_use_certificate(ctx, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ctx, key), 1);
	X509_free(x);
	EVP_PKEY_free(key);
}

static SSL_CTX *
tls13_ctx(const SSL_METHOD *m)
{
	SSL_CTX *ctx = SSL_CTX_new(m);

	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION), 1);
	assert_int_equal(SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION), 1);
	return ctx;
}

static int
step(SSL *s)
{
	int rc = SSL_do_handshake(s), e;

	if (rc == 1)
		return 1;
	e = SSL_get_error(s, rc);
	assert_true(e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE);
	return 0;
}

/* A handshake with the server's ciphersuites limited to the suite. */
static int
setup(void **state)
{
	uint16_t suite = *(const uint16_t *)*state;
	struct fx *f = calloc(1, sizeof(*f));
	int fd[2], cdone = 0, sdone = 0, i;
	SSL *s;

	assert_non_null(f);
	f->suite = suite;
	memset(&keylog, 0, sizeof(keylog));
	f->sctx = tls13_ctx(TLS_server_method());
	self_signed(f->sctx);
	assert_int_equal(SSL_CTX_set_num_tickets(f->sctx, 0), 1);
	assert_int_equal(SSL_CTX_set_ciphersuites(f->sctx, suite_name(suite)), 1);
	SSL_CTX_set_keylog_callback(f->sctx, keylog_cb);
	f->cctx = tls13_ctx(TLS_client_method());
	SSL_CTX_set_verify(f->cctx, SSL_VERIFY_NONE, NULL);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fd), 0);
	f->sfd = fd[0];
	f->cfd = fd[1];
	s = SSL_new(f->sctx);
	f->c = SSL_new(f->cctx);
	assert_non_null(s);
	assert_non_null(f->c);
	SSL_set_fd(s, f->sfd);
	SSL_set_fd(f->c, f->cfd);
	SSL_set_accept_state(s);
	SSL_set_connect_state(f->c);
	for (i = 0; i < 10 && !(cdone && sdone); i++) {
		cdone = cdone || step(f->c);
		sdone = sdone || step(s);
	}
	assert_true(cdone && sdone);
	assert_int_equal(SSL_has_pending(s), 0);
	assert_int_equal(SSL_CIPHER_get_id(SSL_get_current_cipher(s)) & 0xFFFF,
	    suite);
	assert_int_equal(keylog.clen, suite_hash_len(suite));
	assert_int_equal(keylog.slen, keylog.clen);
	assert_int_equal(tlsrec_init(&f->r, suite, keylog.client, keylog.server,
	    keylog.clen), 0);
	SSL_free(s);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	tlsrec_free(&f->r);
	SSL_free(f->c);
	SSL_CTX_free(f->cctx);
	SSL_CTX_free(f->sctx);
	close(f->sfd);
	close(f->cfd);
	free(f);
	return 0;
}

/* Everything the client has sent so far, into the server's buffer. */
static void
pull(struct fx *f)
{
	ssize_t n;

	while ((n = read(f->sfd, f->in + f->nin, sizeof(f->in) - f->nin)) > 0)
		f->nin += (size_t)n;
	assert_true(n < 0 && errno == EAGAIN);
}

/* The next whole record the client sent, left in place: its length. */
static size_t
next_len(struct fx *f)
{
	ssize_t len;

	pull(f);
	len = tlsrec_record_len(f->in, f->nin);
	assert_true(len > 0);
	return (size_t)len;
}

static void
drop(struct fx *f, size_t len)
{
	memmove(f->in, f->in + len, f->nin - len);
	f->nin -= len;
}

/* The next record the client sent, opened: its content's length. */
static size_t
next_record(struct fx *f, uint8_t *out, uint8_t *type)
{
	size_t len = next_len(f);
	ssize_t n;

	n = tlsrec_open(&f->r, f->in, len, out, type);
	assert_true(n >= 0);
	assert_true(n <= TLSREC_MAX_PLAIN);
	drop(f, len);
	return (size_t)n;
}

/* want bytes of application data from the client; the records they took. */
static int
server_recv(struct fx *f, uint8_t *out, size_t want)
{
	size_t got = 0;
	int records = 0;
	uint8_t type;

	while (got < want) {
		got += next_record(f, out + got, &type);
		assert_int_equal(type, TLSREC_DATA);
		assert_true(got <= want);
		records++;
	}
	return records;
}

static void
client_send(struct fx *f, const uint8_t *p, size_t n)
{
	assert_int_equal(SSL_write(f->c, p, (int)n), (int)n);
}

static void
server_write(struct fx *f, const uint8_t *p, size_t n)
{
	assert_int_equal(write(f->sfd, p, n), (ssize_t)n);
}

/* Seals all of iov in one call and writes it; the bytes written. */
static size_t
server_send(struct fx *f, const struct iovec *iov, int iovcnt)
{
	static uint8_t out[4 * TLSREC_MAX];
	size_t consumed, total = 0;
	ssize_t n;
	int i;

	for (i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	n = tlsrec_seal(&f->r, iov, iovcnt, out, sizeof(out), &consumed);
	assert_true(n > 0);
	assert_int_equal(consumed, total);
	server_write(f, out, (size_t)n);
	return (size_t)n;
}

static void
client_recv(struct fx *f, uint8_t *p, size_t want)
{
	size_t got = 0;
	int n;

	while (got < want) {
		n = SSL_read(f->c, p + got, (int)(want - got));
		if (n <= 0)
			fail_msg("SSL_read: %d, error %d", n, SSL_get_error(f->c, n));
		got += (size_t)n;
	}
}

/* Client to server: one record or several, each opened whole. */
static void
test_client_data(void **state)
{
	static const size_t sizes[] = { 1, 100, 16384, 40000 };
	static uint8_t sent[40000], got[40000 + TLSREC_MAX];
	struct fx *f = *state;
	uint64_t records = 0;
	size_t i;
	int n;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		fill(sent, sizes[i], (uint32_t)i);
		client_send(f, sent, sizes[i]);
		n = server_recv(f, got, sizes[i]);
		assert_memory_equal(got, sent, sizes[i]);
		assert_int_equal(n, (sizes[i] + TLSREC_MAX_PLAIN - 1) / TLSREC_MAX_PLAIN);
		assert_int_equal(f->nin, 0);
		records += (uint64_t)n;
		assert_int_equal(f->r.rd.seq, records);
	}
}

/* Opened in place, as the worker does: the plaintext over the ciphertext. */
static void
test_client_in_place(void **state)
{
	static uint8_t sent[40000], got[40000];
	struct fx *f = *state;
	size_t len, done = 0;
	ssize_t n;
	uint8_t type;

	fill(sent, sizeof(sent), 43);
	client_send(f, sent, sizeof(sent));
	while (done < sizeof(sent)) {
		len = next_len(f);
		n = tlsrec_open(&f->r, f->in, len, f->in + TLSREC_HDR, &type);
		assert_true(n > 0 && done + (size_t)n <= sizeof(sent));
		assert_int_equal(type, TLSREC_DATA);
		memcpy(got + done, f->in + TLSREC_HDR, (size_t)n);
		done += (size_t)n;
		drop(f, len);
	}
	assert_memory_equal(got, sent, sizeof(sent));
	/* A flipped bit in place: refused all the same. */
	client_send(f, sent, 100);
	len = next_len(f);
	f->in[TLSREC_HDR + 3] ^= 4;
	assert_int_equal(tlsrec_open(&f->r, f->in, len, f->in + TLSREC_HDR,
	    &type), -1);
}

/* The client pads its records to 512 bytes: the padding is not content. */
static void
test_client_padding(void **state)
{
	static uint8_t sent[700], got[2048];
	struct fx *f = *state;

	assert_int_equal(SSL_set_block_padding(f->c, 512), 1);
	fill(sent, sizeof(sent), 7);
	client_send(f, sent, 100);
	assert_int_equal(next_len(f), TLSREC_HDR + 512 + TLSREC_TAG);
	assert_int_equal(server_recv(f, got, 100), 1);
	assert_memory_equal(got, sent, 100);
	client_send(f, sent, sizeof(sent));
	assert_int_equal(next_len(f), TLSREC_HDR + 1024 + TLSREC_TAG);
	assert_int_equal(server_recv(f, got, sizeof(sent)), 1);
	assert_memory_equal(got, sent, sizeof(sent));
}

/* Server to client: three iovecs gathered into two records. */
static void
test_server_gather(void **state)
{
	static uint8_t a[10], b[20000], c[5], all[20015], got[20015];
	struct iovec iov[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };
	struct fx *f = *state;
	size_t n;

	fill(all, sizeof(all), 3);
	memcpy(a, all, sizeof(a));
	memcpy(b, all + sizeof(a), sizeof(b));
	memcpy(c, all + sizeof(a) + sizeof(b), sizeof(c));
	n = server_send(f, iov, 3);
	assert_int_equal(f->r.wr.seq, 2);
	assert_true(n >= sizeof(all) + 2 * (TLSREC_HDR + 1 + TLSREC_TAG));
	client_recv(f, got, sizeof(got));
	assert_memory_equal(got, all, sizeof(all));
	/* And again after the client has written: the directions are apart. */
	client_send(f, all, 300);
	assert_int_equal(server_recv(f, got, 300), 1);
	assert_memory_equal(got, all, 300);
	server_send(f, iov + 2, 1);
	client_recv(f, got, sizeof(c));
	assert_memory_equal(got, c, sizeof(c));
}

/* iov minus its first skip bytes, into rest; how many iovecs that is. */
static int
iov_skip(const struct iovec *iov, int iovcnt, size_t skip, struct iovec *rest)
{
	int i, n = 0;

	for (i = 0; i < iovcnt; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		rest[n].iov_base = (uint8_t *)iov[i].iov_base + skip;
		rest[n].iov_len = iov[i].iov_len - skip;
		skip = 0;
		n++;
	}
	return n;
}

/* Room for a record and a bit: each call stops within it, the next goes on. */
static void
test_server_room(void **state)
{
	static uint8_t all[40015], got[40015], out[TLSREC_MAX + 100];
	struct iovec iov[3] = { { all, 10 }, { all + 10, 40000 }, { all + 40010, 5 } };
	struct iovec rest[3];
	struct fx *f = *state;
	size_t done = 0, consumed;
	int calls = 0, n;
	ssize_t len;

	fill(all, sizeof(all), 11);
	/* No room for a record with a byte of content: nothing. */
	len = tlsrec_seal(&f->r, iov, 3, out, TLSREC_HDR + 1 + TLSREC_TAG, &consumed);
	assert_int_equal(len, 0);
	assert_int_equal(consumed, 0);
	assert_int_equal(f->r.wr.seq, 0);
	while (done < sizeof(all)) {
		n = iov_skip(iov, 3, done, rest);
		len = tlsrec_seal(&f->r, rest, n, out, sizeof(out), &consumed);
		assert_true(len > 0);
		assert_true((size_t)len <= sizeof(out));
		assert_true(consumed > 0);
		if (calls == 0)
			assert_true(consumed < sizeof(all));
		done += consumed;
		assert_true(done <= sizeof(all));
		server_write(f, out, (size_t)len);
		calls++;
	}
	assert_true(calls >= 3);
	client_recv(f, got, sizeof(got));
	assert_memory_equal(got, all, sizeof(all));
}

/* A megabyte each way, interleaved, in pieces of many sizes. */
static void
test_bulk(void **state)
{
	static uint8_t sent[50000], got[50000 + TLSREC_MAX];
	struct fx *f = *state;
	struct iovec v;
	size_t total = 0, n;
	uint32_t i;

	for (i = 0; total < (1 << 20); i++) {
		n = 1 + (i * 7919) % sizeof(sent);
		fill(sent, n, i);
		client_send(f, sent, n);
		server_recv(f, got, n);
		assert_memory_equal(got, sent, n);
		v.iov_base = sent;
		v.iov_len = n;
		server_send(f, &v, 1);
		client_recv(f, got, n);
		assert_memory_equal(got, sent, n);
		total += n;
	}
	assert_true(f->r.rd.seq > 64);
	assert_int_equal(f->r.rd.seq, f->r.wr.seq);
}

/* The client's KeyUpdate, not asking for ours, then asking for it. */
static void
test_key_update_client(void **state)
{
	static uint8_t sent[3000], got[3000 + TLSREC_MAX], hs[TLSREC_MAX];
	struct fx *f = *state;
	struct iovec v = { sent, 2000 };
	size_t n;
	uint8_t type;

	fill(sent, sizeof(sent), 5);
	client_send(f, sent, 100);
	server_recv(f, got, 100);
	server_send(f, &v, 1);
	server_send(f, &v, 1);
	client_recv(f, got, 4000);
	assert_int_equal(SSL_key_update(f->c, SSL_KEY_UPDATE_NOT_REQUESTED), 1);
	client_send(f, sent, 1000);
	n = next_record(f, hs, &type);
	assert_int_equal(type, TLSREC_HANDSHAKE);
	assert_int_equal(tlsrec_control(&f->r, type, hs, n), 0);
	assert_int_equal(f->r.send_key_update, 0);
	assert_int_equal(f->r.rd.seq, 0);
	assert_int_equal(server_recv(f, got, 1000), 1);
	assert_memory_equal(got, sent, 1000);

	assert_int_equal(SSL_key_update(f->c, SSL_KEY_UPDATE_REQUESTED), 1);
	client_send(f, sent, 1500);
	n = next_record(f, hs, &type);
	assert_int_equal(type, TLSREC_HANDSHAKE);
	assert_int_equal(tlsrec_control(&f->r, type, hs, n), 0);
	assert_int_equal(f->r.send_key_update, 1);
	assert_int_equal(server_recv(f, got, 1500), 1);
	assert_memory_equal(got, sent, 1500);
	/* Our KeyUpdate goes first, then the data under the new key. */
	assert_int_equal(f->r.wr.seq, 2);
	server_send(f, &v, 1);
	assert_int_equal(f->r.send_key_update, 0);
	assert_int_equal(f->r.wr.seq, 1);
	client_recv(f, got, 2000);
	assert_memory_equal(got, sent, 2000);
	/* Ours did not ask for the client's: data comes next, nothing else. */
	client_send(f, sent + 7, 2500);
	assert_int_equal(server_recv(f, got, 2500), 1);
	assert_memory_equal(got, sent + 7, 2500);
	server_send(f, &v, 1);
	client_recv(f, got, 2000);
	assert_memory_equal(got, sent, 2000);
}

/* Our KeyUpdate, opened by the peer written out here. */
static void
test_key_update_server(void **state)
{
	static uint8_t out[2 * TLSREC_MAX], inner[TLSREC_MAX], data[300];
	static const uint8_t ku[] = { 24, 0, 0, 1, 0, TLSREC_HANDSHAKE };
	struct fx *f = *state;
	struct iovec v = { data, sizeof(data) };
	struct peer p;
	size_t consumed, len, n;
	ssize_t total;

	peer_init(&p, f->suite, keylog.server);
	fill(data, sizeof(data), 9);
	f->r.send_key_update = 1;
	/* Room for the KeyUpdate alone is not enough to send it: nothing. */
	total = tlsrec_seal(&f->r, &v, 1, out, TLSREC_HDR + 5 + 1 + TLSREC_TAG - 1,
	    &consumed);
	assert_int_equal(total, 0);
	assert_int_equal(consumed, 0);
	assert_int_equal(f->r.send_key_update, 1);
	total = tlsrec_seal(&f->r, &v, 1, out, sizeof(out), &consumed);
	assert_int_equal(consumed, sizeof(data));
	len = (size_t)tlsrec_record_len(out, (size_t)total);
	n = peer_open(&p, out, len, inner);
	assert_int_equal(n, sizeof(ku));
	assert_memory_equal(inner, ku, sizeof(ku));
	peer_update(&p);
	n = peer_open(&p, out + len, (size_t)total - len, inner);
	assert_int_equal(n, sizeof(data) + 1);
	assert_memory_equal(inner, data, sizeof(data));
	assert_int_equal(inner[sizeof(data)], TLSREC_DATA);
	assert_int_equal(f->r.wr.seq, 1);
	/* OpenSSL reads it too. */
	server_write(f, out, (size_t)total);
	client_recv(f, inner, sizeof(data));
	assert_memory_equal(inner, data, sizeof(data));
}


/*
 * The write key's limit: the record after TLSREC_KEY_LIMIT of them goes
 * under a new key, after a KeyUpdate that does not ask for the client's.
 * OpenSSL's sequence numbers do not get that far here, so the peer
 * written out here reads them.
 */
static void
test_key_limit(void **state)
{
	static const uint8_t ku[] = { 24, 0, 0, 1, 0, TLSREC_HANDSHAKE };
	static uint8_t data[100], out[2 * TLSREC_MAX], inner[TLSREC_MAX];
	struct fx *f = *state;
	struct iovec v = { data, sizeof(data) };
	size_t consumed, len;
	struct peer p;
	ssize_t total;

	peer_init(&p, f->suite, keylog.server);
	fill(data, sizeof(data), 13);
	f->r.wr.seq = p.seq = TLSREC_KEY_LIMIT - 1;
	total = tlsrec_seal(&f->r, &v, 1, out, sizeof(out), &consumed);
	assert_int_equal(total, TLSREC_HDR + sizeof(data) + 1 + TLSREC_TAG);
	assert_int_equal(peer_open(&p, out, (size_t)total, inner), sizeof(data) + 1);
	assert_memory_equal(inner, data, sizeof(data));
	assert_int_equal(f->r.wr.seq, TLSREC_KEY_LIMIT);

	total = tlsrec_seal(&f->r, &v, 1, out, sizeof(out), &consumed);
	assert_int_equal(consumed, sizeof(data));
	len = (size_t)tlsrec_record_len(out, (size_t)total);
	assert_int_equal(peer_open(&p, out, len, inner), sizeof(ku));
	assert_memory_equal(inner, ku, sizeof(ku));
	peer_update(&p);
	assert_int_equal(peer_open(&p, out + len, (size_t)total - len, inner),
	    sizeof(data) + 1);
	assert_memory_equal(inner, data, sizeof(data));
	assert_int_equal(f->r.wr.seq, 1);
	assert_int_equal(f->r.send_key_update, 0);
}

/* Every byte of the 64-bit sequence number is in the nonce; none wraps. */
static void
test_high_seq(void **state)
{
	static const uint8_t inner[] = { 'h', 'i', TLSREC_DATA };
	static uint8_t rec[TLSREC_MAX], out[TLSREC_MAX];
	struct fx *f = *state;
	struct peer p;
	uint8_t type;
	size_t len;

	peer_init(&p, f->suite, keylog.client);
	f->r.rd.seq = p.seq = 0x0102030405060708ULL;
	len = peer_seal(&p, inner, sizeof(inner), rec);
	assert_int_equal(tlsrec_open(&f->r, rec, len, out, &type), 2);
	assert_int_equal(type, TLSREC_DATA);
	assert_memory_equal(out, "hi", 2);
	assert_int_equal(f->r.rd.seq, 0x0102030405060709ULL);
	/* One sequence number off, either way: the tag does not verify. */
	p.seq = f->r.rd.seq + 1;
	len = peer_seal(&p, inner, sizeof(inner), rec);
	assert_int_equal(tlsrec_open(&f->r, rec, len, out, &type), -1);
	p.seq = f->r.rd.seq - 1;
	len = peer_seal(&p, inner, sizeof(inner), rec);
	assert_int_equal(tlsrec_open(&f->r, rec, len, out, &type), -1);
	/* The last number opens; the one after it would wrap (RFC 8446 5.3). */
	f->r.rd.seq = p.seq = UINT64_MAX - 1;
	len = peer_seal(&p, inner, sizeof(inner), rec);
	assert_int_equal(tlsrec_open(&f->r, rec, len, out, &type), 2);
	len = peer_seal(&p, inner, sizeof(inner), rec);
	assert_int_equal(tlsrec_open(&f->r, rec, len, out, &type), -1);
}

/* close_notify from the client, then ours. */
static void
test_close_client(void **state)
{
	static uint8_t out[TLSREC_MAX], buf[64];
	struct fx *f = *state;
	ssize_t len;
	size_t n;
	uint8_t type;
	int rc;

	assert_int_equal(SSL_shutdown(f->c), 0);
	n = next_record(f, out, &type);
	assert_int_equal(type, TLSREC_ALERT);
	assert_int_equal(n, 2);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], 0);
	assert_int_equal(f->r.closed, 0);
	assert_int_equal(tlsrec_control(&f->r, type, out, n), 0);
	assert_int_equal(f->r.closed, 1);
	assert_int_equal(f->nin, 0);
	len = tlsrec_seal_close(&f->r, out, sizeof(out));
	assert_int_equal(len, TLSREC_HDR + 2 + 1 + TLSREC_TAG);
	server_write(f, out, (size_t)len);
	rc = SSL_read(f->c, buf, sizeof(buf));
	assert_int_equal(rc, 0);
	assert_int_equal(SSL_get_error(f->c, rc), SSL_ERROR_ZERO_RETURN);
	assert_int_equal(SSL_shutdown(f->c), 1);
}

/* Data and our close_notify; then the client's. */
static void
test_close_server(void **state)
{
	static uint8_t data[50], out[TLSREC_MAX], buf[64];
	struct fx *f = *state;
	struct iovec v = { data, sizeof(data) };
	ssize_t len;
	size_t n;
	uint8_t type;
	int rc;

	fill(data, sizeof(data), 17);
	server_send(f, &v, 1);
	assert_int_equal(tlsrec_seal_close(&f->r, out,
	    TLSREC_HDR + 2 + 1 + TLSREC_TAG - 1), -1);
	assert_int_equal(f->r.wr.seq, 1);
	len = tlsrec_seal_close(&f->r, out, TLSREC_HDR + 2 + 1 + TLSREC_TAG);
	assert_int_equal(len, TLSREC_HDR + 2 + 1 + TLSREC_TAG);
	server_write(f, out, (size_t)len);
	client_recv(f, buf, sizeof(data));
	assert_memory_equal(buf, data, sizeof(data));
	rc = SSL_read(f->c, buf, sizeof(buf));
	assert_int_equal(rc, 0);
	assert_int_equal(SSL_get_error(f->c, rc), SSL_ERROR_ZERO_RETURN);
	assert_int_equal(SSL_shutdown(f->c), 1);
	n = next_record(f, out, &type);
	assert_int_equal(type, TLSREC_ALERT);
	assert_int_equal(tlsrec_control(&f->r, type, out, n), 0);
	assert_int_equal(f->r.closed, 1);
}

/* A bit flipped anywhere in the body or tag, a record replayed, reordered. */
static void
test_tamper(void **state)
{
	static uint8_t sent[100], rec[TLSREC_MAX], bad[TLSREC_MAX], out[TLSREC_MAX];
	struct fx *f = *state;
	size_t len, a, i, at[5];
	uint8_t type;

	fill(sent, sizeof(sent), 19);
	client_send(f, sent, sizeof(sent));
	len = next_len(f);
	memcpy(rec, f->in, len);
	drop(f, len);
	at[0] = TLSREC_HDR;
	at[1] = TLSREC_HDR + 50;
	at[2] = len - TLSREC_TAG - 1;	/* the inner type */
	at[3] = len - TLSREC_TAG;
	at[4] = len - 1;
	for (i = 0; i < 5; i++) {
		memcpy(bad, rec, len);
		bad[at[i]] ^= (uint8_t)(1 << (i % 8));
		assert_int_equal(tlsrec_open(&f->r, bad, len, out, &type), -1);
		assert_int_equal(f->r.rd.seq, 0);
	}
	/* One byte short, the header saying so: the tag does not verify. */
	memcpy(bad, rec, len);
	bad[4]--;
	assert_int_equal(tlsrec_record_len(bad, len), (ssize_t)len - 1);
	assert_int_equal(tlsrec_open(&f->r, bad, len - 1, out, &type), -1);
	/* The record itself still opens, once. */
	assert_int_equal(tlsrec_open(&f->r, rec, len, out, &type), sizeof(sent));
	assert_int_equal(type, TLSREC_DATA);
	assert_memory_equal(out, sent, sizeof(sent));
	assert_int_equal(tlsrec_open(&f->r, rec, len, out, &type), -1);
	/* Two records, the second first. */
	client_send(f, sent, 10);
	client_send(f, sent + 10, 20);
	pull(f);
	a = (size_t)tlsrec_record_len(f->in, f->nin);
	assert_true(a > 0 && a < f->nin);
	assert_int_equal(tlsrec_record_len(f->in + a, f->nin - a), (ssize_t)(f->nin - a));
	assert_int_equal(tlsrec_open(&f->r, f->in + a, f->nin - a, out, &type), -1);
	assert_int_equal(tlsrec_open(&f->r, f->in, a, out, &type), 10);
	assert_int_equal(tlsrec_open(&f->r, f->in + a, f->nin - a, out, &type), 20);
	assert_memory_equal(out, sent + 10, 20);
	assert_int_equal(f->r.rd.seq, 3);
}

static void
header(uint8_t *p, uint8_t type, uint16_t version, size_t body)
{
	p[0] = type;
	p[1] = (uint8_t)(version >> 8);
	p[2] = (uint8_t)version;
	p[3] = (uint8_t)(body >> 8);
	p[4] = (uint8_t)body;
}

/* Only application_data, 0x0303, a body of 17 .. TLSREC_MAX_BODY. */
static void
test_record_len(void **state)
{
	static uint8_t p[TLSREC_MAX + 1];
	static const uint8_t types[] = { 20, 21, 22, 24, 0, 0x97 };
	static const uint16_t versions[] = { 0x0301, 0x0302, 0x0304, 0x0203, 0x0003 };
	size_t i, n;

	(void)state;
	header(p, 23, 0x0303, 17);
	for (n = 0; n < TLSREC_HDR + 17; n++)
		assert_int_equal(tlsrec_record_len(p, n), 0);
	assert_int_equal(tlsrec_record_len(p, TLSREC_HDR + 17), TLSREC_HDR + 17);
	assert_int_equal(tlsrec_record_len(p, sizeof(p)), TLSREC_HDR + 17);
	header(p, 23, 0x0303, TLSREC_MAX_BODY);
	assert_int_equal(tlsrec_record_len(p, TLSREC_MAX - 1), 0);
	assert_int_equal(tlsrec_record_len(p, TLSREC_MAX), TLSREC_MAX);
	header(p, 23, 0x0303, TLSREC_MAX_BODY + 1);
	assert_int_equal(tlsrec_record_len(p, TLSREC_HDR), -1);
	assert_int_equal(tlsrec_record_len(p, sizeof(p)), -1);
	header(p, 23, 0x0303, 0xFFFF);
	assert_int_equal(tlsrec_record_len(p, sizeof(p)), -1);
	for (n = 0; n <= TLSREC_TAG; n++) {
		header(p, 23, 0x0303, n);
		assert_int_equal(tlsrec_record_len(p, sizeof(p)), -1);
	}
	for (i = 0; i < sizeof(types); i++) {
		header(p, types[i], 0x0303, 100);
		assert_int_equal(tlsrec_record_len(p, sizeof(p)), -1);
	}
	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		header(p, 23, versions[i], 100);
		assert_int_equal(tlsrec_record_len(p, sizeof(p)), -1);
	}
}

/* Seals inner at the server's read sequence number and opens it there. */
static ssize_t
open_crafted(struct fx *f, struct peer *p, const uint8_t *inner, size_t n,
    uint8_t *out, uint8_t *type)
{
	static uint8_t rec[TLSREC_MAX];
	size_t len;

	p->seq = f->r.rd.seq;
	len = peer_seal(p, inner, n, rec);
	assert_int_equal(tlsrec_record_len(rec, len), (ssize_t)len);
	return tlsrec_open(&f->r, rec, len, out, type);
}

/*
 * Records without data in a row, empty ones and KeyUpdates alike: the
 * TLSREC_MAX_IDLE + 1st is refused; a record with data starts the count
 * again.
 */
static void
test_idle_records(void **state)
{
	static const uint8_t empty[1] = { TLSREC_DATA },
	    update[6] = { 24, 0, 0, 1, 0, TLSREC_HANDSHAKE },
	    data[2] = { 'x', TLSREC_DATA };
	static uint8_t out[TLSREC_MAX];
	struct fx *f = *state;
	struct peer p;
	uint8_t type;
	int round, i;

	peer_init(&p, f->suite, keylog.client);
	for (round = 0; round < 2; round++) {
		for (i = 0; i < TLSREC_MAX_IDLE; i++) {
			if (i % 2) {
				assert_int_equal(open_crafted(f, &p, empty,
				    sizeof(empty), out, &type), 0);
				continue;
			}
			assert_int_equal(open_crafted(f, &p, update,
			    sizeof(update), out, &type), 5);
			assert_int_equal(tlsrec_control(&f->r, type, out, 5), 0);
			peer_update(&p);
		}
		if (round == 0)		/* data: the count starts again */
			assert_int_equal(open_crafted(f, &p, data,
			    sizeof(data), out, &type), 1);
	}
	assert_int_equal(open_crafted(f, &p, empty, sizeof(empty), out, &type), -1);
}

/* Inner plaintexts OpenSSL does not send: padding, sizes, no type. */
static void
test_open_inner(void **state)
{
	static uint8_t inner[TLSREC_MAX_BODY], out[TLSREC_MAX];
	struct fx *f = *state;
	struct peer p;
	uint8_t type;

	peer_init(&p, f->suite, keylog.client);
	fill(inner, 100, 23);
	inner[100] = TLSREC_DATA;
	memset(inner + 101, 0, 1000);
	assert_int_equal(open_crafted(f, &p, inner, 1101, out, &type), 100);
	assert_int_equal(type, TLSREC_DATA);
	/* Content ending in zero bytes keeps them: the type ends the padding. */
	memset(inner + 90, 0, 10);
	assert_int_equal(open_crafted(f, &p, inner, 101, out, &type), 100);
	assert_memory_equal(out, inner, 100);
	/* Empty application data is allowed. */
	inner[0] = TLSREC_DATA;
	memset(inner + 1, 0, 40);
	assert_int_equal(open_crafted(f, &p, inner, 41, out, &type), 0);
	assert_int_equal(type, TLSREC_DATA);
	/* Exactly 2^14 bytes of content. */
	fill(inner, TLSREC_MAX_PLAIN, 29);
	inner[TLSREC_MAX_PLAIN] = TLSREC_DATA;
	assert_int_equal(open_crafted(f, &p, inner, TLSREC_MAX_PLAIN + 1, out,
	    &type), TLSREC_MAX_PLAIN);
	assert_memory_equal(out, inner, TLSREC_MAX_PLAIN);
	/* An unknown inner type opens; tlsrec_control refuses it. */
	inner[0] = 'a';
	inner[1] = 0x42;
	assert_int_equal(open_crafted(f, &p, inner, 2, out, &type), 1);
	assert_int_equal(type, 0x42);
	assert_int_equal(tlsrec_control(&f->r, type, out, 1), -1);
	/* A zero-length alert and handshake open, and are refused. */
	inner[0] = TLSREC_ALERT;
	assert_int_equal(open_crafted(f, &p, inner, 1, out, &type), 0);
	assert_int_equal(tlsrec_control(&f->r, type, out, 0), -1);
	inner[0] = TLSREC_HANDSHAKE;
	assert_int_equal(open_crafted(f, &p, inner, 1, out, &type), 0);
	assert_int_equal(tlsrec_control(&f->r, type, out, 0), -1);
	/* 2^14 + 1 bytes of content: record_overflow. */
	fill(inner, TLSREC_MAX_PLAIN + 1, 31);
	inner[TLSREC_MAX_PLAIN + 1] = TLSREC_DATA;
	assert_int_equal(open_crafted(f, &p, inner, TLSREC_MAX_PLAIN + 2, out,
	    &type), -1);
	/* No type at all: every byte zero. */
	memset(inner, 0, 300);
	assert_int_equal(open_crafted(f, &p, inner, 300, out, &type), -1);
	assert_int_equal(open_crafted(f, &p, inner, 1, out, &type), -1);
}

/* What tlsrec_control refuses; the peer's KeyUpdate, checked against ours. */
static void
test_control(void **state)
{
	static const struct {
		uint8_t	type;
		uint8_t	p[12];
		size_t	n;
	} bad[] = {
		{ TLSREC_ALERT, { 2, 40 }, 2 },		/* handshake_failure */
		{ TLSREC_ALERT, { 2, 20 }, 2 },		/* bad_record_mac */
		{ TLSREC_ALERT, { 1, 90 }, 2 },		/* user_canceled */
		{ TLSREC_ALERT, { 1, 0 }, 1 },
		{ TLSREC_ALERT, { 1, 0, 0 }, 3 },
		{ TLSREC_ALERT, { 0 }, 0 },
		{ TLSREC_HANDSHAKE, { 0 }, 0 },
		{ TLSREC_HANDSHAKE, { 4, 0, 0, 0 }, 4 },	/* NewSessionTicket */
		{ TLSREC_HANDSHAKE, { 20, 0, 0, 1, 0 }, 5 },	/* Finished */
		{ TLSREC_HANDSHAKE, { 24, 0, 0, 1, 2 }, 5 },
		{ TLSREC_HANDSHAKE, { 24, 0, 0, 1, 0xFF }, 5 },
		{ TLSREC_HANDSHAKE, { 24, 0, 0, 2, 0, 0 }, 6 },
		{ TLSREC_HANDSHAKE, { 24, 0, 0, 0 }, 4 },
		{ TLSREC_HANDSHAKE, { 24, 0, 0, 1 }, 4 },
		{ TLSREC_HANDSHAKE, { 24, 0, 0, 1, 0 }, 4 },
		{ TLSREC_HANDSHAKE, { 24, 0, 1, 0, 0 }, 5 },
		{ TLSREC_HANDSHAKE, { 24, 1, 0, 1, 0 }, 5 },
		{ TLSREC_HANDSHAKE, { 24, 0, 0, 1, 0, 24 }, 6 },
		{ TLSREC_HANDSHAKE, { 24, 0, 0, 1, 0, 4, 0, 0, 0 }, 9 },
		/* A KeyUpdate must end its record (RFC 8446 5.1). */
		{ TLSREC_HANDSHAKE, { 24, 0, 0, 1, 0, 24, 0, 0, 1, 0 }, 10 },
		{ TLSREC_DATA, { 1, 0 }, 2 },
		{ 20, { 1 }, 1 },
		{ 0, { 1, 0 }, 2 },
	};
	static const uint8_t ku[] = { 24, 0, 0, 1, 1, TLSREC_HANDSHAKE };
	static const uint8_t data[] = { 'o', 'k', TLSREC_DATA };
	static uint8_t out[TLSREC_MAX];
	struct fx *f = *state;
	struct peer p;
	uint8_t type;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (tlsrec_control(&f->r, bad[i].type, bad[i].p, bad[i].n) != -1)
			fail_msg("bad[%zu] accepted", i);
		assert_int_equal(f->r.closed, 0);
	}
	/* The peer's next key, as RFC 8446 7.2 makes it. */
	peer_init(&p, f->suite, keylog.client);
	assert_int_equal(open_crafted(f, &p, ku, sizeof(ku), out, &type), 5);
	assert_int_equal(tlsrec_control(&f->r, type, out, 5), 0);
	assert_int_equal(f->r.send_key_update, 1);
	assert_int_equal(f->r.rd.seq, 0);
	peer_update(&p);
	assert_int_equal(open_crafted(f, &p, data, sizeof(data), out, &type), 2);
	assert_memory_equal(out, "ok", 2);
	assert_int_equal(tlsrec_control(&f->r, TLSREC_ALERT,
	    (const uint8_t *)"\1\0", 2), 0);
	assert_int_equal(f->r.closed, 1);
}

static void
test_init(void **state)
{
	static const uint16_t suites[] = { 0x1301, 0x1302, 0x1303 };
	static const uint16_t unknown[] = { 0x1304, 0x1305, 0, 0x1300, 0xC02F, 0xFFFF };
	static const uint8_t zero[sizeof(struct tlsrec)];
	uint8_t a[TLSREC_MAX_SECRET + 1], b[TLSREC_MAX_SECRET + 1];
	struct tlsrec r;
	size_t i;

	(void)state;
	fill(a, sizeof(a), 37);
	fill(b, sizeof(b), 41);
	for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		memset(&r, 0xA5, sizeof(r));
		assert_int_equal(tlsrec_init(&r, unknown[i], a, b, 32), -1);
		assert_null(r.rd.ctx);
		assert_null(r.wr.ctx);
		tlsrec_free(&r);
	}
	for (i = 0; i < 3; i++) {
		size_t len = suite_hash_len(suites[i]), other = len == 32 ? 48 : 32;

		assert_int_equal(tlsrec_init(&r, suites[i], a, b, other), -1);
		assert_null(r.rd.ctx);
		tlsrec_free(&r);
		assert_int_equal(tlsrec_init(&r, suites[i], a, b, len - 1), -1);
		tlsrec_free(&r);
		assert_int_equal(tlsrec_init(&r, suites[i], a, b, len + 1), -1);
		tlsrec_free(&r);
		assert_int_equal(tlsrec_init(&r, suites[i], a, b, 0), -1);
		tlsrec_free(&r);
		assert_int_equal(tlsrec_init(&r, suites[i], a, b, len), 0);
		assert_non_null(r.rd.ctx);
		assert_non_null(r.wr.ctx);
		assert_int_equal(r.secret_len, len);
		assert_memory_equal(r.rd.secret, a, len);
		assert_memory_equal(r.wr.secret, b, len);
		assert_int_equal(r.rd.seq, 0);
		assert_int_equal(r.wr.seq, 0);
		assert_int_equal(r.send_key_update, 0);
		assert_int_equal(r.closed, 0);
		tlsrec_free(&r);
		assert_memory_equal(&r, zero, sizeof(r));
		tlsrec_free(&r);
	}
	memset(&r, 0, sizeof(r));
	tlsrec_free(&r);
	tlsrec_free(&r);
}

#define SUITED(fn, s) { #fn "/0x" #s, fn, setup, teardown, (void *)&suite_##s }
#define ALL(fn) SUITED(fn, 1301), SUITED(fn, 1302), SUITED(fn, 1303)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_record_len),
		ALL(test_client_data),
		ALL(test_client_in_place),
		ALL(test_client_padding),
		ALL(test_server_gather),
		ALL(test_server_room),
		ALL(test_bulk),
		ALL(test_key_update_client),
		ALL(test_key_update_server),
		ALL(test_key_limit),
		ALL(test_high_seq),
		ALL(test_close_client),
		ALL(test_close_server),
		ALL(test_tamper),
		ALL(test_open_inner),
		ALL(test_idle_records),
		ALL(test_control),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
