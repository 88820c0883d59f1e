/* SPDX-License-Identifier: BSD-3-Clause */
#include "meshlink.h"

#include <errno.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "dial_client.h"
#include "keyd_client.h"
#include "keyfmt.h"
#include "linkparse.h"
#include "log.h"
#include "remote.h"
#include "tlsclient.h"

#define BACKOFF_MIN_MS	250
#define BACKOFF_MAX_MS	5000	/* derper's retryInterval */
#define STABLE_MS	10000	/* a link up this long is retried at once */
#define DIAL_WAIT_MS	20000	/* the dialer gives up after 10 s itself */

enum phase {
	PH_TLS,			/* TLS handshake */
	PH_HEAD,		/* GET /derp sent; reading the 101 */
	PH_SERVER_KEY,		/* reading ServerKey */
	PH_KEY,			/* the key process computes the box key */
	PH_SERVER_INFO,		/* ClientInfo and WatchConns sent */
	PH_UP,
};

static const struct mesh_peer *
peer(const struct wk *w, const struct mesh_link *l)
{
	return &w->links.peers[l->peer];
}

static struct shm_mesh_peer *
stats(struct wk *w, const struct mesh_link *l)
{
	return &w->shm->counters[w->id]->mesh[l->peer];
}

static void
count(uint64_t *p)
{
	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + 1,
	    __ATOMIC_RELAXED);
}

/* What /metrics and /debug/mesh show of the link. */
static void
publish(struct wk *w, const struct mesh_link *l)
{
	struct shm_mesh_peer *mp = stats(w, l);

	__atomic_store_n(&mp->slot, l->c != NULL ? l->c->slot : 0, __ATOMIC_RELAXED);
	__atomic_store_n(&mp->gen, l->c != NULL ? l->c->gen : 0, __ATOMIC_RELAXED);
	__atomic_store_n(&mp->state, (uint32_t)l->state, __ATOMIC_RELEASE);
}

/*
 * A failed attempt is a warning when the link had been fine or the reason
 * changed (a peer that refused, then one with another mesh key), else a
 * debug line: one warning per cause while a peer stays unreachable.
 */
static void
note_failure(struct wk *w, struct mesh_link *l, const char *why)
{
	if (l->failures++ == 0 || strncmp(l->last_why, why,
	    sizeof(l->last_why) - 1) != 0)
		log_warnx("mesh(\"%s\"): %s; retrying", peer(w, l)->authority, why);
	else
		log_debug("mesh(\"%s\"): %s; retrying", peer(w, l)->authority, why);
	snprintf(l->last_why, sizeof(l->last_why), "%s", why);
}

/* Not connected: the next attempt after a jittered, doubling pause. why
 * is NULL when the failure was noted already. */
static void
retry(struct wk *w, struct mesh_link *l, const char *why)
{
	l->backoff_ms = l->backoff_ms == 0 ? BACKOFF_MIN_MS :
	    l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : l->backoff_ms * 2;
	l->due_ms = w->now_ms + l->backoff_ms / 2 +
	    randombytes_uniform((uint32_t)l->backoff_ms / 2 + 1);
	l->state = LINK_WAIT;
	publish(w, l);
	if (why != NULL)
		note_failure(w, l, why);
}

/* Ends the link's connection; meshlink_closed retries (or not, for self). */
static void
link_fail(struct wk *w, struct mesh_link *l, const char *why)
{
	note_failure(w, l, why);
	l->noted = 1;
	conn_close(w, l->c, why);
}

static void
dial(struct wk *w, struct mesh_link *l)
{
	l->dial_id = ++w->links.next_id;
	if (dial_client_ask(w, l->peer, l->dial_id) != 0) {
		retry(w, l, "cannot ask the mesh dialer");
		return;
	}
	l->state = LINK_DIALING;
	l->due_ms = w->now_ms + DIAL_WAIT_MS;
	publish(w, l);
}

void
meshlink_start(struct wk *w)
{
	struct mesh_links *ls = &w->links;
	uint32_t i;

	for (i = 0; i < ls->nown; i++) {
		ls->own[i].state = LINK_WAIT;
		ls->own[i].due_ms = w->now_ms;
		publish(w, &ls->own[i]);
	}
}

void
meshlink_tick(struct wk *w)
{
	struct mesh_link *l;
	uint32_t i;

	for (i = 0; i < w->links.nown; i++) {
		l = &w->links.own[i];
		if (l->state == LINK_WAIT && w->now_ms >= l->due_ms && !w->stopping)
			dial(w, l);
		else if (l->state == LINK_DIALING && w->now_ms >= l->due_ms)
			retry(w, l, "the mesh dialer did not answer");
		else if (l->state == LINK_UP && w->now_ms - l->last_rx_ms >
		    2 * w->cfg->keepalive_ms + 5000)
			link_fail(w, l, "nothing heard from the peer relay "
			    "for two keepalives");
	}
}

static struct mesh_link *
link_of(struct wk *w, uint32_t peer_idx)
{
	uint32_t i;

	for (i = 0; i < w->links.nown; i++)
		if (w->links.own[i].peer == peer_idx)
			return &w->links.own[i];
	return NULL;
}

/* A connected socket: TLS to the peer starts. */
static void
connected(struct wk *w, struct mesh_link *l, int fd)
{
	struct conn *c;
	SSL *ssl;

	if ((ssl = tlsclient_ssl(w->links.ctx, peer(w, l))) == NULL) {
		close(fd);
		retry(w, l, "out of memory for TLS");
		return;
	}
	if ((c = conn_outbound(w, fd, ssl)) == NULL) {
		retry(w, l, "no connection slot free, or not a TCP socket");
		return;
	}
	c->link = l;
	l->c = c;
	l->phase = PH_TLS;
	l->state = LINK_LOGIN;
	l->last_rx_ms = w->now_ms;
	publish(w, l);
}

void
meshlink_dial_readable(struct wk *w)
{
	struct dial_resp resp;
	struct mesh_link *l;
	char why[MESH_HOST_MAX + 128];
	int fd;

	while (dial_client_recv(w, &resp, &fd)) {
		l = link_of(w, resp.peer);
		if (l == NULL || l->state != LINK_DIALING ||
		    l->dial_id != resp.id || w->stopping) {
			if (fd >= 0)
				close(fd);	/* an answer we stopped waiting for */
			continue;
		}
		if (resp.err == 0) {
			connected(w, l, fd);
			continue;
		}
		if (resp.err == ENXIO)
			snprintf(why, sizeof(why), "%s does not resolve",
			    peer(w, l)->dial);
		else
			snprintf(why, sizeof(why), "connect to %s port %u: %s",
			    peer(w, l)->dial, peer(w, l)->port, strerror(resp.err));
		retry(w, l, why);
	}
}

void
meshlink_established(struct wk *w, struct conn *c)
{
	char req[MESH_HOST_MAX + 128];
	int n;

	/* What derphttp.Client sends (bar Go's User-Agent). */
	n = snprintf(req, sizeof(req), "GET /derp HTTP/1.1\r\n"
	    "Host: %s\r\nUser-Agent: derpd\r\nConnection: Upgrade\r\n"
	    "Upgrade: DERP\r\n\r\n", peer(w, c->link)->authority);
	c->link->phase = PH_HEAD;
	conn_queue(w, c, req, (size_t)n);
}

/* The peer's greeting: its key, which the key process boxes our login to. */
static int
server_key(struct wk *w, struct mesh_link *l, const uint8_t *p, uint32_t len)
{
	struct conn *c = l->c;
	char text[KEY_TEXT_MAX];

	if (linkparse_server_key(p, len, l->peer_pub) != 0) {
		link_fail(w, l, "the peer relay's greeting is not DERP's");
		return -1;
	}
	if (memcmp(l->peer_pub, w->server_pub, KEY_LEN) == 0) {
		log_info("mesh(\"%s\"): detected self-connect; ignoring host",
		    peer(w, l)->authority);
		l->state = LINK_SELF;
		conn_close(w, c, "mesh link to ourselves");
		return -1;
	}
	key_format_text(text, NODEKEY_PREFIX, l->peer_pub);
	memcpy(stats(w, l)->pub, l->peer_pub, KEY_LEN);
	__atomic_store_n(&stats(w, l)->has_pub, 1, __ATOMIC_RELEASE);
	memcpy(c->key, l->peer_pub, KEY_LEN);	/* asked again if the key process restarts */
	l->phase = PH_KEY;
	c->state = CS_WAIT_KEY;
	conn_update_events(w, c);
	keyd_client_ask(w, c->slot, c->gen, l->peer_pub);
	log_debug("mesh(\"%s\"): peer relay %s", peer(w, l)->authority, text);
	return 0;
}

/* ClientInfo as derp.Client marshals it for a mesh client, then WatchConns. */
static int
send_login(struct wk *w, struct mesh_link *l)
{
	uint8_t f[DERP_FRAME_HDR_LEN + KEY_LEN + DERP_NONCE_LEN +
	    DERP_BOX_OVERHEAD + 128], *nonce, watch[DERP_FRAME_HDR_LEN];
	char json[128], hex[2 * KEY_LEN + 1];
	int n, rc = 0;

	sodium_bin2hex(hex, sizeof(hex), w->cfg->mesh_key, KEY_LEN);
	n = snprintf(json, sizeof(json), "{\"meshKey\":\"%s\",\"version\":%d,"
	    "\"CanAckPings\":false}", hex, DERP_PROTOCOL_VERSION);
	nonce = f + DERP_FRAME_HDR_LEN + KEY_LEN;
	frame_put_header(f, FRAME_CLIENT_INFO, KEY_LEN + DERP_NONCE_LEN +
	    DERP_BOX_OVERHEAD + (uint32_t)n);
	memcpy(f + DERP_FRAME_HDR_LEN, w->server_pub, KEY_LEN);
	randombytes_buf(nonce, DERP_NONCE_LEN);
	if (crypto_box_easy_afternm(nonce + DERP_NONCE_LEN, (uint8_t *)json,
	    (unsigned long long)n, nonce, l->shared) != 0)
		rc = -1;
	sodium_memzero(json, sizeof(json));
	sodium_memzero(hex, sizeof(hex));
	frame_put_header(watch, FRAME_WATCH_CONNS, 0);
	if (rc == 0 && (conn_queue(w, l->c, f, DERP_FRAME_HDR_LEN + KEY_LEN +
	    DERP_NONCE_LEN + DERP_BOX_OVERHEAD + (size_t)n) != 0 ||
	    conn_queue(w, l->c, watch, sizeof(watch)) != 0))
		return -1;	/* closed */
	if (rc != 0)
		link_fail(w, l, "cannot seal ClientInfo");
	return rc;
}

void
meshlink_keyd(struct wk *w, struct conn *c, const struct keyd_resp *resp)
{
	struct mesh_link *l = c->link;

	if (!resp->ok) {
		link_fail(w, l, "the peer relay's key is a low-order point");
		return;
	}
	memcpy(l->shared, resp->shared, KEY_LEN);
	if (send_login(w, l) != 0)
		return;
	l->phase = PH_SERVER_INFO;
	c->state = CS_CLIENT_INFO;	/* read on; the login deadline still runs */
	conn_update_events(w, c);
	conn_mark_ready(w, c);
}

/* ServerInfo opens with the login's key: the peer holds its private key. */
static int
server_info(struct wk *w, struct mesh_link *l, uint8_t *p, uint32_t len)
{
	struct conn *c = l->c;
	char text[KEY_TEXT_MAX];
	int rc;

	rc = crypto_box_open_easy_afternm(p + DERP_NONCE_LEN, p + DERP_NONCE_LEN,
	    len - DERP_NONCE_LEN, p, l->shared);
	sodium_memzero(l->shared, sizeof(l->shared));
	sodium_memzero(p, len);
	if (rc != 0) {
		link_fail(w, l, "the peer relay's ServerInfo does not open");
		return -1;
	}
	l->phase = PH_UP;
	l->state = LINK_UP;
	l->up_since_ms = w->now_ms;
	l->watching = 0;
	c->state = CS_RELAY;
	c->info.can_ack_pings = 1;	/* our keepalive to it is a Ping */
	c->next_keepalive_ms = w->now_ms + w->cfg->keepalive_ms;
	conn_update_events(w, c);
	count(&stats(w, l)->connects);
	publish(w, l);
	key_format_text(text, NODEKEY_PREFIX, l->peer_pub);
	log_debug("mesh(\"%s\"): logged in to %s", peer(w, l)->authority, text);
	return 0;
}

/*
 * The dump's first PeerPresent (it names at least our own connection): the
 * peer accepted our mesh key. A wrong one is closed at WatchConns instead.
 */
static void
watching(struct wk *w, struct mesh_link *l)
{
	char text[KEY_TEXT_MAX];

	l->watching = 1;
	l->failures = 0;
	key_format_text(text, NODEKEY_PREFIX, l->peer_pub);
	log_info("mesh(\"%s\"): connected to %s", peer(w, l)->authority, text);
}

/* A frame from a peer relay we are logged in to (derp.Client.Recv's cases). */
static int
up_frame(struct wk *w, struct mesh_link *l, uint8_t type, const uint8_t *p)
{
	uint8_t pong[DERP_FRAME_HDR_LEN + DERP_PING_LEN];

	switch (type) {
	case FRAME_PEER_PRESENT:
		if (!l->watching)
			watching(w, l);
		count(&stats(w, l)->present);
		remote_add(w, l->c, p);
		break;
	case FRAME_PEER_GONE:	/* derper removes the route whatever the reason */
		count(&stats(w, l)->gone);
		remote_del(w, l->c, p);
		break;
	case FRAME_PING:
		conn_queue_control(w, l->c, pong, frame_pong(pong, p));
		break;
	case FRAME_PONG:
		l->c->ping_sent_ms = 0;
		break;
	}
	return l->c == NULL || l->c->fd < 0 ? -1 : 0;
}

/* One whole frame, by phase; -1 when the link's connection closed. */
static int
frame(struct wk *w, struct mesh_link *l, uint8_t type, uint8_t *p, uint32_t len)
{
	switch (l->phase) {
	case PH_SERVER_KEY:
		if (type == FRAME_SERVER_KEY)
			return server_key(w, l, p, len);
		link_fail(w, l, "the peer relay did not start with ServerKey");
		return -1;
	case PH_SERVER_INFO:
		if (type == FRAME_SERVER_INFO)
			return server_info(w, l, p, len);
		link_fail(w, l, "the peer relay did not answer with ServerInfo");
		return -1;
	default:
		return up_frame(w, l, type, p);
	}
}

/* The answer to GET /derp: 101, or the link fails. */
static int
head(struct wk *w, struct mesh_link *l, struct buf *b)
{
	char why[64];
	int n, status;

	if ((n = linkparse_head(b->data + b->rd, b->wr - b->rd, &status)) == 0)
		return 0;
	if (n < 0) {
		link_fail(w, l, "the peer relay's answer is not HTTP");
		return -1;
	}
	if (status != 101) {
		snprintf(why, sizeof(why), "the peer relay answered %d to the "
		    "DERP upgrade", status);
		link_fail(w, l, why);
		return -1;
	}
	b->rd += (uint32_t)n;
	l->phase = PH_SERVER_KEY;
	l->c->state = CS_CLIENT_INFO;
	return 1;
}

/*
 * The frames in c->in. Each is consumed before it is handled (a handler
 * may close c, which returns the buffer).
 */
static void
frames(struct wk *w, struct mesh_link *l, struct buf *b)
{
	struct conn *c = l->c;
	enum frame_verdict v;
	uint32_t len, avail;
	uint8_t type, *p;

	while (c->fd >= 0 && l->phase != PH_KEY) {
		avail = b->wr - b->rd;
		if (c->skip > 0) {
			len = c->skip < avail ? c->skip : avail;
			b->rd += len;
			c->skip -= len;
			if (c->skip > 0)
				return;
			continue;
		}
		if (!frame_get_header(b->data + b->rd, avail, &type, &len))
			return;
		if ((v = linkparse_frame(type, len)) == FRAME_REJECT) {
			link_fail(w, l, "the peer relay sent a frame too large");
			return;
		}
		if (v == FRAME_SKIP) {
			b->rd += DERP_FRAME_HDR_LEN;
			c->skip = len;
			continue;
		}
		if (avail - DERP_FRAME_HDR_LEN < len)
			return;
		p = b->data + b->rd + DERP_FRAME_HDR_LEN;
		b->rd += DERP_FRAME_HDR_LEN + len;
		if (frame(w, l, type, p, len) != 0)
			return;
	}
}

void
meshlink_input(struct wk *w, struct conn *c)
{
	struct mesh_link *l = c->link;
	struct buf *b = c->in;

	l->last_rx_ms = w->now_ms;
	if (l->phase == PH_HEAD && head(w, l, b) <= 0)
		return;
	frames(w, l, b);
	if (c->fd < 0)
		return;
	if (b->rd == b->wr)
		b->rd = b->wr = 0;
	else if (b->rd > b->cap / 2)
		buf_compact(b);
}

/* Why TLS failed, when the peer's certificate is the reason. */
static const char *
tls_why(const struct conn *c)
{
	long v = c->ssl != NULL ? SSL_get_verify_result(c->ssl) : X509_V_OK;

	return v == X509_V_OK ? "the connection closed" :
	    X509_verify_cert_error_string(v);
}

/* Why a link that was not watching closed. */
static void
closed_why(const struct mesh_link *l, const struct conn *c, char *why,
    size_t len)
{
	if (l->phase == PH_TLS)
		snprintf(why, len, "TLS: %s", tls_why(c));
	else if (l->phase >= PH_SERVER_INFO)	/* it closes at WatchConns */
		snprintf(why, len, "the peer relay closed the link after our "
		    "login (is the mesh key the same?)");
	else
		snprintf(why, len, "the connection closed during the login");
}

void
meshlink_closed(struct wk *w, struct conn *c)
{
	struct mesh_link *l = c->link;
	char why[160];

	remote_clear(w, c);
	sodium_memzero(l->shared, sizeof(l->shared));
	c->link = NULL;
	l->c = NULL;
	if (l->state == LINK_SELF || w->stopping) {
		if (l->state != LINK_SELF)
			l->state = LINK_WAIT;
		publish(w, l);
		return;
	}
	if (l->state == LINK_UP && l->watching) {
		log_warnx("mesh(\"%s\"): the link went down; its routes are "
		    "gone; reconnecting", peer(w, l)->authority);
		if (w->now_ms - l->up_since_ms >= STABLE_MS)
			l->backoff_ms = 0;
		l->failures = 1;
		snprintf(l->last_why, sizeof(l->last_why), "the link went down");
		l->noted = 1;
	}
	closed_why(l, c, why, sizeof(why));
	retry(w, l, l->noted ? NULL : why);
	l->noted = 0;
}
