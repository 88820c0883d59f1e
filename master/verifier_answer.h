/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the verifier's lookups say, as derper reads them (pure functions,
 * fuzzed by tests/fuzz/fuzz_verifier_answer.c):
 *
 *  tailscaled  GET /localapi/v0/whois?addr=nodekey:<hex>: 200 with a JSON
 *              object admits, 404 refuses, anything else is an error;
 *  admission   POST {"NodePublic":"nodekey:<hex>","Source":"<ip>"}: 200
 *              whose first JSON value, within 4 KiB, is an object with
 *              "Allow": true (any case, as Go matches) admits; Allow false,
 *              absent or null refuses; anything else is an error.
 */
#ifndef DERPD_VERIFIER_ANSWER_H
#define DERPD_VERIFIER_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "verifyd_proto.h"

#define VERIFIER_ADMIT_BODY_MAX	4096		/* derper: io.LimitReader(4 << 10) */
#define VERIFIER_WHOIS_BODY_MAX	(256 * 1024)
#define VERIFIER_ADMIT_REQ_MAX	160

/*
 * The reason a whois answer gives; for an error *why says what was wrong.
 * body may be NULL (no body).
 */
enum verifyd_reason verifier_whois_answer(long status, const char *body,
	    size_t len, const char **why);
/* The reason an admission answer gives (len may exceed the 4 KiB read). */
enum verifyd_reason verifier_admit_answer(long status, const char *body,
	    size_t len, const char **why);
/* The admission request's body into out[VERIFIER_ADMIT_REQ_MAX]; its length. */
size_t	verifier_admit_request(char *out, const uint8_t key[KEY_LEN],
	    const uint8_t ip[16]);
/* An address as Go prints it (IPv4-mapped as dotted quad) into out[46]. */
void	verifier_format_ip(char *out, const uint8_t ip[16]);

#endif
