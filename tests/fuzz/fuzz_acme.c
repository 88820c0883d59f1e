/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for acme/parse.c: every JSON body the ACME CA (or
 * anyone between, were TLS to fail) sends the ACME child. The first byte
 * picks the parser: directory, account, order, authorization, challenge or
 * problem document; the rest is the body.
 *
 * Invariants: whatever is accepted is what the engine relies on: https URLs
 * of bounded length, base64url tokens, well-formed identifiers, counts
 * within their arrays, printable problem text; and a refusal says why.
 */
#include <string.h>

#include "acme_parse.h"
#include "b64url.h"
#include "fuzz.h"

static void
check_problem(const struct acme_problem *p)
{
	size_t i;

	CHECK(memchr(p->type, '\0', sizeof(p->type)) != NULL);
	CHECK(memchr(p->detail, '\0', sizeof(p->detail)) != NULL);
	for (i = 0; p->detail[i] != '\0'; i++)
		CHECK(p->detail[i] >= 0x20 && p->detail[i] < 0x7f);
	for (i = 0; p->type[i] != '\0'; i++)
		CHECK(p->type[i] >= 0x20 && p->type[i] < 0x7f);
	CHECK(p->status == 0 || (p->status >= 100 && p->status <= 599));
}

static void
check_challenge(const struct acme_challenge *c)
{
	CHECK(acme_url_ok(c->url));
	CHECK(c->type == ACME_CH_HTTP01 || c->type == ACME_CH_TLSALPN01);
	CHECK(strlen(c->token) >= 16 && b64url_is_token(c->token, strlen(c->token)));
	CHECK(c->status <= ACME_ST_REVOKED);
	if (c->has_error)
		check_problem(&c->error);
}

static void
check_directory(const struct acme_directory *d)
{
	size_t i;

	CHECK(acme_url_ok(d->new_nonce));
	CHECK(acme_url_ok(d->new_account));
	CHECK(acme_url_ok(d->new_order));
	CHECK(d->nprofiles <= ACME_MAX_PROFILES);
	for (i = 0; i < d->nprofiles; i++)
		CHECK(strlen(d->profiles[i]) > 0 &&
		    strlen(d->profiles[i]) < ACME_PROFILE_MAX);
}

static void
check_order(const struct acme_order *o)
{
	size_t i;

	CHECK(o->nauthz >= 1 && o->nauthz <= ACME_MAX_AUTHZ);
	for (i = 0; i < o->nauthz; i++)
		CHECK(acme_url_ok(o->authz[i]));
	CHECK(acme_url_ok(o->finalize));
	CHECK(o->certificate[0] == '\0' || acme_url_ok(o->certificate));
	CHECK(o->status != ACME_ST_VALID || o->certificate[0] != '\0');
	if (o->has_error)
		check_problem(&o->error);
}

static void
check_authz(const struct acme_authz *a)
{
	size_t i;

	CHECK(acme_ident_ok(a->ident.type, a->ident.value));
	CHECK(a->nchallenges <= ACME_MAX_CHALLENGES);
	for (i = 0; i < a->nchallenges; i++)
		check_challenge(&a->challenges[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct acme_directory d;
	static struct acme_order o;
	static struct acme_authz a;
	struct acme_account acct;
	struct acme_challenge c;
	struct acme_problem p;
	const char *body = (const char *)data + 1;
	char err[256];
	size_t len;
	int r = 0;

	if (size == 0)
		return 0;
	len = size - 1;
	err[0] = '\0';
	switch (data[0] % 6) {
	case 0:
		if ((r = acme_parse_directory(body, len, &d, err, sizeof(err))) == 0)
			check_directory(&d);
		break;
	case 1:
		if ((r = acme_parse_account(body, len, &acct, err, sizeof(err))) == 0)
			CHECK(acct.status <= ACME_ST_REVOKED);
		break;
	case 2:
		if ((r = acme_parse_order(body, len, &o, err, sizeof(err))) == 0)
			check_order(&o);
		break;
	case 3:
		if ((r = acme_parse_authz(body, len, &a, err, sizeof(err))) == 0)
			check_authz(&a);
		break;
	case 4:
		if ((r = acme_parse_challenge(body, len, &c, err, sizeof(err))) == 0)
			check_challenge(&c);
		break;
	default:
		acme_parse_problem(body, len, &p);
		check_problem(&p);
		break;
	}
	CHECK(r == 0 || (r == -1 && err[0] != '\0'));
	return 0;
}
