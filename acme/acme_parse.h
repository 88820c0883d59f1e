/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Validating parsers for the CA's JSON: the directory, account, order,
 * authorization and challenge objects and problem documents (RFC 8555
 * section 7.1, RFC 7807). Each takes the raw response body and either fills
 * a fixed-size struct with checked values or fails with a reason; URLs must
 * be https, tokens base64url, identifiers well-formed. Nothing here does I/O,
 * so tests/fuzz/fuzz_acme.c drives every function.
 */
#ifndef DERPD_ACME_PARSE_H
#define DERPD_ACME_PARSE_H

#include <stddef.h>

#define ACME_URL_MAX		1024	/* with the NUL */
#define ACME_TOKEN_MAX		256
#define ACME_IDENT_MAX		256
#define ACME_MAX_PROFILES	16
#define ACME_PROFILE_MAX	64
#define ACME_MAX_AUTHZ		16	/* == ACME_MAX_NAMES */
#define ACME_MAX_CHALLENGES	4	/* kept: http-01 and tls-alpn-01 only */
#define ACME_PROBLEM_TYPE_MAX	128
#define ACME_PROBLEM_DETAIL_MAX	256
#define ACME_PARSE_MAX_BODY	(256 * 1024)

enum acme_status {
	ACME_ST_PENDING, ACME_ST_READY, ACME_ST_PROCESSING, ACME_ST_VALID,
	ACME_ST_INVALID, ACME_ST_DEACTIVATED, ACME_ST_EXPIRED, ACME_ST_REVOKED
};

enum acme_ident_type { ACME_ID_DNS, ACME_ID_IP };

enum acme_chall_type { ACME_CH_HTTP01, ACME_CH_TLSALPN01 };

/* A problem document; strings are printable ASCII (others become '?'). */
struct acme_problem {
	char	type[ACME_PROBLEM_TYPE_MAX];
	char	detail[ACME_PROBLEM_DETAIL_MAX];
	int	status;		/* 0 if absent */
};

struct acme_directory {
	char	new_nonce[ACME_URL_MAX];
	char	new_account[ACME_URL_MAX];
	char	new_order[ACME_URL_MAX];
	int	eab_required;
	size_t	nprofiles;
	char	profiles[ACME_MAX_PROFILES][ACME_PROFILE_MAX];
};

struct acme_account {
	enum acme_status status;
};

struct acme_identifier {
	enum acme_ident_type type;
	char	value[ACME_IDENT_MAX];
};

struct acme_order {
	enum acme_status status;
	size_t	nauthz;
	char	authz[ACME_MAX_AUTHZ][ACME_URL_MAX];
	char	finalize[ACME_URL_MAX];
	char	certificate[ACME_URL_MAX];	/* empty until valid */
	int	has_error;
	struct acme_problem error;
};

struct acme_challenge {
	enum acme_chall_type type;
	enum acme_status status;
	char	url[ACME_URL_MAX];
	char	token[ACME_TOKEN_MAX];
	int	has_error;
	struct acme_problem error;
};

struct acme_authz {
	enum acme_status status;
	struct acme_identifier ident;
	size_t	nchallenges;
	struct acme_challenge challenges[ACME_MAX_CHALLENGES];
};

int	acme_parse_directory(const char *buf, size_t len,
	    struct acme_directory *, char *err, size_t errlen);
int	acme_parse_account(const char *buf, size_t len,
	    struct acme_account *, char *err, size_t errlen);
int	acme_parse_order(const char *buf, size_t len, struct acme_order *,
	    char *err, size_t errlen);
int	acme_parse_authz(const char *buf, size_t len, struct acme_authz *,
	    char *err, size_t errlen);
int	acme_parse_challenge(const char *buf, size_t len,
	    struct acme_challenge *, char *err, size_t errlen);
/* Never fails: a body that is no problem document yields type "about:blank". */
void	acme_parse_problem(const char *buf, size_t len, struct acme_problem *);

/* Helpers the engine shares with the parsers. */
int	acme_url_ok(const char *s);
int	acme_ident_ok(enum acme_ident_type, const char *value);
/*
 * A configured name as an identifier: an IP literal becomes type ip in its
 * canonical text form (RFC 5952 for IPv6), anything else a lowercased DNS
 * name. 0, or -1 if it is neither.
 */
int	acme_ident_parse(const char *name, struct acme_identifier *);
const char *acme_status_name(enum acme_status);
const char *acme_chall_name(enum acme_chall_type);

#endif
