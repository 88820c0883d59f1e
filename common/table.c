/* SPDX-License-Identifier: BSD-3-Clause */
#include "table.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "seqlock.h"

#define SLOT_EMPTY	0ULL
#define SLOT_DEAD	1ULL	/* tombstone */
/* Reads retried this often before giving up: the master writes an entry in
 * well under a microsecond, and a reader must never wait for long. */
#define TABLE_READ_TRIES 32

static uint32_t
index_cap(uint32_t max_conns)
{
	uint32_t cap = 16;

	while (cap < (uint64_t)max_conns * 2)
		cap <<= 1;
	return cap;
}

size_t
table_size(uint32_t max_conns)
{
	return sizeof(struct table_shared) +
	    2 * (size_t)index_cap(max_conns) * sizeof(uint64_t) +
	    (size_t)max_conns * sizeof(struct table_entry);
}

void
table_attach(struct table *t, void *mem, uint32_t max_conns, uint32_t nworkers,
    const uint8_t hash_key[16])
{
	uint8_t *p = mem;

	memset(t, 0, sizeof(*t));
	t->icap = index_cap(max_conns);
	t->ecap = max_conns;
	t->nworkers = nworkers;
	memcpy(t->hash_key, hash_key, sizeof(t->hash_key));
	t->sh = mem;
	p += sizeof(struct table_shared);
	t->index[0] = (uint64_t *)p;
	t->index[1] = t->index[0] + t->icap;
	t->entries = (struct table_entry *)(t->index[1] + t->icap);
}

static uint64_t
hash_of(const struct table *t, const uint8_t key[KEY_LEN])
{
	uint64_t h;

	crypto_shorthash((unsigned char *)&h, key, KEY_LEN, t->hash_key);
	return h;
}

static uint64_t
slot_value(uint64_t h, uint32_t e)
{
	return (h >> 32) << 32 | ((uint64_t)e + 2);
}

/* --- readers ------------------------------------------------------------ */

/*
 * A copy of entry e that the master wrote completely: 1 if it makes sense,
 * 0 if not (free, or bytes that do not add up), -1 if no clean copy came in
 * TABLE_READ_TRIES. The peer infos only when asked for (lookups on the
 * packet path need the routes alone).
 */
static int
snapshot(const struct table *t, uint32_t e, struct table_entry *out,
    int with_info)
{
	size_t len = with_info ? sizeof(*out) : offsetof(struct table_entry, info);
	uint32_t i;

	if (e >= t->ecap)
		return 0;
	if (seq_read_tries(&t->entries[e].seq, out, &t->entries[e], len,
	    TABLE_READ_TRIES) != 0)
		return -1;
	if (!out->live || out->nroutes == 0 || out->nroutes > TABLE_MAX_DUPS ||
	    out->active >= out->nroutes)
		return 0;
	for (i = 0; i < out->nroutes; i++)
		if (out->routes[i].worker >= t->nworkers)
			return 0;
	return 1;
}

/*
 * Probes one index for key: 1 and *out when found; 0 absent; -1 when not
 * found but an entry on the way was mid-write (it might have been key's).
 */
static int
probe(const struct table *t, const uint64_t *index, const uint8_t key[KEY_LEN],
    struct table_entry *out)
{
	uint64_t h = hash_of(t, key), v;
	uint32_t i = (uint32_t)h & (t->icap - 1), n;
	int torn = 0;

	for (n = 0; n < t->icap; n++, i = (i + 1) & (t->icap - 1)) {
		v = __atomic_load_n(&index[i], __ATOMIC_ACQUIRE);
		if (v == SLOT_EMPTY)
			break;
		if (v == SLOT_DEAD || v >> 32 != h >> 32)
			continue;
		switch (snapshot(t, (uint32_t)v - 2, out, 0)) {
		case 1:
			if (memcmp(out->key, key, KEY_LEN) == 0)
				return 1;
			break;
		case -1:
			torn = 1;
			break;
		}
	}
	return torn ? -1 : 0;
}

/* The live entry of key, copied out: 1, 0 absent, -1 no clean read. */
static int
find(const struct table *t, const uint8_t key[KEY_LEN], struct table_entry *out)
{
	const uint64_t *seq;
	uint64_t s1;
	uint32_t which;
	int i, found;

	for (i = 0; i < TABLE_READ_TRIES; i++) {
		which = __atomic_load_n(&t->sh->which, __ATOMIC_ACQUIRE) & 1;
		seq = &t->sh->ihdr[which].seq;
		if ((s1 = __atomic_load_n(seq, __ATOMIC_ACQUIRE)) & 1) {
			seq_relax();
			continue;
		}
		found = probe(t, t->index[which], key, out);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (found >= 0 && __atomic_load_n(seq, __ATOMIC_RELAXED) == s1)
			return found;
	}
	return -1;
}

int
table_lookup(const struct table *t, const uint8_t key[KEY_LEN], struct route *out)
{
	struct table_entry e;
	int found = find(t, key, &e);

	if (found == 1)
		*out = e.routes[e.active];
	return found;
}

int
table_routes(const struct table *t, const uint8_t key[KEY_LEN],
    struct route out[TABLE_MAX_DUPS])
{
	struct table_entry e;

	if (find(t, key, &e) != 1)
		return 0;
	memcpy(out, e.routes, e.nroutes * sizeof(*out));
	return (int)e.nroutes;
}

void
table_foreach(const struct table *t, void (*fn)(const uint8_t *key,
    const struct route *r, const struct peer_info *info, void *arg), void *arg)
{
	struct table_entry e;
	uint32_t i;

	for (i = 0; i < t->ecap; i++)
		if (snapshot(t, i, &e, 1) == 1)
			fn(e.key, &e.routes[e.active], &e.info[e.active], arg);
}

void
table_counts(const struct table *t, uint32_t *dup_keys, uint32_t *dup_conns,
    uint32_t *conns)
{
	*dup_keys = __atomic_load_n(&t->sh->dup_keys, __ATOMIC_RELAXED);
	*dup_conns = __atomic_load_n(&t->sh->dup_conns, __ATOMIC_RELAXED);
	*conns = __atomic_load_n(&t->sh->live_conns, __ATOMIC_RELAXED);
}

/* --- the writer: the master, alone; its own data, but still careful ------ */

int
table_init(struct table *t)
{
	uint32_t i;

	memset(t->sh, 0, table_size(t->ecap));
	if ((t->free_list = calloc(t->ecap, sizeof(*t->free_list))) == NULL)
		return -1;
	for (i = 0; i < t->ecap; i++)
		t->free_list[i] = t->ecap - 1 - i;
	t->nfree = t->ecap;
	t->tombstones = 0;
	return 0;
}

static uint64_t *
active_index(struct table *t)
{
	return t->index[t->sh->which & 1];
}

/* The index slot of key in the active index, or -1 (*first_free: where to insert). */
static int64_t
slot_of(struct table *t, const uint8_t key[KEY_LEN], int64_t *first_free)
{
	uint64_t *index = active_index(t), h = hash_of(t, key), v;
	uint32_t i = (uint32_t)h & (t->icap - 1), n, e;

	*first_free = -1;
	for (n = 0; n < t->icap; n++, i = (i + 1) & (t->icap - 1)) {
		v = index[i];
		if (v == SLOT_EMPTY) {
			if (*first_free < 0)
				*first_free = i;
			return -1;
		}
		if (v == SLOT_DEAD) {
			if (*first_free < 0)
				*first_free = i;
			continue;
		}
		e = (uint32_t)v - 2;
		if (v >> 32 == h >> 32 && e < t->ecap && t->entries[e].live &&
		    memcmp(t->entries[e].key, key, KEY_LEN) == 0)
			return i;
	}
	return -1;
}

static void
entry_put(struct table_entry *dst, const struct table_entry *src)
{
	seq_write_begin(&dst->seq);
	memcpy(dst->key, src->key, sizeof(*dst) - offsetof(struct table_entry, key));
	seq_write_end(&dst->seq);
}

static void
publish_counts(struct table *t, int dkeys, int dconns, int dlive_keys,
    int dlive_conns)
{
	struct table_shared *sh = t->sh;

	__atomic_store_n(&sh->dup_keys, sh->dup_keys + dkeys, __ATOMIC_RELAXED);
	__atomic_store_n(&sh->dup_conns, sh->dup_conns + dconns, __ATOMIC_RELAXED);
	__atomic_store_n(&sh->live_keys, sh->live_keys + dlive_keys, __ATOMIC_RELAXED);
	__atomic_store_n(&sh->live_conns, sh->live_conns + dlive_conns,
	    __ATOMIC_RELAXED);
}

/* Keeps the dup gauges right when a key goes from n0 to n1 connections. */
static void
count_change(struct table *t, uint32_t n0, uint32_t n1)
{
	publish_counts(t, (n1 > 1) - (n0 > 1),
	    (int)(n1 > 1 ? n1 : 0) - (int)(n0 > 1 ? n0 : 0),
	    (n1 > 0) - (n0 > 0), (int)n1 - (int)n0);
}

/* Rewrites the idle index from the live entries, then makes it the active one. */
static void
rebuild(struct table *t)
{
	uint32_t idle = (t->sh->which & 1) ^ 1, e, i;
	uint64_t *index = t->index[idle], h;

	seq_write_begin(&t->sh->ihdr[idle].seq);
	memset(index, 0, (size_t)t->icap * sizeof(*index));
	for (e = 0; e < t->ecap; e++) {
		if (!t->entries[e].live)
			continue;
		h = hash_of(t, t->entries[e].key);
		for (i = (uint32_t)h & (t->icap - 1); index[i] != SLOT_EMPTY;
		    i = (i + 1) & (t->icap - 1))
			;
		index[i] = slot_value(h, e);
	}
	seq_write_end(&t->sh->ihdr[idle].seq);
	__atomic_store_n(&t->sh->which, idle, __ATOMIC_RELEASE);
	t->tombstones = 0;
}

static int
insert_new(struct table *t, const uint8_t key[KEY_LEN], const struct route *r,
    const struct peer_info *info, int64_t slot)
{
	struct table_entry ne;
	uint32_t e;

	if (t->nfree == 0 || slot < 0)
		return -1;
	e = t->free_list[--t->nfree];
	memset(&ne, 0, sizeof(ne));
	memcpy(ne.key, key, KEY_LEN);
	ne.live = 1;
	ne.nroutes = 1;
	ne.routes[0] = *r;
	if (info != NULL)
		ne.info[0] = *info;
	entry_put(&t->entries[e], &ne);
	if (active_index(t)[slot] == SLOT_DEAD)
		t->tombstones--;
	__atomic_store_n(&active_index(t)[slot], slot_value(hash_of(t, key), e),
	    __ATOMIC_RELEASE);
	count_change(t, 0, 1);
	return 0;
}

static void
join(struct table *t, struct table_entry *e, const struct route *r,
    const struct peer_info *info, struct table_join *j)
{
	struct table_entry ne = *e;
	uint32_t n0 = ne.nroutes;

	j->nothers = ne.nroutes;
	memcpy(j->others, ne.routes, sizeof(j->others));
	if (ne.nroutes == TABLE_MAX_DUPS) {
		j->evicted = 1;
		j->evicted_route = ne.routes[0];
		memmove(&ne.routes[0], &ne.routes[1],
		    (TABLE_MAX_DUPS - 1) * sizeof(ne.routes[0]));
		memmove(&ne.info[0], &ne.info[1],
		    (TABLE_MAX_DUPS - 1) * sizeof(ne.info[0]));
		ne.nroutes--;
	}
	ne.routes[ne.nroutes] = *r;
	if (info != NULL)
		ne.info[ne.nroutes] = *info;
	else
		memset(&ne.info[ne.nroutes], 0, sizeof(ne.info[0]));
	ne.active = ne.nroutes++;
	entry_put(e, &ne);
	count_change(t, n0, ne.nroutes);
}

int
table_register(struct table *t, const uint8_t key[KEY_LEN],
    const struct route *r, const struct peer_info *info, struct table_join *j)
{
	int64_t slot, first_free;

	memset(j, 0, sizeof(*j));
	if (t->sh->live_conns >= t->ecap)
		return -1;
	if ((slot = slot_of(t, key, &first_free)) >= 0) {
		join(t, &t->entries[(uint32_t)active_index(t)[slot] - 2], r, info, j);
		return 0;
	}
	if (t->tombstones >= t->icap / 4 || first_free < 0) {
		rebuild(t);
		(void)slot_of(t, key, &first_free);
	}
	return insert_new(t, key, r, info, first_free);
}

static int
same_route(const struct route *a, const struct route *b)
{
	return a->worker == b->worker && a->epoch == b->epoch &&
	    a->slot == b->slot && a->gen == b->gen;
}

static int
route_index(const struct table_entry *e, const struct route *r)
{
	uint32_t i;

	for (i = 0; i < e->nroutes && i < TABLE_MAX_DUPS; i++)
		if (same_route(&e->routes[i], r))
			return (int)i;
	return -1;
}

/* Removes routes[i] of ne; the most recent route left becomes active if it was. */
static void
drop_route(struct table_entry *ne, uint32_t i)
{
	uint32_t was_active = ne->active;

	memmove(&ne->routes[i], &ne->routes[i + 1],
	    (ne->nroutes - i - 1) * sizeof(ne->routes[0]));
	memmove(&ne->info[i], &ne->info[i + 1],
	    (ne->nroutes - i - 1) * sizeof(ne->info[0]));
	ne->nroutes--;
	if (ne->nroutes == 0)
		ne->active = 0;
	else if (was_active == i)
		ne->active = ne->nroutes - 1;
	else if (was_active > i)
		ne->active = was_active - 1;
}

/* Frees entry e, whose index slot is slot; its key is gone. */
static void
kill_entry(struct table *t, uint32_t e, int64_t slot)
{
	struct table_entry dead;

	memset(&dead, 0, sizeof(dead));
	entry_put(&t->entries[e], &dead);
	__atomic_store_n(&active_index(t)[slot], SLOT_DEAD, __ATOMIC_RELEASE);
	t->tombstones++;
	t->free_list[t->nfree++] = e;
}

/* Writes ne (key's entry, at index slot) back, or frees it if no route is left. */
static void
store_entry(struct table *t, int64_t slot, const struct table_entry *ne,
    uint32_t n0)
{
	uint32_t e = (uint32_t)active_index(t)[slot] - 2;

	if (ne->nroutes == 0)
		kill_entry(t, e, slot);
	else
		entry_put(&t->entries[e], ne);
	count_change(t, n0, ne->nroutes);
}

enum table_leave
table_unregister(struct table *t, const uint8_t key[KEY_LEN],
    const struct route *r)
{
	struct table_entry ne;
	int64_t slot, first_free;
	uint32_t n0;
	int i;

	if ((slot = slot_of(t, key, &first_free)) < 0)
		return TABLE_NOT_FOUND;
	ne = t->entries[(uint32_t)active_index(t)[slot] - 2];
	if ((i = route_index(&ne, r)) < 0)
		return TABLE_NOT_FOUND;
	n0 = ne.nroutes;
	drop_route(&ne, (uint32_t)i);
	store_entry(t, slot, &ne, n0);
	return ne.nroutes == 0 ? TABLE_GONE : TABLE_STAYS;
}

int
table_claim(struct table *t, const uint8_t key[KEY_LEN], const struct route *r)
{
	struct table_entry ne;
	int64_t slot, first_free;
	int i;

	if ((slot = slot_of(t, key, &first_free)) < 0)
		return -1;
	ne = t->entries[(uint32_t)active_index(t)[slot] - 2];
	if ((i = route_index(&ne, r)) < 0)
		return -1;
	if (ne.active == (uint32_t)i)
		return 0;
	ne.active = (uint32_t)i;
	entry_put(&t->entries[(uint32_t)active_index(t)[slot] - 2], &ne);
	return 1;
}

size_t
table_remove_worker(struct table *t, uint32_t w)
{
	struct table_entry ne;
	int64_t slot, first_free;
	uint32_t e, j, n0;
	size_t n = 0;

	for (e = 0; e < t->ecap; e++) {
		if (!t->entries[e].live)
			continue;
		ne = t->entries[e];
		n0 = ne.nroutes;
		for (j = ne.nroutes; j-- > 0; )
			if (ne.routes[j].worker == w)
				drop_route(&ne, j);
		if (ne.nroutes == n0)
			continue;
		n += n0 - ne.nroutes;
		if ((slot = slot_of(t, ne.key, &first_free)) >= 0)
			store_entry(t, slot, &ne, n0);
	}
	return n;
}
