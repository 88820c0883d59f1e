/* SPDX-License-Identifier: BSD-3-Clause */
/* derpd-client send: stdin to one key, reliably (see streamfmt.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "session.h"
#include "stream.h"
#include "streamfmt.h"

#define RTO_INITIAL_MS	500
#define RTO_MIN_MS	200
#define RTO_MAX_MS	2000
#define DUPACK_REXMIT	3

struct slot {
	uint32_t	seq;
	int64_t		sent_at;
	int		resent;		/* no RTT sample from a resent message */
	size_t		len;
	uint8_t		msg[STREAM_MSG_MAX];
};

struct sender {
	const struct copts	*o;
	struct derpconn		*c;
	uint8_t			 peer[KEY_LEN];
	uint8_t			 shared[crypto_box_BEFORENMBYTES];
	uint32_t		 stream;
	uint32_t		 base;		/* oldest unacknowledged */
	uint32_t		 next;		/* the next seq to use */
	int			 fin_queued;
	int			 peer_gone;
	int			 dupacks;
	int64_t			 rto, srtt, rttvar;
	int64_t			 progress_at;	/* last new acknowledgement */
	struct slot		 win[STREAM_WINDOW];
};

static struct slot *
slot_of(struct sender *s, uint32_t seq)
{
	return &s->win[seq % STREAM_WINDOW];
}

static void
transmit(struct sender *s, struct slot *sl)
{
	if (session_send(s->c, s->peer, s->shared, sl->msg, sl->len,
	    now_ms() + s->o->timeout_ms) != 0)
		fatalx("%s", s->c->err);
	sl->resent = sl->sent_at != 0;
	sl->sent_at = now_ms();
}

/* Queues and sends the next DATA (len > 0) or, at end of input, FIN. */
static void
queue_msg(struct sender *s, const uint8_t *data, size_t len)
{
	struct slot *sl = slot_of(s, s->next);
	struct smsg m = { len > 0 ? SMSG_DATA : SMSG_FIN, s->stream, s->next,
	    data, len };

	sl->seq = s->next++;
	sl->sent_at = 0;
	sl->len = smsg_encode(sl->msg, &m);
	s->fin_queued = len == 0;
	transmit(s, sl);
}

/* RFC 6298's estimator, in milliseconds. */
static void
rtt_sample(struct sender *s, int64_t r)
{
	if (s->srtt < 0) {
		s->srtt = r;
		s->rttvar = r / 2;
	} else {
		s->rttvar = (3 * s->rttvar + (s->srtt > r ? s->srtt - r : r - s->srtt)) / 4;
		s->srtt = (7 * s->srtt + r) / 8;
	}
	s->rto = s->srtt + 4 * s->rttvar;
	s->rto = s->rto < RTO_MIN_MS ? RTO_MIN_MS : s->rto > RTO_MAX_MS ?
	    RTO_MAX_MS : s->rto;
}

static void
on_ack(struct sender *s, uint32_t next)
{
	struct slot *sl;

	if (next > s->next)
		return;		/* acknowledges what was never sent */
	if (next == s->base) {
		/* Once per loss: dupacks restart only when base moves. */
		if (s->base != s->next && ++s->dupacks == DUPACK_REXMIT)
			transmit(s, slot_of(s, s->base));
		return;
	}
	if (next < s->base)
		return;		/* an old ACK, overtaken */
	for (; s->base < next; s->base++) {
		sl = slot_of(s, s->base);
		if (!sl->resent)
			rtt_sample(s, now_ms() - sl->sent_at);
	}
	s->dupacks = 0;
	s->progress_at = now_ms();
}

static void
on_packet(struct sender *s, const struct dc_event *ev)
{
	uint8_t plain[STREAM_MSG_MAX];
	struct smsg m;
	size_t len;

	if (memcmp(ev->src, s->peer, KEY_LEN) != 0 || ev->len > DERP_MAX_PACKET ||
	    ev->len > sizeof(plain) + E2E_OVERHEAD ||
	    e2e_open(plain, &len, ev->data, ev->len, s->shared) != 0 ||
	    smsg_decode(plain, len, &m) != 0 || m.stream != s->stream)
		return;
	if (m.kind == SMSG_ACK)
		on_ack(s, m.seq);
}

static void
drain_relay(struct sender *s)
{
	struct dc_event ev;
	int r;

	while ((r = dc_next(s->c, &ev, 0)) == 1) {
		if (ev.type == DC_PACKET)
			on_packet(s, &ev);
		else if (ev.type == DC_PEER_GONE &&
		    memcmp(ev.src, s->peer, KEY_LEN) == 0)
			s->peer_gone = 1;
	}
	if (r < 0)
		fatalx("%s", s->c->err);
}

static void
read_input(struct sender *s)
{
	uint8_t buf[STREAM_CHUNK];
	ssize_t n;

	if ((n = read(STDIN_FILENO, buf, sizeof(buf))) < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		fatal("reading stdin");
	}
	queue_msg(s, buf, (size_t)n);
}

/* Resends the oldest message once its timer runs out, backing off. */
static void
check_timer(struct sender *s)
{
	struct slot *sl = slot_of(s, s->base);

	if (s->base == s->next || now_ms() < sl->sent_at + s->rto)
		return;
	transmit(s, sl);
	s->rto = s->rto * 2 > RTO_MAX_MS ? RTO_MAX_MS : s->rto * 2;
}

static void
run(struct sender *s)
{
	int64_t deadline;
	int want_input;

	for (;;) {
		drain_relay(s);
		if (s->fin_queued && s->base == s->next)
			return;		/* FIN acknowledged */
		check_timer(s);
		if (now_ms() - s->progress_at > s->o->timeout_ms)
			fatalx("no acknowledgement for %lld ms%s: %u of %u "
			    "messages acknowledged", (long long)s->o->timeout_ms,
			    s->peer_gone ? " (the relay says the receiver is gone)" :
			    "", s->base, s->next);
		want_input = !s->fin_queued && s->next - s->base < STREAM_WINDOW;
		deadline = s->base != s->next ?
		    slot_of(s, s->base)->sent_at + s->rto :
		    now_ms() + s->o->timeout_ms;
		if (session_wait(s->c, want_input ? STDIN_FILENO : -1,
		    deadline) & SESSION_OTHER)
			read_input(s);
	}
}

int
cmd_send(const struct copts *o)
{
	static struct sender s;
	struct ident id;
	uint8_t done[STREAM_MSG_MAX];
	struct smsg m;

	if (key_parse_text(o->args[1], strlen(o->args[1]), NODEKEY_PREFIX,
	    s.peer) != 0) {
		fprintf(stderr, "derpd-client: %s is not a key: expected "
		    "nodekey:<64 hex digits>\n", o->args[1]);
		return EXIT_USAGE;
	}
	ident_init(&id, o->keyfile);
	if (e2e_shared(s.shared, s.peer, &id) != 0)
		fatalx("%s is not a usable key", o->args[1]);
	s.o = o;
	s.c = session_open(o, &id);
	randombytes_buf(&s.stream, sizeof(s.stream));
	s.rto = RTO_INITIAL_MS;
	s.srtt = -1;
	s.progress_at = now_ms();
	run(&s);
	m = (struct smsg){ .kind = SMSG_DONE, .stream = s.stream };
	if (session_send(s.c, s.peer, s.shared, done, smsg_encode(done, &m),
	    now_ms() + o->timeout_ms) != 0)
		log_debug("DONE not sent: %s", s.c->err);
	log_debug("%u messages acknowledged", s.next);
	dc_close(s.c);
	sodium_memzero(s.shared, sizeof(s.shared));
	ident_free(&id);
	return 0;
}
