/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The CA's JSON, checked field by field before the engine acts on it. A body
 * that is not what RFC 8555 says (wrong type, missing field, an http:// or
 * overlong URL, a token outside base64url, an identifier we would not have
 * ordered) is an error with the field's name, never a partial struct.
 */
#include "acme_parse.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "b64url.h"

static const char *status_names[] = {
	"pending", "ready", "processing", "valid", "invalid", "deactivated",
	"expired", "revoked"
};

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static json_t *
load_object(const char *buf, size_t len, const char *what, char *err,
    size_t errlen)
{
	json_error_t jerr;
	json_t *root;

	if (len > ACME_PARSE_MAX_BODY) {
		fail(err, errlen, "%s: %zu bytes is too large", what, len);
		return NULL;
	}
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		fail(err, errlen, "%s: not JSON (%s at offset %d)", what,
		    jerr.text, jerr.position);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		fail(err, errlen, "%s: not a JSON object", what);
		return NULL;
	}
	return root;
}

/* Copies printable ASCII, replacing anything else (log safety). */
static void
copy_printable(char *out, size_t cap, const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < cap; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[i] = '\0';
}

int
acme_url_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n >= ACME_URL_MAX || strncmp(s, "https://", 8) != 0 || n == 8 ||
	    s[8] == '/')
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return 0;
	return 1;
}

static int
dns_name_ok(const char *s)
{
	size_t i, n = strlen(s), label = 0;

	if (n == 0 || n > 253)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0;
}

int
acme_ident_ok(enum acme_ident_type type, const char *value)
{
	unsigned char addr[16];

	if (strlen(value) >= ACME_IDENT_MAX)
		return 0;
	if (type == ACME_ID_DNS)
		return dns_name_ok(value);
	return inet_pton(AF_INET, value, addr) == 1 ||
	    inet_pton(AF_INET6, value, addr) == 1;
}

int
acme_ident_parse(const char *name, struct acme_identifier *id)
{
	unsigned char addr[16];
	size_t i;
	int af = strchr(name, ':') != NULL ? AF_INET6 : AF_INET;

	if (inet_pton(af, name, addr) == 1) {
		id->type = ACME_ID_IP;
		return inet_ntop(af, addr, id->value, sizeof(id->value)) ? 0 : -1;
	}
	if (!dns_name_ok(name))
		return -1;
	id->type = ACME_ID_DNS;
	for (i = 0; name[i] != '\0'; i++)
		id->value[i] = (name[i] >= 'A' && name[i] <= 'Z') ?
		    name[i] - 'A' + 'a' : name[i];
	id->value[i] = '\0';
	return 0;
}

const char *
acme_status_name(enum acme_status st)
{
	return status_names[st];
}

const char *
acme_chall_name(enum acme_chall_type t)
{
	return t == ACME_CH_HTTP01 ? "http-01" : "tls-alpn-01";
}

/* A string member; absent is an error only if required. -1, 0 absent, 1. */
static int
get_string(json_t *obj, const char *key, int required, const char **out,
    const char *what, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL && !required)
		return 0;
	if (!json_is_string(v))
		return fail(err, errlen, "%s: \"%s\" %s", what, key,
		    v == NULL ? "is missing" : "is not a string");
	*out = json_string_value(v);
	return 1;
}

static int
get_url(json_t *obj, const char *key, int required, char out[ACME_URL_MAX],
    const char *what, char *err, size_t errlen)
{
	const char *s;
	int r;

	out[0] = '\0';
	if ((r = get_string(obj, key, required, &s, what, err, errlen)) <= 0)
		return r;
	if (!acme_url_ok(s))
		return fail(err, errlen, "%s: \"%s\" is not an https URL", what,
		    key);
	memcpy(out, s, strlen(s) + 1);
	return 1;
}

static int
get_status(json_t *obj, enum acme_status *st, const char *what, char *err,
    size_t errlen)
{
	const char *s;
	size_t i;

	if (get_string(obj, "status", 1, &s, what, err, errlen) == -1)
		return -1;
	for (i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
		if (strcmp(s, status_names[i]) == 0) {
			*st = (enum acme_status)i;
			return 0;
		}
	return fail(err, errlen, "%s: unknown status", what);
}

static void
problem_from(json_t *obj, struct acme_problem *p)
{
	json_t *type = json_object_get(obj, "type");
	json_t *detail = json_object_get(obj, "detail");
	json_t *status = json_object_get(obj, "status");

	copy_printable(p->type, sizeof(p->type), json_is_string(type) ?
	    json_string_value(type) : "about:blank");
	copy_printable(p->detail, sizeof(p->detail), json_is_string(detail) ?
	    json_string_value(detail) : "");
	p->status = 0;
	if (json_is_integer(status) && json_integer_value(status) >= 100 &&
	    json_integer_value(status) <= 599)
		p->status = (int)json_integer_value(status);
}

/* An optional "error" member: must be an object if present. */
static int
get_problem(json_t *obj, int *has, struct acme_problem *p, const char *what,
    char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, "error");

	*has = 0;
	if (v == NULL)
		return 0;
	if (!json_is_object(v))
		return fail(err, errlen, "%s: \"error\" is not an object", what);
	problem_from(v, p);
	*has = 1;
	return 0;
}

static int
get_identifier(json_t *v, struct acme_identifier *id, const char *what,
    char *err, size_t errlen)
{
	const char *type, *value;

	if (!json_is_object(v))
		return fail(err, errlen, "%s: identifier is not an object", what);
	if (get_string(v, "type", 1, &type, what, err, errlen) == -1 ||
	    get_string(v, "value", 1, &value, what, err, errlen) == -1)
		return -1;
	if (strcmp(type, "dns") == 0)
		id->type = ACME_ID_DNS;
	else if (strcmp(type, "ip") == 0)
		id->type = ACME_ID_IP;
	else
		return fail(err, errlen, "%s: identifier type is not dns or ip",
		    what);
	if (!acme_ident_ok(id->type, value))
		return fail(err, errlen, "%s: malformed %s identifier", what,
		    type);
	memcpy(id->value, value, strlen(value) + 1);
	return 0;
}

/* ---- directory ---- */

static int
dir_meta(json_t *meta, struct acme_directory *d, char *err, size_t errlen)
{
	json_t *eab, *profiles, *v;
	const char *name;

	if (meta == NULL)
		return 0;
	if (!json_is_object(meta))
		return fail(err, errlen, "directory: \"meta\" is not an object");
	eab = json_object_get(meta, "externalAccountRequired");
	if (eab != NULL && !json_is_boolean(eab))
		return fail(err, errlen, "directory: \"externalAccountRequired\" "
		    "is not a boolean");
	d->eab_required = json_is_true(eab);
	if ((profiles = json_object_get(meta, "profiles")) == NULL)
		return 0;
	if (!json_is_object(profiles))
		return fail(err, errlen, "directory: \"profiles\" is not an object");
	json_object_foreach(profiles, name, v) {
		if (strlen(name) == 0 || strlen(name) >= ACME_PROFILE_MAX)
			return fail(err, errlen, "directory: bad profile name");
		if (d->nprofiles == ACME_MAX_PROFILES)
			break;	/* more than we will ever ask for */
		copy_printable(d->profiles[d->nprofiles++], ACME_PROFILE_MAX,
		    name);
	}
	return 0;
}

int
acme_parse_directory(const char *buf, size_t len, struct acme_directory *d,
    char *err, size_t errlen)
{
	const char *w = "directory";
	json_t *root;
	int r = -1;

	memset(d, 0, sizeof(*d));
	if ((root = load_object(buf, len, w, err, errlen)) == NULL)
		return -1;
	if (get_url(root, "newNonce", 1, d->new_nonce, w, err, errlen) == 1 &&
	    get_url(root, "newAccount", 1, d->new_account, w, err, errlen) == 1 &&
	    get_url(root, "newOrder", 1, d->new_order, w, err, errlen) == 1)
		r = dir_meta(json_object_get(root, "meta"), d, err, errlen);
	json_decref(root);
	return r;
}

/* ---- account ---- */

int
acme_parse_account(const char *buf, size_t len, struct acme_account *a,
    char *err, size_t errlen)
{
	json_t *root;
	int r;

	memset(a, 0, sizeof(*a));
	if ((root = load_object(buf, len, "account", err, errlen)) == NULL)
		return -1;
	r = get_status(root, &a->status, "account", err, errlen);
	json_decref(root);
	return r;
}

/* ---- order ---- */

static int
order_identifiers(json_t *arr, char *err, size_t errlen)
{
	struct acme_identifier id;
	json_t *v;
	size_t i;

	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > ACME_MAX_AUTHZ)
		return fail(err, errlen, "order: \"identifiers\" is not an array "
		    "of 1 to %d identifiers", ACME_MAX_AUTHZ);
	json_array_foreach(arr, i, v)
		if (get_identifier(v, &id, "order", err, errlen) == -1)
			return -1;
	return 0;
}

static int
order_authz(json_t *arr, struct acme_order *o, char *err, size_t errlen)
{
	const char *s;
	json_t *v;
	size_t i;

	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > ACME_MAX_AUTHZ)
		return fail(err, errlen, "order: \"authorizations\" is not an "
		    "array of 1 to %d URLs", ACME_MAX_AUTHZ);
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v) || !acme_url_ok(s = json_string_value(v)))
			return fail(err, errlen, "order: authorization %zu is "
			    "not an https URL", i);
		memcpy(o->authz[i], s, strlen(s) + 1);
	}
	o->nauthz = json_array_size(arr);
	return 0;
}

static int
order_fields(json_t *root, struct acme_order *o, char *err, size_t errlen)
{
	const char *w = "order";

	if (get_status(root, &o->status, w, err, errlen) == -1 ||
	    order_identifiers(json_object_get(root, "identifiers"), err,
	    errlen) == -1 ||
	    order_authz(json_object_get(root, "authorizations"), o, err,
	    errlen) == -1 ||
	    get_url(root, "finalize", 1, o->finalize, w, err, errlen) == -1 ||
	    get_url(root, "certificate", 0, o->certificate, w, err, errlen) == -1 ||
	    get_problem(root, &o->has_error, &o->error, w, err, errlen) == -1)
		return -1;
	if (o->status == ACME_ST_VALID && o->certificate[0] == '\0')
		return fail(err, errlen, "order: valid but no \"certificate\"");
	return 0;
}

int
acme_parse_order(const char *buf, size_t len, struct acme_order *o,
    char *err, size_t errlen)
{
	json_t *root;
	int r;

	memset(o, 0, sizeof(*o));
	if ((root = load_object(buf, len, "order", err, errlen)) == NULL)
		return -1;
	r = order_fields(root, o, err, errlen);
	json_decref(root);
	return r;
}

/* ---- challenges and authorizations ---- */

/* 1: a challenge of a type we answer, filled in; 0: another type; -1. */
static int
challenge_from(json_t *v, struct acme_challenge *c, char *err, size_t errlen)
{
	const char *w = "challenge", *type, *token;

	memset(c, 0, sizeof(*c));
	if (!json_is_object(v))
		return fail(err, errlen, "challenge: not an object");
	if (get_string(v, "type", 1, &type, w, err, errlen) == -1 ||
	    get_url(v, "url", 1, c->url, w, err, errlen) == -1 ||
	    get_status(v, &c->status, w, err, errlen) == -1 ||
	    get_problem(v, &c->has_error, &c->error, w, err, errlen) == -1)
		return -1;
	if (strcmp(type, "http-01") == 0)
		c->type = ACME_CH_HTTP01;
	else if (strcmp(type, "tls-alpn-01") == 0)
		c->type = ACME_CH_TLSALPN01;
	else
		return 0;
	if (get_string(v, "token", 1, &token, w, err, errlen) == -1)
		return -1;
	if (strlen(token) < 16 || strlen(token) >= ACME_TOKEN_MAX ||
	    !b64url_is_token(token, strlen(token)))
		return fail(err, errlen, "challenge: \"token\" is not a "
		    "base64url token");
	memcpy(c->token, token, strlen(token) + 1);
	return 1;
}

int
acme_parse_challenge(const char *buf, size_t len, struct acme_challenge *c,
    char *err, size_t errlen)
{
	json_t *root;
	int r;

	if ((root = load_object(buf, len, "challenge", err, errlen)) == NULL)
		return -1;
	r = challenge_from(root, c, err, errlen);
	json_decref(root);
	if (r == 0)
		return fail(err, errlen, "challenge: not http-01 or tls-alpn-01");
	return r == 1 ? 0 : -1;
}

static int
authz_fields(json_t *root, struct acme_authz *a, char *err, size_t errlen)
{
	json_t *arr = json_object_get(root, "challenges"), *v;
	size_t i;
	int r;

	if (get_status(root, &a->status, "authorization", err, errlen) == -1 ||
	    get_identifier(json_object_get(root, "identifier"), &a->ident,
	    "authorization", err, errlen) == -1)
		return -1;
	if (json_object_get(root, "wildcard") != NULL)
		return fail(err, errlen, "authorization: wildcard, never ordered");
	if (!json_is_array(arr) || json_array_size(arr) > 32)
		return fail(err, errlen, "authorization: \"challenges\" is not "
		    "an array of at most 32");
	json_array_foreach(arr, i, v) {
		if (a->nchallenges == ACME_MAX_CHALLENGES)
			return fail(err, errlen, "authorization: too many "
			    "http-01/tls-alpn-01 challenges");
		if ((r = challenge_from(v, &a->challenges[a->nchallenges], err,
		    errlen)) == -1)
			return -1;
		a->nchallenges += r;
	}
	return 0;
}

int
acme_parse_authz(const char *buf, size_t len, struct acme_authz *a,
    char *err, size_t errlen)
{
	json_t *root;
	int r;

	memset(a, 0, sizeof(*a));
	if ((root = load_object(buf, len, "authorization", err, errlen)) == NULL)
		return -1;
	r = authz_fields(root, a, err, errlen);
	json_decref(root);
	return r;
}

/* ---- problem documents ---- */

void
acme_parse_problem(const char *buf, size_t len, struct acme_problem *p)
{
	json_t *root = NULL;

	if (len <= ACME_PARSE_MAX_BODY)
		root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	if (json_is_object(root))
		problem_from(root, p);
	else {
		copy_printable(p->type, sizeof(p->type), "about:blank");
		p->detail[0] = '\0';
		p->status = 0;
	}
	json_decref(root);
}
