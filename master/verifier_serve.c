/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Workers' requests: each checked, then answered at once from -allow-keys
 * or (a login) the cache, or joined to the lookup of the same (key,
 * address) already under way, or queued for a new one. Answers wait, in order, while a
 * worker's socket is full; a worker with VERIFIER_INFLIGHT requests
 * unanswered is not read until some are.
 */
#include "verifier.h"

#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "keyfmt.h"
#include "log.h"
#include "verifier_answer.h"

#define BATCH		64	/* requests per worker per turn */
#define TTL_ADMITTED_MS	30000
#define TTL_REFUSED_MS	10000
#define TTL_FAILED_MS	2000	/* errors, and admissions only by failing open */

static void
update_events(struct verifier *v, uint32_t w)
{
	struct epoll_event ev = { .events = 0 };

	if (v->worker_fd[w] < 0)
		return;
	if (v->inflight[w] < VERIFIER_INFLIGHT)
		ev.events |= EPOLLIN;
	if (v->out[w].n > 0)
		ev.events |= EPOLLOUT;
	if (ev.events == v->events[w])
		return;
	ev.data.u64 = VTAG_WORKER | w;
	if (epoll_ctl(v->epfd, EPOLL_CTL_MOD, v->worker_fd[w], &ev) != 0)
		fatal("epoll_ctl");
	v->events[w] = ev.events;
}

/* The worker is gone (or replaced): what it asked is answered to nobody. */
static void
drop_worker(struct verifier *v, uint32_t w)
{
	if (v->worker_fd[w] >= 0) {
		epoll_ctl(v->epfd, EPOLL_CTL_DEL, v->worker_fd[w], NULL);
		close(v->worker_fd[w]);
	}
	v->worker_fd[w] = -1;
	v->wepoch[w]++;
	v->inflight[w] = 0;
	v->out[w].head = v->out[w].n = 0;
	v->events[w] = 0;
	v->bad[w] = 0;
}

void
vserve_attach(struct verifier *v, uint32_t w, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN };

	drop_worker(v, w);
	if (v->out[w].ring == NULL &&
	    (v->out[w].ring = calloc(VERIFIER_INFLIGHT, sizeof(struct verifyd_resp))) == NULL)
		fatalx("out of memory");
	v->worker_fd[w] = fd;
	ev.data.u64 = VTAG_WORKER | w;
	if (epoll_ctl(v->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
		fatal("epoll_ctl");
	v->events[w] = EPOLLIN;
}

/* Sends what waits for w; 0, or -1 once w is gone. */
static int
flush(struct verifier *v, uint32_t w)
{
	struct vout *o = &v->out[w];
	ssize_t r;

	while (o->n > 0) {
		r = send(v->worker_fd[w], &o->ring[o->head], sizeof(o->ring[0]),
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r < 0 && (errno == EAGAIN || errno == ENOBUFS || errno == EINTR))
			return 0;
		if (r != (ssize_t)sizeof(o->ring[0]))
			return -1;
		o->head = (o->head + 1) % VERIFIER_INFLIGHT;
		o->n--;
		v->inflight[w]--;
	}
	return 0;
}

/* Answers a request of worker w, unless it came on a socket since replaced. */
static void
reply(struct verifier *v, uint32_t w, uint32_t wepoch,
    const struct verifyd_resp *resp, uint32_t reason)
{
	struct vout *o = &v->out[w];

	if (v->worker_fd[w] < 0 || wepoch != v->wepoch[w] || o->n == VERIFIER_INFLIGHT)
		return;
	o->ring[(o->head + o->n) % VERIFIER_INFLIGHT] = *resp;
	o->ring[(o->head + o->n) % VERIFIER_INFLIGHT].reason = reason;
	o->n++;
	if (flush(v, w) != 0)
		drop_worker(v, w);
	else
		update_events(v, w);
}

static uint32_t
index_of(const struct verifier *v, const uint8_t key[KEY_LEN], const uint8_t ip[16])
{
	uint8_t in[KEY_LEN + 16], h[crypto_shorthash_BYTES];
	uint32_t b;

	memcpy(in, key, KEY_LEN);
	memcpy(in + KEY_LEN, ip, 16);
	crypto_shorthash(h, in, sizeof(in), v->index_key);
	memcpy(&b, h, sizeof(b));
	return b % VERIFIER_INDEX;
}

static struct vjob *
index_find(struct verifier *v, const uint8_t key[KEY_LEN], const uint8_t ip[16])
{
	struct vjob *j;

	for (j = v->index[index_of(v, key, ip)]; j != NULL; j = j->hnext)
		if (memcmp(j->key, key, KEY_LEN) == 0 && memcmp(j->ip, ip, 16) == 0)
			return j;
	return NULL;
}

static void
index_del(struct verifier *v, struct vjob *j)
{
	struct vjob **p = &v->index[index_of(v, j->key, j->ip)];

	while (*p != NULL && *p != j)
		p = &(*p)->hnext;
	if (*p == j)
		*p = j->hnext;
}

static struct vqueue *
queue_of(struct verifier *v, const struct vjob *j)
{
	return j->login ? &v->logins[j->owner] : &v->rechecks[j->owner];
}

static void
queue_put(struct verifier *v, struct vjob *j)
{
	struct vqueue *q = queue_of(v, j);

	j->qnext = NULL;
	j->qprev = q->tail;
	if (q->tail != NULL)
		q->tail->qnext = j;
	else
		q->head = j;
	q->tail = j;
	q->n++;
}

static void
queue_del(struct verifier *v, struct vjob *j)
{
	struct vqueue *q = queue_of(v, j);

	if (j->qprev != NULL)
		j->qprev->qnext = j->qnext;
	else
		q->head = j->qnext;
	if (j->qnext != NULL)
		j->qnext->qprev = j->qprev;
	else
		q->tail = j->qprev;
	j->qprev = j->qnext = NULL;
	q->n--;
}

/* A new lookup for w's request, or NULL when w's queue is full. */
static struct vjob *
new_job(struct verifier *v, uint32_t w, const struct verifyd_req *req)
{
	int login = req->op == VERIFYD_LOGIN;
	struct vjob *j;
	uint32_t b;

	if ((login ? v->logins[w].n >= VERIFIER_LOGIN_QUEUE :
	    v->rechecks[w].n >= VERIFIER_RECHECK_QUEUE) ||
	    (j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	memcpy(j->key, req->key, KEY_LEN);
	memcpy(j->ip, req->ip, 16);
	j->owner = w;
	j->login = login;
	j->stage = VJ_QUEUED;
	b = index_of(v, j->key, j->ip);
	j->hnext = v->index[b];
	v->index[b] = j;
	queue_put(v, j);
	return j;
}

static int
add_waiter(struct verifier *v, struct vjob *j, uint32_t w,
    const struct verifyd_req *req, const struct verifyd_resp *resp)
{
	struct vwaiter *wt = calloc(1, sizeof(*wt));

	if (wt == NULL)
		return -1;
	wt->worker = w;
	wt->wepoch = v->wepoch[w];
	wt->deadline_ms = req->deadline_ms;
	wt->resp = *resp;
	wt->next = j->waiters;
	j->waiters = wt;
	/* A login does not wait behind re-checks. */
	if (req->op == VERIFYD_LOGIN && j->stage == VJ_QUEUED && !j->login) {
		queue_del(v, j);
		j->login = 1;
		queue_put(v, j);
	}
	return 0;
}

/* Logs why a client was refused (once per lookup, and rate-limited). */
static void
log_refusal(struct verifier *v, const uint8_t key[KEY_LEN], const uint8_t ip[16],
    uint32_t reason)
{
	static const char *const why[VR_NREASONS] = {
		[VR_NOT_ALLOWED] = "not in -allow-keys",
		[VR_NOT_IN_TAILNET] = "not found in local tailscaled",
		[VR_ADMISSION_DENIED] = "not allowed by the admission controller",
	};
	char text[KEY_TEXT_MAX], addr[INET6_ADDRSTRLEN];

	if (!verifyd_refused(reason))
		return;
	key_format_text(text, NODEKEY_PREFIX, key);
	verifier_format_ip(addr, ip);
	verifier_log(v, 0, "refused %s from %s: %s", text, addr, why[reason]);
}

static int64_t
ttl_of(const struct vjob *j, uint32_t reason)
{
	if (reason == VR_ADMITTED)
		return j->failed_open ? TTL_FAILED_MS : TTL_ADMITTED_MS;
	return verifyd_refused(reason) ? TTL_REFUSED_MS : TTL_FAILED_MS;
}

/* The verdict for every request waiting on j; j is freed. */
static void
finish(struct verifier *v, struct vjob *j, uint32_t reason)
{
	struct vwaiter *wt, *next;

	if (reason != VR_BUSY && reason != VR_EXPIRED)
		vcache_put(&v->cache, j->key, j->ip, reason,
		    verifier_now_ms() + ttl_of(j, reason));
	log_refusal(v, j->key, j->ip, reason);
	for (wt = j->waiters; wt != NULL; wt = next) {
		next = wt->next;
		reply(v, wt->worker, wt->wepoch, &wt->resp, reason);
		free(wt);
	}
	index_del(v, j);
	free(j);
}

/*
 * Before a lookup starts: requests whose socket went are dropped, those
 * past their deadline answered "expired". Returns how many still wait.
 */
static int
prune(struct verifier *v, struct vjob *j, int64_t now)
{
	struct vwaiter **p = &j->waiters, *wt;
	int left = 0;

	while ((wt = *p) != NULL) {
		if (wt->wepoch == v->wepoch[wt->worker] && wt->deadline_ms > now) {
			left++;
			p = &wt->next;
			continue;
		}
		reply(v, wt->worker, wt->wepoch, &wt->resp, VR_EXPIRED);
		*p = wt->next;
		free(wt);
	}
	return left;
}

/* The next queued lookup: the workers in turn, logins before re-checks. */
static struct vjob *
next_queued(struct verifier *v)
{
	uint32_t i, w;

	for (i = 0; i < SHM_MAX_WORKERS; i++) {
		w = (v->turn + i) % SHM_MAX_WORKERS;
		if (v->logins[w].head != NULL) {
			v->turn = w + 1;
			return v->logins[w].head;
		}
	}
	for (i = 0; i < SHM_MAX_WORKERS; i++) {
		w = (v->turn + i) % SHM_MAX_WORKERS;
		if (v->rechecks[w].head != NULL) {
			v->turn = w + 1;
			return v->rechecks[w].head;
		}
	}
	return NULL;
}

static void
start_lookups(struct verifier *v)
{
	struct vjob *j;
	uint32_t reason;

	while (v->active < VERIFIER_ACTIVE && (j = next_queued(v)) != NULL) {
		queue_del(v, j);
		if (prune(v, j, verifier_now_ms()) == 0) {
			finish(v, j, VR_EXPIRED);
			continue;
		}
		j->stage = v->http.tailscaled ? VJ_TAILSCALED : VJ_ADMISSION;
		if (vhttp_start(v, j, &reason) != 0) {
			finish(v, j, reason);
			continue;
		}
		v->active++;
	}
}

void
vserve_stage_done(struct verifier *v, struct vjob *j, uint32_t reason)
{
	uint32_t instead;

	v->active--;
	if (j->stage == VJ_TAILSCALED && reason == VR_ADMITTED &&
	    v->http.url != NULL) {
		j->stage = VJ_ADMISSION;
		if (vhttp_start(v, j, &instead) == 0) {
			v->active++;
			return;
		}
		reason = instead;
	}
	finish(v, j, reason);
	start_lookups(v);
}

/* One checked request of worker w. */
static void
handle(struct verifier *v, uint32_t w, const struct verifyd_req *req)
{
	struct verifyd_resp resp = { req->op, req->slot, req->gen, req->id, 0 };
	int64_t now = verifier_now_ms();
	struct vjob *j;
	uint32_t reason;

	if (v->have_allow && !allowlist_has(&v->allow, req->key))
		reason = VR_NOT_ALLOWED;
	else if (!v->lookups)
		reason = VR_ADMITTED;
	/* A re-check wants a fresh answer; logins may use a recent one. */
	else if (req->op == VERIFYD_RECHECK ||
	    !vcache_get(&v->cache, req->key, req->ip, now, &reason)) {
		if (req->deadline_ms <= now)
			reason = VR_EXPIRED;
		else if ((j = index_find(v, req->key, req->ip)) == NULL &&
		    (j = new_job(v, w, req)) == NULL)
			reason = VR_BUSY;
		else if (add_waiter(v, j, w, req, &resp) != 0)
			reason = VR_BUSY;
		else
			return;
	}
	log_refusal(v, req->key, req->ip, reason);
	reply(v, w, v->wepoch[w], &resp, reason);
}

/* A malformed request is the worker's failure: dropped, logged once. */
static void
bad_request(struct verifier *v, uint32_t w, const char *why)
{
	if (v->bad[w]++ == 0)
		log_warnx("refused a request from worker %u: %s (logged once "
		    "per worker)", w, why);
}

/* Reads up to a batch of w's requests; -1 once w is gone. */
static int
read_requests(struct verifier *v, uint32_t w)
{
	uint8_t buf[sizeof(struct verifyd_req) + 1];
	struct verifyd_req req;
	const char *why;
	ssize_t r;
	int i;

	for (i = 0; i < BATCH && v->worker_fd[w] >= 0 &&
	    v->inflight[w] < VERIFIER_INFLIGHT; i++) {
		r = recv(v->worker_fd[w], buf, sizeof(buf), MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (r <= 0)
			return -1;
		if (verifyd_req_check(buf, (size_t)r, &req, &why) != 0) {
			bad_request(v, w, why);
			continue;
		}
		v->inflight[w]++;
		handle(v, w, &req);
	}
	return 0;
}

void
vserve_worker(struct verifier *v, uint32_t w, uint32_t events)
{
	if (w >= SHM_MAX_WORKERS || v->worker_fd[w] < 0)
		return;
	/* Gone, even if we are not reading it (VERIFIER_INFLIGHT unanswered). */
	if ((events & EPOLLHUP) && !(events & EPOLLIN)) {
		drop_worker(v, w);
		return;
	}
	if ((events & EPOLLOUT) && flush(v, w) != 0) {
		drop_worker(v, w);
		return;
	}
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && read_requests(v, w) != 0) {
		drop_worker(v, w);	/* its successor brings a new socket */
		return;
	}
	start_lookups(v);
	update_events(v, w);
}
