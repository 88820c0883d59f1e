/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for the readers of common/table.c. The master alone
 * writes the connection table; every worker reads it lock-free and must
 * treat each byte as untrusted, so that even a scribbled-on table cannot
 * make a worker fault, hang, read out of bounds or route to a worker that
 * does not exist.
 *
 * The input picks the table's size (1..64 connections, so the fuzzer
 * reaches every byte, and room for 0, 4, 8 or 12 keys reachable only
 * through mesh links) and the number of workers, then is a script. Each
 * step is one of:
 *   - a writer operation through the table_* write API (register, with or
 *     without peer info, unregister, claim, remove_worker; remote_add,
 *     remote_del and remote_clear through a pool of four mesh links),
 *     checked against a model of derper's dup policy and its packet
 *     forwarders (a local connection wins, the oldest forwarder is
 *     preferred, remote-only keys are bounded); only while nobody has
 *     scribbled, since the writer (the master) is trusted and reads its own
 *     data;
 *   - a reader operation on a separate handle (table_lookup, table_routes,
 *     table_foreach, table_counts, table_dest, table_present,
 *     table_remote_counts), also for keys never registered;
 *   - a scribble anywhere in the shared part: raw bytes, or aimed at which,
 *     the index seqs, index words (including well-tagged ones that name any
 *     entry), entry seqs, counts, routes and keys, or a whole entry copied
 *     over another;
 *   - a reader operation with scribbles during it: this file's
 *     crypto_shorthash and sodium_memcmp (libsodium's hash and a plain
 *     compare) are what table.c calls after a reader has chosen its index
 *     and after it matched an entry, and table_foreach calls back between
 *     entries; at those points the script scribbles;
 *   - a fresh table (table_init), after which the writer may act again.
 * The shared part is allocated at exactly table_size(max_conns, max_remote) bytes and
 * the readers' output at exactly its size, so ASan sees any access past
 * either; libFuzzer's -timeout sees a reader that does not return.
 *
 * Invariants, always: every route a reader returns names a worker below
 * nworkers; table_routes returns 0..TABLE_MAX_DUPS routes; table_foreach
 * visits at most as many entries as the table has and hands its callback
 * private copies;
 * and what a read returns, if the memory did not change under it, is
 * vouched for by an entry as memory holds it (even seq, live, that key,
 * sane counts and workers, the same routes and peer info): no torn or
 * misattributed answer, scribbled on or not.
 * While nobody has scribbled: every write returns what the model says, and
 * lookups, routes, foreach (each live key once, its active route and that
 * route's peer info) and counts agree with the model.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "table.h"
#include "fuzz.h"

#define NKEYS		32	/* keys the writer uses */
#define NPROBE		(NKEYS + 4)	/* the last 4 are never registered */

struct script {
	const uint8_t	*p;
	size_t		 n;
};

struct model_key {
	uint32_t	n, active;
	struct route	r[TABLE_MAX_DUPS];	/* oldest first */
	uint32_t	nr;
	struct route	rr[TABLE_MAX_REMOTE];	/* mesh links, oldest first */
};

static const uint8_t hash_key[16] = "fuzz-table-hashk";

static struct table w, rd;	/* the writer's and a reader's handles */
static uint8_t *mem;
static size_t memsize;
static uint32_t max_conns, max_remote, nworkers, remote_only;
static struct model_key model[NKEYS];
static uint32_t conns, gen;
static int clean;		/* nobody scribbled since table_init */
static struct route *out1, *outn;	/* readers' output, exactly sized */

/* Scribbles during a reader's operation. */
static struct script *racing;
static uint32_t race_steps;
static uint64_t scribbles;	/* how many so far */

static void scribble_step(struct script *);

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

/* Little-endian; each byte read in its own statement (C leaves the order
 * of operands unspecified). */
static uint16_t
get16(struct script *s)
{
	uint16_t lo = get8(s);

	return (uint16_t)(lo | get8(s) << 8);
}

static uint32_t
get32(struct script *s)
{
	uint32_t lo = get16(s);

	return lo | (uint32_t)get16(s) << 16;
}

static uint64_t
get64(struct script *s)
{
	uint64_t lo = get32(s);

	return lo | (uint64_t)get32(s) << 32;
}

static void
make_key(uint8_t key[KEY_LEN], uint32_t k)
{
	memset(key, 0x3c, KEY_LEN);
	memcpy(key, &k, sizeof(k));
}

/* --- the points inside a read where the script may act ------------------ */

static void
during(void)
{
	if (racing != NULL && race_steps > 0) {
		race_steps--;
		scribble_step(racing);
	}
}

int
crypto_shorthash(unsigned char *out, const unsigned char *in,
    unsigned long long inlen, const unsigned char *k)
{
	int rv = crypto_shorthash_siphash24(out, in, inlen, k);

	during();
	return rv;
}

int
sodium_memcmp(const void *a, const void *b, size_t len)
{
	const unsigned char *x = a, *y = b;
	unsigned char d = 0;
	size_t i;

	for (i = 0; i < len; i++)
		d |= x[i] ^ y[i];
	during();
	return d == 0 ? 0 : -1;
}

/* --- scribbling: a hostile writer's bytes ------------------------------- */

static uint64_t
hash_of(uint32_t k)
{
	uint8_t key[KEY_LEN];
	uint64_t h;

	make_key(key, k);
	crypto_shorthash_siphash24((unsigned char *)&h, key, KEY_LEN, hash_key);
	return h;
}

static uint64_t
tag_of(uint32_t k)
{
	return hash_of(k) >> 32 << 32;
}

static uint64_t
new_word(struct script *s, uint64_t cur)
{
	switch (get8(s) % 4) {
	case 0:
		return cur + 1;		/* a seq made odd, or even */
	case 1:
		return cur + 2;
	case 2:
		return get8(s);
	default:
		return get64(s);
	}
}

static void
scribble_raw(struct script *s)
{
	size_t off = get16(s) % memsize, n = 1 + get8(s) % 16;

	if (n > s->n)
		n = s->n;
	if (n > memsize - off)
		n = memsize - off;
	memcpy(mem + off, s->p, n);
	s->p += n;
	s->n -= n;
}

static void
scribble_index(struct script *s)
{
	uint32_t which = get8(s) & 1, i = get8(s), k;
	uint64_t *word;

	/* A slot on key k's probe path, or anywhere. */
	if (i & 0x80) {
		k = get8(s) % NPROBE;
		i = (uint32_t)hash_of(k) + (i & 0x0f);
	} else {
		i = i | (uint32_t)get8(s) << 8;
	}
	word = &rd.index[which][i & (rd.icap - 1)];

	switch (get8(s) % 5) {
	case 0:
		*word = 0;		/* empty */
		break;
	case 1:
		*word = 1;		/* tombstone */
		break;
	case 2:	/* a key's tag, naming any entry (or none) */
		k = get8(s) % NPROBE;
		*word = tag_of(k) | ((uint64_t)get8(s) + 2);
		break;
	case 3:	/* a key's tag, any low word */
		k = get8(s) % NPROBE;
		*word = tag_of(k) | get32(s);
		break;
	default:
		*word = get64(s);
		break;
	}
}

static void
scribble_entry(struct script *s)
{
	struct table_entry *e = &rd.entries[get8(s) % rd.ecap];
	struct route *r = &e->routes[get8(s) % TABLE_MAX_DUPS];
	uint32_t v;

	switch (get8(s) % 8) {
	case 0:
		e->seq = new_word(s, e->seq);
		break;
	case 1:
		e->live = get8(s) % 3 == 0 ? get32(s) : get8(s) & 1;
		break;
	case 2:
		v = get8(s);
		e->nroutes = v & 0x80 ? get32(s) : v % (TABLE_MAX_DUPS + 2);
		break;
	case 3:
		v = get8(s);
		e->active = v & 0x80 ? get32(s) : v % (TABLE_MAX_DUPS + 2);
		break;
	case 4:
		v = get8(s) % 3;
		r->worker = v == 0 ? get32(s) : nworkers - (v == 2);
		break;
	case 5:
		r->epoch = get32(s);
		r->gen = get32(s);
		break;
	case 6:
		make_key(e->key, get8(s) % NPROBE);
		break;
	default:
		memcpy(e, &rd.entries[get8(s) % rd.ecap], sizeof(*e));
		break;
	}
}

static void
scribble_step(struct script *s)
{
	uint32_t which;

	switch (get8(s) % 5) {
	case 0:
		scribble_raw(s);
		break;
	case 1:
		rd.sh->which = get8(s) & 1 ? get64(s) : rd.sh->which ^ 1;
		break;
	case 2:
		which = get8(s) & 1;
		rd.sh->ihdr[which].seq = new_word(s, rd.sh->ihdr[which].seq);
		break;
	case 3:
		scribble_index(s);
		break;
	default:
		scribble_entry(s);
		break;
	}
	clean = 0;
	scribbles++;
}

/* --- the writer, checked against the model ------------------------------- */

static int
same_route(const struct route *a, const struct route *b)
{
	return a->worker == b->worker && a->epoch == b->epoch &&
	    a->slot == b->slot && a->gen == b->gen;
}

/* Its last connection left: it keeps its links while there is room. */
static void
model_left(struct model_key *m)
{
	if (m->n > 0 || m->nr == 0)
		return;
	if (remote_only < max_remote)
		remote_only++;
	else
		m->nr = 0;
}

static void
model_drop(struct model_key *m, uint32_t i)
{
	memmove(&m->r[i], &m->r[i + 1], (m->n - i - 1) * sizeof(m->r[0]));
	m->n--;
	if (m->active == i)
		m->active = m->n > 0 ? m->n - 1 : 0;
	else if (m->active > i)
		m->active--;
	conns--;
	model_left(m);
}

static void
model_drop_remote(struct model_key *m, uint32_t i)
{
	memmove(&m->rr[i], &m->rr[i + 1], (m->nr - i - 1) * sizeof(m->rr[0]));
	m->nr--;
	if (m->n == 0 && m->nr == 0)
		remote_only--;
}

/* Every fifth connection registers without peer info. */
static int
has_info(uint32_t g)
{
	return g % 5 != 0;
}

static void
do_register(struct script *s)
{
	uint32_t k = get8(s) % NKEYS, i;
	struct model_key *m = &model[k];
	struct route r;
	struct peer_info info;
	struct table_join j;
	uint8_t key[KEY_LEN];
	int rc;

	r.worker = get8(s) % nworkers;
	r.epoch = get8(s) % 3;
	r.slot = get8(s);
	r.gen = ++gen;
	memset(&info, 0, sizeof(info));
	info.port = (uint16_t)r.gen;
	info.ip[15] = (uint8_t)k;
	make_key(key, k);
	rc = table_register(&w, key, &r, has_info(r.gen) ? &info : NULL, &j);
	if (conns >= max_conns) {
		CHECK(rc == -1);
		return;
	}
	CHECK(rc == 0 && j.nothers == m->n);
	for (i = 0; i < m->n; i++)
		CHECK(same_route(&j.others[i], &m->r[i]));
	CHECK(j.evicted == (m->n == TABLE_MAX_DUPS));
	if (j.evicted) {
		CHECK(same_route(&j.evicted_route, &m->r[0]));
		model_drop(m, 0);	/* n stays above 0: nothing is left */
	}
	if (m->n == 0 && m->nr > 0)
		remote_only--;
	m->r[m->n] = r;
	m->active = m->n++;
	conns++;
}

/* Route i of key k, or (i == n) one it does not have. */
static struct route
pick_route(struct script *s, uint32_t k, uint32_t *i)
{
	struct model_key *m = &model[k];
	struct route none = { 0, 0, 0, gen + 1 };

	*i = get8(s) % (m->n + 1);
	return *i < m->n ? m->r[*i] : none;
}

static void
do_unregister(struct script *s)
{
	uint32_t k = get8(s) % NKEYS, i;
	struct model_key *m = &model[k];
	struct route r = pick_route(s, k, &i);
	uint8_t key[KEY_LEN];
	enum table_leave rc;

	make_key(key, k);
	rc = table_unregister(&w, key, &r);
	if (i == m->n) {
		CHECK(rc == TABLE_NOT_FOUND);
		return;
	}
	model_drop(m, i);
	CHECK(rc == (m->n > 0 ? TABLE_STAYS : m->nr > 0 ? TABLE_LEFT : TABLE_GONE));
}

static void
do_claim(struct script *s)
{
	uint32_t k = get8(s) % NKEYS, i;
	struct model_key *m = &model[k];
	struct route r = pick_route(s, k, &i);
	uint8_t key[KEY_LEN];
	int rc;

	make_key(key, k);
	rc = table_claim(&w, key, &r);
	if (i == m->n) {
		CHECK(rc == -1);
		return;
	}
	CHECK(rc == (m->active != i));
	m->active = i;
}

static void
do_remove_worker(struct script *s)
{
	uint32_t wk = get8(s) % (nworkers + 1), k, i, n0, left = 0;
	uint32_t before = remote_only;
	size_t gone = 0;

	for (k = 0; k < NKEYS; k++) {
		n0 = model[k].n;
		for (i = model[k].nr; i-- > 0; )
			if (model[k].rr[i].worker == wk)
				model_drop_remote(&model[k], i);
		for (i = model[k].n; i-- > 0; )
			if (model[k].r[i].worker == wk) {
				model_drop(&model[k], i);
				gone++;
			}
		left += n0 > 0 && model[k].n == 0;
	}
	CHECK(table_remove_worker(&w, wk) == gone);
	/* Which keys keep their links when room may run out goes by entry
	 * order, which the model does not know: it stops checking. */
	if (left > 0 && before + left > max_remote)
		clean = 0;
}

/* One of four mesh links (they are shared between keys). */
static struct route
link_route(uint32_t i)
{
	struct route r = { i % nworkers, 7, 200 + i, 1000 + i };

	return r;
}

static void
do_remote_add(struct script *s)
{
	uint32_t k = get8(s) % NKEYS, i;
	struct model_key *m = &model[k];
	struct route r = link_route(get8(s) % 4);
	uint8_t key[KEY_LEN];
	int rc, want;

	make_key(key, k);
	rc = table_remote_add(&w, key, &r);
	for (i = 0; i < m->nr && !same_route(&m->rr[i], &r); i++)
		;
	if (i < m->nr)
		want = 0;
	else if ((m->n == 0 && m->nr == 0 && remote_only >= max_remote) ||
	    m->nr == TABLE_MAX_REMOTE)
		want = -1;
	else
		want = 1;
	CHECK(rc == want);
	if (want != 1)
		return;
	if (m->n == 0 && m->nr == 0)
		remote_only++;
	m->rr[m->nr++] = r;
}

static void
do_remote_del(struct script *s)
{
	uint32_t k = get8(s) % NKEYS, i;
	struct model_key *m = &model[k];
	struct route r;
	uint8_t key[KEY_LEN];
	enum table_leave rc;

	i = get8(s) % (m->nr + 1);
	r = i < m->nr ? m->rr[i] : link_route(get8(s) % 4);
	make_key(key, k);
	rc = table_remote_del(&w, key, &r);
	for (i = 0; i < m->nr && !same_route(&m->rr[i], &r); i++)
		;
	if (i == m->nr) {
		CHECK(rc == TABLE_NOT_FOUND);
		return;
	}
	model_drop_remote(m, i);
	CHECK(rc == (m->n + m->nr > 0 ? TABLE_STAYS : TABLE_GONE));
}

static void
do_remote_clear(struct script *s)
{
	struct route r = link_route(get8(s) % 4);
	uint32_t k, i;
	size_t gone = 0;

	for (k = 0; k < NKEYS; k++)
		for (i = model[k].nr; i-- > 0; )
			if (same_route(&model[k].rr[i], &r)) {
				model_drop_remote(&model[k], i);
				gone++;
			}
	CHECK(table_remote_clear(&w, &r) == gone);
}

static void
fresh_table(void)
{
	free(w.free_list);
	if (table_init(&w) != 0)
		abort();
	memset(model, 0, sizeof(model));
	conns = 0;
	remote_only = 0;
	clean = 1;
}

/* --- the readers ---------------------------------------------------------- */

/*
 * Whether some entry, as the shared memory holds it now, is a clean, sane
 * entry of key with routes rs[0..n) (n < 0: any, with rs[0] active) and,
 * if info is given, that peer info for its active route. What a reader
 * returns must be vouched for so, scribbled on or not, unless the memory
 * changed during the read.
 */
static int
vouched(const uint8_t key[KEY_LEN], const struct route *rs, int n,
    const struct peer_info *info)
{
	const struct table_entry *e;
	uint32_t i, j;

	for (i = 0; i < rd.ecap; i++) {
		e = &rd.entries[i];
		if ((e->seq & 1) || !e->live ||
		    memcmp(e->key, key, KEY_LEN) != 0 || e->nroutes == 0 || e->nroutes > TABLE_MAX_DUPS ||
		    e->active >= e->nroutes)
			continue;
		for (j = 0; j < e->nroutes; j++)
			if (e->routes[j].worker >= nworkers)
				break;
		if (j < e->nroutes)
			continue;
		if (n < 0 ? !same_route(&rs[0], &e->routes[e->active]) :
		    (uint32_t)n != e->nroutes ||
		    memcmp(rs, e->routes, (size_t)n * sizeof(*rs)) != 0)
			continue;
		if (info != NULL &&
		    memcmp(info, &e->info[e->active], sizeof(*info)) != 0)
			continue;
		return 1;
	}
	return 0;
}

static void
reader_lookup(uint32_t k)
{
	uint64_t before = scribbles;
	uint8_t key[KEY_LEN];
	int rc;

	make_key(key, k);
	rc = table_lookup(&rd, key, out1);
	CHECK(rc >= -1 && rc <= 1);
	CHECK(rc != -1 || scribbles != 0);	/* only scribbles leave no clean read */
	if (rc == 1)
		CHECK(out1->worker < nworkers);
	if (rc == 1 && scribbles == before)
		CHECK(vouched(key, out1, -1, NULL));
	if (!clean)
		return;
	if (k >= NKEYS || model[k].n == 0) {
		CHECK(rc == 0);
		return;
	}
	CHECK(rc == 1 && same_route(out1, &model[k].r[model[k].active]));
}

static void
reader_routes(uint32_t k)
{
	uint64_t before = scribbles;
	uint8_t key[KEY_LEN];
	int n, i;

	make_key(key, k);
	n = table_routes(&rd, key, outn);
	CHECK(n >= 0 && n <= TABLE_MAX_DUPS);
	for (i = 0; i < n; i++)
		CHECK(outn[i].worker < nworkers);
	if (n > 0 && scribbles == before)
		CHECK(vouched(key, outn, n, NULL));
	if (!clean)
		return;
	CHECK(n == (k < NKEYS ? (int)model[k].n : 0));
	for (i = 0; i < n; i++)
		CHECK(same_route(&outn[i], &model[k].r[i]));
}

struct visit {
	uint32_t	calls;
	uint32_t	seen[NKEYS];
	int		copies_clean;	/* no scribble before this copy */
};

static int
in_shared(const void *p)
{
	return (uintptr_t)p >= (uintptr_t)mem &&
	    (uintptr_t)p < (uintptr_t)mem + memsize;
}

static void
foreach_cb(const uint8_t *key, const struct route *r,
    const struct peer_info *info, void *arg)
{
	struct visit *v = arg;
	const struct model_key *m;
	uint32_t k;

	/* Copies, which the table's writer cannot change under us. */
	CHECK(!in_shared(key) && !in_shared(r) && !in_shared(info));
	CHECK(r->worker < nworkers);
	CHECK(++v->calls <= rd.ecap);
	/* Nothing has changed since this copy was taken (this is the hook). */
	CHECK(vouched(key, r, -1, info));
	v->copies_clean &= clean;	/* copied after a scribble? */
	if (v->copies_clean) {
		memcpy(&k, key, sizeof(k));
		CHECK(k < NKEYS && model[k].n > 0);
		m = &model[k];
		CHECK(same_route(r, &m->r[m->active]));
		CHECK(has_info(r->gen) ? info->port == (uint16_t)r->gen &&
		    info->ip[15] == (uint8_t)k : info->port == 0 &&
		    info->ip[15] == 0);
		v->seen[k]++;
	}
	during();	/* the entries still to come see this */
}

static void
reader_foreach(void)
{
	struct visit v;
	uint32_t k;

	memset(&v, 0, sizeof(v));
	v.copies_clean = clean;
	table_foreach(&rd, foreach_cb, &v);
	if (!clean || !v.copies_clean)
		return;
	for (k = 0; k < NKEYS; k++)
		CHECK(v.seen[k] == (model[k].n > 0));
}

static void
reader_counts(void)
{
	uint32_t dkeys, dconns, all, mk = 0, mc = 0, k;

	table_counts(&rd, &dkeys, &dconns, &all);
	if (!clean)
		return;
	for (k = 0; k < NKEYS; k++)
		if (model[k].n > 1) {
			mk++;
			mc += model[k].n;
		}
	CHECK(dkeys == mk && dconns == mc && all == conns);
}

/* Whether a clean, sane entry of key has no local route and r as its preferred link. */
static int
vouched_remote(const uint8_t key[KEY_LEN], const struct route *r)
{
	const struct table_entry *e;
	uint32_t i;

	for (i = 0; i < rd.ecap; i++) {
		e = &rd.entries[i];
		if (!(e->seq & 1) && e->live && e->nroutes == 0 && e->nremote > 0 &&
		    e->nremote <= TABLE_MAX_REMOTE &&
		    memcmp(e->key, key, KEY_LEN) == 0 &&
		    same_route(&e->remote[0], r))
			return 1;
	}
	return 0;
}

static void
reader_dest(uint32_t k)
{
	uint64_t before = scribbles;
	uint8_t key[KEY_LEN];
	const struct model_key *m;
	int rc, remote = -1, present;

	make_key(key, k);
	rc = table_dest(&rd, key, out1, &remote);
	present = table_present(&rd, key);
	CHECK(rc >= -1 && rc <= 1 && present >= -1 && present <= 1);
	CHECK(rc != -1 || scribbles != 0);
	if (rc == 1) {
		CHECK(out1->worker < nworkers && (remote == 0 || remote == 1));
		if (scribbles == before)
			CHECK(remote ? vouched_remote(key, out1) :
			    vouched(key, out1, -1, NULL));
	}
	if (!clean)
		return;
	CHECK(rc == present);
	m = k < NKEYS ? &model[k] : NULL;
	if (m == NULL || m->n + m->nr == 0) {
		CHECK(rc == 0);
		return;
	}
	CHECK(rc == 1 && remote == (m->n == 0));
	CHECK(same_route(out1, m->n > 0 ? &m->r[m->active] : &m->rr[0]));
}

static void
reader_remote_counts(void)
{
	uint32_t keys, routes, mk = 0, mr = 0, k;

	table_remote_counts(&rd, &keys, &routes);
	if (!clean)
		return;
	for (k = 0; k < NKEYS; k++) {
		mk += model[k].nr > 0;
		mr += model[k].nr;
	}
	CHECK(keys == mk && routes == mr);
}

static void
reader_op(struct script *s, int race)
{
	uint8_t op = get8(s);
	uint32_t k = get8(s) % NPROBE;

	if (race) {
		racing = s;
		race_steps = 1 + get8(s) % 4;
	}
	switch (op % 6) {
	case 0:
		reader_lookup(k);
		break;
	case 1:
		reader_routes(k);
		break;
	case 2:
		reader_foreach();
		break;
	case 3:
		reader_counts();
		break;
	case 4:
		reader_dest(k);
		break;
	default:
		reader_remote_counts();
		break;
	}
	racing = NULL;
	race_steps = 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	out1 = malloc(sizeof(*out1));
	outn = malloc(TABLE_MAX_DUPS * sizeof(*outn));
	if (out1 == NULL || outn == NULL)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct script s = { data, size };

	if (size < 2)
		return 0;
	max_conns = 1 + s.p[0] % 64;
	max_remote = (get8(&s) >> 6) * 4;	/* the size byte's spare bits */
	nworkers = 1 + get8(&s) % 8;
	memsize = table_size(max_conns, max_remote);
	if ((mem = malloc(memsize)) == NULL)
		abort();
	memset(mem, 0xa5, memsize);		/* table_init must clear it */
	table_attach(&w, mem, max_conns, max_remote, nworkers, hash_key);
	table_attach(&rd, mem, max_conns, max_remote, nworkers, hash_key);
	fresh_table();
	gen = 0;

	while (s.n > 0) {
		switch (get8(&s) % 15) {
		case 0:
		case 1:
			if (clean)
				do_register(&s);
			break;
		case 2:
			if (clean)
				do_unregister(&s);
			break;
		case 3:
			if (clean)
				do_claim(&s);
			break;
		case 4:
			if (clean)
				do_remove_worker(&s);
			break;
		case 5:
		case 6:
			reader_op(&s, 0);
			break;
		case 7:
		case 8:
			scribble_step(&s);
			break;
		case 9:
		case 10:
			reader_op(&s, 1);
			break;
		case 12:
			if (clean)
				do_remote_add(&s);
			break;
		case 13:
			if (clean)
				do_remote_del(&s);
			break;
		case 14:
			if (clean)
				do_remote_clear(&s);
			break;
		default:
			fresh_table();
			break;
		}
	}
	reader_foreach();
	free(w.free_list);
	free(mem);
	return 0;
}
