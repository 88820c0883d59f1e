/* SPDX-License-Identifier: BSD-3-Clause */
/* Certificates and challenge answers for the workers (certshm.h). */
#include "certshm.h"

#include <string.h>

#include "seqlock.h"

/* A string of printable ASCII ending within cap (empty allowed). */
static int
printable(const char *s, size_t cap)
{
	size_t i;

	for (i = 0; i < cap && s[i] != '\0'; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return 0;
	return i < cap;
}

/* len bytes of text with no NUL among them, then a NUL. */
static int
text(const char *s, uint32_t len, size_t cap)
{
	return len < cap && memchr(s, '\0', len) == NULL && s[len] == '\0';
}

static int
token_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
}

int
certshm_check_cert(const struct certshm_cert *c)
{
	if (!printable(c->name, sizeof(c->name)) ||
	    !text(c->chain, c->chain_len, sizeof(c->chain)))
		return -1;
	return c->chain_len == 0 || c->name[0] != '\0' ? 0 : -1;
}

int
certshm_check_alpn(const struct certshm_alpn *a)
{
	if (!printable(a->sni, sizeof(a->sni)) ||
	    !text(a->cert, a->cert_len, sizeof(a->cert)) ||
	    !text(a->key, a->key_len, sizeof(a->key)))
		return -1;
	if (a->cert_len == 0)
		return 0;
	return a->sni[0] != '\0' && a->key_len > 0 ? 0 : -1;
}

int
certshm_check_http(const struct certshm_http *h)
{
	size_t i;

	if (!printable(h->token, sizeof(h->token)) ||
	    !printable(h->key_auth, sizeof(h->key_auth)))
		return -1;
	for (i = 0; h->token[i] != '\0'; i++)
		if (!token_char(h->token[i]))
			return -1;
	for (i = 0; h->key_auth[i] != '\0'; i++)
		if (!token_char(h->key_auth[i]) && h->key_auth[i] != '.')
			return -1;
	return h->token[0] == '\0' || h->key_auth[0] != '\0' ? 0 : -1;
}

int
certshm_check_status(const struct certshm_status *s)
{
	return printable(s->last_error, sizeof(s->last_error)) &&
	    printable(s->name, sizeof(s->name)) ? 0 : -1;
}

/* Copies name (truncated) into a fixed field, zero-filled. */
static void
put_str(char *dst, size_t cap, const char *src)
{
	size_t n = src == NULL ? 0 : strnlen(src, cap - 1);

	memset(dst, 0, cap);
	if (n > 0)
		memcpy(dst, src, n);
}

int
certshm_put_cert(struct shm_tls *t, int i, const char *name,
    const char *chain, size_t len)
{
	struct certshm_cert *c = &t->cert[i];

	if (len >= sizeof(c->chain) || strlen(name) >= sizeof(c->name))
		return -1;
	seq_write_begin(&c->seq);
	put_str(c->name, sizeof(c->name), name);
	c->chain_len = (uint32_t)len;
	if (len > 0)
		memcpy(c->chain, chain, len);
	c->chain[len] = '\0';
	c->version++;
	seq_write_end(&c->seq);
	return 0;
}

int
certshm_put_alpn(struct shm_tls *t, int i, const char *sni, const char *cert,
    size_t cert_len, const char *key, size_t key_len)
{
	struct certshm_alpn *a = &t->alpn[i];

	if (cert_len >= sizeof(a->cert) || key_len >= sizeof(a->key) ||
	    (sni != NULL && strlen(sni) >= sizeof(a->sni)))
		return -1;
	seq_write_begin(&a->seq);
	put_str(a->sni, sizeof(a->sni), cert_len > 0 ? sni : NULL);
	a->cert_len = (uint32_t)cert_len;
	a->key_len = cert_len > 0 ? (uint32_t)key_len : 0;
	memset(a->cert, 0, sizeof(a->cert));
	memset(a->key, 0, sizeof(a->key));
	if (cert_len > 0) {
		memcpy(a->cert, cert, cert_len);
		memcpy(a->key, key, key_len);
	}
	a->version++;
	seq_write_end(&a->seq);
	return 0;
}

int
certshm_put_http(struct shm_tls *t, int i, const char *token,
    const char *key_auth)
{
	struct certshm_http *h = &t->http[i];

	if (token != NULL && (strlen(token) >= sizeof(h->token) ||
	    strlen(key_auth) >= sizeof(h->key_auth)))
		return -1;
	seq_write_begin(&h->seq);
	put_str(h->token, sizeof(h->token), token);
	put_str(h->key_auth, sizeof(h->key_auth), token != NULL ? key_auth : NULL);
	h->version++;
	seq_write_end(&h->seq);
	return 0;
}

void
certshm_put_status(struct shm_tls *t, int i, const struct certshm_status *st)
{
	struct certshm_status *s = &t->status[i];

	seq_write_begin(&s->seq);
	put_str(s->name, sizeof(s->name), st->name);
	s->not_after = st->not_after;
	s->orders_issued = st->orders_issued;
	s->orders_failed = st->orders_failed;
	s->last_error_at = st->last_error_at;
	put_str(s->last_error, sizeof(s->last_error), st->last_error);
	seq_write_end(&s->seq);
}

void
certshm_publish(struct shm_tls *t)
{
	__atomic_add_fetch(&t->gen, 1, __ATOMIC_RELEASE);
}

uint64_t
certshm_gen(const struct shm_tls *t)
{
	return __atomic_load_n(&t->gen, __ATOMIC_ACQUIRE);
}

int
certshm_read_cert(const struct shm_tls *t, int i, struct certshm_cert *out)
{
	if (seq_read(&t->cert[i].seq, out, &t->cert[i], sizeof(*out)) != 0)
		return -1;
	return certshm_check_cert(out);
}

int
certshm_read_alpn(const struct shm_tls *t, int i, struct certshm_alpn *out)
{
	if (seq_read(&t->alpn[i].seq, out, &t->alpn[i], sizeof(*out)) != 0)
		return -1;
	return certshm_check_alpn(out);
}

int
certshm_read_http(const struct shm_tls *t, int i, struct certshm_http *out)
{
	if (seq_read(&t->http[i].seq, out, &t->http[i], sizeof(*out)) != 0)
		return -1;
	return certshm_check_http(out);
}

int
certshm_read_status(const struct shm_tls *t, int i, struct certshm_status *out)
{
	if (seq_read(&t->status[i].seq, out, &t->status[i], sizeof(*out)) != 0)
		return -1;
	return certshm_check_status(out);
}
