/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A relay client's records once OpenSSL has made its handshake (tlsown.h):
 * ciphertext in and out through buffers of the worker's pool, opened and
 * sealed by tlsrec.c.
 */
#include "tlsown.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tlsrec.h"

#define CLIENT_LABEL	"CLIENT_TRAFFIC_SECRET_0 "
#define SERVER_LABEL	"SERVER_TRAFFIC_SECRET_0 "
#define RANDOM_HEX	64	/* the client random, which the line names */
/* Records opened in one read call: a sender of tiny records gets no more
 * of the worker's turn than the read loop's budget gives it. */
#define OPEN_PER_READ	16

/* A handshake's application traffic secrets, until tlsown_take. */
struct tls_secrets {
	uint8_t		 client[TLSREC_MAX_SECRET];
	uint8_t		 server[TLSREC_MAX_SECRET];
	size_t		 client_len, server_len;
};

struct tls_own {
	struct tlsrec	 rec;
	struct bufpool	*pool;
	struct buf	*in;		/* records read, not yet opened */
	uint32_t	 pt_off, pt_len;	/* an opened record's plaintext in
					 * place in `in`, not yet delivered */
	uint32_t	 pt_rec;	/* that record's length */
	struct buf	*out;		/* sealed, not yet written */
	int		 ahead;		/* logged in: pool buffers, read-ahead */
};

/* "LABEL <client random> <secret>": the secret into out; its length or 0. */
static size_t
secret_of(const char *line, const char *label, uint8_t *out)
{
	size_t ll = strlen(label), len;
	const char *hex;

	if (strncmp(line, label, ll) != 0 || strlen(line) < ll + RANDOM_HEX + 1 ||
	    line[ll + RANDOM_HEX] != ' ')
		return 0;
	hex = line + ll + RANDOM_HEX + 1;
	if (sodium_hex2bin(out, TLSREC_MAX_SECRET, hex, strlen(hex), NULL, &len,
	    NULL) != 0)
		return 0;
	return len;
}

static void
keylog(const SSL *ssl, const char *line)
{
	struct wk *w = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	struct conn *c = w != NULL ? w->tls_current : NULL;
	struct tls_secrets *s;
	size_t n;

	if (c == NULL || c->ssl != ssl || c->outbound)
		return;
	if (c->secrets == NULL &&
	    (c->secrets = calloc(1, sizeof(*c->secrets))) == NULL)
		return;		/* OpenSSL keeps this connection's records */
	s = c->secrets;
	if ((n = secret_of(line, CLIENT_LABEL, s->client)) != 0)
		s->client_len = n;
	else if ((n = secret_of(line, SERVER_LABEL, s->server)) != 0)
		s->server_len = n;
}

void
tlsown_ctx(SSL_CTX *ctx)
{
	SSL_CTX_set_keylog_callback(ctx, keylog);
}

static void
secrets_free(struct conn *c)
{
	if (c->secrets == NULL)
		return;
	OPENSSL_cleanse(c->secrets, sizeof(*c->secrets));
	free(c->secrets);
	c->secrets = NULL;
}

int
tlsown_take(struct wk *w, struct conn *c)
{
	struct tls_secrets *s = c->secrets;
	struct tls_own *t;
	uint16_t suite;
	int rc;

	/*
	 * Both sequence numbers are 0 only while nothing was sent or read
	 * under the application keys: no tickets (tlsctx.c), and no bytes
	 * read past the client's Finished (no read-ahead during the login).
	 */
	if (s == NULL || s->client_len == 0 || s->client_len != s->server_len ||
	    SSL_version(c->ssl) != TLS1_3_VERSION || SSL_has_pending(c->ssl) ||
	    BIO_get_ktls_send(SSL_get_wbio(c->ssl)) ||
	    BIO_get_ktls_recv(SSL_get_rbio(c->ssl))) {
		secrets_free(c);
		return 0;
	}
	suite = (uint16_t)(SSL_CIPHER_get_id(SSL_get_current_cipher(c->ssl)) &
	    0xffff);
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		secrets_free(c);
		return -1;
	}
	rc = tlsrec_init(&t->rec, suite, s->client, s->server, s->client_len);
	secrets_free(c);
	if (rc != 0) {
		free(t);
		return 0;
	}
	t->pool = &w->bufs;
	c->own = t;
	SSL_free(c->ssl);
	c->ssl = NULL;
	return 1;
}

/* Reads from the socket into t->in: 1 bytes came, 0 none for now, -1 EOF or error. */
static int
fill(struct conn *c, struct tls_own *t)
{
	size_t room;
	ssize_t r;

	if (c->rx_drained)
		return 0;
	if (t->in == NULL && (t->in = t->ahead ? buf_get(t->pool) :
	    buf_new(TLSREC_MAX)) == NULL)
		return -1;
	if (t->in->cap - t->in->wr < TLSREC_MAX)
		buf_compact(t->in);
	room = t->in->cap - t->in->wr;
	r = read(c->fd, t->in->data + t->in->wr, room);
	if (r > 0) {
		t->in->wr += (uint32_t)r;
		c->rx_drained = (size_t)r < room;
		return 1;
	}
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	return -1;
}

/* Plaintext of the record opened in place, to p. */
static size_t
deliver(struct tls_own *t, uint8_t *p, size_t n)
{
	size_t take = t->pt_len < n ? t->pt_len : n;

	memcpy(p, t->in->data + t->pt_off, take);
	t->pt_off += (uint32_t)take;
	t->pt_len -= (uint32_t)take;
	if (t->pt_len == 0) {
		t->in->rd += t->pt_rec;
		t->pt_rec = 0;
	}
	return take;
}

/*
 * The next record in t->in: opened into p when its plaintext fits in n
 * bytes, else in place (delivered in parts). Adds the data it gave to
 * *got. 1 opened one, 0 none complete, -1 close the connection.
 */
static int
open_next(struct tls_own *t, uint8_t *p, size_t n, size_t *got)
{
	uint8_t *rec, *out, type;
	ssize_t len, m;

	if (t->in == NULL)
		return 0;
	rec = t->in->data + t->in->rd;
	if ((len = tlsrec_record_len(rec, t->in->wr - t->in->rd)) <= 0)
		return (int)len;
	out = (size_t)len - TLSREC_HDR - TLSREC_TAG <= n ? p : rec + TLSREC_HDR;
	if ((m = tlsrec_open(&t->rec, rec, (size_t)len, out, &type)) < 0)
		return -1;
	if (type != TLSREC_DATA) {
		t->in->rd += (uint32_t)len;
		return tlsrec_control(&t->rec, type, out, (size_t)m) == 0 ? 1 : -1;
	}
	if (out == p) {
		t->in->rd += (uint32_t)len;
		*got += (size_t)m;
		return 1;
	}
	t->pt_off = t->in->rd + TLSREC_HDR;
	t->pt_len = (uint32_t)m;
	t->pt_rec = (uint32_t)len;
	if (m == 0)
		t->in->rd += (uint32_t)len;
	else
		*got += deliver(t, p, n);
	return 1;
}

ssize_t
tlsown_read(struct conn *c, uint8_t *p, size_t n)
{
	struct tls_own *t = c->own;
	int r, opened = 0;
	size_t got = 0;

	if (t->pt_len > 0)
		got = deliver(t, p, n);
	while (got < n && !t->rec.closed && t->pt_len == 0 &&
	    opened < OPEN_PER_READ) {
		if ((r = open_next(t, p + got, n - got, &got)) < 0)
			return -1;
		if (r == 1) {
			opened++;
			continue;
		}
		if ((r = fill(c, t)) < 0)
			return got > 0 ? (ssize_t)got : -1;
		if (r == 0)
			break;
	}
	if (got == 0 && t->rec.closed)
		return -1;	/* close_notify: EOF */
	return (ssize_t)got;
}

/* Writes what is sealed: 1 all of it, 0 not yet, -1 error. */
static int
flush(struct conn *c, struct tls_own *t)
{
	ssize_t r;

	while (t->out != NULL && t->out->rd < t->out->wr) {
		r = write(c->fd, t->out->data + t->out->rd, t->out->wr - t->out->rd);
		if (r < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		t->out->rd += (uint32_t)r;
	}
	buf_put(t->pool, t->out);
	t->out = NULL;
	return 1;
}

ssize_t
tlsown_write(struct conn *c, const struct iovec *iov, int iovcnt)
{
	struct tls_own *t = c->own;
	size_t consumed;
	ssize_t n;
	int r;

	if ((r = flush(c, t)) <= 0)
		return r;
	if ((t->out = buf_get(t->pool)) == NULL)
		return -1;
	if ((n = tlsrec_seal(&t->rec, iov, iovcnt, t->out->data, t->out->cap,
	    &consumed)) < 0)
		return -1;
	t->out->wr = (uint32_t)n;
	if (flush(c, t) < 0)
		return -1;
	return (ssize_t)consumed;
}

int
tlsown_unsent(const struct conn *c)
{
	const struct tls_own *t = c->own;

	return t != NULL && ((t->out != NULL && t->out->rd < t->out->wr) ||
	    tlsrec_update_due(&t->rec));
}

int
tlsown_pending(const struct conn *c)
{
	const struct tls_own *t = c->own;

	return t != NULL && !t->rec.closed && (t->pt_len > 0 || (t->in != NULL &&
	    tlsrec_record_len(t->in->data + t->in->rd, t->in->wr - t->in->rd) != 0));
}

int
tlsown_partial(const struct conn *c)
{
	const struct tls_own *t = c->own;

	return t != NULL && t->in != NULL && t->in->rd < t->in->wr;
}

void
tlsown_logged_in(struct conn *c)
{
	if (c->own != NULL)
		c->own->ahead = 1;
}

/*
 * Part of a record that waits for the socket moves out of a pool buffer
 * into one of a record's size: a sender whose turn ended mid-record holds
 * 16 KiB, not 68.
 */
static void
shrink_in(struct tls_own *t)
{
	uint32_t n = t->in->wr - t->in->rd;
	struct buf *b;

	if (t->in->cap != BUF_SIZE || t->pt_len > 0 ||
	    tlsrec_record_len(t->in->data + t->in->rd, n) != 0 ||
	    (b = buf_new(TLSREC_MAX)) == NULL)
		return;
	memcpy(b->data, t->in->data + t->in->rd, n);
	b->wr = n;
	buf_put(t->pool, t->in);
	t->in = b;
}

void
tlsown_rest(struct conn *c)
{
	struct tls_own *t = c->own;

	if (t == NULL)
		return;
	if (t->in != NULL && t->in->rd == t->in->wr) {
		buf_put(t->pool, t->in);
		t->in = NULL;
	} else if (t->in != NULL)
		shrink_in(t);
	if (t->out != NULL && t->out->rd == t->out->wr) {
		buf_put(t->pool, t->out);
		t->out = NULL;
	}
}

void
tlsown_shutdown(struct conn *c)
{
	struct tls_own *t = c->own;
	ssize_t n;

	if (t == NULL || t->out != NULL || (t->out = buf_get(t->pool)) == NULL)
		return;
	if ((n = tlsrec_seal_close(&t->rec, t->out->data, t->out->cap)) > 0) {
		t->out->wr = (uint32_t)n;
		(void)flush(c, t);
	}
}

void
tlsown_free(struct conn *c)
{
	struct tls_own *t = c->own;

	secrets_free(c);
	if (t == NULL)
		return;
	buf_put(t->pool, t->in);
	buf_put(t->pool, t->out);
	tlsrec_free(&t->rec);
	free(t);
	c->own = NULL;
}
