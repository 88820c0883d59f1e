/* SPDX-License-Identifier: BSD-3-Clause */
#include "tlsctx.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "frame.h"
#include "keyfmt.h"
#include "log.h"

#define META_CN_PREFIX	"derpkey"
#define META_VALID_SECS	(30L * 24 * 60 * 60)	/* either side of now, as derper */

static char sni_name[256];	/* empty: hostname is an IP, no SNI check */

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

static int
check_sni(SSL *ssl, int *alert, void *arg)
{
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	(void)arg;
	if (sni_name[0] == '\0' || (name != NULL && strcasecmp(name, sni_name) == 0))
		return SSL_TLSEXT_ERR_OK;
	*alert = SSL_AD_UNRECOGNIZED_NAME;
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static int
select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char http11[] = "\x08http/1.1";

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto((unsigned char **)out, outlen, http11,
	    sizeof(http11) - 1, in, inlen) == OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_OK;
	return SSL_TLSEXT_ERR_NOACK;
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
check_cert_name(SSL_CTX *ctx, const char *host)
{
	X509 *cert = SSL_CTX_get0_certificate(ctx);
	int ok;

	if (cert == NULL)
		fatalx("no certificate loaded");
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
static void
add_meta_cert(SSL_CTX *ctx, const uint8_t pub[KEY_LEN])
{
	EVP_PKEY *pkey;
	X509 *x;

	if ((pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL)
		fatal_tls("meta certificate key");
	if ((x = X509_new()) == NULL || meta_fill(x, pkey, pub) != 0 ||
	    X509_sign(x, pkey, NULL) == 0)
		fatal_tls("meta certificate");
	EVP_PKEY_free(pkey);
	if (SSL_CTX_add1_chain_cert(ctx, x) != 1)
		fatal_tls("meta certificate in the chain");
	X509_free(x);
}

SSL_CTX *
tls_ctx_new(const struct config *cfg, const uint8_t derp_pub[KEY_LEN])
{
	char name[256], crt[4096], key[4096];
	SSL_CTX *ctx;

	safe_name(name, sizeof(name), cfg->hostname);
	if ((size_t)snprintf(crt, sizeof(crt), "%s/%s.crt", cfg->certdir, name) >=
	    sizeof(crt) || (size_t)snprintf(key, sizeof(key), "%s/%s.key",
	    cfg->certdir, name) >= sizeof(key))
		fatalx("-certdir path too long");
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		fatal_tls("SSL_CTX_new");
	check_readable(crt, "certificate");
	check_readable(key, "TLS key");
	if (SSL_CTX_use_certificate_chain_file(ctx, crt) != 1)
		fatal_tls(crt);
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		fatal_tls(key);
	if (SSL_CTX_check_private_key(ctx) != 1)
		fatal_tls("TLS key does not match the certificate");
	check_cert_name(ctx, cfg->hostname);
	add_meta_cert(ctx, derp_pub);
	if (!is_ip(cfg->hostname))
		snprintf(sni_name, sizeof(sni_name), "%s", cfg->hostname);

	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	/* Idle clients keep no TLS buffers; queued frames may move in memory. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_tlsext_servername_callback(ctx, check_sni);
	SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
	log_info("TLS certificate %s loaded for %s", crt, cfg->hostname);
	return ctx;
}
