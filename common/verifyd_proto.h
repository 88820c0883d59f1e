/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The verifier's protocol with workers: fixed-size messages on one
 * SOCK_SEQPACKET socket per worker. A worker asks whether a client may use
 * the relay (its node key and source address, nothing else) and learns a
 * verdict with its reason, nothing else:
 *
 *  VERIFYD_LOGIN    a login waiting after ClientInfo (before ServerInfo);
 *  VERIFYD_RECHECK  a logged-in client, at -verify-interval or after SIGHUP.
 *
 * The verifier's side is master/verifier.c, the worker's worker/verify.c.
 * The verifier checks every request it reads (verifyd_req_check): a
 * malformed one is the worker's failure, never trusted.
 */
#ifndef DERPD_VERIFYD_PROTO_H
#define DERPD_VERIFYD_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "key.h"

enum verifyd_op {
	VERIFYD_LOGIN = 1,
	VERIFYD_RECHECK,
};

/* Why: the verdict is VR_ADMITTED, a refusal, or a failure to decide. */
enum verifyd_reason {
	VR_ADMITTED = 0,
	VR_NOT_ALLOWED,		/* refusal: not in -allow-keys */
	VR_NOT_IN_TAILNET,	/* refusal: tailscaled does not know the key (404) */
	VR_ADMISSION_DENIED,	/* refusal: the admission controller said Allow false */
	VR_TAILSCALED_ERROR,	/* failure: tailscaled unreachable or any other answer */
	VR_ADMISSION_ERROR,	/* failure: not 200, a bad body, or unreachable (fail closed) */
	VR_BUSY,		/* failure: the verifier's queue is full */
	VR_EXPIRED,		/* failure: the deadline passed before a lookup started */
	VR_NREASONS,
};

struct verifyd_req {
	uint32_t	op;		/* enum verifyd_op */
	uint32_t	slot;		/* echoed, with gen and id */
	uint32_t	gen;
	uint32_t	id;
	int64_t		deadline_ms;	/* CLOCK_MONOTONIC: no lookup starts after it */
	uint8_t		key[KEY_LEN];	/* the client's node public key */
	uint8_t		ip[16];		/* its address; IPv4 as ::ffff:a.b.c.d */
};

struct verifyd_resp {
	uint32_t	op;		/* echoed */
	uint32_t	slot;
	uint32_t	gen;
	uint32_t	id;
	uint32_t	reason;		/* enum verifyd_reason */
};

/*
 * Checks len bytes a worker sent and copies them into *req: 0, or -1 with
 * *why set (wrong size, unknown operation, an all-zero key).
 */
int	verifyd_req_check(const void *msg, size_t len, struct verifyd_req *req,
	    const char **why);
/* A refusal (the client is not admitted, whatever else happens)? */
int	verifyd_refused(uint32_t reason);
/* The reason as a metric label ("not_allowed", ...); "invalid" if unknown. */
const char *verifyd_reason_name(uint32_t reason);

#endif
