/* SPDX-License-Identifier: BSD-3-Clause */
/* The probe's certificate checks: the served chain, the leaf's name and
 * lifetime, and derper's meta certificate. */
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "metacert.h"
#include "probe.h"

#define DAY_SECS	86400.0

/* Days until notAfter, fractional; negative once expired. */
static int
days_left(X509 *leaf, double *days)
{
	int d, s;

	if (ASN1_TIME_diff(&d, &s, NULL, X509_get0_notAfter(leaf)) != 1)
		return -1;
	*days = d + s / DAY_SECS;
	return 0;
}

static int
name_matches(X509 *leaf, const char *host)
{
	return (url_host_is_ip(host) ? X509_check_ip_asc(leaf, host, 0) :
	    X509_check_host(leaf, host, 0, 0, NULL)) == 1;
}

void
probe_certificate(struct probe *p, struct tp *t, struct check *c)
{
	const char *host = p->o->url.host;
	char until[64] = "";
	X509 *leaf;
	BIO *b;
	double days;
	int n;

	if (t->ssl == NULL) {
		check_set(c, CHECK_SKIPPED, "plain HTTP: no certificate");
		return;
	}
	if ((leaf = SSL_get0_peer_certificate(t->ssl)) == NULL ||
	    days_left(leaf, &days) != 0) {
		check_set(c, CHECK_CRITICAL, "no usable certificate served");
		return;
	}
	if ((b = BIO_new(BIO_s_mem())) != NULL) {
		ASN1_TIME_print(b, X509_get0_notAfter(leaf));
		n = BIO_read(b, until, sizeof(until) - 1);
		until[n > 0 ? n : 0] = '\0';
		BIO_free(b);
	}
	check_value(c, days, "days");
	if (!name_matches(leaf, host))
		check_set(c, CHECK_CRITICAL, "not valid for %s", host);
	else if (days < 0)
		check_set(c, CHECK_CRITICAL, "expired on %s", until);
	else if (t->verify_err != 0)
		check_set(c, CHECK_CRITICAL, "chain does not verify: %s (depth %d)",
		    X509_verify_cert_error_string(t->verify_err), t->verify_depth);
	else if (days < (double)p->o->warn_days)
		check_set(c, CHECK_WARNING, "expires in %.1f days (%s), under "
		    "days=%lld", days, until, (long long)p->o->warn_days);
	else
		check_set(c, CHECK_OK, "valid for %s, chain verified, expires "
		    "in %.0f days (%s)", host, days, until);
}

void
probe_meta(struct probe *p, struct tp *t, struct check *c)
{
	uint8_t key[KEY_LEN];
	char hex[KEY_HEX_LEN + 1];
	long version;

	if (t->ssl == NULL) {
		check_set(c, CHECK_SKIPPED, "plain HTTP: no certificate chain");
		return;
	}
	if (!metacert_find(t->ssl, key, &version)) {
		check_set(c, CHECK_WARNING, "no derpkey certificate in the chain "
		    "(derper serves one; clients lose the fast start)");
		return;
	}
	key_format_hex(hex, key);
	if (p->ca == NULL)
		check_set(c, CHECK_SKIPPED, "derpkey%.16s..., serial %ld; no "
		    "ServerKey to compare", hex, version);
	else if (memcmp(key, p->ca->server, KEY_LEN) != 0)
		check_set(c, CHECK_CRITICAL, "derpkey%.16s... is not the relay's "
		    "ServerKey", hex);
	else if (version != DERP_PROTOCOL_VERSION)
		check_set(c, CHECK_WARNING, "serial %ld, not protocol version %d",
		    version, DERP_PROTOCOL_VERSION);
	else
		check_set(c, CHECK_OK, "derpkey%.16s..., serial %ld, matches "
		    "ServerKey", hex, version);
}
