/* SPDX-License-Identifier: BSD-3-Clause */
#include "handshake.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "derp_in.h"
#include "keyd_client.h"
#include "keyfmt.h"
#include "mesh.h"
#include "meshlink.h"
#include "presence.h"
#include "tlskey.h"
#include "verify.h"

#define KEYD_BATCH	64	/* answers per wake-up */

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
	uint8_t sk[DERP_FRAME_HDR_LEN + DERP_MAGIC_LEN + KEY_LEN];

	if (!fast_start)
		send_upgrade_response(w, c);
	conn_queue_control(w, c, sk, frame_server_key(sk, w->server_pub));
	c->state = CS_CLIENT_INFO;
}

static void
fail(struct wk *w, struct conn *c, const char *why)
{
	wk_stat(w, ST_HANDSHAKE_FAILURES, 1);
	conn_close(w, c, why);
}

void
handshake_input(struct wk *w, struct conn *c)
{
	struct buf *b = c->in;
	const char *why = "bad ClientInfo";
	uint32_t len;
	uint8_t type;

	if (!frame_get_header(b->data + b->rd, b->wr - b->rd, &type, &len))
		return;
	if (frame_check_client_info(type, len, &why) != FRAME_ACCEPT ||
	    (len > BUF_SIZE - DERP_FRAME_HDR_LEN && (why = "ClientInfo too large"))) {
		fail(w, c, why);
		return;
	}
	if (b->wr - b->rd - DERP_FRAME_HDR_LEN < len) {
		c->in_max = DERP_FRAME_HDR_LEN + len;	/* conn_read grows c->in to it */
		return;
	}
	derp_in_count(w, type);
	memcpy(c->key, b->data + b->rd + DERP_FRAME_HDR_LEN, KEY_LEN);
	c->state = CS_WAIT_KEY;
	conn_update_events(w, c);
	keyd_client_ask(w, c->slot, c->gen, c->key);
}

/*
 * ServerInfo, sealed now so the shared key can be wiped, and sent once the
 * master has registered the client. With a -rate-config it carries the
 * token bucket, which clients obey.
 */
static int
seal_server_info(struct wk *w, struct conn *c, const uint8_t shared[KEY_LEN])
{
	uint8_t frame[DERP_FRAME_HDR_LEN + DERP_NONCE_LEN + DERP_BOX_OVERHEAD + 128];
	uint8_t *nonce = frame + DERP_FRAME_HDR_LEN;
	uint64_t bps, burst;
	char info[128];
	uint32_t len;
	int n;

	if (!c->can_mesh && shm_rate_get(w->shm, &bps, &burst))
		n = snprintf(info, sizeof(info), "{\"version\":%d,"
		    "\"TokenBucketBytesPerSecond\":%llu,\"TokenBucketBytesBurst\":%llu}",
		    DERP_PROTOCOL_VERSION, (unsigned long long)bps,
		    (unsigned long long)burst);
	else
		n = snprintf(info, sizeof(info), "{\"version\":%d}",
		    DERP_PROTOCOL_VERSION);
	len = DERP_FRAME_HDR_LEN + DERP_NONCE_LEN + DERP_BOX_OVERHEAD + n;
	frame_put_header(frame, FRAME_SERVER_INFO, len - DERP_FRAME_HDR_LEN);
	randombytes_buf(nonce, DERP_NONCE_LEN);
	if (crypto_box_easy_afternm(nonce + DERP_NONCE_LEN, (const uint8_t *)info,
	    n, nonce, shared) != 0 || (c->server_info = malloc(len)) == NULL)
		return -1;
	memcpy(c->server_info, frame, len);
	c->server_info_len = len;
	return 0;
}

/*
 * Opens the boxed ClientInfo JSON in place (libsodium allows it) and parses
 * it; the plaintext is wiped either way.
 */
static int
open_client_info(struct conn *c, const uint8_t shared[KEY_LEN], uint32_t len,
    const char **why)
{
	uint8_t *payload = c->in->data + c->in->rd + DERP_FRAME_HDR_LEN;
	uint8_t *nonce = payload + KEY_LEN, *box = nonce + DERP_NONCE_LEN;
	uint32_t boxlen = len - KEY_LEN - DERP_NONCE_LEN;
	int rc;

	if (crypto_box_open_easy_afternm(box, box, boxlen, nonce, shared) != 0) {
		*why = "ClientInfo box does not open";
		return -1;
	}
	rc = clientinfo_parse(box, boxlen - DERP_BOX_OVERHEAD, &c->info, why);
	sodium_memzero(box, boxlen);
	return rc;
}

/*
 * Opens ClientInfo with the shared key, seals ServerInfo, then asks the
 * verifier whether the client may log in (when one decides), and the master
 * to register it.
 */
static void
check_client_info(struct wk *w, struct conn *c, const uint8_t shared[KEY_LEN])
{
	struct buf *b = c->in;
	const char *why;
	uint32_t len;
	uint8_t type;

	frame_get_header(b->data + b->rd, b->wr - b->rd, &type, &len);
	if (open_client_info(c, shared, len, &why) != 0) {
		fail(w, c, why);
		return;
	}
	c->can_mesh = mesh_key_matches(w, &c->info);
	sodium_memzero(c->info.mesh_key, sizeof(c->info.mesh_key));
	b->rd += DERP_FRAME_HDR_LEN + len;
	if (seal_server_info(w, c, shared) != 0) {
		fail(w, c, "cannot seal ServerInfo");
		return;
	}
	verify_login(w, c);
}

void
handshake_logged_in(struct wk *w, struct conn *c)
{
	if (conn_logged_in(w, c) != 0)
		return;
	c->state = CS_RELAY;
	conn_queue_control(w, c, c->server_info, c->server_info_len);
	free(c->server_info);
	c->server_info = NULL;
	if (c->fd < 0)
		return;
	c->next_keepalive_ms = w->now_ms + w->cfg->keepalive_ms;
	c->peer_gone_tokens = 3;
	c->peer_gone_last_ms = w->now_ms;
	c->counted = 1;
	wk_stat(w, ST_CLIENTS_CURRENT, 1);
	conn_update_events(w, c);
	conn_mark_ready(w, c);	/* frames may have come with ClientInfo */
}

static void
answer(struct wk *w, struct keyd_resp *resp)
{
	struct conn *c = conn_at(w, resp->slot, resp->gen);

	if (c != NULL && c->state == CS_WAIT_KEY && c->outbound)
		meshlink_keyd(w, c, resp);	/* our own login to a peer relay */
	else if (c != NULL && c->state == CS_WAIT_KEY) {
		if (resp->ok)
			check_client_info(w, c, resp->shared);
		else
			fail(w, c, "client key rejected (low-order point)");
	}
	sodium_memzero(resp->shared, sizeof(resp->shared));
}

/* A TLS handshake paused for its signature goes on, this turn. */
static void
signed_for(struct wk *w, const struct keyd_resp *resp)
{
	struct conn *c = conn_at(w, resp->slot, resp->gen);

	if (c != NULL && tlskey_answer(c, resp))
		conn_mark_ready(w, c);
}

void
handshake_keyd_readable(struct wk *w)
{
	struct keyd_resp resp;
	int i;

	for (i = 0; i < KEYD_BATCH && keyd_client_recv(w, &resp); i++) {
		if (resp.op == KEYD_SIGN)
			signed_for(w, &resp);
		else
			answer(w, &resp);
		sodium_memzero(&resp, sizeof(resp));
	}
}
