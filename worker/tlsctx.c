/* SPDX-License-Identifier: BSD-3-Clause */
#include "tlsctx.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "clientcert.h"
#include "log.h"
#include "tlskey.h"
#include "tlsown.h"
#include "tlsstore.h"
#include "transport.h"

static const unsigned char alpn_acme[] = "\x0a" "acme-tls/1";
static const unsigned char alpn_http11[] = "\x08" "http/1.1";

static int
is_ip(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* Serves slot i's chain on this connection; 0, or -1 if there is none. */
static int
use_slot(struct wk *w, SSL *ssl, int i)
{
	if (i < 0 || w->ssl_slot[i] == NULL)
		return -1;
	return SSL_set_SSL_CTX(ssl, w->ssl_slot[i]) != NULL ? 0 : -1;
}

/*
 * -acme-ip-certs: the address the client reached us at (16 bytes, IPv4
 * mapped) and its text; a client that names an IP must name that one.
 */
static int
local_ip(SSL *ssl, const char *sni, uint8_t ip[16], char *text, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	uint8_t want[16];
	const void *a;
	int v4;

	if (getsockname(SSL_get_fd(ssl), (struct sockaddr *)&ss, &len) != 0)
		return -1;
	if (ss.ss_family == AF_INET) {
		memset(ip, 0, 10);
		ip[10] = ip[11] = 0xff;
		memcpy(ip + 12, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	} else if (ss.ss_family == AF_INET6)
		memcpy(ip, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
	else
		return -1;
	v4 = memcmp(ip, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0;
	a = v4 ? ip + 12 : ip;
	if (inet_ntop(v4 ? AF_INET : AF_INET6, a, text, cap) == NULL)
		return -1;
	if (sni != NULL && (inet_pton(v4 ? AF_INET : AF_INET6, sni, want) != 1 ||
	    memcmp(want, a, v4 ? 4 : 16) != 0))
		return -1;
	return 0;
}

/* No name, or an IP address: the certificate for where the client came. */
static int
by_address(struct wk *w, SSL *ssl, const char *sni)
{
	const char *host = w->cfg->hostname;
	char text[INET6_ADDRSTRLEN];
	uint8_t ip[16];
	int i;

	if (!w->cfg->acme_ip_certs)
		return is_ip(host) ? use_slot(w, ssl, tlsstore_slot(w, host)) : -1;
	if (local_ip(ssl, sni, ip, text, sizeof(text)) != 0)
		return -1;
	if ((i = tlsstore_slot(w, text)) < 0)
		tlsstore_want(w, ip);	/* this one fails; later ones get it */
	return use_slot(w, ssl, i);
}

/*
 * derper's SNI rules: the hostname's certificate for the hostname; any
 * name when the hostname is an IP address (-certmode manual); with
 * -acme-ip-certs, no name or an IP address gets that address's
 * certificate. A name being validated by TLS-ALPN-01 stays on the base
 * context: only an acme-tls/1 handshake gets a certificate there.
 */
static int
servername(SSL *ssl, int *alert, void *arg)
{
	struct wk *w = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	const char *host = w->cfg->hostname;
	X509 *cert;
	EVP_PKEY *key;
	int rc;

	if (name == NULL || is_ip(name))
		rc = by_address(w, ssl, name);
	else if (strcasecmp(name, host) == 0 || (is_ip(host) &&
	    !w->cfg->acme_ip_certs))
		rc = use_slot(w, ssl, tlsstore_slot(w, host));
	else
		rc = -1;
	if (rc == 0 || tlsstore_alpn(w, name, &cert, &key))
		return SSL_TLSEXT_ERR_OK;
	*alert = SSL_AD_UNRECOGNIZED_NAME;
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static int
select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	struct wk *w = arg;
	X509 *cert;
	EVP_PKEY *key;

	clientcert_alpn(ssl, in, inlen);
	if (tlsstore_alpn(w, SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name),
	    &cert, &key) && SSL_select_next_proto((unsigned char **)out, outlen,
	    alpn_acme, sizeof(alpn_acme) - 1, in, inlen) == OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_OK;
	if (SSL_select_next_proto((unsigned char **)out, outlen, alpn_http11,
	    sizeof(alpn_http11) - 1, in, inlen) == OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_OK;
	return SSL_TLSEXT_ERR_NOACK;
}

int
tlsctx_is_challenge(SSL *ssl)
{
	const unsigned char *p;
	unsigned int len;

	SSL_get0_alpn_selected(ssl, &p, &len);
	return len == sizeof(alpn_acme) - 2 && memcmp(p, alpn_acme + 1, len) == 0;
}

/* After ALPN: an acme-tls/1 handshake gets the challenge's certificate
 * (RFC 8737); any other must have a chain by now. */
static int
choose_cert(SSL *ssl, void *arg)
{
	struct wk *w = arg;
	X509 *cert;
	EVP_PKEY *key;

	if (!tlsctx_is_challenge(ssl))
		return SSL_get_certificate(ssl) != NULL;
	if (!tlsstore_alpn(w, SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name),
	    &cert, &key))
		return 0;
	return SSL_use_cert_and_key(ssl, cert, key, NULL, 1) == 1;
}

/* What every context shares: TLS 1.3 only, the callbacks. */
static SSL_CTX *
ctx_new(struct wk *w)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		return NULL;
	/* TLS 1.3 only: its CertificateVerify input is what the key process
	 * agrees to sign, and there is no RSA key exchange. */
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	transport_tls_ctx(ctx, 1);
	SSL_CTX_set_app_data(ctx, w);
	tlsown_ctx(ctx);
	/* No session tickets: DERP clients hold one connection for hours and
	 * log in again with a full handshake; two tickets a login cost ~7 %
	 * of its server CPU (bench/README.md). */
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_tlsext_servername_callback(ctx, servername);
	SSL_CTX_set_tlsext_servername_arg(ctx, w);
	SSL_CTX_set_alpn_select_cb(ctx, select_alpn, w);
	SSL_CTX_set_cert_cb(ctx, choose_cert, w);
	/* -client-ca: every context, as a handshake moves to a slot's after
	 * SNI and verifies against (and names the CAs of) that one. */
	if (w->client_ca != NULL)
		clientcert_setup(w, ctx, w->client_ca, w->client_crl);
	return ctx;
}

static int
leaf_names(X509 *leaf, const char *name)
{
	return (is_ip(name) ? X509_check_ip_asc(leaf, name, 0) :
	    X509_check_host(leaf, name, 0, 0, NULL)) == 1;
}

int
tlsctx_use_chain(struct wk *w, SSL_CTX *ctx, const char *chain, const char *name)
{
	BIO *b = BIO_new_mem_buf(chain, -1);
	EVP_PKEY *key = NULL;
	X509 *leaf, *x;
	int ok;

	if (b == NULL || (leaf = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL) {
		BIO_free(b);
		return -1;
	}
	ok = (name == NULL || leaf_names(leaf, name)) &&
	    (key = tlskey_new(w, leaf)) != NULL &&
	    SSL_CTX_use_certificate(ctx, leaf) == 1 &&
	    SSL_CTX_use_PrivateKey(ctx, key) == 1 &&
	    SSL_CTX_check_private_key(ctx) == 1;
	X509_free(leaf);
	EVP_PKEY_free(key);
	while (ok && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
			X509_free(x);
			ok = 0;
		}
	BIO_free(b);
	ERR_clear_error();	/* the end of the chain is an "error" */
	return ok ? 0 : -1;
}

/* Slot i's context anew; connections on the old one keep it. */
static void
rebuild(struct wk *w, int i)
{
	const char *name, *chain = tlsstore_chain(w, i, &name);
	SSL_CTX *ctx = NULL;

	if (chain != NULL && ((ctx = ctx_new(w)) == NULL ||
	    tlsctx_use_chain(w, ctx, chain, name) != 0)) {
		log_warnx("the certificate for %s is unusable; not serving it", name);
		SSL_CTX_free(ctx);
		ctx = NULL;
	}
	SSL_CTX_free(w->ssl_slot[i]);
	w->ssl_slot[i] = ctx;
	if (ctx != NULL)
		log_debug("serving a new certificate for %s", name);
}

void
tlsctx_refresh(struct wk *w)
{
	uint32_t changed = tlsstore_refresh(w);
	int i;

	for (i = 0; changed != 0 && i < CERTSHM_CERTS; i++)
		if (changed & (1u << i))
			rebuild(w, i);
}

SSL_CTX *
tlsctx_new(struct wk *w, const char *client_ca, const char *client_crl)
{
	SSL_CTX *ctx;

	if (*client_ca != '\0' && ((w->client_ca = strdup(client_ca)) == NULL ||
	    (w->client_crl = strdup(client_crl)) == NULL))
		fatalx("out of memory");
	tlskey_init(w);
	tlsstore_init(w);
	if ((ctx = ctx_new(w)) == NULL)
		fatalx("SSL_CTX_new failed");
	return ctx;
}
