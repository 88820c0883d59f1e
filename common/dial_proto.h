/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The mesh dialer's protocol with workers: fixed-size messages on one
 * SOCK_SEQPACKET socket per worker. A worker asks for a connection to one
 * of the -mesh-with peers its links are (peer i belongs to worker
 * i % workers), by number: it never names a host. The dialer resolves that
 * peer's dial host, connects, and answers with the connected, non-blocking
 * TCP socket attached (SCM_RIGHTS), or an errno without one. The master
 * hands the dialer its end of each worker's socket over its control socket
 * (struct dial_attach with the descriptor attached). The dialer side is
 * master/dialer.c, the master's master/dialctl.c, the worker's
 * worker/dial_client.c; each message is checked here.
 */
#ifndef DERPD_DIAL_PROTO_H
#define DERPD_DIAL_PROTO_H

#include <stddef.h>
#include <stdint.h>

struct dial_req {
	uint32_t	peer;		/* index into the -mesh-with list */
	uint32_t	id;		/* echoed: which attempt */
};

struct dial_resp {
	uint32_t	peer;
	uint32_t	id;
	int32_t		err;		/* 0: a socket is attached; else an errno */
	uint32_t	pad;
};

struct dial_attach {
	uint32_t	worker;		/* whose socket is attached */
	uint32_t	pad;
};

/* The worker whose links include peer's. */
static inline uint32_t
dial_owner(uint32_t peer, uint32_t nworkers)
{
	return peer % nworkers;
}

/*
 * The dialer: a request of len bytes from worker w, for a peer of w's: 0
 * and *out, or -1 to refuse it.
 */
int	dial_req_parse(const void *msg, size_t len, uint32_t w,
	    uint32_t nworkers, uint32_t npeers, struct dial_req *out);
/*
 * A worker: an answer of len bytes that came with nfds descriptors, for a
 * peer of worker w's: 0 and *out, or -1 (the caller closes what came).
 */
int	dial_resp_parse(const void *msg, size_t len, int nfds, uint32_t w,
	    uint32_t nworkers, uint32_t npeers, struct dial_resp *out);
/* The dialer: an attach message for one of nworkers workers: 0, or -1. */
int	dial_attach_parse(const void *msg, size_t len, int nfds,
	    uint32_t nworkers, struct dial_attach *out);

#endif
