/* SPDX-License-Identifier: BSD-3-Clause */
#include "certs.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

int
certs_is_ip(const char *s)
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

static int
cert_names(X509 *cert, const char *host)
{
	return (certs_is_ip(host) ? X509_check_ip_asc(cert, host, 0) :
	    X509_check_host(cert, host, 0, 0, NULL)) == 1;
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

/*
 * derper's meta certificate (derp_server.go initMetacert), appended to
 * every chain served: Tailscale clients on TLS 1.3 read the DERP key from
 * it and skip the HTTP upgrade's round trip (Derp-Fast-Start). Self-signed
 * by a fresh Ed25519 key that is freed as soon as the certificate is signed.
 */
void
certs_make_meta(struct certs *c, const uint8_t pub[KEY_LEN])
{
	EVP_PKEY *pkey;
	size_t len = 0;
	X509 *x;

	if ((pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL)
		fatal_tls("meta certificate key");
	if ((x = X509_new()) == NULL || meta_fill(x, pkey, pub) != 0 ||
	    X509_sign(x, pkey, NULL) == 0)
		fatal_tls("meta certificate");
	EVP_PKEY_free(pkey);
	c->meta = NULL;
	append_pem(&c->meta, &len, x);
	X509_free(x);
}

char *
certs_with_meta(const struct certs *c, const char *chain, size_t len)
{
	size_t mlen = strlen(c->meta);
	char *out;

	if ((out = malloc(len + mlen + 2)) == NULL)
		return NULL;
	memcpy(out, chain, len);
	if (len > 0 && chain[len - 1] != '\n')
		out[len++] = '\n';
	memcpy(out + len, c->meta, mlen + 1);
	return out;
}

X509 *
certs_leaf(const char *chain, time_t *not_after)
{
	BIO *b = BIO_new_mem_buf(chain, -1);
	X509 *x = b == NULL ? NULL : PEM_read_bio_X509(b, NULL, NULL, NULL);
	struct tm tm;

	BIO_free(b);
	ERR_clear_error();
	*not_after = 0;
	if (x != NULL && ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1)
		*not_after = timegm(&tm);
	return x;
}

char *
certs_read_chain(const char *path, const char *host, char *err, size_t errlen)
{
	BIO *in = BIO_new_file(path, "r");
	char *chain = NULL;
	size_t len = 0;
	X509 *x;

	if (in == NULL) {
		snprintf(err, errlen, "cannot read the certificate %s: %s", path,
		    strerror(errno));
		ERR_clear_error();
		return NULL;
	}
	while ((x = PEM_read_bio_X509(in, NULL, NULL, NULL)) != NULL) {
		if (len == 0 && !cert_names(x, host)) {
			snprintf(err, errlen, "certificate %s is not valid for "
			    "hostname \"%s\"", path, host);
			X509_free(x);
			free(chain);
			BIO_free(in);
			return NULL;
		}
		append_pem(&chain, &len, x);
		X509_free(x);
	}
	BIO_free(in);
	ERR_clear_error();	/* the end of the file is an "error" */
	if (len == 0)
		snprintf(err, errlen, "%s holds no certificate", path);
	return chain;
}

void
certs_file_sig(const char *path, struct file_sig *sig)
{
	struct stat st;

	memset(sig, 0, sizeof(*sig));
	if (stat(path, &st) != 0)
		return;
	sig->exists = 1;
	sig->dev = st.st_dev;
	sig->ino = st.st_ino;
	sig->size = st.st_size;
	sig->mtime = st.st_mtim;
}

int
certs_file_sig_eq(const struct file_sig *a, const struct file_sig *b)
{
	return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
	    a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	    a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* Whether ra's user may do what mask (S_IRUSR, S_IXUSR) says on path. */
static int
user_may(const char *path, const struct run_as *ra, mode_t mask)
{
	struct stat st;

	if (!ra->switch_user)
		return access(path, mask == S_IRUSR ? R_OK : X_OK) == 0;
	if (stat(path, &st) != 0)
		return 0;
	if (st.st_uid == ra->uid)
		return (st.st_mode & mask) != 0;
	if (st.st_gid == ra->gid)
		return (st.st_mode & (mask >> 3)) != 0;
	return (st.st_mode & (mask >> 6)) != 0;
}

/* ...read path, searching every directory on the way to it. */
static int
user_may_read(const char *path, const struct run_as *ra)
{
	char dir[4096], *p;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return 0;
	for (p = dir; (p = strchr(p + 1, '/')) != NULL; ) {
		*p = '\0';
		if (!user_may(dir, ra, S_IXUSR))
			return 0;
		*p = '/';
	}
	return user_may(path, ra, S_IRUSR);
}

/* derper: with neither file and an IP -hostname, a self-signed certificate
 * is made; the files are created here, the key process fills them. */
static int
prepare_selfsign(struct certs *c, const struct config *cfg,
    const struct run_as *ra)
{
	int flags = O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;

	if (!certs_is_ip(cfg->hostname) || access(c->crt_path, F_OK) == 0 ||
	    access(c->key_path, F_OK) == 0 || errno != ENOENT)
		return 0;
	if (mkdir(cfg->certdir, 0700) != 0 && errno != EEXIST)
		fatal("cannot create -certdir %s", cfg->certdir);
	if ((c->key_fd = open(c->key_path, flags | O_RDWR, 0600)) < 0 ||
	    (c->crt_fd = open(c->crt_path, flags | O_WRONLY, 0644)) < 0)
		fatal("cannot create a self-signed certificate in %s",
		    cfg->certdir);
	/* Like derper's files, the run user's: reloads can read them. */
	if (ra->switch_user && (fchown(c->key_fd, ra->uid, ra->gid) != 0 ||
	    fchown(c->crt_fd, ra->uid, ra->gid) != 0))
		fatal("chown in %s", cfg->certdir);
	log_info("no certificate for IP address %s in %s: making a "
	    "self-signed one", cfg->hostname, cfg->certdir);
	return 1;
}

void
certs_open(struct certs *c, const struct config *cfg, const struct run_as *ra)
{
	char name[256], err[512];

	memset(c, 0, sizeof(*c));
	c->key_fd = c->crt_fd = -1;
	safe_name(name, sizeof(name), cfg->hostname);
	if ((size_t)snprintf(c->crt_path, sizeof(c->crt_path), "%s/%s.crt",
	    cfg->certdir, name) >= sizeof(c->crt_path) ||
	    (size_t)snprintf(c->key_path, sizeof(c->key_path), "%s/%s.key",
	    cfg->certdir, name) >= sizeof(c->key_path))
		fatalx("-certdir path too long");
	if (prepare_selfsign(c, cfg, ra))
		return;
	if ((c->chain = certs_read_chain(c->crt_path, cfg->hostname, err,
	    sizeof(err))) == NULL)
		fatalx("%s (with -certmode manual it is <certdir>/<hostname>.crt)",
		    err);
	if ((c->key_fd = open(c->key_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		fatal("cannot open the TLS key %s (with -certmode manual it is "
		    "<certdir>/<hostname>.key)", c->key_path);
	log_info("TLS certificate %s loaded for %s", c->crt_path, cfg->hostname);
}

/* derper's hint for an IP -hostname: the DERP map node that pins the leaf. */
void
certs_log_node(const struct certs *c, const struct config *cfg)
{
	uint8_t md[32];
	unsigned int n = 0;
	char hex[65], port[32] = "";
	unsigned char *der = NULL;
	time_t na;
	X509 *leaf = certs_leaf(c->chain, &na);
	int len, i;

	if (leaf == NULL || (len = i2d_X509(leaf, &der)) <= 0 ||
	    EVP_Digest(der, (size_t)len, md, &n, EVP_sha256(), NULL) != 1)
		fatal_tls("the certificate's SHA-256");
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (cfg->listen_port != 443)
		snprintf(port, sizeof(port), ",\"DERPPort\":%d", cfg->listen_port);
	log_info("using a certificate for IP address \"%s\"; configure it in "
	    "the DERP map with (https://tailscale.com/s/custom-derp): "
	    "{\"Name\":\"custom\",\"RegionID\":900,\"HostName\":\"%s\","
	    "\"CertName\":\"sha256-raw:%s\"%s}", cfg->hostname, cfg->hostname,
	    hex, port);
	OPENSSL_free(der);
	X509_free(leaf);
}

void
certs_loaded(struct certs *c, const struct config *cfg, const struct run_as *ra)
{
	char err[512];
	X509 *leaf;

	if (c->crt_fd >= 0) {
		close(c->crt_fd);
		c->crt_fd = -1;
		if ((c->chain = certs_read_chain(c->crt_path, cfg->hostname, err,
		    sizeof(err))) == NULL)
			fatalx("%s", err);
	}
	if ((leaf = certs_leaf(c->chain, &c->not_after)) == NULL)
		fatalx("%s holds no certificate", c->crt_path);
	X509_free(leaf);
	if (certs_is_ip(cfg->hostname))
		certs_log_node(c, cfg);
	certs_file_sig(c->crt_path, &c->seen_crt);
	certs_file_sig(c->key_path, &c->seen_key);
	c->reloadable = user_may_read(c->crt_path, ra) &&
	    user_may_read(c->key_path, ra);
	if (c->reloadable)
		log_info("certificates are reloaded on SIGHUP and when %s or %s "
		    "change", c->crt_path, c->key_path);
	else
		log_warnx("user %s cannot read %s and %s: replacing them needs "
		    "a restart (to reload them on SIGHUP, let %s read them, e.g. "
		    "chgrp %s and chmod g+r)", ra->name, c->crt_path, c->key_path,
		    ra->name, ra->name);
}
