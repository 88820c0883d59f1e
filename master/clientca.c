/* SPDX-License-Identifier: BSD-3-Clause */
#include "clientca.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static void
fatal_tls(const char *path, const char *what)
{
	unsigned long e = ERR_peek_error();
	char buf[256];

	ERR_error_string_n(e, buf, sizeof(buf));
	fatalx("%s: %s%s%s", path, what, e != 0 ? ": " : "", e != 0 ? buf : "");
}

/* Appends what b holds (PEM) to *text. */
static void
take(BIO *b, char **text)
{
	char *p, *nt;
	long n = BIO_get_mem_data(b, &p);
	size_t len = strlen(*text);

	if (n < 0 || (nt = realloc(*text, len + (size_t)n + 1)) == NULL)
		fatalx("out of memory");
	memcpy(nt + len, p, (size_t)n);
	nt[len + (size_t)n] = '\0';
	*text = nt;
}

/* Every certificate (crls = 0) or CRL in path, checked and rewritten as PEM. */
static STACK_OF(X509_INFO) *
read_pem(const char *path, char **text, int crls, int *count)
{
	STACK_OF(X509_INFO) *infos;
	BIO *in = BIO_new_file(path, "r"), *out = BIO_new(BIO_s_mem());
	X509_INFO *x;
	int i;

	if (in == NULL || out == NULL)
		fatal_tls(path, "cannot read it");
	if ((infos = PEM_X509_INFO_read_bio(in, NULL, NULL, NULL)) == NULL)
		fatal_tls(path, "not PEM");
	*count = 0;
	for (i = 0; i < sk_X509_INFO_num(infos); i++) {
		x = sk_X509_INFO_value(infos, i);
		if (!crls && x->x509 != NULL && PEM_write_bio_X509(out, x->x509) == 1)
			++*count;
		if (crls && x->crl != NULL && PEM_write_bio_X509_CRL(out, x->crl) == 1)
			++*count;
	}
	if (*count == 0)
		fatal_tls(path, crls ? "holds no CRL" : "holds no certificate");
	take(out, text);
	BIO_free(in);
	BIO_free(out);
	ERR_clear_error();
	return infos;
}

/* A CRL must come from one of the CAs, or every client would be refused. */
static void
check_crls(const char *path, STACK_OF(X509_INFO) *cas, STACK_OF(X509_INFO) *crls)
{
	X509_INFO *c, *a;
	int i, k, ok;

	for (i = 0; i < sk_X509_INFO_num(crls); i++) {
		if ((c = sk_X509_INFO_value(crls, i))->crl == NULL)
			continue;
		for (ok = 0, k = 0; !ok && k < sk_X509_INFO_num(cas); k++) {
			a = sk_X509_INFO_value(cas, k);
			ok = a->x509 != NULL && X509_NAME_cmp(X509_CRL_get_issuer(c->crl),
			    X509_get_subject_name(a->x509)) == 0 &&
			    X509_CRL_verify(c->crl, X509_get0_pubkey(a->x509)) == 1;
		}
		if (!ok)
			fatalx("%s: a CRL is not signed by a -client-ca certificate", path);
		if (X509_CRL_get0_nextUpdate(c->crl) != NULL &&
		    X509_cmp_current_time(X509_CRL_get0_nextUpdate(c->crl)) < 0)
			log_warnx("%s: a CRL is past its next update: OpenSSL refuses "
			    "every client certificate it covers until it is renewed", path);
	}
	ERR_clear_error();
}

void
clientca_load(struct clientca *ca, const struct config *cfg)
{
	STACK_OF(X509_INFO) *cas, *crls;

	memset(ca, 0, sizeof(*ca));
	if ((ca->ca = strdup("")) == NULL || (ca->crl = strdup("")) == NULL)
		fatalx("out of memory");
	if (*cfg->client_ca == '\0')
		return;
	cas = read_pem(cfg->client_ca, &ca->ca, 0, &ca->ncerts);
	if (*cfg->client_crl != '\0') {
		crls = read_pem(cfg->client_crl, &ca->crl, 1, &ca->ncrls);
		check_crls(cfg->client_crl, cas, crls);
		sk_X509_INFO_pop_free(crls, X509_INFO_free);
	}
	sk_X509_INFO_pop_free(cas, X509_INFO_free);
}
