/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The verifier (derpd: verify): decides who may use the relay, for the
 * workers, which may not connect anywhere themselves. It holds no secret:
 * the -allow-keys list, a cache of answers, and libcurl lookups of a local
 * tailscaled (HTTP on its unix socket) and of an admission controller
 * (-verify-client-url). Everything it reads from disk (the list, the CA
 * bundle) and the controller's address are loaded before its sandbox.
 *
 *  verifier.c         set-up, sandbox, the event loop, the master's socket
 *  verifier_serve.c   workers' requests: the list, the cache, queues, answers
 *  verifier_http.c    the lookups (libcurl's multi interface on our epoll)
 *  verifier_cache.c   answers by (key, address), bounded, with short lives
 *  verifier_answer.c  what tailscaled and the controller said
 *
 * Its protocol with workers is common/verifyd_proto.h; the master's side
 * is verifyd.c, the workers' worker/verify.c.
 *
 * Bounds, so that no storm of logins or slow service piles up work: each
 * worker may have VERIFIER_INFLIGHT requests read and unanswered (then its
 * socket waits), VERIFIER_LOGIN_QUEUE logins and VERIFIER_RECHECK_QUEUE
 * re-checks waiting for a lookup (more are answered "busy"), and
 * VERIFIER_ACTIVE lookups run at once, taken from the workers in turn,
 * logins first.
 */
#ifndef DERPD_VERIFIER_H
#define DERPD_VERIFIER_H

#include <stdint.h>

#include "allowlist.h"
#include "shm.h"
#include "verifyd_proto.h"

#define VERIFIER_INFLIGHT	4096
#define VERIFIER_LOGIN_QUEUE	1024
#define VERIFIER_RECHECK_QUEUE	128
#define VERIFIER_ACTIVE		32
#define VERIFIER_CACHE		16384
#define VERIFIER_INDEX		4096	/* buckets of the jobs by (key, address) */
#define VERIFIER_TIMEOUT_MS	5000	/* each HTTP lookup, as derper's controller call */

/* Epoll tags: kind in the high half, worker or descriptor in the low. */
#define VTAG_CTL	(1ULL << 32)
#define VTAG_SIGNAL	(2ULL << 32)
#define VTAG_WORKER	(3ULL << 32)
#define VTAG_CURL	(4ULL << 32)
#define VTAG_KIND(t)	((t) & ~0xffffffffULL)

/* What the master and the verifier say on their socket. */
struct verifyd_hello {			/* verifier -> master, once serving */
	uint32_t	ready;
};

struct verifyd_attach {			/* master -> verifier, with a descriptor */
	uint32_t	worker;
};

struct vxfer;

/* A request waiting for a lookup's verdict. */
struct vwaiter {
	uint32_t	 worker;
	uint32_t	 wepoch;	/* the worker socket it came on */
	int64_t		 deadline_ms;
	struct verifyd_resp resp;	/* op, slot, gen, id filled in */
	struct vwaiter	*next;
};

enum vjob_stage { VJ_QUEUED, VJ_TAILSCALED, VJ_ADMISSION };

/* One lookup of (key, address), shared by every request for it. */
struct vjob {
	uint8_t		 key[KEY_LEN];
	uint8_t		 ip[16];
	enum vjob_stage	 stage;
	uint32_t	 owner;		/* the worker whose queue holds it */
	int		 login;		/* in the login queue (else re-checks) */
	struct vwaiter	*waiters;
	struct vjob	*qprev, *qnext;	/* its queue, while VJ_QUEUED */
	struct vjob	*hnext;		/* the index by (key, address) */
	struct vxfer	*xfer;		/* verifier_http.c, while a stage runs */
	int		 failed_open;	/* admitted only because -verify-client-url-fail-open */
};

struct vqueue {
	struct vjob	*head, *tail;
	uint32_t	 n;
};

/* Answers for one worker, waiting for room in its socket. */
struct vout {
	struct verifyd_resp *ring;	/* VERIFIER_INFLIGHT of them */
	uint32_t	 head, n;
};

struct vcache_entry {
	uint8_t		 key[KEY_LEN];
	uint8_t		 ip[16];
	uint32_t	 reason;
	uint32_t	 next;		/* chain: index + 1, 0 ends it */
	int64_t		 expires_ms;
	int		 used;
};

struct verifier_cache {
	struct vcache_entry *e;		/* cap entries, reused oldest first */
	uint32_t	*buckets;	/* chain heads: index + 1 */
	uint32_t	 cap, nbuckets, next;
	uint8_t		 hash_key[16];
};

struct vhttp {
	void		*multi;		/* CURLM */
	int		 epfd;
	int64_t		 timer_ms;	/* when curl wants to be called; -1 never */
	int		 tailscaled;	/* -verify-clients */
	const char	*socket_path;
	const char	*url;		/* -verify-client-url, or NULL */
	int		 fail_open;
	int		 resolved;	/* the controller's name has addresses */
	void		*resolve;	/* struct curl_slist: the pinned addresses */
	char		*ca;		/* the CA bundle (PEM), for https */
	size_t		 ca_len;
	uint32_t	 running;
};

struct verifier {
	int		 ctl;		/* to the master */
	int		 epfd;
	int		 sigfd;
	int		 worker_fd[SHM_MAX_WORKERS];
	uint32_t	 wepoch[SHM_MAX_WORKERS];	/* bumped when its socket changes */
	uint32_t	 inflight[SHM_MAX_WORKERS];	/* read, not yet answered */
	uint32_t	 events[SHM_MAX_WORKERS];	/* registered with epoll */
	struct vout	 out[SHM_MAX_WORKERS];
	uint64_t	 bad[SHM_MAX_WORKERS];		/* malformed requests seen */
	struct vqueue	 logins[SHM_MAX_WORKERS];
	struct vqueue	 rechecks[SHM_MAX_WORKERS];
	uint32_t	 turn;		/* round robin over the workers' queues */
	uint32_t	 active;	/* lookups running */
	struct vjob	*index[VERIFIER_INDEX];
	uint8_t		 index_key[16];
	int		 have_allow;	/* -allow-keys */
	struct allowlist allow;
	int		 lookups;	/* -verify-clients or -verify-client-url */
	struct verifier_cache cache;
	struct vhttp	 http;
	int64_t		 log_window_ms;	/* rate limit of per-client log lines */
	uint32_t	 log_lines;
	uint64_t	 log_dropped;
};

/* The role's entry point (after exec): never returns. */
void	verifier_main(void) __attribute__((noreturn));
/* CLOCK_MONOTONIC in ms, as workers write deadlines. */
int64_t	verifier_now_ms(void);
/* A per-client log line (warn: a warning), at most a few dozen per ten seconds. */
void	verifier_log(struct verifier *v, int warn, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* verifier_serve.c */
void	vserve_attach(struct verifier *v, uint32_t w, int fd);
/* Worker w's socket is readable or writable (events from epoll). */
void	vserve_worker(struct verifier *v, uint32_t w, uint32_t events);
/*
 * A stage of j's lookup ended with reason: the next stage starts, or the
 * verdict is cached and answered and more lookups start.
 */
void	vserve_stage_done(struct verifier *v, struct vjob *j, uint32_t reason);

/* verifier_http.c: everything before the sandbox happens in vhttp_init. */
void	vhttp_init(struct vhttp *h, int epfd);
/*
 * Starts the stage j->stage of j's lookup: 0, or -1 when it cannot start,
 * with *reason the verdict to give instead.
 */
int	vhttp_start(struct verifier *v, struct vjob *j, uint32_t *reason);
/* A curl socket is ready, or (fd -1) its timer is due. */
void	vhttp_drive(struct verifier *v, int fd, uint32_t events);
/* ms until curl's timer, or -1. */
int	vhttp_timeout(const struct vhttp *h);

/* verifier_cache.c */
void	vcache_init(struct verifier_cache *c, uint32_t cap);
/* 1 and *reason for a live answer, else 0. */
int	vcache_get(struct verifier_cache *c, const uint8_t key[KEY_LEN],
	    const uint8_t ip[16], int64_t now_ms, uint32_t *reason);
void	vcache_put(struct verifier_cache *c, const uint8_t key[KEY_LEN],
	    const uint8_t ip[16], uint32_t reason, int64_t expires_ms);

#endif
