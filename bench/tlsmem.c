/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tlsmem: what OpenSSL itself keeps for one idle TLS 1.3 server connection,
 * set up as derpd's workers set theirs (no tickets, record buffers freed),
 * counted through CRYPTO_set_mem_functions: the live bytes and allocations
 * the server's SSL holds after a handshake and a record each way, and its
 * largest allocations by OpenSSL source line. derpd frees that SSL after
 * the handshake (worker/tlsown.c) and keeps a record layer instead
 * (worker/tlsrec.c): its bytes, OpenSSL's cipher contexts and the struct,
 * are counted the same way ("own").
 */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrec.h"

#define MAX_LIVE	4096

struct live {
	void		*p;
	size_t		 n;
	const char	*file;
	int		 line;
};

static struct live live[MAX_LIVE];
static int counting;

static struct live *
find(const void *p)
{
	int i;

	for (i = 0; i < MAX_LIVE; i++)
		if (live[i].p == p)
			return &live[i];
	return NULL;
}

static void *
m_alloc(size_t n, const char *file, int line)
{
	void *p = malloc(n);
	struct live *l;

	if (p != NULL && counting && (l = find(NULL)) != NULL)
		*l = (struct live){ p, n, file, line };
	return p;
}

static void *
m_realloc(void *old, size_t n, const char *file, int line)
{
	struct live *l = old != NULL ? find(old) : NULL;
	void *p = realloc(old, n);

	if (p != NULL && l != NULL) {
		l->p = p;
		l->n = n;
	} else if (p != NULL && old == NULL && counting &&
	    (l = find(NULL)) != NULL)
		*l = (struct live){ p, n, file, line };
	return p;
}

static void
m_free(void *p, const char *file, int line)
{
	struct live *l;

	(void)file;
	(void)line;
	if (p != NULL && (l = find(p)) != NULL)
		l->p = NULL;
	free(p);
}

static void
fail(const char *what)
{
	fprintf(stderr, "tlsmem: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static SSL_CTX *
server_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();

	if (ctx == NULL || key == NULL || x == NULL ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), 1) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 3600) ||
	    !X509_set_pubkey(x, key) || !X509_sign(x, key, EVP_sha256()) ||
	    SSL_CTX_use_certificate(ctx, x) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1)
		fail("server context");
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_num_tickets(ctx, 0);
	X509_free(x);
	EVP_PKEY_free(key);
	return ctx;
}

/*
 * One connection over a BIO pair (a socket BIO's stand-in, not counted);
 * returns the server's end, with what it allocated counted if count.
 */
static SSL *
connect_one(SSL_CTX *sctx, SSL_CTX *cctx, int count)
{
	SSL *c = SSL_new(cctx), *s;
	BIO *bc, *bs;
	char buf[1024];
	int i, rc, rs;

	if (c == NULL || BIO_new_bio_pair(&bc, 0, &bs, 0) != 1)
		fail("SSL_new");
	counting = count;
	if ((s = SSL_new(sctx)) == NULL)
		fail("SSL_new");
	SSL_set_bio(c, bc, bc);
	SSL_set_bio(s, bs, bs);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	for (i = 0, rc = rs = 0; i < 20 && (rc != 1 || rs != 1); i++) {
		rc = SSL_do_handshake(c);
		rs = SSL_do_handshake(s);
	}
	memset(buf, 'x', sizeof(buf));
	if (SSL_write(c, buf, sizeof(buf)) <= 0 || SSL_read(s, buf, sizeof(buf)) <= 0 ||
	    SSL_write(s, buf, sizeof(buf)) <= 0 || SSL_read(c, buf, sizeof(buf)) <= 0)
		fail("no record through");
	SSL_free(c);		/* frees bc: the pair stays with the server */
	SSL_free_buffers(s);
	return s;
}

static int
by_size(const void *a, const void *b)
{
	const struct live *x = a, *y = b;

	return (x->n < y->n) - (x->n > y->n);
}

/* The live allocations, moved to the front of live[]; their bytes. */
static size_t
gather(int *n)
{
	size_t bytes = 0;
	int i;

	for (i = 0, *n = 0; i < MAX_LIVE; i++)
		if (live[i].p != NULL) {
			bytes += live[i].n;
			live[(*n)++] = live[i];
		}
	return bytes;
}

/* What derpd's record layer keeps for one connection (AES-128-GCM). */
static void
own_state(void)
{
	uint8_t secret[32] = { 1 };
	struct tlsrec r;
	size_t bytes;
	int n;

	memset(live, 0, sizeof(live));
	counting = 1;
	if (tlsrec_init(&r, 0x1301, secret, secret, sizeof(secret)) != 0)
		fail("tlsrec_init");
	counting = 0;
	bytes = gather(&n) + sizeof(r);
	printf(",\"own_bytes\":%zu,\"own_allocations\":%d", bytes, n + 1);
	tlsrec_free(&r);
}

int
main(void)
{
	SSL_CTX *sctx, *cctx;
	SSL *s;
	size_t bytes;
	int i, n;

	if (!CRYPTO_set_mem_functions(m_alloc, m_realloc, m_free))
		fail("CRYPTO_set_mem_functions");
	sctx = server_ctx();
	if ((cctx = SSL_CTX_new(TLS_client_method())) == NULL)
		fail("client context");
	SSL_free(connect_one(sctx, cctx, 0));	/* first-use set-up, not counted */
	s = connect_one(sctx, cctx, 1);
	counting = 0;
	bytes = gather(&n);
	qsort(live, (size_t)n, sizeof(live[0]), by_size);
	printf("{\"bytes\":%zu,\"allocations\":%d,\"largest\":[", bytes, n);
	for (i = 0; i < n && i < 3; i++)
		printf("%s{\"bytes\":%zu,\"at\":\"%s:%d\"}", i ? "," : "",
		    live[i].n, live[i].file ? live[i].file : "?", live[i].line);
	printf("]");
	own_state();
	printf("}\n");
	SSL_free(s);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	return 0;
}
