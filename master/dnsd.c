/* SPDX-License-Identifier: BSD-3-Clause */
#include "dnsd.h"

#include <netdb.h>
#include <nss.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "dnsd_json.h"
#include "log.h"
#include "probe.h"
#include "sandbox.h"
#include "seqlock.h"
#include "setup.h"
#include "stopsig.h"

#define REFRESH_SECONDS	600	/* derper: every ten minutes */

/* Resolves name into ips (dns_resolve_fn), logging a failure. */
static int
resolve(const char *name, dns_ips ips, void *arg)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	int n, rc;

	(void)arg;
	if ((rc = getaddrinfo(name, NULL, &hints, &res)) != 0) {
		log_warnx("bootstrap DNS lookup \"%s\": %s", name, gai_strerror(rc));
		return 0;
	}
	n = dns_addrs(res, ips);
	freeaddrinfo(res);
	return n;
}

static void
publish(struct shm_dns *d, const char *pub, size_t plen, const char *unpub,
    size_t ulen)
{
	seq_write_begin(&d->seq);
	memcpy(d->published, pub, plen);
	d->published_len = (uint32_t)plen;
	memcpy(d->unpublished, unpub, ulen);
	d->unpublished_len = (uint32_t)ulen;
	seq_write_end(&d->seq);
}

void
dnsd_check_flags(const struct config *cfg)
{
	if (strchr(cfg->bootstrap_dns_names, '/') != NULL ||
	    strchr(cfg->unpublished_dns_names, '/') != NULL)
		fatalx("not implemented yet in derpd: \"name/txt-record\" rollout "
		    "percentages in bootstrap DNS names");
}

void
dnsd_main(void)
{
	static char pub[DNS_BLOB_MAX], unpub[DNS_BLOB_MAX];
	struct dns_names published, unpublished;
	struct addrinfo *warm;
	size_t plen, ulen;

	struct config cfg;
	struct shm_dns *d;
	struct shm shm;
	json_t *setup;

	log_init("derpd[dns]");
	signal(SIGINT, SIG_IGN);	/* the master stops us, with SIGTERM */
	stopsig_init();
	setup = setup_read();
	if (getppid() != (pid_t)setup_int(setup, "master_pid"))
		fatalx("master exited during start-up");
	setup_get_config(setup, &cfg, SETUP_CFG_DNS);
	log_set_verbose(cfg.verbose);
	setup_get_shm(setup, &shm, SHM_DNS, 0);
	d = shm.dns;
	if (d->seq & 1) {	/* our predecessor died mid-write */
		d->published_len = d->unpublished_len = 0;
		seq_write_end(&d->seq);
	}
	dns_names_split(cfg.bootstrap_dns_names, &published);
	dns_names_split(cfg.unpublished_dns_names, &unpublished);
	json_decref(setup);
	/*
	 * /etc/hosts and DNS only, as Go's resolver in derper: other NSS
	 * modules (mymachines, resolve, mdns) load code and talk to daemons,
	 * which the sandbox rightly forbids. Both are built into libc; the
	 * warm-up opens what they open lazily.
	 */
	if (__nss_configure_lookup("hosts", "files dns") != 0)
		fatalx("cannot restrict name lookups to files and DNS");
	if (getaddrinfo("localhost", NULL, NULL, &warm) == 0)
		freeaddrinfo(warm);
#ifdef DERPD_TEST_HOOKS
	{
		static struct probe_target t = { .fd = -1, .keyd_fd = -1,
		    .verify_fd = -1 };

		probe_install(&t);
	}
#endif
	sandbox_apply(SANDBOX_DNS);
	for (;;) {
		plen = dns_published_json(&published, resolve, NULL, pub,
		    sizeof(pub));
		ulen = dns_unpublished_records(&unpublished, resolve, NULL,
		    unpub, sizeof(unpub));
		if (plen == 0 && published.n > 0)
			log_warnx("bootstrap DNS answer too large; keeping the old one");
		else
			publish(d, pub, plen, unpub, ulen);
		if (stopsig_wait(-1, REFRESH_SECONDS * 1000) < 0)
			break;
	}
	exit(0);
}
