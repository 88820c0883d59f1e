/* SPDX-License-Identifier: BSD-3-Clause */
#include "sendq.h"

#include <string.h>

#include "outq.h"
#include "websocket.h"

enum { Q_BULK, Q_DISCO };

/* One frame onto c's stream: one message over WebSocket. */
static int
stream_append(struct wk *w, struct conn *c, const void *head, size_t hlen,
    const void *body, size_t blen)
{
	if (c->ws != NULL)
		return ws_queue_frame(w, c, head, hlen, body, blen);
	if (outq_append(w, c, head, hlen) != 0 ||
	    (blen > 0 && outq_append(w, c, body, blen) != 0))
		return -1;
	return 0;
}

static void
count_sent(struct wk *w, uint32_t len)
{
	wk_stat(w, ST_PACKETS_SENT, 1);
	wk_stat(w, ST_BYTES_SENT, len);
}

static void
count_drop(struct wk *w, enum stat_id packets, enum stat_id bytes, uint32_t len)
{
	wk_stat(w, packets, 1);
	wk_stat(w, bytes, len);
}

/* A queued frame's packet bytes, for the counters. */
static uint32_t
payload_len(const struct buf *p)
{
	return p->wr - DERP_RECV_HDR_LEN;
}

/* Off the budget: freed, or on the stream now. */
static void
uncharge(struct wk *w, const struct buf *p)
{
	wk_stat(w, ST_SENDQ_BYTES, -(int64_t)pktq_held(p));
	pktq_uncharge(&w->sendq_budget, p);
}

static void
release(struct wk *w, struct buf *p)
{
	uncharge(w, p);
	buf_put(&w->bufs, p);
}

/* derper's queue_head drop. */
static void
drop_oldest(struct wk *w, struct pktq *q)
{
	struct buf *old = pktq_pop(q);

	count_drop(w, ST_DROP_QUEUE_HEAD, ST_DROP_BYTES_QUEUE_HEAD,
	    payload_len(old));
	release(w, old);
}

static int
queues_empty(const struct conn *c)
{
	return c->sendq[Q_BULK].n == 0 && c->sendq[Q_DISCO].n == 0;
}

int
sendq_packet(struct wk *w, struct conn *c, const uint8_t src[KEY_LEN],
    const uint8_t *pkt, uint32_t len)
{
	struct pktq *q = &c->sendq[packet_looks_like_disco(pkt, len) ?
	    Q_DISCO : Q_BULK];
	uint8_t hdr[DERP_RECV_HDR_LEN];
	struct buf *p;

	frame_recv_packet_header(hdr, src, len);
	/* Nothing waiting and the stream is short: straight onto it. */
	if (queues_empty(c) && c->out_bytes < SENDQ_STREAM_LOW) {
		if (stream_append(w, c, hdr, sizeof(hdr), pkt, len) != 0)
			return -1;
		count_sent(w, len);
		return 0;
	}
	if (pktq_full(q))
		drop_oldest(w, q);
	/* The worker's budget spent: this queue's oldest give way, if any. */
	while (!pktq_fits(&w->sendq_budget, sizeof(hdr) + len) && q->n > 0)
		drop_oldest(w, q);
	if ((p = pktq_alloc(&w->sendq_budget, &w->bufs, sizeof(hdr) + len)) ==
	    NULL) {
		count_drop(w, ST_DROP_QUEUE_FULL, ST_DROP_BYTES_QUEUE_FULL, len);
		return 0;
	}
	wk_stat(w, ST_SENDQ_BYTES, (int64_t)pktq_held(p));
	memcpy(p->data, hdr, sizeof(hdr));
	memcpy(p->data + sizeof(hdr), pkt, len);
	pktq_push(q, p);
	outq_schedule(w, c);
	return 0;
}

/* One frame onto the stream: as it is, or as a WebSocket message. */
static int
start(struct wk *w, struct conn *c, struct buf *p)
{
	uint32_t n = payload_len(p);
	int rc = 0;

	if (c->ws == NULL) {
		uncharge(w, p);
		outq_splice(w, c, p);
	} else {
		rc = ws_queue_frame(w, c, p->data, p->wr, NULL, 0);
		release(w, p);
	}
	if (rc == 0)
		count_sent(w, n);
	return rc;
}

int
sendq_refill(struct wk *w, struct conn *c)
{
	int i, rc = 0;

	while (rc == 0 && c->fd >= 0 && c->out_bytes < SENDQ_STREAM_LOW &&
	    !queues_empty(c)) {
		i = c->sendq[Q_DISCO].n > 0 ? Q_DISCO : Q_BULK;
		rc = start(w, c, pktq_pop(&c->sendq[i]));
	}
	return rc;
}

void
sendq_free(struct wk *w, struct conn *c)
{
	struct buf *p;
	int i;

	for (i = Q_BULK; i <= Q_DISCO; i++)
		while ((p = pktq_pop(&c->sendq[i])) != NULL)
			release(w, p);
}
