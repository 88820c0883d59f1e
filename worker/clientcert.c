/* SPDX-License-Identifier: BSD-3-Clause */
#include "clientcert.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <string.h>

#include "log.h"

#define ACME_ALPN	"\x0a" "acme-tls/1"	/* the wire form: length, name */

/* Why a chain failed, for derpd_client_cert_failures_total. */
static enum stat_id
failure_of(int err)
{
	switch (err) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return ST_CERT_EXPIRED;
	case X509_V_ERR_CERT_REVOKED:
		return ST_CERT_REVOKED;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_UNTRUSTED:
		return ST_CERT_UNTRUSTED;
	default:
		return ST_CERT_INVALID;
	}
}

static struct wk *
wk_of(const SSL *ssl)
{
	return SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
}

/* OpenSSL's verdict stands; we only count a refusal, once per handshake. */
static int
on_verify(int ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());

	if (!ok && ssl != NULL)
		wk_stat(wk_of(ssl), failure_of(X509_STORE_CTX_get_error(xs)), 1);
	return ok;
}

/* No certificate at all: OpenSSL alerts certificate_required; count it. */
static void
on_info(const SSL *ssl, int where, int ret)
{
	if ((where & SSL_CB_WRITE_ALERT) == SSL_CB_WRITE_ALERT &&
	    (ret & 0xff) == SSL_AD_CERTIFICATE_REQUIRED)
		wk_stat(wk_of(ssl), ST_CERT_MISSING, 1);
}

/* The CA certificates (trusted, and named in CertificateRequest), the CRLs. */
static void
load(SSL_CTX *ctx, X509_STORE *store, const char *pem, int crls)
{
	STACK_OF(X509_INFO) *infos;
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509_INFO *in;
	int i, n = 0;

	if (b == NULL || (infos = PEM_X509_INFO_read_bio(b, NULL, NULL, NULL)) == NULL)
		fatalx("set-up: the client %s is not PEM", crls ? "CRL" : "CA");
	for (i = 0; i < sk_X509_INFO_num(infos); i++) {
		in = sk_X509_INFO_value(infos, i);
		if (!crls && in->x509 != NULL && (X509_STORE_add_cert(store, in->x509) != 1 ||
		    SSL_CTX_add_client_CA(ctx, in->x509) != 1))
			fatalx("set-up: cannot use a client CA certificate");
		if (crls && in->crl != NULL && X509_STORE_add_crl(store, in->crl) != 1)
			fatalx("set-up: cannot use a client CRL");
		n += crls ? in->crl != NULL : in->x509 != NULL;
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	BIO_free(b);
	if (n == 0)
		fatalx("set-up: no client %s", crls ? "CRL" : "CA certificate");
}

void
clientcert_setup(struct wk *w, SSL_CTX *ctx, const char *ca_pem,
    const char *crl_pem)
{
	X509_STORE *store;

	if (*ca_pem == '\0')
		return;
	if ((store = X509_STORE_new()) == NULL)
		fatalx("out of memory");
	load(ctx, store, ca_pem, 0);
	if (*crl_pem != '\0') {
		load(ctx, store, crl_pem, 1);
		X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
	}
	SSL_CTX_set_cert_store(ctx, store);
	SSL_CTX_set_app_data(ctx, w);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
	    on_verify);
	SSL_CTX_set_info_callback(ctx, on_info);
	/* A resumed session would skip the certificate (and a CRL since). */
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	ERR_clear_error();
}

void
clientcert_alpn(SSL *ssl, const unsigned char *in, unsigned int inlen)
{
	if (inlen == sizeof(ACME_ALPN) - 1 && memcmp(in, ACME_ALPN, inlen) == 0)
		SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
}

int
clientcert_check(const struct wk *w, struct conn *c)
{
	if (c->ssl == NULL || !(SSL_CTX_get_verify_mode(w->ssl_ctx) & SSL_VERIFY_PEER))
		return 0;
	if (SSL_get0_peer_certificate(c->ssl) != NULL &&
	    SSL_get_verify_result(c->ssl) == X509_V_OK)
		return 0;
	return -1;
}
