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
table_size(uint32_t max_conns, uint32_t max_remote)
{
	uint32_t ecap = max_conns + max_remote;

	return sizeof(struct table_shared) +
	    2 * (size_t)index_cap(ecap) * sizeof(uint64_t) +
	    (size_t)ecap * sizeof(struct table_entry);
}

void
table_attach(struct table *t, void *mem, uint32_t max_conns, uint32_t max_remote,
    uint32_t nworkers, const uint8_t hash_key[16])
{
	uint8_t *p = mem;

	memset(t, 0, sizeof(*t));
	t->ecap = max_conns + max_remote;
	t->icap = index_cap(t->ecap);
	t->max_conns = max_conns;
	t->max_remote = max_remote;
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
	if (!out->live || out->nroutes > TABLE_MAX_DUPS ||
	    out->nremote > TABLE_MAX_REMOTE || out->nroutes + out->nremote == 0 ||
	    (out->nroutes > 0 && out->active >= out->nroutes))
		return 0;
	for (i = 0; i < out->nroutes; i++)
		if (out->routes[i].worker >= t->nworkers)
			return 0;
	for (i = 0; i < out->nremote; i++)
		if (out->remote[i].worker >= t->nworkers)
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

	if (found != 1)
		return found;
	if (e.nroutes == 0)
		return 0;
	*out = e.routes[e.active];
	return 1;
}

int
table_dest(const struct table *t, const uint8_t key[KEY_LEN], struct route *out,
    int *remote)
{
	struct table_entry e;
	int found = find(t, key, &e);

	*remote = 0;
	if (found != 1)
		return found;
	*remote = e.nroutes == 0;
	*out = *remote ? e.remote[0] : e.routes[e.active];
	return 1;
}

int
table_present(const struct table *t, const uint8_t key[KEY_LEN])
{
	struct table_entry e;

	return find(t, key, &e);
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
		if (snapshot(t, i, &e, 1) == 1 && e.nroutes > 0)
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

void
table_remote_counts(const struct table *t, uint32_t *keys, uint32_t *routes)
{
	*keys = __atomic_load_n(&t->sh->remote_keys, __ATOMIC_RELAXED);
	*routes = __atomic_load_n(&t->sh->remote_routes, __ATOMIC_RELAXED);
}

/* --- the writer: the master, alone; its own data, but still careful ------ */

int
table_init(struct table *t)
{
	uint32_t i;

	memset(t->sh, 0, table_size(t->max_conns, t->max_remote));
	if ((t->free_list = calloc(t->ecap, sizeof(*t->free_list))) == NULL)
		return -1;
	for (i = 0; i < t->ecap; i++)
		t->free_list[i] = t->ecap - 1 - i;
	t->nfree = t->ecap;
	t->tombstones = 0;
	t->remote_only = 0;
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

static struct table_entry *
entry_at(struct table *t, int64_t slot)
{
	return &t->entries[(uint32_t)active_index(t)[slot] - 2];
}

static void
entry_put(struct table_entry *dst, const struct table_entry *src)
{
	seq_write_begin(&dst->seq);
	memcpy(dst->key, src->key, sizeof(*dst) - offsetof(struct table_entry, key));
	seq_write_end(&dst->seq);
}

static void
publish(uint32_t *p, int delta)
{
	__atomic_store_n(p, *p + (uint32_t)delta, __ATOMIC_RELAXED);
}

/* Keeps the gauges right when an entry goes from old to ne (either may be empty). */
static void
count_change(struct table *t, const struct table_entry *old,
    const struct table_entry *ne)
{
	struct table_shared *sh = t->sh;
	uint32_t n0 = old->nroutes, n1 = ne->nroutes;

	publish(&sh->dup_keys, (n1 > 1) - (n0 > 1));
	publish(&sh->dup_conns, (int)(n1 > 1 ? n1 : 0) - (int)(n0 > 1 ? n0 : 0));
	publish(&sh->live_keys, (n1 > 0) - (n0 > 0));
	publish(&sh->live_conns, (int)n1 - (int)n0);
	publish(&sh->remote_keys, (ne->nremote > 0) - (old->nremote > 0));
	publish(&sh->remote_routes, (int)ne->nremote - (int)old->nremote);
	t->remote_only += (ne->nroutes == 0 && ne->nremote > 0) -
	    (old->nroutes == 0 && old->nremote > 0);
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

/* A new entry ne for key, which has none. */
static int
insert_new(struct table *t, const uint8_t key[KEY_LEN], struct table_entry *ne)
{
	struct table_entry none;
	int64_t slot, first_free;
	uint32_t e;

	(void)slot_of(t, key, &first_free);
	if (t->tombstones >= t->icap / 4 || first_free < 0) {
		rebuild(t);
		(void)slot_of(t, key, &first_free);
	}
	if (t->nfree == 0 || (slot = first_free) < 0)
		return -1;
	e = t->free_list[--t->nfree];
	memcpy(ne->key, key, KEY_LEN);
	ne->live = 1;
	entry_put(&t->entries[e], ne);
	if (active_index(t)[slot] == SLOT_DEAD)
		t->tombstones--;
	__atomic_store_n(&active_index(t)[slot], slot_value(hash_of(t, key), e),
	    __ATOMIC_RELEASE);
	memset(&none, 0, sizeof(none));
	count_change(t, &none, ne);
	return 0;
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

/*
 * Writes ne (key's entry at index slot, formerly old) back, or frees it if
 * no route is left. An entry that loses its last local connection keeps
 * its remote routes only while fewer than max_remote keys are remote-only,
 * so that local connections always find a free entry.
 */
static void
store_entry(struct table *t, int64_t slot, struct table_entry *ne)
{
	struct table_entry *cur = entry_at(t, slot), old = *cur;

	if (old.nroutes > 0 && ne->nroutes == 0 && ne->nremote > 0 &&
	    t->remote_only >= t->max_remote)
		ne->nremote = 0;
	count_change(t, &old, ne);
	if (ne->nroutes == 0 && ne->nremote == 0)
		kill_entry(t, (uint32_t)(cur - t->entries), slot);
	else
		entry_put(cur, ne);
}

static void
join(struct table *t, int64_t slot, const struct route *r,
    const struct peer_info *info, struct table_join *j)
{
	struct table_entry ne = *entry_at(t, slot);

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
	store_entry(t, slot, &ne);
}

int
table_register(struct table *t, const uint8_t key[KEY_LEN],
    const struct route *r, const struct peer_info *info, struct table_join *j)
{
	struct table_entry ne;
	int64_t slot, first_free;

	memset(j, 0, sizeof(*j));
	if (t->sh->live_conns >= t->max_conns)
		return -1;
	if ((slot = slot_of(t, key, &first_free)) >= 0) {
		join(t, slot, r, info, j);
		return 0;
	}
	memset(&ne, 0, sizeof(ne));
	ne.nroutes = 1;
	ne.routes[0] = *r;
	if (info != NULL)
		ne.info[0] = *info;
	return insert_new(t, key, &ne);
}

static int
same_route(const struct route *a, const struct route *b)
{
	return a->worker == b->worker && a->epoch == b->epoch &&
	    a->slot == b->slot && a->gen == b->gen;
}

static int
route_index(const struct route *rs, uint32_t n, const struct route *r)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (same_route(&rs[i], r))
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

/* Removes remote[i] of ne; the oldest left is preferred, as derper's multiForwarder. */
static void
drop_remote(struct table_entry *ne, uint32_t i)
{
	memmove(&ne->remote[i], &ne->remote[i + 1],
	    (ne->nremote - i - 1) * sizeof(ne->remote[0]));
	ne->nremote--;
	memset(&ne->remote[ne->nremote], 0, sizeof(ne->remote[0]));
}

/* What removing a route left of a key. */
static enum table_leave
left(const struct table_entry *ne, int local)
{
	if (ne->nroutes == 0 && ne->nremote == 0)
		return TABLE_GONE;
	if (local && ne->nroutes == 0)
		return TABLE_LEFT;
	return TABLE_STAYS;
}

/* Removes route r of key: one of its local routes, or (!local) remote ones. */
static enum table_leave
remove_route(struct table *t, const uint8_t key[KEY_LEN],
    const struct route *r, int local)
{
	struct table_entry ne;
	int64_t slot, first_free;
	int i;

	if ((slot = slot_of(t, key, &first_free)) < 0)
		return TABLE_NOT_FOUND;
	ne = *entry_at(t, slot);
	i = local ? route_index(ne.routes, ne.nroutes, r) :
	    route_index(ne.remote, ne.nremote, r);
	if (i < 0)
		return TABLE_NOT_FOUND;
	if (local)
		drop_route(&ne, (uint32_t)i);
	else
		drop_remote(&ne, (uint32_t)i);
	store_entry(t, slot, &ne);
	return left(&ne, local);
}

enum table_leave
table_unregister(struct table *t, const uint8_t key[KEY_LEN],
    const struct route *r)
{
	return remove_route(t, key, r, 1);
}

int
table_claim(struct table *t, const uint8_t key[KEY_LEN], const struct route *r)
{
	struct table_entry ne;
	int64_t slot, first_free;
	int i;

	if ((slot = slot_of(t, key, &first_free)) < 0)
		return -1;
	ne = *entry_at(t, slot);
	if ((i = route_index(ne.routes, ne.nroutes, r)) < 0)
		return -1;
	if (ne.active == (uint32_t)i)
		return 0;
	ne.active = (uint32_t)i;
	entry_put(entry_at(t, slot), &ne);
	return 1;
}

size_t
table_remove_worker(struct table *t, uint32_t w)
{
	struct table_entry ne;
	int64_t slot, first_free;
	uint32_t e, j, n0, r0;
	size_t n = 0;

	for (e = 0; e < t->ecap; e++) {
		if (!t->entries[e].live)
			continue;
		ne = t->entries[e];
		n0 = ne.nroutes;
		r0 = ne.nremote;
		for (j = ne.nroutes; j-- > 0; )
			if (ne.routes[j].worker == w)
				drop_route(&ne, j);
		for (j = ne.nremote; j-- > 0; )
			if (ne.remote[j].worker == w)
				drop_remote(&ne, j);
		if (ne.nroutes == n0 && ne.nremote == r0)
			continue;
		n += n0 - ne.nroutes;
		if ((slot = slot_of(t, ne.key, &first_free)) >= 0)
			store_entry(t, slot, &ne);
	}
	return n;
}

int
table_remote_add(struct table *t, const uint8_t key[KEY_LEN],
    const struct route *r)
{
	struct table_entry ne;
	int64_t slot, first_free;

	if ((slot = slot_of(t, key, &first_free)) < 0) {
		if (t->remote_only >= t->max_remote)
			return -1;
		memset(&ne, 0, sizeof(ne));
		ne.nremote = 1;
		ne.remote[0] = *r;
		return insert_new(t, key, &ne) == 0 ? 1 : -1;
	}
	ne = *entry_at(t, slot);
	if (route_index(ne.remote, ne.nremote, r) >= 0)
		return 0;
	if (ne.nremote == TABLE_MAX_REMOTE)
		return -1;
	ne.remote[ne.nremote++] = *r;
	store_entry(t, slot, &ne);
	return 1;
}

enum table_leave
table_remote_del(struct table *t, const uint8_t key[KEY_LEN],
    const struct route *r)
{
	return remove_route(t, key, r, 0);
}

size_t
table_remote_clear(struct table *t, const struct route *r)
{
	struct table_entry ne;
	int64_t slot, first_free;
	uint32_t e;
	size_t n = 0;
	int i;

	for (e = 0; e < t->ecap; e++) {
		if (!t->entries[e].live || (i = route_index(t->entries[e].remote,
		    t->entries[e].nremote, r)) < 0)
			continue;
		ne = t->entries[e];
		drop_remote(&ne, (uint32_t)i);
		n++;
		if ((slot = slot_of(t, ne.key, &first_free)) >= 0)
			store_entry(t, slot, &ne);
	}
	return n;
}
