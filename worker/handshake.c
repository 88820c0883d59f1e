/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DERP login: ServerKey, ClientInfo, ServerInfo. The worker does not hold
 * the server's private key; it asks the key oracle (the master) for the
 * per-client shared key crypto_box_beforenm(client_pub, server_priv) and
 * wipes it as soon as ServerInfo is sealed.
 */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "keyfmt.h"
#include "log.h"
#include "wk.h"

#define ORACLE_BATCH	64

static void
send_upgrade_response(struct wk *w, struct conn *c)
{
	char hex[KEY_HEX_LEN + 1], resp[256];
	int n;

	key_format_hex(hex, w->server_pub);
	n = snprintf(resp, sizeof(resp),
	    "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: DERP\r\n"
	    "Connection: Upgrade\r\n"
	    "Derp-Version: %d\r\n"
	    "Derp-Public-Key: %s\r\n\r\n", DERP_PROTOCOL_VERSION, hex);
	conn_queue_control(w, c, resp, n);
}

void
handshake_start(struct wk *w, struct conn *c, int fast_start)
{
	uint8_t sk[DERP_FRAME_HDR_LEN + DERP_MAGIC_LEN + DERP_KEY_LEN];

	if (!fast_start)
		send_upgrade_response(w, c);
	conn_queue_control(w, c, sk, frame_server_key(sk, w->server_pub));
	c->state = CS_CLIENT_INFO;
}

static int
oracle_send(struct wk *w, const struct oracle_req *req)
{
	ssize_t r = send(w->oracle_fd, req, sizeof(*req), MSG_DONTWAIT | MSG_NOSIGNAL);

	if (r == (ssize_t)sizeof(*req))
		return 0;
	if (r < 0 && errno != EAGAIN && errno != ENOBUFS)
		fatal("key oracle send");
	return -1;
}

static void
oracle_set_events(struct wk *w, int want_write)
{
	if (w->oracle_wants_write == want_write)
		return;
	w->oracle_wants_write = want_write;
	worker_watch_oracle(w, want_write);
}

static void
oracle_enqueue(struct wk *w, const struct oracle_req *req)
{
	struct oracle_req *nb;
	uint32_t ncap;

	if (w->oracle_backlog_len == 0 && oracle_send(w, req) == 0)
		return;
	if (w->oracle_backlog_len == w->oracle_backlog_cap) {
		ncap = w->oracle_backlog_cap ? w->oracle_backlog_cap * 2 : 64;
		nb = reallocarray(w->oracle_backlog, ncap, sizeof(*nb));
		if (nb == NULL)
			fatal("key oracle backlog");
		w->oracle_backlog = nb;
		w->oracle_backlog_cap = ncap;
	}
	w->oracle_backlog[w->oracle_backlog_len++] = *req;
	oracle_set_events(w, 1);
}

void
oracle_writable(struct wk *w)
{
	uint32_t i = 0;

	while (i < w->oracle_backlog_len && oracle_send(w, &w->oracle_backlog[i]) == 0)
		i++;
	memmove(w->oracle_backlog, w->oracle_backlog + i,
	    (w->oracle_backlog_len - i) * sizeof(*w->oracle_backlog));
	w->oracle_backlog_len -= i;
	if (w->oracle_backlog_len == 0)
		oracle_set_events(w, 0);
}

void
handshake_client_info(struct wk *w, struct conn *c, const uint8_t *frame)
{
	struct oracle_req req;

	memcpy(c->key, frame, DERP_KEY_LEN);
	req.slot = c->slot;
	req.gen = c->gen;
	memcpy(req.client_pub, c->key, DERP_KEY_LEN);
	c->state = CS_WAIT_KEY;
	conn_update_events(w, c);
	oracle_enqueue(w, &req);
}

static void
fail(struct wk *w, struct conn *c, const char *why)
{
	stat(w, ST_HANDSHAKE_FAILURES, 1);
	conn_close(w, c, why);
}

/* ServerInfo; with a -rate-config, its token bucket, which clients obey. */
static int
send_server_info(struct wk *w, struct conn *c, const uint8_t shared[DERP_KEY_LEN])
{
	uint8_t frame[DERP_FRAME_HDR_LEN + DERP_NONCE_LEN + DERP_BOX_OVERHEAD + 128];
	uint8_t *nonce = frame + DERP_FRAME_HDR_LEN;
	uint64_t bps, burst;
	char info[128];
	int n;

	if (!c->can_mesh && shm_rate_get(w->shm, &bps, &burst))
		n = snprintf(info, sizeof(info), "{\"version\":%d,"
		    "\"TokenBucketBytesPerSecond\":%llu,\"TokenBucketBytesBurst\":%llu}",
		    DERP_PROTOCOL_VERSION, (unsigned long long)bps,
		    (unsigned long long)burst);
	else
		n = snprintf(info, sizeof(info), "{\"version\":%d}",
		    DERP_PROTOCOL_VERSION);
	frame_put_header(frame, FRAME_SERVER_INFO,
	    DERP_NONCE_LEN + DERP_BOX_OVERHEAD + n);
	randombytes_buf(nonce, DERP_NONCE_LEN);
	if (crypto_box_easy_afternm(nonce + DERP_NONCE_LEN, (const uint8_t *)info,
	    n, nonce, shared) != 0)
		return -1;
	conn_queue_control(w, c, frame,
	    DERP_FRAME_HDR_LEN + DERP_NONCE_LEN + DERP_BOX_OVERHEAD + n);
	return 0;
}

/* Opens ClientInfo with the shared key, answers ServerInfo, logs the client in. */
static void
complete_login(struct wk *w, struct conn *c, const uint8_t shared[DERP_KEY_LEN])
{
	static uint8_t msg[BUF_SIZE];
	struct buf *b = c->in;
	const uint8_t *payload = b->data + b->rd + DERP_FRAME_HDR_LEN;
	const uint8_t *nonce = payload + DERP_KEY_LEN;
	const char *why;
	uint32_t len, boxlen;
	uint8_t type;

	frame_get_header(b->data + b->rd, b->wr - b->rd, &type, &len);
	boxlen = len - DERP_KEY_LEN - DERP_NONCE_LEN;
	if (crypto_box_open_easy_afternm(msg, nonce + DERP_NONCE_LEN, boxlen,
	    nonce, shared) != 0) {
		fail(w, c, "ClientInfo box does not open");
		return;
	}
	if (clientinfo_parse(msg, boxlen - DERP_BOX_OVERHEAD, &c->info, &why) != 0) {
		sodium_memzero(msg, boxlen);
		fail(w, c, why);
		return;
	}
	sodium_memzero(msg, boxlen);
	c->can_mesh = mesh_key_matches(w, &c->info);
	sodium_memzero(c->info.mesh_key, sizeof(c->info.mesh_key));
	b->rd += DERP_FRAME_HDR_LEN + len;
	if (relay_register(w, c) != 0) {
		fail(w, c, "connection table full");
		return;
	}
	c->state = CS_RELAY;
	if (send_server_info(w, c, shared) != 0) {
		fail(w, c, "cannot seal ServerInfo");
		return;
	}
	c->next_keepalive_ms = w->now_ms + w->cfg->keepalive_ms;
	c->peer_gone_tokens = 3;
	c->peer_gone_last_ms = w->now_ms;
	c->counted = 1;
	stat(w, ST_CLIENTS_CURRENT, 1);
	handshake_finish(w, c);
}

static void
oracle_answer(struct wk *w, struct oracle_resp *resp)
{
	struct conn *c = conn_at(w, resp->slot, resp->gen);

	if (c != NULL && c->state == CS_WAIT_KEY) {
		if (resp->ok)
			complete_login(w, c, resp->shared);
		else
			fail(w, c, "client key rejected (low-order point)");
	}
	sodium_memzero(resp->shared, sizeof(resp->shared));
}

void
oracle_readable(struct wk *w)
{
	struct oracle_resp resp;
	ssize_t r;
	int i;

	for (i = 0; i < ORACLE_BATCH; i++) {
		r = recv(w->oracle_fd, &resp, sizeof(resp), MSG_DONTWAIT);
		if (r == (ssize_t)sizeof(resp)) {
			oracle_answer(w, &resp);
			continue;
		}
		sodium_memzero(&resp, sizeof(resp));
		if (r == 0)
			fatalx("key oracle closed; master gone");
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r < 0)
			fatal("key oracle recv");
	}
}
