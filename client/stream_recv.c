/* SPDX-License-Identifier: BSD-3-Clause */
/* derpd-client recv: one sender's stream to stdout (see streamfmt.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "session.h"
#include "stream.h"
#include "streamfmt.h"

struct held {
	int	have;
	size_t	len;
	uint8_t	data[STREAM_CHUNK];
};

struct receiver {
	const struct copts	*o;
	struct derpconn		*c;
	const struct ident	*id;
	int			 locked;	/* to the first sender's stream */
	uint8_t			 peer[KEY_LEN];
	uint8_t			 shared[crypto_box_BEFORENMBYTES];
	uint32_t		 stream;
	uint32_t		 next;		/* the next seq to write out */
	int			 fin_known;
	uint32_t		 fin_seq;
	int			 complete;	/* FIN reached in order */
	int			 done;		/* the sender said DONE */
	int64_t			 heard_at;
	struct held		 win[STREAM_WINDOW];
};

static void
write_out(const uint8_t *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(STDOUT_FILENO, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			fatal("writing stdout");
		}
		p += n;
		len -= (size_t)n;
	}
}

/* Writes out what is now in order, and notices the end of the stream. */
static void
deliver(struct receiver *r)
{
	struct held *h;

	while ((h = &r->win[r->next % STREAM_WINDOW])->have &&
	    !(r->fin_known && r->next == r->fin_seq)) {
		write_out(h->data, h->len);
		h->have = 0;
		r->next++;
	}
	if (r->fin_known && r->next == r->fin_seq && !r->complete) {
		r->next++;
		r->complete = 1;
	}
}

static void
on_msg(struct receiver *r, const struct smsg *m)
{
	struct held *h;

	if (m->kind == SMSG_DONE) {
		r->done = r->complete;
		return;
	}
	if (m->kind == SMSG_FIN && !r->fin_known && m->seq >= r->next) {
		r->fin_known = 1;
		r->fin_seq = m->seq;
	} else if (m->kind == SMSG_DATA && m->seq >= r->next &&
	    m->seq - r->next < STREAM_WINDOW &&
	    !(r->fin_known && m->seq >= r->fin_seq)) {
		h = &r->win[m->seq % STREAM_WINDOW];
		memcpy(h->data, m->data, m->len);
		h->len = m->len;
		h->have = 1;
	}
	deliver(r);
}

/* The first sender whose message opens and parses is the one we serve. */
static int
lock_on(struct receiver *r, const uint8_t src[KEY_LEN])
{
	if (r->locked)
		return memcmp(src, r->peer, KEY_LEN) == 0 ? 0 : -1;
	memcpy(r->peer, src, KEY_LEN);
	return e2e_shared(r->shared, src, r->id);
}

static void
on_packet(struct receiver *r, const struct dc_event *ev)
{
	uint8_t plain[STREAM_MSG_MAX], ack[STREAM_MSG_MAX];
	struct smsg m, a;
	size_t len;

	if (ev->len > sizeof(plain) + E2E_OVERHEAD || lock_on(r, ev->src) != 0 ||
	    e2e_open(plain, &len, ev->data, ev->len, r->shared) != 0 ||
	    smsg_decode(plain, len, &m) != 0 ||
	    (r->locked ? m.stream != r->stream :
	    m.kind != SMSG_DATA && m.kind != SMSG_FIN))
		return;
	if (!r->locked) {
		r->locked = 1;
		r->stream = m.stream;
		log_debug("receiving stream %08x", m.stream);
	}
	r->heard_at = now_ms();
	on_msg(r, &m);
	if (m.kind == SMSG_DONE)
		return;
	a = (struct smsg){ .kind = SMSG_ACK, .stream = r->stream, .seq = r->next };
	if (session_send(r->c, r->peer, r->shared, ack, smsg_encode(ack, &a),
	    now_ms() + r->o->timeout_ms) != 0)
		fatalx("%s", r->c->err);
}

static void
drain_relay(struct receiver *r)
{
	struct dc_event ev;
	int n;

	while ((n = dc_next(r->c, &ev, 0)) == 1)
		if (ev.type == DC_PACKET)
			on_packet(r, &ev);
	if (n < 0)
		fatalx("%s", r->c->err);
}

/* Until the stream is complete and the sender has said DONE or gone quiet. */
static void
run(struct receiver *r)
{
	int64_t quiet;

	for (;;) {
		drain_relay(r);
		if (r->done)
			return;
		quiet = now_ms() - r->heard_at;
		if (r->complete && quiet >= STREAM_LINGER_MS)
			return;
		if (r->locked && !r->complete && quiet > r->o->timeout_ms)
			fatalx("the sender went silent for %lld ms; %u messages "
			    "received", (long long)quiet, r->next);
		session_wait(r->c, -1, !r->locked ? now_ms() + 3600000 :
		    r->heard_at + (r->complete ? STREAM_LINGER_MS :
		    r->o->timeout_ms + 1));
	}
}

int
cmd_recv(const struct copts *o)
{
	static struct receiver r;
	struct ident id;

	ident_init(&id, o->keyfile);
	r.o = o;
	r.id = &id;
	r.c = session_open(o, &id);
	run(&r);
	log_debug("%u messages received", r.next);
	dc_close(r.c);
	sodium_memzero(r.shared, sizeof(r.shared));
	ident_free(&id);
	return 0;
}
