/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ACME child (acme_child.h): which certificates it keeps, and when it
 * orders each. At start every one is looked up in the certdir and served
 * if the key process still holds its key; then one order at a time, when
 * a certificate is due (a third of its lifetime left, at most 30 days
 * before it expires) or missing, with the engine's back-off after a
 * failure. TLS-ALPN-01 is tried first, as derper's autocert does; if the
 * CA could not validate it, HTTP-01 at once. A certificate that expires
 * while renewals fail stops being served.
 */
#include "acme_child.h"

#include <nss.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acme_x509.h"
#include "child.h"
#include "log.h"
#include "probe.h"
#include "sandbox.h"
#include "setup.h"
#include "stopsig.h"

#define MAX_SLEEP_S	3600	/* look at expiry at least hourly */
#define SHORTLIVED	"shortlived"	/* Let's Encrypt's profile for IP addresses */

time_t
child_now(const struct child *c)
{
	return time(NULL) + c->clock_offset;
}

static void
job_config(const struct child *c, const struct job *j, const char **names,
    int challenges, struct acme_config *ac)
{
	memset(ac, 0, sizeof(*ac));
	names[0] = j->name;
	ac->directory = c->cfg.acme_directory;
	ac->names = names;
	ac->nnames = 1;
	ac->email = *c->cfg.acme_email ? c->cfg.acme_email : NULL;
	ac->eab_kid = *c->cfg.acme_eab_kid ? c->cfg.acme_eab_kid : NULL;
	ac->eab_key = *c->cfg.acme_eab_key ? c->cfg.acme_eab_key : NULL;
	ac->profile = j->is_ip ? SHORTLIVED : NULL;
	ac->challenges = challenges;
	ac->ca_pem = c->ca_pem;
	ac->ca_pem_len = c->ca_len;
	ac->certdir_fd = c->certdir_fd;
}

/* What we can answer for j: HTTP-01 only for an IP address, as derper
 * (the flags make sure -http-port is open then). */
static int
challenges_for(const struct child *c, const struct job *j)
{
	int http = c->cfg.http_port >= 0 ? ACME_CHALL_HTTP01 : 0;

	return j->is_ip ? http : ACME_CHALL_TLSALPN01 | http;
}

static void
log_until(const char *what, const char *name, time_t when, time_t now)
{
	char buf[32];
	struct tm tm;

	gmtime_r(&when, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
	log_info("acme: %s for %s until %s (%lld s from now)", what, name, buf,
	    (long long)(when - now));
}

/* Serves cert for j, whose key the key process names hash; 0 or -1. */
static int
serve(struct child *c, struct job *j, const struct acme_cert *cert,
    const uint8_t hash[KEYD_HASH_LEN])
{
	if (child_serve(c, j, cert->chain_pem, cert->chain_len,
	    cert->not_after) != 0) {
		log_warnx("acme: the master did not take the certificate for %s",
		    j->name);
		return -1;
	}
	j->serving = 1;
	memcpy(j->hash, hash, KEYD_HASH_LEN);
	acme_renewal_set_cert(&j->sched, cert->not_before, cert->not_after);
	return 0;
}

/* The certdir's chain for j, served if its key is in the key process. */
static void
from_cache(struct child *c, struct job *j)
{
	const char *names[1];
	struct acme_config ac;
	struct acme_cert cert;
	uint8_t hash[KEYD_HASH_LEN];
	time_t now = child_now(c);
	enum acme_cache st;

	job_config(c, j, names, challenges_for(c, j), &ac);
	st = acme_cached(&ac, now, NULL, 0, &cert);
	if (st == ACME_CACHE_NONE)
		return;
	if (x509_leaf_key_hash(cert.chain_pem, cert.chain_len, hash) != 0 ||
	    !child_keyd_has(c, hash))
		log_info("acme: the cached certificate for %s has no key in the "
		    "key process; ordering a new one", j->name);
	else if (serve(c, j, &cert, hash) == 0) {
		log_until("serving the cached certificate", j->name,
		    cert.not_after, now);
		if (st == ACME_CACHE_DUE)
			log_info("acme: it is due for renewal");
	}
	acme_cert_free(&cert);
}

static struct job *
add_job(struct child *c, const char *name)
{
	struct acme_identifier id;
	struct job *j;
	int i;

	if (acme_ident_parse(name, &id) != 0)
		return NULL;
	for (i = 0; i < c->njobs; i++)
		if (strcmp(c->jobs[i].name, id.value) == 0)
			return NULL;	/* kept already */
	if (c->njobs == CHILD_JOBS) {
		log_warnx("acme: no room for a certificate for %s", id.value);
		return NULL;
	}
	j = &c->jobs[c->njobs++];
	memset(j, 0, sizeof(*j));
	snprintf(j->name, sizeof(j->name), "%s", id.value);
	j->is_ip = id.type == ACME_ID_IP;
	from_cache(c, j);
	return j;
}

/* One order with these challenges; 0, or -1 with why. */
static int
obtain(struct child *c, struct job *j, int challenges, char *why, int *failed)
{
	struct acme_hooks hooks = {
		.arg = c, .make_csr = child_make_csr,
		.http01_publish = child_http01_publish,
		.http01_withdraw = child_http01_withdraw,
		.tlsalpn01_publish = child_tlsalpn01_publish,
		.tlsalpn01_withdraw = child_tlsalpn01_withdraw,
	};
	const char *names[1];
	struct acme_config ac;
	struct acme_cert cert;
	struct acme *a;
	int rc = -1;

	*failed = 0;
	job_config(c, j, names, challenges, &ac);
	if ((a = acme_new(&ac, &hooks, why, ACME_ERR_LEN)) == NULL)
		return -1;
	if (acme_obtain(a, &cert) != 0) {
		snprintf(why, ACME_ERR_LEN, "%s", acme_error(a));
		*failed = acme_stats(a)->failed_challenge;
	} else if (child_keyd_install(c, j->serving ? j->hash : NULL) != 0)
		snprintf(why, ACME_ERR_LEN, "the key process lost the new key");
	else if (serve(c, j, &cert, c->aside) != 0)
		snprintf(why, ACME_ERR_LEN, "the master did not serve it");
	else {
		log_until("issued; serving the new certificate", j->name,
		    cert.not_after, child_now(c));
		rc = 0;
	}
	acme_cert_free(&cert);
	acme_free(a);
	return rc;
}

static void
order(struct child *c, struct job *j)
{
	char why[ACME_ERR_LEN] = "";
	int challenges = challenges_for(c, j), failed = 0, rc;
	time_t now;

	stopsig_busy(1);	/* a stop cuts an order short: the certdir is
				 * written by rename, the key process keeps its own */
	rc = obtain(c, j, challenges, why, &failed);
	if (rc != 0 && failed == ACME_CHALL_TLSALPN01 &&
	    (challenges & ACME_CHALL_HTTP01)) {
		log_warnx("acme: %s; trying http-01", why);
		rc = obtain(c, j, ACME_CHALL_HTTP01, why, &failed);
	}
	stopsig_busy(0);
	now = child_now(c);
	acme_renewal_end(&j->sched, now, rc == 0, randombytes_random());
	if (rc == 0) {
		j->issued++;
		j->last_error_at = 0;
		j->last_error[0] = '\0';
	} else {
		if (c->backoff_div > 1)	/* test builds: rounded up, >= 1 s */
			j->sched.retry_at = now + (j->sched.retry_at - now +
			    c->backoff_div - 1) / c->backoff_div;
		j->failed++;
		j->last_error_at = time(NULL);
		snprintf(j->last_error, sizeof(j->last_error), "%.*s",
		    (int)sizeof(j->last_error) - 1, why);	/* /metrics: its start */
		log_warnx("acme: ordering a certificate for %s failed: %s; next "
		    "attempt in %lld s%s", j->name, why,
		    (long long)(j->sched.retry_at - now), j->serving ?
		    " (still serving the current one)" : "");
	}
	child_status(c, j);
}

/* A certificate past its notAfter is never served. */
static void
expire(struct child *c, struct job *j, time_t now)
{
	if (!j->serving || acme_renewal_usable(&j->sched, now))
		return;
	log_warnx("acme: the certificate for %s has expired; not serving it",
	    j->name);
	if (child_serve(c, j, NULL, 0, 0) == 0)
		j->serving = 0;
	acme_renewal_set_cert(&j->sched, 0, 0);
}

/* IP addresses the master passed on from the workers. */
static void
take_wanted(struct child *c)
{
	int i;

	for (i = 0; i < c->nwanted; i++)
		if (c->cfg.acme_ip_certs && add_job(c, c->wanted[i]) != NULL)
			log_info("acme: a client reached us at %s: getting a "
			    "certificate for it", c->wanted[i]);
	c->nwanted = 0;
}

/* Runs whatever is due; seconds until the next is. */
static time_t
run_due(struct child *c)
{
	time_t now, next = MAX_SLEEP_S, d;
	int i;

	for (i = 0; i < c->njobs; i++) {
		now = child_now(c);
		expire(c, &c->jobs[i], now);
		if (acme_renewal_begin(&c->jobs[i].sched, now))
			order(c, &c->jobs[i]);
		d = acme_renewal_next(&c->jobs[i].sched) - child_now(c);
		if (d < next)
			next = d;
	}
	return next < 1 ? 1 : next;
}

static void __attribute__((noreturn))
run(struct child *c)
{
	time_t wait;

	for (;;) {
		take_wanted(c);
		wait = run_due(c);
		if (c->nwanted == 0)
			child_wait(c, (int)wait * 1000);
	}
}

#ifdef DERPD_TEST_HOOKS
/* Test builds: a clock ahead (to make a cached certificate due) and
 * shorter back-off (to see retries). */
static void
test_hooks(struct child *c)
{
	static struct probe_target t = { .fd = -1, .keyd_fd = -1 };
	const char *v;

	if ((v = getenv("DERPD_TEST_ACME_CLOCK_OFFSET")) != NULL)
		c->clock_offset = strtol(v, NULL, 10);
	if ((v = getenv("DERPD_TEST_ACME_BACKOFF_DIV")) != NULL)
		c->backoff_div = (unsigned)strtoul(v, NULL, 10);
	t.fd = c->master_fd;
	probe_install(&t);
}
#endif

/* What the set-up gives us. */
static void
from_setup(struct child *c, json_t *setup)
{
	c->setup = setup;
	setup_get_config(setup, &c->cfg, SETUP_CFG_ACME);
	log_set_verbose(c->cfg.verbose);
	c->master_fd = setup_fd(setup, "master");
	c->keyd_fd = setup_fd(setup, "keyd");
	c->certdir_fd = setup_fd(setup, "certdir");
	c->ca_pem = setup_str(setup, "ca_pem");
	c->ca_len = strlen(c->ca_pem);
}

/* The certificates to keep from the start. */
static void
first_jobs(struct child *c)
{
	struct acme_identifier id;

	if (acme_ident_parse(c->cfg.hostname, &id) != 0)
		fatalx("set-up: bad hostname");
	/* A DNS hostname's certificate, unless only IP addresses are wanted
	 * (derper's default hostname with -acme-ip-certs); an IP hostname's
	 * at once. */
	if (id.type == ACME_ID_IP || !c->cfg.acme_ip_certs ||
	    strcmp(c->cfg.hostname, "derp.tailscale.com") != 0)
		add_job(c, c->cfg.hostname);
}

void
acme_main(void)
{
	static struct child c;
	json_t *setup;

	log_init("derpd[acme]");
	signal(SIGPIPE, SIG_IGN);	/* libcurl runs with CURLOPT_NOSIGNAL */
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);	/* the master stops us, with SIGTERM */
	stopsig_init();
	setup = setup_read();
	if (getppid() != (pid_t)setup_int(setup, "master_pid"))
		fatalx("master exited during start-up");
	if (acme_global_init() != 0)
		fatalx("libcurl failed to initialise");
	/* A stub resolver only: NSS modules would load code (dnsd.c). */
	if (__nss_configure_lookup("hosts", "files dns") != 0)
		fatalx("cannot restrict name lookups to files and DNS");
	from_setup(&c, setup);
#ifdef DERPD_TEST_HOOKS
	test_hooks(&c);
#endif
	first_jobs(&c);
	sandbox_apply(SANDBOX_ACME);
	run(&c);
}
