/* SPDX-License-Identifier: BSD-3-Clause */
#include "tlsclient.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "tlsctx.h"
#include "tlskey.h"

/* Every certificate in the PEM text into the context's store. */
static int
load_anchors(SSL_CTX *ctx, const char *pem)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	STACK_OF(X509_INFO) *infos;
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509_INFO *xi;
	int i, n = 0;

	infos = b == NULL ? NULL : PEM_X509_INFO_read_bio(b, NULL, NULL, NULL);
	for (i = 0; infos != NULL && i < sk_X509_INFO_num(infos); i++) {
		xi = sk_X509_INFO_value(infos, i);
		if (xi->x509 != NULL && X509_STORE_add_cert(store, xi->x509) == 1)
			n++;
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	BIO_free(b);
	ERR_clear_error();
	return n;
}

SSL_CTX *
tlsclient_new(const char *ca_pem)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		fatalx("SSL_CTX_new failed");
	if (load_anchors(ctx, ca_pem) == 0)
		fatalx("set-up: no certificate to verify mesh peers with");
	/* derper's peers speak 1.2 or 1.3, as Go's client does. */
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
}

void
tlsclient_present(struct wk *w, SSL_CTX *ctx, const char *chain)
{
	if (w->tls_providers[0] == NULL)	/* not loaded for a server context */
		tlskey_init(w);
	if (tlsctx_use_chain(w, ctx, chain, NULL) != 0)
		fatalx("set-up: -mesh-client-cert is not a usable certificate chain");
	/* The key process signs TLS 1.3 CertificateVerify inputs only. */
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
}

SSL *
tlsclient_ssl(SSL_CTX *ctx, const struct mesh_peer *p)
{
	SSL *ssl = SSL_new(ctx);

	if (ssl == NULL)
		goto fail;
	if (p->host_is_ip) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), p->host) != 1)
			goto fail;
	} else if (SSL_set_tlsext_host_name(ssl, p->host) != 1 ||
	    SSL_set1_host(ssl, p->host) != 1)
		goto fail;
	return ssl;
fail:
	SSL_free(ssl);
	ERR_clear_error();
	return NULL;
}
