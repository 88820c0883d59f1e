/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test only (never installed): build/acme-test-driver runs the ACME engine
 * once, as derpd's ACME child will, with the challenge servers of
 * responder.c and the local CSR maker of csr_local.c. tests/acme/ starts
 * Pebble and checks what this prints:
 *
 *   cache: none|fresh|due          what the certdir held (judged at now+offset)
 *   result: cached|issued          whether an order was placed
 *   not_after: <unix time>
 *   stats: orders=N badnonce_retries=N requests=N account_created=0|1
 *   account: <URL>
 *
 * On failure it logs "acme: <reason>" and exits 1.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acme.h"
#include "csr_local.h"
#include "log.h"
#include "responder.h"

struct opts {
	const char	*names[ACME_MAX_NAMES];
	const char	*ca_file;
	const char	*certdir;
	int		 http_port, tls_port;
	long		 offset;
	struct acme_config cfg;
};

static void
usage(void)
{
	fprintf(stderr, "usage: acme-test-driver -directory URL -ca FILE "
	    "-certdir DIR -name NAME... [-email E] [-eab-kid K -eab-key K]\n"
	    "\t[-profile P] [-no-tlsalpn] [-no-http01] [-http-port N] "
	    "[-tls-port N]\n\t[-timeout S] [-clock-offset S]\n");
	exit(2);
}

static void
parse(int argc, char **argv, struct opts *o)
{
	int i;

	o->cfg.challenges = ACME_CHALL_TLSALPN01 | ACME_CHALL_HTTP01;
	for (i = 1; i < argc; i++) {
		const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(f, "-no-tlsalpn") == 0)
			o->cfg.challenges &= ~ACME_CHALL_TLSALPN01;
		else if (strcmp(f, "-no-http01") == 0)
			o->cfg.challenges &= ~ACME_CHALL_HTTP01;
		else if (v == NULL)
			usage();
		else if (i++, strcmp(f, "-directory") == 0)
			o->cfg.directory = v;
		else if (strcmp(f, "-ca") == 0)
			o->ca_file = v;
		else if (strcmp(f, "-certdir") == 0)
			o->certdir = v;
		else if (strcmp(f, "-name") == 0 && o->cfg.nnames < ACME_MAX_NAMES)
			o->names[o->cfg.nnames++] = v;
		else if (strcmp(f, "-email") == 0)
			o->cfg.email = v;
		else if (strcmp(f, "-eab-kid") == 0)
			o->cfg.eab_kid = v;
		else if (strcmp(f, "-eab-key") == 0)
			o->cfg.eab_key = v;
		else if (strcmp(f, "-profile") == 0)
			o->cfg.profile = v;
		else if (strcmp(f, "-http-port") == 0)
			o->http_port = atoi(v);
		else if (strcmp(f, "-tls-port") == 0)
			o->tls_port = atoi(v);
		else if (strcmp(f, "-timeout") == 0)
			o->cfg.timeout = (unsigned)atoi(v);
		else if (strcmp(f, "-clock-offset") == 0)
			o->offset = atol(v);
		else
			usage();
	}
	if (o->cfg.directory == NULL || o->ca_file == NULL || o->certdir == NULL)
		usage();
	o->cfg.names = o->names;
}

static void
print_result(const char *result, const struct acme_cert *cert,
    const struct acme_stats *st)
{
	printf("result: %s\nnot_after: %lld\n", result,
	    (long long)cert->not_after);
	if (st != NULL)
		printf("stats: orders=%u badnonce_retries=%u requests=%u "
		    "account_created=%d\naccount: %s\n", st->orders,
		    st->badnonce_retries, st->requests, st->account_created,
		    st->account_url);
	fflush(stdout);
}

/* The cache as derpd will judge it: against the key the CSR maker kept. */
static enum acme_cache
check_cache(struct opts *o, struct acme_cert *cert)
{
	static const char *what[] = { "none", "fresh", "due" };
	uint8_t *spki = NULL;
	size_t len = 0;
	enum acme_cache c = ACME_CACHE_NONE;
	char err[ACME_ERR_LEN];

	if (acme_config_check(&o->cfg, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (csr_local_spki(o->cfg.certdir_fd, o->names[0], &spki, &len) == 0)
		c = acme_cached(&o->cfg, time(NULL) + o->offset, spki, len, cert);
	free(spki);
	printf("cache: %s\n", what[c]);
	return c;
}

static int
obtain(struct opts *o)
{
	struct csr_local csr = { .certdir_fd = o->cfg.certdir_fd };
	struct acme_hooks hooks = {
		.arg = &csr, .make_csr = csr_local_make,
		.http01_publish = responder_http01_publish,
		.http01_withdraw = responder_http01_withdraw,
		.tlsalpn01_publish = responder_tlsalpn01_publish,
		.tlsalpn01_withdraw = responder_tlsalpn01_withdraw,
	};
	struct acme_cert cert;
	struct acme *a;
	char err[ACME_ERR_LEN];
	int rc;

	if ((a = acme_new(&o->cfg, &hooks, err, sizeof(err))) == NULL)
		fatalx("acme: %s", err);
	if (responder_start(o->http_port, o->tls_port) == -1)
		fatalx("cannot start the challenge responder");
	rc = acme_obtain(a, &cert);
	responder_stop();
	if (rc == 0)
		print_result("issued", &cert, acme_stats(a));
	else {
		printf("stats: orders=%u badnonce_retries=%u requests=%u "
		    "account_created=%d\n", acme_stats(a)->orders,
		    acme_stats(a)->badnonce_retries, acme_stats(a)->requests,
		    acme_stats(a)->account_created);
		fflush(stdout);
		log_warnx("acme: %s", acme_error(a));
	}
	acme_cert_free(&cert);
	acme_free(a);
	return rc;
}

int
main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct acme_cert cert = { 0 };
	char *ca, err[ACME_ERR_LEN];
	size_t calen;
	int rc;

	signal(SIGPIPE, SIG_IGN);	/* libcurl runs with CURLOPT_NOSIGNAL */
	log_init("acme-test-driver");
	log_set_verbose(1);
	parse(argc, argv, &o);
	if (acme_global_init() == -1)
		fatalx("libcurl initialisation failed");
	if (acme_trust_load(o.ca_file, &ca, &calen, err, sizeof(err)) == -1 ||
	    (o.cfg.certdir_fd = acme_certdir_open(o.certdir, geteuid(), err,
	    sizeof(err))) == -1)
		fatalx("%s", err);
	o.cfg.ca_pem = ca;
	o.cfg.ca_pem_len = calen;
	if (check_cache(&o, &cert) == ACME_CACHE_FRESH) {
		print_result("cached", &cert, NULL);
		acme_cert_free(&cert);
		rc = 0;
	} else {
		acme_cert_free(&cert);
		rc = obtain(&o);
	}
	close(o.cfg.certdir_fd);
	free(ca);
	return rc == 0 ? 0 : 1;
}
