/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for the connection table's service in the master
 * (master/tablesrv.c over common/table.c): hostile requests from workers,
 * each on its own SOCK_SEQPACKET socket as in derpd. (The table's readers
 * against a scribbled table are tests/fuzz/fuzz_table.c's.)
 *
 * Requests are datagrams of any size and content, and well-formed requests
 * for a small pool of keys, so that keys gather duplicate connections, the
 * oldest is evicted and the table fills up; workers die (their routes
 * removed, their incarnation bumped). Every answer is checked against a
 * model of the table written from table.h's contract: a refused request
 * gets no answer, a worker's routes always carry that worker's number and
 * current incarnation (whatever it sent), a key has at most TABLE_MAX_DUPS
 * connections and the newest is active, and the readers (table_lookup,
 * table_routes, table_foreach, table_counts) see exactly the model. Mesh
 * links' requests (remote add, del and clear) go against a table without
 * room for keys reachable only remotely, as derpd's without -mesh-with: a
 * worker may add remote routes to keys with local connections, which go
 * with their last one, and never make a key out of nothing.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tablesrv.h"
#include "fuzz.h"

#define NW		3	/* workers */
#define MAXC		16	/* -max-clients */
#define NKEYS		6	/* the key pool */
#define DUPS		TABLE_MAX_DUPS

struct mkey {
	uint8_t		key[KEY_LEN];
	int		n;		/* connections; 0: a free model entry */
	int		active;
	struct route	r[DUPS];	/* oldest first */
	int		nr;		/* remote routes, oldest first */
	struct route	rr[TABLE_MAX_REMOTE];
};

struct script {
	const uint8_t	*p;
	size_t		 n;
};

static struct shm shm;
static struct shm_ctl ctl;
static struct tablesrv ts;
static void *mem;
static int wfd[NW];			/* the workers' ends */
static struct mkey model[MAXC];
static int model_conns;
static uint8_t pool[NKEYS][KEY_LEN];
static const uint8_t hash_key[16] = "fuzz-table-hash";

static uint8_t
get8(struct script *s)
{
	uint8_t v;

	if (s->n == 0)
		return 0;
	v = *s->p++;
	s->n--;
	return v;
}

static uint32_t
get32(struct script *s)
{
	uint32_t v = 0;
	int i;

	for (i = 0; i < 4; i++)
		v |= (uint32_t)get8(s) << (8 * i);
	return v;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int sv[2], w, i;

	(void)argc;
	(void)argv;
	shm.nworkers = NW;
	shm.ctl = &ctl;
	if ((mem = malloc(table_size(MAXC, 0))) == NULL)
		abort();
	table_attach(&shm.table, mem, MAXC, 0, NW, hash_key);
	tablesrv_init(&ts, &shm, MAXC);
	for (w = 0; w < NW; w++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0, sv) != 0)
			abort();
		tablesrv_attach(&ts, (uint32_t)w, sv[0]);
		wfd[w] = sv[1];
	}
	for (i = 0; i < NKEYS; i++)
		memset(pool[i], 0x11 * (i + 1), KEY_LEN);
	return 0;
}

/* --- the model, from table.h's contract ------------------------------------ */

static int
same(const struct route *a, const struct route *b)
{
	return a->worker == b->worker && a->epoch == b->epoch &&
	    a->slot == b->slot && a->gen == b->gen;
}

static struct mkey *
model_find(const uint8_t key[KEY_LEN])
{
	int i;

	for (i = 0; i < MAXC; i++)
		if (model[i].n > 0 && memcmp(model[i].key, key, KEY_LEN) == 0)
			return &model[i];
	return NULL;
}

static struct mkey *
model_new(const uint8_t key[KEY_LEN])
{
	int i;

	for (i = 0; model[i].n > 0; i++)
		CHECK(i + 1 < MAXC);
	memcpy(model[i].key, key, KEY_LEN);
	model[i].active = 0;
	model[i].nr = 0;
	return &model[i];
}

/* Removes route i; the newest left becomes active if i was. */
static void
model_drop(struct mkey *m, int i)
{
	int was = m->active;

	memmove(&m->r[i], &m->r[i + 1], (size_t)(m->n - i - 1) * sizeof(m->r[0]));
	m->n--;
	model_conns--;
	if (m->n == 0)
		m->nr = 0;	/* no room to be reachable only remotely */
	if (m->n == 0)
		m->active = 0;
	else if (was == i)
		m->active = m->n - 1;
	else if (was > i)
		m->active = was - 1;
}

static int
model_remote(const struct mkey *m, const struct route *r)
{
	int i;

	for (i = 0; m != NULL && i < m->nr; i++)
		if (same(&m->rr[i], r))
			return i;
	return -1;
}

static void
model_drop_remote(struct mkey *m, int i)
{
	memmove(&m->rr[i], &m->rr[i + 1], (size_t)(m->nr - i - 1) *
	    sizeof(m->rr[0]));
	m->nr--;
}

/* Mesh links' requests; the key's local connections are untouched. */
static void
model_apply_remote(const struct table_req *req, const struct route *r,
    struct mkey *m, struct table_resp *want)
{
	int i, k;

	switch (req->op) {
	case TOP_REMOTE_ADD:
		if (m != NULL && model_remote(m, r) >= 0)
			want->result = 0;
		else if (m == NULL || m->nr == TABLE_MAX_REMOTE)
			want->result = -1;
		else {
			m->rr[m->nr++] = *r;
			want->result = 1;
		}
		return;
	case TOP_REMOTE_DEL:
		if ((i = model_remote(m, r)) < 0) {
			want->result = TABLE_NOT_FOUND;
			return;
		}
		model_drop_remote(m, i);
		want->result = TABLE_STAYS;
		return;
	default:	/* TOP_REMOTE_CLEAR */
		for (k = 0; k < MAXC; k++)
			if (model[k].n > 0 && (i = model_remote(&model[k], r)) >= 0) {
				model_drop_remote(&model[k], i);
				want->result++;
			}
		return;
	}
}

static int
model_route(const struct mkey *m, const struct route *r)
{
	int i;

	for (i = 0; m != NULL && i < m->n; i++)
		if (same(&m->r[i], r))
			return i;
	return -1;
}

/* What the answer to a served request must say, and the model after it. */
static void
model_apply(const struct table_req *req, const struct route *r,
    struct table_resp *want)
{
	struct mkey *m = model_find(req->key);
	int i;

	memset(want, 0, sizeof(*want));
	want->op = req->op;
	want->slot = req->slot;
	want->gen = req->gen;
	memcpy(want->key, req->key, KEY_LEN);
	switch (req->op) {
	case TOP_REGISTER:
		if (model_conns >= MAXC) {
			want->result = -1;	/* full, even for a key that would evict */
			return;
		}
		if (m == NULL)
			m = model_new(req->key);
		want->join.nothers = (uint32_t)m->n;
		memcpy(want->join.others, m->r, (size_t)m->n * sizeof(m->r[0]));
		if (m->n == DUPS) {
			want->join.evicted = 1;
			want->join.evicted_route = m->r[0];
			model_drop(m, 0);
		}
		m->r[m->n] = *r;
		m->active = m->n++;
		model_conns++;
		return;
	case TOP_UNREGISTER:
		if ((i = model_route(m, r)) < 0) {
			want->result = TABLE_NOT_FOUND;
			return;
		}
		model_drop(m, i);
		want->result = m->n == 0 ? TABLE_GONE : TABLE_STAYS;
		return;
	case TOP_REMOTE_ADD:
	case TOP_REMOTE_DEL:
	case TOP_REMOTE_CLEAR:
		model_apply_remote(req, r, m, want);
		return;
	default:	/* TOP_CLAIM */
		if ((i = model_route(m, r)) < 0) {
			want->result = -1;
			return;
		}
		want->result = m->active != i;
		m->active = i;
		return;
	}
}

/* A worker died: the master drops its routes, newest first. */
static void
model_remove_worker(uint32_t w)
{
	int k, j;

	for (k = 0; k < MAXC; k++) {
		for (j = model[k].nr; j-- > 0; )
			if (model[k].rr[j].worker == w)
				model_drop_remote(&model[k], j);
		for (j = model[k].n; j-- > 0; )
			if (model[k].r[j].worker == w)
				model_drop(&model[k], j);
	}
}

/* --- the readers ------------------------------------------------------------- */

struct seen {
	int	n;
};

static void
count_key(const uint8_t *key, const struct route *r,
    const struct peer_info *info, void *arg)
{
	struct mkey *m = model_find(key);

	(void)info;
	CHECK(m != NULL && same(r, &m->r[m->active]));
	((struct seen *)arg)->n++;
}

/* Every reader agrees with the model. */
static void
check_readers(void)
{
	struct route r, all[DUPS];
	struct seen seen = { 0 };
	uint32_t dkeys, dconns, conns, want_dkeys = 0, want_dconns = 0;
	int k, n, keys = 0;

	for (k = 0; k < MAXC; k++) {
		struct mkey *m = &model[k];

		if (m->n == 0)
			continue;
		keys++;
		if (m->n > 1) {
			want_dkeys++;
			want_dconns += (uint32_t)m->n;
		}
		CHECK(table_lookup(&shm.table, m->key, &r) == 1);
		CHECK(same(&r, &m->r[m->active]));
		n = table_routes(&shm.table, m->key, all);
		CHECK(n == m->n && memcmp(all, m->r, (size_t)n * sizeof(r)) == 0);
	}
	for (k = 0; k < NKEYS; k++)
		if (model_find(pool[k]) == NULL)
			CHECK(table_lookup(&shm.table, pool[k], &r) == 0 &&
			    table_routes(&shm.table, pool[k], all) == 0);
	table_foreach(&shm.table, count_key, &seen);
	CHECK(seen.n == keys);
	table_counts(&shm.table, &dkeys, &dconns, &conns);
	CHECK(conns == (uint32_t)model_conns);
	CHECK(dkeys == want_dkeys && dconns == want_dconns);
	for (k = 0, n = 0, keys = 0; k < MAXC; k++) {
		keys += model[k].n > 0 && model[k].nr > 0;
		n += model[k].n > 0 ? model[k].nr : 0;
	}
	table_remote_counts(&shm.table, &dkeys, &dconns);
	CHECK(dkeys == (uint32_t)keys && dconns == (uint32_t)n);
}

/* --- the master's side --------------------------------------------------------- */

/* A new socket for worker w, as its successor would get. */
static void
reconnect(uint32_t w)
{
	int sv[2];

	close(wfd[w]);
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, sv) == 0);
	tablesrv_attach(&ts, w, sv[0]);
	wfd[w] = sv[1];
}

/* Worker w sends len bytes; the master serves it; the answer is checked. */
static void
send_request(uint32_t w, const void *msg, size_t len)
{
	struct table_resp got, want;
	struct table_req req;
	struct route r;
	uint64_t bad = ts.bad[w];
	int served;
	ssize_t n;

	CHECK(send(wfd[w], msg, len, 0) == (ssize_t)len);
	tablesrv_serve(&ts, w, POLLIN);
	if (len == 0) {
		/* Reads as the worker hanging up: it cut itself off. */
		CHECK(ts.fd[w] < 0);
		reconnect(w);
		return;
	}
	/* A datagram of another size than a request's is refused (MSG_TRUNC). */
	memset(&req, 0, sizeof(req));
	memcpy(&req, msg, len < sizeof(req) ? len : sizeof(req));
	served = len == sizeof(req) && req.slot < MAXC && req.gen != 0 &&
	    req.op >= TOP_REGISTER && req.op <= TOP_REMOTE_CLEAR;
	n = recv(wfd[w], &got, sizeof(got), MSG_DONTWAIT);
	if (!served) {
		CHECK(n < 0 && errno == EAGAIN);
		CHECK(ts.bad[w] == bad + 1);
		return;
	}
	CHECK(n == (ssize_t)sizeof(got));
	CHECK(ts.bad[w] == bad);
	r = (struct route){ w, ctl.workers[w].epoch, req.slot, req.gen };
	model_apply(&req, &r, &want);
	/* Only the routes the key had are part of the answer. */
	CHECK(got.join.nothers <= DUPS);
	memset(&got.join.others[got.join.nothers], 0,
	    (DUPS - got.join.nothers) * sizeof(got.join.others[0]));
	CHECK(memcmp(&got, &want, sizeof(got)) == 0);
}

/* A well-formed request for a pool key, or a worker's datagram of any bytes. */
static void
request(struct script *s, int raw)
{
	uint8_t buf[sizeof(struct table_req) + 8];
	struct table_req req;
	uint32_t w = get8(s) % NW;
	size_t len;

	if (raw) {
		len = get8(s) % sizeof(buf);
		if (len > s->n)
			len = s->n;
		memcpy(buf, s->p, len);
		s->p += len;
		s->n -= len;
		send_request(w, buf, len);
		return;
	}
	memset(&req, 0, sizeof(req));
	req.op = get8(s) % 6 + TOP_REGISTER;
	memcpy(req.key, pool[get8(s) % NKEYS], KEY_LEN);
	req.slot = get8(s) % (MAXC + 1);	/* now and then one too many */
	req.gen = get8(s) % 4;			/* now and then 0 */
	req.info.port = (uint16_t)get32(s);
	send_request(w, &req, sizeof(req));
}

static void
worker_dies(struct script *s)
{
	uint32_t w = get8(s) % NW;

	table_remove_worker(&shm.table, w);
	model_remove_worker(w);
	ctl.workers[w].epoch++;		/* its successor */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct script s = { data, size };
	uint32_t w;

	free(shm.table.free_list);
	CHECK(table_init(&shm.table) == 0);
	memset(model, 0, sizeof(model));
	model_conns = 0;
	for (w = 0; w < NW; w++) {
		ctl.workers[w].epoch = w + 1;
		ts.bad[w] = 0;
	}
	while (s.n > 0) {
		switch (get8(&s) % 4) {
		case 0:
		case 1:
			request(&s, 0);
			break;
		case 2:
			request(&s, 1);
			break;
		default:
			worker_dies(&s);
			break;
		}
		check_readers();
	}
	return 0;
}
