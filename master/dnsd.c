/* SPDX-License-Identifier: BSD-3-Clause */
#include "dnsd.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <nss.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "log.h"
#include "probe.h"
#include "sandbox.h"
#include "seqlock.h"
#include "setup.h"
#include "stopsig.h"

#define REFRESH_SECONDS	600	/* derper: every ten minutes */
#define MAX_NAMES	64
#define MAX_IPS		32

struct names {
	char	*v[MAX_NAMES];	/* into buf */
	int	 n;
	char	*buf;
};

struct out {
	char	*p;
	size_t	 cap;
	size_t	 len;
	int	 overflow;
};

static void
put(struct out *o, const char *s, size_t n)
{
	if (o->len + n > o->cap) {
		o->overflow = 1;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void
out_puts(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
split(const char *list, struct names *nm)
{
	char *copy = strdup(list), *tok, *save = NULL;
	int i, j;

	nm->n = 0;
	if ((nm->buf = copy) == NULL)
		fatal("strdup");
	for (tok = strtok_r(copy, ",", &save); tok != NULL && nm->n < MAX_NAMES;
	    tok = strtok_r(NULL, ",", &save))
		if (*tok != '\0')
			nm->v[nm->n++] = tok;
	qsort(nm->v, nm->n, sizeof(nm->v[0]), cmp_str);	/* Go sorts map keys */
	for (i = j = 0; i < nm->n; i++)		/* and a map has each key once */
		if (j == 0 || strcmp(nm->v[j - 1], nm->v[i]) != 0)
			nm->v[j++] = nm->v[i];
	nm->n = j;
}

/* Resolves name into ips[][INET6_ADDRSTRLEN], shuffled like derper does. */
static int
resolve(const char *name, char ips[MAX_IPS][INET6_ADDRSTRLEN])
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	char tmp[INET6_ADDRSTRLEN];
	int n = 0, i, j, rc;
	const void *a;

	if ((rc = getaddrinfo(name, NULL, &hints, &res)) != 0) {
		log_warnx("bootstrap DNS lookup \"%s\": %s", name, gai_strerror(rc));
		return 0;
	}
	for (ai = res; ai != NULL && n < MAX_IPS; ai = ai->ai_next) {
		a = ai->ai_family == AF_INET ?
		    (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr :
		    (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
		if (inet_ntop(ai->ai_family, a, tmp, sizeof(tmp)) == NULL)
			continue;
		for (j = 0; j < n && strcmp(ips[j], tmp) != 0; j++)
			;
		if (j == n)
			memcpy(ips[n++], tmp, sizeof(tmp));
	}
	freeaddrinfo(res);
	for (i = n - 1; i > 0; i--) {	/* do not bias clients to one family */
		j = (int)randombytes_uniform((uint32_t)i + 1);
		memcpy(tmp, ips[i], sizeof(tmp));
		memcpy(ips[i], ips[j], sizeof(tmp));
		memcpy(ips[j], tmp, sizeof(tmp));
	}
	return n;
}

/* One name's entry, in Go's json.MarshalIndent(..., "", "\t") layout. */
static void
entry(struct out *o, const char *name, char ips[MAX_IPS][INET6_ADDRSTRLEN],
    int n)
{
	const char *p;
	int i;

	out_puts(o, "\t\"");
	for (p = name; *p != '\0'; p++) {	/* names come from flags; escape anyway */
		if (*p == '"' || *p == '\\')
			put(o, "\\", 1);
		if ((unsigned char)*p >= 0x20)
			put(o, p, 1);
	}
	out_puts(o, "\": [\n");
	for (i = 0; i < n; i++) {
		out_puts(o, "\t\t\"");
		out_puts(o, ips[i]);
		out_puts(o, i + 1 < n ? "\",\n" : "\"\n");
	}
	out_puts(o, "\t]");
}

static size_t
published_json(const struct names *nm, char *buf, size_t cap)
{
	static char ips[MAX_IPS][INET6_ADDRSTRLEN];
	struct out o = { buf, cap, 0, 0 };
	int i, n, first = 1;

	if (nm->n == 0)		/* derper publishes nothing at all */
		return 0;
	out_puts(&o, "{\n");
	for (i = 0; i < nm->n; i++) {
		if ((n = resolve(nm->v[i], ips)) == 0)
			continue;
		if (!first)
			out_puts(&o, ",\n");
		first = 0;
		entry(&o, nm->v[i], ips, n);
	}
	if (first) {		/* no name resolved: Go marshals a nil map */
		o.len = 0;
		out_puts(&o, "null");
	} else
		out_puts(&o, "\n}");
	return o.overflow ? 0 : o.len;
}

static size_t
unpublished_records(const struct names *nm, char *buf, size_t cap)
{
	static char ips[MAX_IPS][INET6_ADDRSTRLEN];
	struct out o = { buf, cap, 0, 0 };
	int i, n;

	for (i = 0; i < nm->n; i++) {
		if ((n = resolve(nm->v[i], ips)) == 0)
			continue;
		put(&o, nm->v[i], strlen(nm->v[i]) + 1);
		out_puts(&o, "{\n");
		entry(&o, nm->v[i], ips, n);
		out_puts(&o, "\n}");
		put(&o, "", 1);
	}
	return o.overflow ? 0 : o.len;
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
	struct names published, unpublished;
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
	split(cfg.bootstrap_dns_names, &published);
	split(cfg.unpublished_dns_names, &unpublished);
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
		static struct probe_target t = { .fd = -1, .keyd_fd = -1 };

		probe_install(&t);
	}
#endif
	sandbox_apply(SANDBOX_DNS);
	for (;;) {
		plen = published_json(&published, pub, sizeof(pub));
		ulen = unpublished_records(&unpublished, unpub, sizeof(unpub));
		if (plen == 0 && published.n > 0)
			log_warnx("bootstrap DNS answer too large; keeping the old one");
		else
			publish(d, pub, plen, unpub, ulen);
		if (stopsig_wait(-1, REFRESH_SECONDS * 1000) < 0)
			break;
	}
	exit(0);
}
