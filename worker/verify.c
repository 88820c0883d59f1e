/* SPDX-License-Identifier: BSD-3-Clause */
#include "verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "mesh.h"
#include "presence.h"
#include "reqq.h"

#define VERIFY_BATCH	64	/* answers per wake-up */
#define RECHECK_WAIT_MS	60000	/* how long a re-check may wait for a lookup */
#define BUSY_RETRY_MS	1000	/* a re-check the verifier was too busy for: */
#define BUSY_SPREAD_MS	2000	/* again in 1 to 3 s */

static void
ask(struct wk *w, struct conn *c, uint32_t op, int64_t deadline_ms)
{
	struct verifyd_req req;
	struct peer_info pi;

	if (++w->next_verify_id == 0)
		w->next_verify_id = 1;
	c->verify_id = w->next_verify_id;
	memset(&req, 0, sizeof(req));
	req.op = op;
	req.slot = c->slot;
	req.gen = c->gen;
	req.id = c->verify_id;
	req.deadline_ms = deadline_ms;
	memcpy(req.key, c->key, KEY_LEN);
	mesh_peer_info(c, &pi);
	memcpy(req.ip, pi.ip, sizeof(req.ip));
	reqq_send(w, &w->verifyd, w->verify_fd, TAG_VERIFYD, &req);
}

/* The next periodic re-check, spread by up to a tenth of the interval. */
static int64_t
next_recheck(const struct wk *w)
{
	int64_t iv = w->cfg->verify_interval_ms;

	return iv > 0 ? w->now_ms + iv + (int64_t)(random() % (iv / 10 + 1)) : 0;
}

void
verify_login(struct wk *w, struct conn *c)
{
	if (w->verify_fd < 0 || c->can_mesh) {
		presence_register(w, c);
		return;
	}
	c->state = CS_WAIT_VERIFY;
	ask(w, c, VERIFYD_LOGIN, c->deadline_ms);
}

static void
login_answer(struct wk *w, struct conn *c, uint32_t reason)
{
	char why[64];

	c->verify_id = 0;
	wk_stat(w, ST_VERIFY_LOGIN + reason, 1);
	if (reason == VR_ADMITTED) {
		c->verify_next_ms = next_recheck(w);
		presence_register(w, c);
		return;
	}
	snprintf(why, sizeof(why), "not admitted (%s)", verifyd_reason_name(reason));
	conn_close(w, c, why);	/* no ServerInfo: it was never sent */
}

static void
recheck_answer(struct wk *w, struct conn *c, uint32_t reason)
{
	char why[64];

	c->verify_id = 0;
	wk_stat(w, ST_VERIFY_RECHECK + reason, 1);
	if (verifyd_refused(reason)) {
		snprintf(why, sizeof(why), "no longer admitted (%s)",
		    verifyd_reason_name(reason));
		conn_close(w, c, why);	/* its peers hear PeerGone */
		return;
	}
	/* Undecided is not refused: a client stays until a lookup says so. */
	c->verify_next_ms = reason == VR_BUSY ? w->now_ms + BUSY_RETRY_MS +
	    (int64_t)(random() % BUSY_SPREAD_MS) : next_recheck(w);
}

static void
answer(struct wk *w, const struct verifyd_resp *resp)
{
	struct conn *c = conn_at(w, resp->slot, resp->gen);

	/* An answer to a request since asked again, or of a closed client. */
	if (c == NULL || c->verify_id == 0 || c->verify_id != resp->id)
		return;
	if (resp->reason >= VR_NREASONS) {
		log_warnx("the verifier gave an unknown verdict %u", resp->reason);
		return;
	}
	if (resp->op == VERIFYD_LOGIN && c->state == CS_WAIT_VERIFY)
		login_answer(w, c, resp->reason);
	else if (resp->op == VERIFYD_RECHECK && c->state == CS_RELAY)
		recheck_answer(w, c, resp->reason);
}

void
verify_readable(struct wk *w)
{
	struct verifyd_resp resp;
	int i;

	for (i = 0; i < VERIFY_BATCH &&
	    reqq_recv(w->verify_fd, &resp, sizeof(resp), "the verifier"); i++)
		answer(w, &resp);
}

void
verify_writable(struct wk *w)
{
	reqq_writable(w, &w->verifyd, w->verify_fd, TAG_VERIFYD);
}

static int
checked(const struct conn *c)
{
	return c->state == CS_RELAY && !c->can_mesh;
}

void
verify_tick(struct wk *w)
{
	struct conn *c;

	if (w->verify_fd < 0)
		return;
	for (c = w->all; c != NULL; c = c->next)
		if (checked(c) && c->verify_id == 0 && c->verify_next_ms != 0 &&
		    w->now_ms >= c->verify_next_ms) {
			c->verify_next_ms = 0;
			ask(w, c, VERIFYD_RECHECK, w->now_ms + RECHECK_WAIT_MS);
		}
}

/*
 * What was sent waits for the new verifier in the socket; only what the
 * old one had read is lost, so every open question is asked again (the
 * backlog not yet sent is dropped: asking again replaces it). After a
 * reload every logged-in client is asked about.
 */
void
verify_check_master(struct wk *w)
{
	uint64_t restarts, reloads;
	struct conn *c;
	int reload;

	if (w->verify_fd < 0)
		return;
	restarts = __atomic_load_n(&w->shm->ctl->verify_restarts, __ATOMIC_ACQUIRE);
	reloads = __atomic_load_n(&w->shm->ctl->verify_reloads, __ATOMIC_ACQUIRE);
	if (restarts == w->verify_restarts && reloads == w->verify_reloads)
		return;
	reload = reloads != w->verify_reloads;
	w->verify_restarts = restarts;
	w->verify_reloads = reloads;
	w->verifyd.len = 0;
	for (c = w->all; c != NULL; c = c->next) {
		if (c->state == CS_WAIT_VERIFY)
			ask(w, c, VERIFYD_LOGIN, c->deadline_ms);
		else if (checked(c) && (c->verify_id != 0 || reload))
			ask(w, c, VERIFYD_RECHECK, w->now_ms + RECHECK_WAIT_MS);
		else if (c->state == CS_WAIT_TABLE && !c->can_mesh && reload)
			c->verify_next_ms = w->now_ms;	/* admitted by the old rules */
	}
}
