/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The engine's public entry points: configuration checks, the client's
 * life, and acme_obtain (directory, account, then order.c's order).
 */
#include "acme_int.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "b64url.h"

#define DEFAULT_TIMEOUT	300

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int
acme_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int
printable(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f || i >= max)
			return 0;
	return i > 0;
}

static int
check_eab(const struct acme_config *c, char *err, size_t errlen)
{
	uint8_t key[256];

	if ((c->eab_kid == NULL) != (c->eab_key == NULL))
		return fail(err, errlen, "External Account Binding needs both "
		    "-acme-eab-kid and -acme-eab-key");
	if (c->eab_kid == NULL)
		return 0;
	if (!printable(c->eab_kid, 256))
		return fail(err, errlen, "-acme-eab-kid is empty or not "
		    "printable ASCII");
	if (b64url_decode(key, sizeof(key), c->eab_key, strlen(c->eab_key)) <= 0)
		return fail(err, errlen, "-acme-eab-key is not base64url");
	return 0;
}

static int
check_names(const struct acme_config *c, char *err, size_t errlen)
{
	struct acme_identifier id;
	size_t i;

	if (c->nnames == 0 || c->nnames > ACME_MAX_NAMES)
		return fail(err, errlen, "ACME needs 1 to %d names", ACME_MAX_NAMES);
	for (i = 0; i < c->nnames; i++)
		if (acme_ident_parse(c->names[i], &id) == -1)
			return fail(err, errlen, "\"%s\" is neither a DNS name "
			    "nor an IP address", c->names[i]);
	return 0;
}

int
acme_config_check(const struct acme_config *c, char *err, size_t errlen)
{
	if (c->directory == NULL || !acme_url_ok(c->directory))
		return fail(err, errlen, "the ACME directory must be an https URL");
	if (strcmp(c->directory, ACME_DIR_GCP) == 0 && (c->email == NULL ||
	    c->eab_kid == NULL || c->eab_key == NULL))
		return fail(err, errlen, "-certmode gcp needs -acme-email, "
		    "-acme-eab-kid and -acme-eab-key");
	if (c->email != NULL && (!printable(c->email, 254) ||
	    strchr(c->email, '@') == NULL))
		return fail(err, errlen, "-acme-email is not an email address");
	if (c->profile != NULL && !printable(c->profile, ACME_PROFILE_MAX - 1))
		return fail(err, errlen, "the ACME profile name is malformed");
	if (c->challenges == 0 ||
	    (c->challenges & ~(ACME_CHALL_TLSALPN01 | ACME_CHALL_HTTP01)) != 0)
		return fail(err, errlen, "no ACME challenge type enabled");
	if (c->ca_pem == NULL || c->ca_pem_len == 0)
		return fail(err, errlen, "no trust store for the ACME CA");
	if (check_eab(c, err, errlen) == -1)
		return -1;
	return check_names(c, err, errlen);
}

static int
hooks_ok(const struct acme_config *c, const struct acme_hooks *h)
{
	if (h->make_csr == NULL)
		return 0;
	if ((c->challenges & ACME_CHALL_HTTP01) && (h->http01_publish == NULL ||
	    h->http01_withdraw == NULL))
		return 0;
	return !(c->challenges & ACME_CHALL_TLSALPN01) ||
	    (h->tlsalpn01_publish != NULL && h->tlsalpn01_withdraw != NULL);
}

struct acme *
acme_new(const struct acme_config *cfg, const struct acme_hooks *hooks,
    char *err, size_t errlen)
{
	struct acme *a;
	size_t i;

	if (acme_config_check(cfg, err, errlen) == -1)
		return NULL;
	if (!hooks_ok(cfg, hooks)) {
		fail(err, errlen, "a hook for an enabled challenge is missing");
		return NULL;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		fail(err, errlen, "out of memory");
		return NULL;
	}
	a->cfg = *cfg;
	a->hooks = *hooks;
	for (i = 0; i < cfg->nnames; i++) {
		acme_ident_parse(cfg->names[i], &a->ids[i]);	/* checked */
		a->idv[i] = a->ids[i].value;
	}
	a->cfg.names = a->idv;
	if (a->cfg.timeout == 0)
		a->cfg.timeout = DEFAULT_TIMEOUT;
	if ((a->account_key = store_account_key(cfg->certdir_fd, err,
	    errlen)) == NULL || net_init(a) == -1) {
		if (a->err[0] != '\0')
			snprintf(err, errlen, "%s", a->err);
		acme_free(a);
		return NULL;
	}
	return a;
}

void
acme_free(struct acme *a)
{
	if (a == NULL)
		return;
	net_free(a);
	EVP_PKEY_free(a->account_key);
	free(a);
}

static int
load_directory(struct acme *a)
{
	struct acme_resp r;
	char why[ACME_ERR_LEN];
	int rc = 0;

	if (net_get(a, "directory", a->cfg.directory, &r) == -1)
		return -1;
	if (acme_parse_directory(r.body, r.len, &a->dir, why, sizeof(why)) == -1)
		rc = acme_fail(a, "%s", why);
	net_resp_free(&r);
	return rc;
}

int
acme_obtain(struct acme *a, struct acme_cert *out)
{
	memset(out, 0, sizeof(*out));
	a->err[0] = '\0';
	a->stats.failed_challenge = 0;
	a->deadline = time(NULL) + (time_t)a->cfg.timeout;
	if (load_directory(a) == -1 || account_register(a) == -1)
		return -1;
	return order_run(a, out);
}

const char *
acme_error(const struct acme *a)
{
	return a->err;
}

const struct acme_stats *
acme_stats(const struct acme *a)
{
	return &a->stats;
}
