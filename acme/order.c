/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One order (RFC 8555 section 7.4): newOrder, an answered challenge per
 * pending authorization, finalize with the caller's CSR, and the chain,
 * which must carry the CSR's key and name every identifier before it is
 * stored. Polling follows Retry-After within [1, 30] s and stops at the
 * deadline of the whole acme_obtain.
 */
#include "acme_int.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "acme_jws.h"
#include "acme_x509.h"
#include "b64url.h"
#include "log.h"

static char *
order_request(struct acme *a)
{
	json_t *req = json_object(), *ids = json_array();
	const char *p = a->cfg.profile;
	char *s = NULL;
	size_t i;

	if (req == NULL || ids == NULL)
		goto done;
	for (i = 0; i < a->cfg.nnames; i++)
		json_array_append_new(ids, json_pack("{s:s, s:s}", "type",
		    a->ids[i].type == ACME_ID_IP ? "ip" : "dns", "value",
		    a->ids[i].value));
	json_object_set(req, "identifiers", ids);
	for (i = 0; p != NULL && i < a->dir.nprofiles; i++)
		if (strcmp(a->dir.profiles[i], p) == 0)
			break;
	if (p != NULL && i < a->dir.nprofiles)
		json_object_set_new(req, "profile", json_string(p));
	else if (p != NULL)
		log_info("acme: the CA offers no profile \"%s\"; ordering its "
		    "default", p);
	s = json_dumps(req, JSON_COMPACT);
done:
	json_decref(ids);
	json_decref(req);
	return s;
}

static int
new_order(struct acme *a, struct acme_order *o, char url[ACME_URL_MAX])
{
	struct acme_resp r;
	char why[ACME_ERR_LEN], *payload;
	int rc = 0;

	if ((payload = order_request(a)) == NULL)
		return acme_fail(a, "newOrder: out of memory");
	rc = net_post(a, "newOrder", a->dir.new_order, payload, 0, &r);
	free(payload);
	if (rc == -1)
		return -1;
	if (r.location[0] == '\0')
		rc = acme_fail(a, "newOrder: no order URL in Location");
	else if (acme_parse_order(r.body, r.len, o, why, sizeof(why)) == -1)
		rc = acme_fail(a, "newOrder: %s", why);
	else {
		memcpy(url, r.location, ACME_URL_MAX);
		a->stats.orders++;
		log_info("acme: order %s for %s is %s", url, a->ids[0].value,
		    acme_status_name(o->status));
	}
	net_resp_free(&r);
	return rc;
}

/* POST-as-GET of an order or authorization into its struct. */
static int
fetch_order(struct acme *a, const char *url, struct acme_order *o,
    long *retry)
{
	struct acme_resp r;
	char why[ACME_ERR_LEN];
	int rc = 0;

	if (net_post(a, "order", url, NULL, 0, &r) == -1)
		return -1;
	if (acme_parse_order(r.body, r.len, o, why, sizeof(why)) == -1)
		rc = acme_fail(a, "%s", why);
	*retry = r.retry_after;
	net_resp_free(&r);
	return rc;
}

static int
fetch_authz(struct acme *a, const char *url, struct acme_authz *az,
    long *retry)
{
	struct acme_resp r;
	char why[ACME_ERR_LEN];
	int rc = 0;

	if (net_post(a, "authorization", url, NULL, 0, &r) == -1)
		return -1;
	if (acme_parse_authz(r.body, r.len, az, why, sizeof(why)) == -1)
		rc = acme_fail(a, "%s", why);
	*retry = r.retry_after;
	net_resp_free(&r);
	return rc;
}

static int
ordered(struct acme *a, const struct acme_identifier *id)
{
	size_t i;

	for (i = 0; i < a->cfg.nnames; i++)
		if (a->ids[i].type == id->type &&
		    strcasecmp(a->ids[i].value, id->value) == 0)
			return 1;
	return 0;
}

/* tls-alpn-01 first, as autocert does, then http-01; -1 if neither. */
static int
pick_challenge(struct acme *a, const struct acme_authz *az)
{
	static const struct { enum acme_chall_type t; int bit; } pref[] = {
		{ ACME_CH_TLSALPN01, ACME_CHALL_TLSALPN01 },
		{ ACME_CH_HTTP01, ACME_CHALL_HTTP01 },
	};
	size_t i, j;

	for (i = 0; i < sizeof(pref) / sizeof(pref[0]); i++) {
		if ((a->cfg.challenges & pref[i].bit) == 0)
			continue;
		for (j = 0; j < az->nchallenges; j++)
			if (az->challenges[j].type == pref[i].t)
				return (int)j;
	}
	return -1;
}

static int
publish(struct acme *a, const struct acme_identifier *id,
    const struct acme_challenge *c, const char *key_auth, char *sni,
    size_t snicap)
{
	char why[ACME_ERR_LEN] = "", *cert = NULL, *key = NULL;
	int rc;

	if (c->type == ACME_CH_HTTP01)
		rc = a->hooks.http01_publish(a->hooks.arg, c->token, key_auth, why);
	else if (x509_alpn_sni(id, sni, snicap) == -1 ||
	    x509_alpn_cert(id, key_auth, &cert, &key) == -1)
		return acme_fail(a, "tls-alpn-01 for %s: cannot make the "
		    "challenge certificate", id->value);
	else
		rc = a->hooks.tlsalpn01_publish(a->hooks.arg, sni, cert, key,
		    why);
	if (key != NULL)
		OPENSSL_cleanse(key, strlen(key));
	free(cert);
	free(key);
	if (rc == -1)
		return acme_fail(a, "%s for %s: publishing the answer failed: "
		    "%s", acme_chall_name(c->type), id->value, why);
	return 0;
}

static void
withdraw(struct acme *a, const struct acme_challenge *c, const char *sni)
{
	if (c->type == ACME_CH_HTTP01)
		a->hooks.http01_withdraw(a->hooks.arg, c->token);
	else
		a->hooks.tlsalpn01_withdraw(a->hooks.arg, sni);
}

/* Tells the CA to validate, then polls until the authorization settles. */
static int
validate(struct acme *a, const char *url, const struct acme_challenge *c,
    struct acme_authz *az)
{
	struct acme_resp r;
	struct acme_challenge got;
	char why[ACME_ERR_LEN];
	long retry = -1;

	if (net_post(a, "challenge", c->url, "{}", 0, &r) == -1)
		return -1;
	if (acme_parse_challenge(r.body, r.len, &got, why, sizeof(why)) == -1) {
		net_resp_free(&r);
		return acme_fail(a, "%s", why);
	}
	net_resp_free(&r);
	do {
		if (net_wait(a, retry, "authorization") == -1 ||
		    fetch_authz(a, url, az, &retry) == -1)
			return -1;
	} while (az->status == ACME_ST_PENDING);
	return 0;
}

static int
challenge_failed(struct acme *a, const struct acme_authz *az,
    const struct acme_challenge *c)
{
	size_t i;

	a->stats.failed_challenge = c->type == ACME_CH_HTTP01 ?
	    ACME_CHALL_HTTP01 : ACME_CHALL_TLSALPN01;
	for (i = 0; i < az->nchallenges; i++)
		if (strcmp(az->challenges[i].url, c->url) == 0 &&
		    az->challenges[i].has_error)
			return acme_fail(a, "%s for %s failed: %s: %s",
			    acme_chall_name(c->type), az->ident.value,
			    az->challenges[i].error.type,
			    az->challenges[i].error.detail);
	return acme_fail(a, "%s for %s failed: authorization is %s",
	    acme_chall_name(c->type), az->ident.value,
	    acme_status_name(az->status));
}

static int
authorize(struct acme *a, const char *url)
{
	struct acme_authz az;
	struct acme_challenge c;
	char *key_auth, sni[ACME_IDENT_MAX] = "";
	long retry;
	int i, rc;

	if (fetch_authz(a, url, &az, &retry) == -1)
		return -1;
	if (!ordered(a, &az.ident))
		return acme_fail(a, "authorization for %s, which was not "
		    "ordered", az.ident.value);
	if (az.status == ACME_ST_VALID)
		return 0;
	if (az.status != ACME_ST_PENDING)
		return acme_fail(a, "authorization for %s is %s",
		    az.ident.value, acme_status_name(az.status));
	if ((i = pick_challenge(a, &az)) == -1)
		return acme_fail(a, "authorization for %s offers no challenge "
		    "we answer", az.ident.value);
	c = az.challenges[i];
	if ((key_auth = jws_key_authorization(a->account_key, c.token)) == NULL)
		return acme_fail(a, "out of memory");
	rc = publish(a, &az.ident, &c, key_auth, sni, sizeof(sni));
	free(key_auth);
	if (rc == -1)
		return -1;
	log_info("acme: answering %s for %s", acme_chall_name(c.type),
	    az.ident.value);
	rc = validate(a, url, &c, &az);
	withdraw(a, &c, sni);
	if (rc == -1)
		return -1;
	return az.status == ACME_ST_VALID ? 0 : challenge_failed(a, &az, &c);
}

/*
 * Polls the order until its authorizations are done (wait_ready) or, after
 * finalize, until it is valid; retry is the last Retry-After.
 */
static int
poll_order(struct acme *a, const char *url, struct acme_order *o, long retry,
    int wait_ready)
{
	for (;;) {
		if (o->status == ACME_ST_INVALID)
			return o->has_error ? acme_fail(a, "order is invalid: "
			    "%s: %s", o->error.type, o->error.detail) :
			    acme_fail(a, "order is invalid");
		if (wait_ready ? o->status != ACME_ST_PENDING :
		    o->status == ACME_ST_VALID)
			return 0;
		if (!wait_ready && o->status != ACME_ST_PROCESSING &&
		    o->status != ACME_ST_READY)
			return acme_fail(a, "order is %s after finalize",
			    acme_status_name(o->status));
		if (net_wait(a, retry, "order") == -1 ||
		    fetch_order(a, url, o, &retry) == -1)
			return -1;
	}
}

static int
finalize(struct acme *a, struct acme_order *o, uint8_t *csr, size_t csrlen)
{
	struct acme_resp r;
	char why[ACME_ERR_LEN], *csr64, *payload = NULL;
	json_t *req;
	int rc = 0;

	if (o->status != ACME_ST_READY)
		return acme_fail(a, "order is %s, not ready, after its "
		    "authorizations", acme_status_name(o->status));
	if ((csr64 = b64url_encode_alloc(csr, csrlen)) == NULL ||
	    (req = json_pack("{s:s}", "csr", csr64)) == NULL) {
		free(csr64);
		return acme_fail(a, "out of memory");
	}
	payload = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	free(csr64);
	if (payload == NULL)
		return acme_fail(a, "out of memory");
	rc = net_post(a, "finalize", o->finalize, payload, 0, &r);
	free(payload);
	if (rc == -1)
		return -1;
	if (acme_parse_order(r.body, r.len, o, why, sizeof(why)) == -1)
		rc = acme_fail(a, "finalize: %s", why);
	net_resp_free(&r);
	return rc;
}

static int
download(struct acme *a, const struct acme_order *o, const uint8_t *spki,
    size_t spkilen, struct acme_cert *out)
{
	struct acme_resp r;
	char why[ACME_ERR_LEN];
	int rc = 0;

	if (net_post(a, "certificate", o->certificate, NULL, 1, &r) == -1)
		return -1;
	if (x509_check_chain(r.body, r.len, a->ids, a->cfg.nnames, spki,
	    spkilen, time(NULL), out, why, sizeof(why)) == -1)
		rc = acme_fail(a, "certificate: %s", why);
	else if (store_chain(a->cfg.certdir_fd, a->ids[0].value, r.body,
	    r.len, why, sizeof(why)) == -1)
		rc = acme_fail(a, "%s", why);
	else {
		out->chain_pem = r.body;	/* handed over */
		out->chain_len = r.len;
		r.body = NULL;
	}
	net_resp_free(&r);
	return rc;
}

static int
make_csr(struct acme *a, uint8_t **csr, size_t *csrlen, uint8_t **spki,
    size_t *spkilen)
{
	char why[ACME_ERR_LEN] = "";

	*csr = NULL;
	if (a->hooks.make_csr(a->hooks.arg, a->idv, a->cfg.nnames, csr,
	    csrlen, why) == -1)
		return acme_fail(a, "making the CSR failed: %s", why);
	if (x509_csr_spki(*csr, *csrlen, spki, spkilen) == -1) {
		free(*csr);
		*csr = NULL;
		return acme_fail(a, "the CSR is malformed or badly signed");
	}
	return 0;
}

int
order_run(struct acme *a, struct acme_cert *out)
{
	struct acme_order o;
	char url[ACME_URL_MAX];
	uint8_t *csr = NULL, *spki = NULL;
	size_t i, csrlen = 0, spkilen = 0;
	long retry;
	int rc = -1;

	if (new_order(a, &o, url) == -1)
		return -1;
	for (i = 0; i < o.nauthz; i++)
		if (authorize(a, o.authz[i]) == -1)
			return -1;
	if (fetch_order(a, url, &o, &retry) == -1 ||
	    poll_order(a, url, &o, retry, 1) == -1 ||
	    make_csr(a, &csr, &csrlen, &spki, &spkilen) == -1)
		return -1;
	if (finalize(a, &o, csr, csrlen) == 0 &&
	    poll_order(a, url, &o, -1, 0) == 0 &&
	    download(a, &o, spki, spkilen, out) == 0)
		rc = 0;
	free(csr);
	OPENSSL_free(spki);
	return rc;
}
