/* SPDX-License-Identifier: BSD-3-Clause */
#include "tlsctx.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <strings.h>

#include "clientcert.h"
#include "log.h"
#include "tlskey.h"
#include "transport.h"

static int
check_sni(SSL *ssl, int *alert, void *arg)
{
	const char *want = arg, *name = SSL_get_servername(ssl,
	    TLSEXT_NAMETYPE_host_name);

	if (want == NULL || (name != NULL && strcasecmp(name, want) == 0))
		return SSL_TLSEXT_ERR_OK;
	*alert = SSL_AD_UNRECOGNIZED_NAME;
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static int
select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char http11[] = "\x08http/1.1";

	(void)arg;
	clientcert_alpn(ssl, in, inlen);
	if (SSL_select_next_proto((unsigned char **)out, outlen, http11,
	    sizeof(http11) - 1, in, inlen) == OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_OK;
	return SSL_TLSEXT_ERR_NOACK;
}

/* The leaf with our key, then the rest of the chain. */
static void
use_chain(struct wk *w, SSL_CTX *ctx, const char *chain_pem)
{
	BIO *b = BIO_new_mem_buf(chain_pem, -1);
	X509 *leaf, *x;
	EVP_PKEY *key;

	if (b == NULL || (leaf = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL)
		fatalx("set-up: no certificate in the chain");
	if ((key = tlskey_new(w, X509_get0_pubkey(leaf))) == NULL ||
	    SSL_CTX_use_certificate(ctx, leaf) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1)
		fatalx("cannot use the certificate with the key process's key");
	X509_free(leaf);
	EVP_PKEY_free(key);
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1)
			fatalx("cannot add a chain certificate");
	BIO_free(b);
	ERR_clear_error();	/* the end of the chain is an "error" */
}

SSL_CTX *
tlsctx_new(struct wk *w, const char *chain_pem, const char *sni)
{
	SSL_CTX *ctx;

	tlskey_init();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		fatalx("SSL_CTX_new failed");
	use_chain(w, ctx, chain_pem);
	/* TLS 1.3 only: its CertificateVerify input is what the key process
	 * agrees to sign, and there is no RSA key exchange. */
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	transport_tls_ctx(ctx, 1);
	/* No session tickets: DERP clients hold one connection for hours and
	 * log in again with a full handshake; two tickets a login cost ~7 %
	 * of its server CPU (bench/README.md). */
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_tlsext_servername_callback(ctx, check_sni);
	SSL_CTX_set_tlsext_servername_arg(ctx, (void *)sni);
	SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
	return ctx;
}
