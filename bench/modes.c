/* SPDX-License-Identifier: BSD-3-Clause */
/* What each thread's clients do: throughput pairs, idle clients, handshakes. */
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "derpbench.h"

#define MAX_EVENTS	256
#define SEND_QUEUE_MAX	(256 * 1024)	/* our own unsent bytes per sender */
#define STALL_NS	1000000000LL	/* window full this long: presume lost */
#define DRAIN_NS	3000000000LL	/* wait for stragglers after sending */
#define LOGIN_NS	30000000000LL	/* one login may take this long */
#define HS_KEYS		1024		/* handshake mode reuses this many keys */

pthread_barrier_t start_barrier, measured_barrier;
int abort_run;

struct pkt_hdr {
	uint32_t	pair;
	uint32_t	magic;
	uint64_t	seq;
	int64_t		sent_ns;
};
#define PKT_MAGIC	0x44424e31	/* "DBN1" */

static __thread struct client *pending;	/* waiting for a connection slot */
static __thread struct client **restart;	/* handshake mode: redo next turn */
static __thread int nrestart;

static void
start_pending(struct loop *lp)
{
	struct client *c;

	while (pending != NULL && lp->connecting < opt.concurrency) {
		c = pending;
		pending = c->next_pending;
		client_start(c);
	}
}

static void
queue_start(struct client *c)
{
	c->next_pending = pending;
	pending = c;
}

static int
all_settled(struct loop *lp)
{
	int i;

	for (i = 0; i < lp->npairs; i++)
		if (lp->pairs[i].expect < lp->pairs[i].next_seq)
			return 0;
	return 1;
}

static int
sending_done(struct loop *lp, int64_t now)
{
	int i;

	if (now >= lp->t_send_end)
		return 1;
	if (opt.count == 0)
		return 0;
	for (i = 0; i < lp->npairs; i++)
		if (lp->pairs[i].next_seq < opt.count)
			return 0;
	return 1;
}

/* How many packets this pair may send now. */
static uint64_t
may_send(struct loop *lp, struct pair *p, int64_t now)
{
	uint64_t n = UINT64_MAX, due;

	if (!lp->sending || now >= lp->t_send_end || p->tx.state != C_READY)
		return 0;
	if (opt.count > 0)
		n = opt.count - p->next_seq;
	if (opt.window > 0) {
		if (p->next_seq - p->expect >= opt.window)
			return 0;
		if (opt.window - (p->next_seq - p->expect) < n)
			n = opt.window - (p->next_seq - p->expect);
	}
	if (lp->pair_rate > 0) {
		due = (uint64_t)(lp->pair_rate * (double)(now - lp->t_send0) / 1e9) + 1;
		due = due > p->next_seq + p->gaps_sched ? due - p->next_seq -
		    p->gaps_sched : 0;
		if (due < n)
			n = due;
	}
	return n;
}

static void
pump(struct loop *lp, struct pair *p)
{
	struct client *c = &p->tx;
	struct pkt_hdr h;
	uint32_t flen = KEY_LEN + opt.size;
	uint64_t n;
	uint8_t *f;

	c->more = 0;
	n = may_send(lp, p, mono_ns());
	for (; n > 0 && c->state == C_READY; n--) {
		if (c->out.len - c->out.off >= SEND_QUEUE_MAX) {
			if (client_flush(c) != 0)
				return;
			if (c->out.len - c->out.off >= SEND_QUEUE_MAX / 2)
				break;
		}
		f = client_out_reserve(c, DERP_FRAME_HDR_LEN + flen);
		frame_put_header(f, FRAME_SEND_PACKET, flen);
		memcpy(f + DERP_FRAME_HDR_LEN, p->rx.key->pub, KEY_LEN);
		h.pair = p->id;
		h.magic = PKT_MAGIC;
		h.seq = p->next_seq++;
		h.sent_ns = mono_ns();
		memcpy(f + DERP_FRAME_HDR_LEN + KEY_LEN, &h, sizeof(h));
	}
	if (n > 0 && lp->pair_rate > 0) {	/* we, not the server, fell behind */
		lp->skipped += n;
		p->gaps_sched += n;
	} else if (n > 0)
		c->more = 1;	/* come back when the socket takes more */
	client_flush(c);
}

void
loop_on_packet(struct client *c, const uint8_t *src, const uint8_t *pkt,
    uint32_t len)
{
	struct loop *lp = c->lp;
	struct pair *p = c->pair;
	struct pkt_hdr h;
	int64_t now;

	if (c->role != R_RECV)
		return;
	if (len < sizeof(h)) {
		p->foreign++;
		return;
	}
	memcpy(&h, pkt, sizeof(h));
	if (h.magic != PKT_MAGIC || h.pair != p->id ||
	    memcmp(src, p->tx.key->pub, KEY_LEN) != 0 || len != opt.size) {
		p->foreign++;
		return;
	}
	now = mono_ns();
	/* Order is the relay's: what the wire brought, not what the window
	 * gave up for lost (tick), which may still arrive late. */
	if (p->rcvd > 0 && h.seq <= p->top)
		p->reordered++;
	else
		p->top = h.seq;
	p->rcvd++;
	if (h.seq == p->expect)
		p->expect++;
	else if (h.seq > p->expect) {
		p->gaps += h.seq - p->expect;
		p->expect = h.seq + 1;
	}
	p->last_rx_ns = now;
	if (lp->first_rx_ns == 0)
		lp->first_rx_ns = now;
	lp->last_rx_ns = now;
	if (h.sent_ns > 0 && h.sent_ns <= now) {
		hist_add(&lp->lat, (uint64_t)(now - h.sent_ns));
		hist_add(&p->lat, (uint64_t)(now - h.sent_ns));
	}
	if (opt.window > 0)
		pump(lp, p);
}

void
loop_on_ready(struct client *c)
{
	struct loop *lp = c->lp;

	lp->connecting--;
	hist_add(&lp->hs, (uint64_t)(mono_ns() - c->t_start));
	if (c->role == R_HANDSHAKE) {
		lp->logins++;
		client_close(c, 1);
		restart[nrestart++] = c;
		return;
	}
	lp->ready++;
}

void
loop_on_dead(struct client *c, int was_ready)
{
	struct loop *lp = c->lp;

	if (was_ready) {
		lp->died++;
		return;
	}
	lp->connecting--;
	lp->failed++;
	if (c->role == R_HANDSHAKE)
		restart[nrestart++] = c;
}

static void
tick(struct loop *lp, int64_t now)
{
	struct pair *p;
	int i;

	for (i = 0; i < lp->npairs; i++) {
		p = &lp->pairs[i];
		if (opt.window > 0 && p->next_seq - p->expect >= opt.window &&
		    now - (p->last_rx_ns > p->stalled_ns ? p->last_rx_ns :
		    p->stalled_ns) > STALL_NS) {
			/* Window full with no progress: what is missing is lost. */
			p->gaps += p->next_seq - p->expect;
			p->expect = p->next_seq;
			p->stalled_ns = now;
		}
		pump(lp, p);
	}
}

static void
run_events(struct loop *lp, int timeout_ms)
{
	struct epoll_event evs[MAX_EVENTS];
	struct client *c;
	int i, n;

	n = epoll_wait(lp->epfd, evs, MAX_EVENTS, timeout_ms);
	for (i = 0; i < n; i++) {
		c = evs[i].data.ptr;
		client_io(c, evs[i].events);
		if (c->role == R_SEND && c->state == C_READY)
			pump(lp, c->pair);
	}
	start_pending(lp);
}

static void
connect_all(struct loop *lp, int total)
{
	int64_t deadline = mono_ns() + LOGIN_NS + (int64_t)total * 10000000;

	start_pending(lp);
	while (lp->ready + lp->failed < total) {
		if (mono_ns() > deadline) {
			log_info("thread %d: %d of %d clients logged in", lp->id,
			    lp->ready, total);
			abort_run = 1;
			break;
		}
		run_events(lp, 100);
	}
}

static void
close_all(struct loop *lp)
{
	int i;

	for (i = 0; i < lp->npairs; i++) {
		client_close(&lp->pairs[i].tx, 1);
		client_close(&lp->pairs[i].rx, 1);
	}
	for (i = 0; i < lp->nclients; i++)
		client_close(&lp->clients[i], 1);
}

static void
run_throughput(struct loop *lp)
{
	int64_t now, last_tick = 0, drain_end = 0;
	int i;

	for (i = lp->npairs - 1; i >= 0; i--) {
		queue_start(&lp->pairs[i].rx);
		queue_start(&lp->pairs[i].tx);
	}
	connect_all(lp, 2 * lp->npairs);
	if (lp->failed > 0)
		abort_run = 1;	/* every pair must be up */
	pthread_barrier_wait(&start_barrier);
	if (abort_run)
		return;
	for (now = mono_ns() + (int64_t)(opt.settle * 1e9); mono_ns() < now; )
		run_events(lp, 20);
	lp->t_send0 = mono_ns();
	lp->t_send_end = lp->t_send0 + (int64_t)(opt.duration * 1e9);
	lp->sending = 1;
	for (i = 0; i < lp->npairs; i++) {
		lp->pairs[i].stalled_ns = lp->t_send0;	/* no stall before this */
		pump(lp, &lp->pairs[i]);
	}
	for (;;) {
		run_events(lp, lp->pair_rate > 0 ? 1 : 20);
		now = mono_ns();
		if (abort_run)
			break;
		if (drain_end == 0 && sending_done(lp, now)) {
			lp->t_send_end = now;
			drain_end = now + DRAIN_NS;
		}
		if (drain_end != 0 && (all_settled(lp) || now > drain_end))
			break;
		if (lp->pair_rate > 0 || now - last_tick > 10000000) {
			tick(lp, now);
			last_tick = now;
		}
	}
	lp->sending = 0;
}

static void
run_idle(struct loop *lp)
{
	int64_t end;
	int i;

	for (i = lp->nclients - 1; i >= 0; i--)
		queue_start(&lp->clients[i]);
	connect_all(lp, lp->nclients);
	pthread_barrier_wait(&start_barrier);
	pthread_barrier_wait(&measured_barrier);
	end = mono_ns() + (int64_t)(opt.hold * 1e9);
	while (!abort_run && mono_ns() < end)
		run_events(lp, 100);
}

static void
run_handshakes(struct loop *lp)
{
	int64_t end, grace;
	uint64_t counted = 0;
	int i;

	restart = calloc((size_t)lp->nclients, sizeof(*restart));
	if (restart == NULL)
		fatal("calloc");
	pthread_barrier_wait(&start_barrier);
	lp->t_send0 = mono_ns();
	end = lp->t_send0 + (int64_t)(opt.duration * 1e9);
	for (i = 0; i < lp->nclients; i++)
		queue_start(&lp->clients[i]);
	while (mono_ns() < end) {
		run_events(lp, 20);
		for (i = 0; i < nrestart; i++) {
			restart[i]->key = &lp->keys[lp->next_key++ % lp->nkeys];
			queue_start(restart[i]);
		}
		nrestart = 0;
		start_pending(lp);
	}
	counted = lp->logins;
	lp->t_send_end = mono_ns();
	grace = lp->t_send_end + 5000000000LL;
	while (lp->connecting > 0 && mono_ns() < grace)
		run_events(lp, 20);
	lp->logins = counted;
}

void *
thread_main(void *arg)
{
	struct loop *lp = arg;

	switch (opt.mode) {
	case MODE_THROUGHPUT:
		run_throughput(lp);
		break;
	case MODE_IDLE:
		run_idle(lp);
		break;
	case MODE_HANDSHAKE:
		run_handshakes(lp);
		break;
	}
	close_all(lp);
	return NULL;
}

static void
init_client(struct loop *lp, struct client *c, enum role role,
    struct pair *p, int key, int worker)
{
	memset(c, 0, sizeof(*c));
	c->lp = lp;
	c->role = role;
	c->pair = p;
	c->key = &lp->keys[key];
	c->worker = worker;
	c->fd = -1;
	c->state = C_DEAD;
}

static void
make_keys(struct loop *lp, int n)
{
	int i;

	lp->nkeys = n;
	lp->keys = calloc((size_t)n, sizeof(*lp->keys));
	lp->shared = calloc((size_t)n, sizeof(*lp->shared));
	lp->shared_ok = calloc((size_t)n, 1);
	if (lp->keys == NULL || lp->shared == NULL || lp->shared_ok == NULL)
		fatal("calloc");
	for (i = 0; i < n; i++)
		crypto_box_keypair(lp->keys[i].pub, lp->keys[i].sec);
}

/* Splits count items over n threads; returns thread t's share. */
static int
share(int count, int n, int t)
{
	return count / n + (t < count % n);
}

static void
init_pairs(struct loop *lp, int first)
{
	struct pair *p;
	int i, g, wtx, wrx;

	lp->pairs = calloc((size_t)lp->npairs, sizeof(*lp->pairs));
	if (lp->pairs == NULL)
		fatal("calloc");
	make_keys(lp, 2 * lp->npairs);
	for (i = 0; i < lp->npairs; i++) {
		p = &lp->pairs[i];
		g = first + i;
		p->id = (uint32_t)g;
		wtx = wrx = -1;
		if (opt.placement != PLACE_ANY) {
			wtx = g % opt.workers;
			wrx = opt.placement == PLACE_SAME ? wtx :
			    (wtx + 1) % opt.workers;
		}
		init_client(lp, &p->tx, R_SEND, p, 2 * i, wtx);
		init_client(lp, &p->rx, R_RECV, p, 2 * i + 1, wrx);
	}
	if (opt.rate > 0)
		lp->pair_rate = opt.rate / opt.pairs;
}

void
modes_init(struct loop *loops, int n)
{
	struct loop *lp;
	int t, i, first = 0, nc;

	for (t = 0; t < n; t++) {
		lp = &loops[t];
		lp->id = t;
		if ((lp->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
			fatal("epoll_create1");
		switch (opt.mode) {
		case MODE_THROUGHPUT:
			lp->npairs = share(opt.pairs, n, t);
			init_pairs(lp, first);
			first += lp->npairs;
			break;
		case MODE_IDLE:
		case MODE_HANDSHAKE:
			nc = share(opt.mode == MODE_IDLE ? opt.clients :
			    opt.concurrency, n, t);
			lp->nclients = nc;
			lp->clients = calloc((size_t)nc, sizeof(*lp->clients));
			if (lp->clients == NULL)
				fatal("calloc");
			make_keys(lp, opt.mode == MODE_IDLE ? nc : HS_KEYS);
			for (i = 0; i < nc; i++)
				init_client(lp, &lp->clients[i], opt.mode ==
				    MODE_IDLE ? R_IDLE : R_HANDSHAKE, NULL,
				    i % lp->nkeys, opt.mode == MODE_IDLE ?
				    opt.on_worker : -1);
			lp->next_key = nc % lp->nkeys;
			break;
		}
	}
}
