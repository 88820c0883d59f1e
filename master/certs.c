/* SPDX-License-Identifier: BSD-3-Clause */
#include "certs.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "frame.h"
#include "keyfmt.h"
#include "log.h"

#define META_CN_PREFIX	"derpkey"
#define META_VALID_SECS	(30L * 24 * 60 * 60)	/* either side of now, as derper */


static void
fatal_tls(const char *what)
{
	unsigned long e = ERR_peek_error();	/* the root cause comes first */
	char buf[256];

	if (e == 0)
		fatalx("%s: unknown error", what);
	ERR_error_string_n(e, buf, sizeof(buf));
	fatalx("%s: %s", what, buf);
}

/* A missing or unreadable file gets the system's reason, not OpenSSL's. */
static void
check_readable(const char *path, const char *what)
{
	FILE *f = fopen(path, "r");

	if (f == NULL)
		fatal("cannot read the %s %s (with -certmode manual it is "
		    "<certdir>/<hostname>%s)", what, path,
		    strcmp(what, "certificate") == 0 ? ".crt" : ".key");
	fclose(f);
}

static int
is_ip(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static void
safe_name(char *out, size_t cap, const char *host)
{
	size_t n = 0;

	for (; *host != '\0' && n + 1 < cap; host++)
		if ((*host >= 'a' && *host <= 'z') || (*host >= 'A' && *host <= 'Z') ||
		    (*host >= '0' && *host <= '9') || *host == '-' || *host == '.')
			out[n++] = *host;
	out[n] = '\0';
}

static void
check_cert_name(X509 *cert, const char *host)
{
	int ok;

	ok = is_ip(host) ? X509_check_ip_asc(cert, host, 0) :
	    X509_check_host(cert, host, 0, 0, NULL);
	if (ok != 1)
		fatalx("certificate is not valid for hostname \"%s\"", host);
}

/*
 * Subject and issuer CN=derpkey<hex>, serial 2, +-30 days, critical CA:FALSE.
 * The CN is 71 characters, over X.520's 64: given as a PrintableString
 * (what Go writes) rather than MBSTRING_ASC, OpenSSL does not apply that limit.
 */
static int
meta_fill(X509 *x, EVP_PKEY *pkey, const uint8_t pub[KEY_LEN])
{
	char cn[sizeof(META_CN_PREFIX) + KEY_HEX_LEN];
	X509_NAME *name = X509_get_subject_name(x);
	X509_EXTENSION *bc;
	X509V3_CTX v3;
	int ok;

	memcpy(cn, META_CN_PREFIX, sizeof(META_CN_PREFIX) - 1);
	key_format_hex(cn + sizeof(META_CN_PREFIX) - 1, pub);
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), DERP_PROTOCOL_VERSION) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -META_VALID_SECS) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), META_VALID_SECS) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", V_ASN1_PRINTABLESTRING,
	    (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, pkey) != 1)
		return -1;
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	if ((bc = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
	    "critical,CA:FALSE")) == NULL)
		return -1;
	ok = X509_add_ext(x, bc, -1);
	X509_EXTENSION_free(bc);
	return ok == 1 ? 0 : -1;
}

/*
 * derper's meta certificate (derp_server.go initMetacert), appended to the
 * chain: Tailscale clients on TLS 1.3 read the DERP key from it and skip
 * the HTTP upgrade's round trip (Derp-Fast-Start). Self-signed by a fresh
 * Ed25519 key that is freed as soon as the certificate is signed.
 */
/* Appends PEM of x to *buf (of *len bytes); fatal when out of memory. */
static void
append_pem(char **buf, size_t *len, X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *nb;
	long n;

	if (b == NULL || PEM_write_bio_X509(b, x) != 1 ||
	    (n = BIO_get_mem_data(b, &p)) <= 0 ||
	    (nb = realloc(*buf, *len + (size_t)n + 1)) == NULL)
		fatalx("out of memory for the certificate chain");
	memcpy(nb + *len, p, (size_t)n);
	*len += (size_t)n;
	nb[*len] = '\0';
	*buf = nb;
	BIO_free(b);
}

char *
certs_served_chain(const struct certs *c, const uint8_t pub[KEY_LEN])
{
	size_t len = strlen(c->chain);
	char *chain = strdup(c->chain);
	EVP_PKEY *pkey;
	X509 *x;

	if (chain == NULL)
		fatalx("out of memory for the certificate chain");
	if ((pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL)
		fatal_tls("meta certificate key");
	if ((x = X509_new()) == NULL || meta_fill(x, pkey, pub) != 0 ||
	    X509_sign(x, pkey, NULL) == 0)
		fatal_tls("meta certificate");
	EVP_PKEY_free(pkey);
	append_pem(&chain, &len, x);
	X509_free(x);
	return chain;
}

/* The chain file, each certificate checked as it is read. */
static char *
read_chain(const char *path, const char *host)
{
	BIO *in = BIO_new_file(path, "r");
	char *chain = NULL;
	size_t len = 0;
	X509 *x;

	if (in == NULL)
		fatal_tls(path);
	while ((x = PEM_read_bio_X509(in, NULL, NULL, NULL)) != NULL) {
		if (len == 0)
			check_cert_name(x, host);
		append_pem(&chain, &len, x);
		X509_free(x);
	}
	BIO_free(in);
	ERR_clear_error();	/* the end of the file is an "error" */
	if (len == 0)
		fatalx("%s holds no certificate", path);
	return chain;
}

void
certs_open(struct certs *c, const struct config *cfg)
{
	char name[256], crt[4096], key[4096];

	safe_name(name, sizeof(name), cfg->hostname);
	if ((size_t)snprintf(crt, sizeof(crt), "%s/%s.crt", cfg->certdir, name) >=
	    sizeof(crt) || (size_t)snprintf(key, sizeof(key), "%s/%s.key",
	    cfg->certdir, name) >= sizeof(key))
		fatalx("-certdir path too long");
	check_readable(crt, "certificate");
	check_readable(key, "TLS key");
	c->chain = read_chain(crt, cfg->hostname);
	if ((c->key_fd = open(key, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		fatal("cannot open the TLS key %s", key);
	/* Like derper: unless the hostname is an IP, clients must send it. */
	c->sni[0] = '\0';
	if (!is_ip(cfg->hostname))
		snprintf(c->sni, sizeof(c->sni), "%s", cfg->hostname);
	log_info("TLS certificate %s loaded for %s", crt, cfg->hostname);
}
