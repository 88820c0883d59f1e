/* SPDX-License-Identifier: BSD-3-Clause */
#include "tablesrv.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define BATCH	64	/* requests per worker per turn, for fairness */

void
tablesrv_init(struct tablesrv *ts, struct shm *shm, uint32_t max_slot)
{
	uint32_t i;

	memset(ts, 0, sizeof(*ts));
	ts->shm = shm;
	ts->max_slot = max_slot;
	for (i = 0; i < SHM_MAX_WORKERS; i++)
		ts->fd[i] = -1;
}

void
tablesrv_attach(struct tablesrv *ts, uint32_t w, int fd)
{
	tablesrv_detach(ts, w);
	ts->fd[w] = fd;
}

void
tablesrv_detach(struct tablesrv *ts, uint32_t w)
{
	if (ts->fd[w] >= 0)
		close(ts->fd[w]);
	ts->fd[w] = -1;
	ts->blocked[w] = 0;
	ts->bad[w] = 0;
}

int
tablesrv_pollfds(const struct tablesrv *ts, struct pollfd *pfd, uint32_t *who,
    int max)
{
	uint32_t w;
	int n = 0;

	for (w = 0; w < ts->shm->nworkers && n < max; w++) {
		if (ts->fd[w] < 0)
			continue;
		pfd[n].fd = ts->fd[w];
		pfd[n].events = ts->blocked[w] ? POLLOUT : POLLIN;
		pfd[n].revents = 0;
		who[n++] = w;
	}
	return n;
}

/* A malformed request is the worker's failure: refused, counted, logged once. */
static void
refuse(struct tablesrv *ts, uint32_t w, const char *why)
{
	if (ts->bad[w]++ == 0)
		log_warnx("worker %u sent a bad table request (%s); ignoring "
		    "such requests from it", w, why);
}

#ifdef DERPD_TEST_HOOKS
/*
 * Test build: DERPD_TEST_CLAIM_DELAY_MS holds every claim that long before
 * the master makes it, so a test can see that a duplicate's frame waits
 * for its claim (worker/presence.c) instead of racing it.
 */
static void
claim_delay(void)
{
	const char *v = getenv("DERPD_TEST_CLAIM_DELAY_MS");

	if (v != NULL && *v != '\0')
		poll(NULL, 0, atoi(v));
}
#endif

/* Applies req from worker w; 0 and *resp filled, or -1 for a bad request. */
static int
apply(struct tablesrv *ts, uint32_t w, const struct table_req *req,
    struct table_resp *resp)
{
	struct route r = { w, ts->shm->ctl->workers[w].epoch, req->slot, req->gen };
	struct table *t = &ts->shm->table;

	if (req->slot >= ts->max_slot || req->gen == 0)
		return -1;
	memset(resp, 0, sizeof(*resp));
	resp->op = req->op;
	resp->slot = req->slot;
	resp->gen = req->gen;
	memcpy(resp->key, req->key, KEY_LEN);
	switch (req->op) {
	case TOP_REGISTER:
		resp->result = table_register(t, req->key, &r, &req->info,
		    &resp->join);
		return 0;
	case TOP_UNREGISTER:
		resp->result = (int32_t)table_unregister(t, req->key, &r);
		return 0;
	case TOP_CLAIM:
#ifdef DERPD_TEST_HOOKS
		claim_delay();
#endif
		resp->result = table_claim(t, req->key, &r);
		return 0;
	case TOP_REMOTE_ADD:
		resp->result = table_remote_add(t, req->key, &r);
		return 0;
	case TOP_REMOTE_DEL:
		resp->result = (int32_t)table_remote_del(t, req->key, &r);
		return 0;
	case TOP_REMOTE_CLEAR:
		resp->result = (int32_t)table_remote_clear(t, &r);
		return 0;
	default:
		return -1;
	}
}

/* Sends pending[w]: 1 sent, 0 no room yet, -1 the worker is gone. */
static int
send_pending(struct tablesrv *ts, uint32_t w)
{
	ssize_t r = send(ts->fd[w], &ts->pending[w], sizeof(ts->pending[w]),
	    MSG_DONTWAIT | MSG_NOSIGNAL);

	if (r < 0 && (errno == EAGAIN || errno == ENOBUFS || errno == EINTR))
		return 0;
	return r == (ssize_t)sizeof(ts->pending[w]) ? 1 : -1;
}

/* Returns -1 once the worker's socket is gone (its death is reaped elsewhere). */
static int
serve(struct tablesrv *ts, uint32_t w)
{
	struct table_req req;
	ssize_t r;
	int i, sent;

	if (ts->blocked[w]) {
		if ((sent = send_pending(ts, w)) <= 0)
			return sent;
		ts->blocked[w] = 0;
	}
	for (i = 0; i < BATCH; i++) {
		/* MSG_TRUNC: a longer datagram is refused, not cut down. */
		r = recv(ts->fd[w], &req, sizeof(req), MSG_DONTWAIT | MSG_TRUNC);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (r == 0 || (r < 0 && errno != EMSGSIZE))
			return -1;
		if (r != (ssize_t)sizeof(req)) {
			refuse(ts, w, "wrong size");
			continue;
		}
		if (apply(ts, w, &req, &ts->pending[w]) != 0) {
			refuse(ts, w, "bad operation, slot or generation");
			continue;
		}
		if ((sent = send_pending(ts, w)) < 0)
			return -1;
		if (sent == 0) {
			ts->blocked[w] = 1;
			return 0;
		}
	}
	return 0;
}

void
tablesrv_serve(struct tablesrv *ts, uint32_t w, short revents)
{
	if (w >= ts->shm->nworkers || ts->fd[w] < 0)
		return;
	if ((revents & (POLLIN | POLLOUT | POLLHUP | POLLERR)) && serve(ts, w) != 0)
		tablesrv_detach(ts, w);
}
