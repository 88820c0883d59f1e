/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * -certmode manual without a restart: on SIGHUP, or when the certificate
 * or key file changes (looked at every two seconds), the master (the run
 * user by then) reads the new chain and opens the key file; the key
 * process takes the key if it matches the new leaf (keeping the old one
 * for handshakes under way); then the workers serve the new chain to new
 * handshakes. Connections keep the certificate they began with. A pair
 * that does not match (one file replaced, not yet the other) changes
 * nothing and is tried again when a file changes again.
 */
#include "certreload.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "tlspub.h"

#define POLL_MS		2000

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The key process takes the key behind fd for leaf; 0 or -1. */
static int
hand_over(struct master *m, int fd, X509 *leaf)
{
	unsigned char *der = NULL;
	int len = i2d_X509(leaf, &der), rc = -1;

	if (len > 0)
		rc = keyd_reload_tls_key(&m->keyd, fd, der, (size_t)len);
	OPENSSL_free(der);
	return rc;
}

static void
take(struct master *m, char *chain, int fd, time_t not_after)
{
	struct certs *c = &m->certs;

	if (c->key_fd >= 0)
		close(c->key_fd);
	free(c->chain);
	c->chain = chain;
	c->key_fd = m->keyd.tls_key_fd = fd;	/* for a restarted key process */
	m->keyd.tls_chain = chain;
	c->not_after = not_after;
	tlspub_cert(m, m->cfg->hostname, chain, strlen(chain), not_after);
}

void
certreload_run(struct master *m, const char *why)
{
	struct certs *c = &m->certs;
	char err[512], *chain, when[32];
	time_t not_after;
	X509 *leaf = NULL;
	struct tm tm;
	int fd = -1;

	certs_file_sig(c->crt_path, &c->seen_crt);
	certs_file_sig(c->key_path, &c->seen_key);
	if ((chain = certs_read_chain(c->crt_path, m->cfg->hostname, err,
	    sizeof(err))) == NULL ||
	    (leaf = certs_leaf(chain, &not_after)) == NULL ||
	    (fd = open(c->key_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 ||
	    hand_over(m, fd, leaf) != 0) {
		log_warnx("%s: the certificate was not reloaded%s%s; still "
		    "serving the previous one", why, chain == NULL ? ": " : "",
		    chain == NULL ? err : fd < 0 ? " (cannot open the key)" : "");
		if (fd >= 0)
			close(fd);
		free(chain);
		X509_free(leaf);
		return;
	}
	X509_free(leaf);
	ERR_clear_error();
	take(m, chain, fd, not_after);
	gmtime_r(&not_after, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	log_info("%s: reloaded the certificate %s (valid until %s)", why,
	    c->crt_path, when);
	if (certs_is_ip(m->cfg->hostname))
		certs_log_node(c, m->cfg);
}

void
certreload_hup(struct master *m)
{
	if (!m->cfg->tls || m->cfg->acme)
		return;
	if (!m->certs.reloadable) {
		log_warnx("SIGHUP: user %s cannot read the certificate files; "
		    "restart derpd to change them", m->ra.name);
		return;
	}
	certreload_run(m, "SIGHUP");
}

int
certreload_tick(struct master *m)
{
	struct certs *c = &m->certs;
	struct file_sig crt, key;
	int64_t now = mono_ms();

	if (!m->cfg->tls || m->cfg->acme || !c->reloadable)
		return -1;
	if (now < m->cert_poll_ms)
		return (int)(m->cert_poll_ms - now);
	m->cert_poll_ms = now + POLL_MS;
	certs_file_sig(c->crt_path, &crt);
	certs_file_sig(c->key_path, &key);
	if (!certs_file_sig_eq(&crt, &c->seen_crt) ||
	    !certs_file_sig_eq(&key, &c->seen_key))
		certreload_run(m, "certificate files changed");
	return POLL_MS;
}
