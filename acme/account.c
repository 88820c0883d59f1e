/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * newAccount (RFC 8555 section 7.3): agrees to the terms, names the contact
 * email if any, and binds an external account (section 7.3.4) when given a
 * kid and HMAC key. The same account key always finds the same account
 * again (the CA answers 200 with its URL), so nothing but the key is kept.
 */
#include "acme_int.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "acme_jws.h"
#include "b64url.h"
#include "log.h"

#define EAB_KEY_MAX	256

static int
add_eab(struct acme *a, json_t *req)
{
	uint8_t key[EAB_KEY_MAX];
	long n;
	json_t *eab;

	n = b64url_decode(key, sizeof(key), a->cfg.eab_key,
	    strlen(a->cfg.eab_key));
	if (n <= 0)
		return acme_fail(a, "newAccount: the EAB key is not base64url");
	eab = jws_eab(a->account_key, a->cfg.eab_kid, key, (size_t)n,
	    a->dir.new_account);
	OPENSSL_cleanse(key, sizeof(key));
	if (eab == NULL ||
	    json_object_set_new(req, "externalAccountBinding", eab) == -1)
		return acme_fail(a, "newAccount: cannot sign the EAB");
	return 0;
}

static char *
account_request(struct acme *a)
{
	json_t *req = json_pack("{s:b}", "termsOfServiceAgreed", 1);
	char mailto[320], *s = NULL;

	if (req == NULL)
		return NULL;
	if (a->cfg.email != NULL) {
		snprintf(mailto, sizeof(mailto), "mailto:%s", a->cfg.email);
		json_object_set_new(req, "contact", json_pack("[s]", mailto));
	}
	if (a->cfg.eab_kid == NULL && a->dir.eab_required)
		acme_fail(a, "newAccount: the CA requires External Account "
		    "Binding (-acme-eab-kid, -acme-eab-key)");
	else if (a->cfg.eab_kid == NULL || add_eab(a, req) == 0)
		s = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	return s;
}

int
account_register(struct acme *a)
{
	struct acme_resp r;
	struct acme_account acct;
	char why[ACME_ERR_LEN], *payload;
	int rc;

	if ((payload = account_request(a)) == NULL)
		return a->err[0] != '\0' ? -1 :
		    acme_fail(a, "newAccount: out of memory");
	a->kid[0] = '\0';		/* newAccount is signed with the jwk */
	rc = net_post(a, "newAccount", a->dir.new_account, payload, 0, &r);
	free(payload);
	if (rc == -1)
		return -1;
	if (r.location[0] == '\0')
		rc = acme_fail(a, "newAccount: no account URL in Location");
	else if (acme_parse_account(r.body, r.len, &acct, why, sizeof(why)) == -1)
		rc = acme_fail(a, "newAccount: %s", why);
	else if (acct.status != ACME_ST_VALID)
		rc = acme_fail(a, "newAccount: account is %s",
		    acme_status_name(acct.status));
	if (rc == 0) {
		memcpy(a->kid, r.location, sizeof(a->kid));
		a->stats.account_created = r.status == 201;
		_Static_assert(sizeof(a->stats.account_url) == sizeof(a->kid),
		    "account_url holds a URL");
		memcpy(a->stats.account_url, a->kid, sizeof(a->kid));
		log_info("acme: %s account %s", r.status == 201 ? "created" :
		    "using", a->kid);
	}
	net_resp_free(&r);
	return rc;
}
