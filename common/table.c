/* SPDX-License-Identifier: BSD-3-Clause */
#include "table.h"

#include <errno.h>
#include <sched.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

enum { SLOT_EMPTY = 0, SLOT_LIVE = 1, SLOT_DEAD = 2 };

#define LOAD(p)		__atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define READ_SPINS	4096	/* then assume a dead writer and lock */

size_t
table_size(uint32_t cap)
{
	return sizeof(struct table_shared) + (size_t)cap * sizeof(struct table_entry);
}

uint32_t
table_max_live(const struct table *t)
{
	return t->cap / 4 * 3;
}

int
table_init(struct table *t, void *mem, uint32_t cap, uint32_t nworkers)
{
	pthread_mutexattr_t attr;
	int rc;

	if (cap < 8 || (cap & (cap - 1)) != 0)
		return -1;
	memset(mem, 0, table_size(cap));
	t->sh = mem;
	t->entries = t->sh->entries;
	t->cap = cap;
	t->nworkers = nworkers;
	randombytes_buf(t->hash_key, sizeof(t->hash_key));
	if (pthread_mutexattr_init(&attr) != 0)
		return -1;
	rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) ||
	    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) ||
	    pthread_mutex_init(&t->sh->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	return rc == 0 ? 0 : -1;
}

static uint32_t
bucket(const struct table *t, const uint8_t key[KEY_LEN])
{
	uint64_t h;

	crypto_shorthash((unsigned char *)&h, key, KEY_LEN, t->hash_key);
	return (uint32_t)h & (t->cap - 1);
}

static void
entry_key(const struct table_entry *e, uint64_t out[4])
{
	int i;

	for (i = 0; i < 4; i++)
		out[i] = LOAD(&e->key[i]);
}

static int
entry_has_key(const struct table_entry *e, const uint8_t key[KEY_LEN])
{
	uint64_t k[4];

	entry_key(e, k);
	return memcmp(k, key, KEY_LEN) == 0;
}

/* Probe for key; returns its index, or -1 and the first reusable index. */
static int64_t
probe(const struct table *t, const uint8_t key[KEY_LEN], int64_t *free_idx)
{
	uint32_t i = bucket(t, key), n, state;

	if (free_idx != NULL)
		*free_idx = -1;
	for (n = 0; n < t->cap; n++, i = (i + 1) & (t->cap - 1)) {
		const struct table_entry *e = &t->entries[i];

		state = LOAD(&e->state);
		if (state == SLOT_EMPTY) {
			if (free_idx != NULL && *free_idx < 0)
				*free_idx = i;
			return -1;
		}
		if (state == SLOT_LIVE && entry_has_key(e, key))
			return i;
		if (state == SLOT_DEAD && free_idx != NULL && *free_idx < 0)
			*free_idx = i;
	}
	return -1;
}

static void
write_begin(struct table *t)
{
	__atomic_store_n(&t->sh->seq, t->sh->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void
write_end(struct table *t)
{
	__atomic_store_n(&t->sh->seq, t->sh->seq + 1, __ATOMIC_RELEASE);
}

static int
same_route(const struct route *a, const struct route *b)
{
	return a->worker == b->worker && a->slot == b->slot && a->gen == b->gen;
}

/* Keeps the shared dup gauges right when a key goes from n0 to n1 routes. */
static void
count_dups(struct table *t, uint32_t n0, uint32_t n1)
{
	t->sh->dup_keys += (n1 > 1) - (n0 > 1);
	t->sh->dup_conns += (n1 > 1 ? n1 : 0) - (n0 > 1 ? n0 : 0);
}

/* Writes a whole entry; state last, so a half-written one is never live. */
static void
put_entry(struct table_entry *e, const struct table_entry *src)
{
	int i;

	for (i = 0; i < 4; i++)
		STORE(&e->key[i], src->key[i]);
	e->nroutes = src->nroutes;
	e->active = src->active;
	memcpy(e->routes, src->routes, sizeof(e->routes));
	memcpy(e->info, src->info, sizeof(e->info));
	STORE(&e->state, SLOT_LIVE);
}

/* A live entry a dying writer may have left inconsistent is fixed or dropped. */
static int
entry_sane(const struct table *t, struct table_entry *e)
{
	uint32_t i, n = 0;

	if (e->nroutes > TABLE_MAX_DUPS)
		return 0;
	for (i = 0; i < e->nroutes; i++) {
		if (e->routes[i].worker >= t->nworkers)
			continue;
		e->info[n] = e->info[i];
		e->routes[n++] = e->routes[i];
	}
	e->nroutes = n;
	if (n > 0 && e->active >= n)
		e->active = n - 1;
	return n > 0;
}

/* Rebuilds the table from its live, sane entries; recounts the gauges. */
static void
rebuild(struct table *t)
{
	struct table_entry *live;
	uint32_t i, n = 0;
	int64_t idx, free_idx;

	live = malloc((size_t)t->cap * sizeof(*live));
	if (live == NULL)
		return;
	for (i = 0; i < t->cap; i++) {
		if (LOAD(&t->entries[i].state) != SLOT_LIVE)
			continue;
		live[n] = t->entries[i];
		if (entry_sane(t, &live[n]))
			n++;
	}
	write_begin(t);
	memset(t->entries, 0, (size_t)t->cap * sizeof(*t->entries));
	t->sh->live = t->sh->dead = t->sh->dup_keys = t->sh->dup_conns = 0;
	for (i = 0; i < n; i++) {
		idx = probe(t, (const uint8_t *)live[i].key, &free_idx);
		if (idx >= 0 || free_idx < 0)
			continue;	/* duplicate left by a dead writer */
		put_entry(&t->entries[free_idx], &live[i]);
		t->sh->live++;
		count_dups(t, 0, live[i].nroutes);
	}
	write_end(t);
	free(live);
}

static void
table_lock(struct table *t)
{
	int rc = pthread_mutex_lock(&t->sh->lock);

	if (rc == EOWNERDEAD) {
		/* A process died mid-write: make the seq even, then repair. */
		if (t->sh->seq & 1)
			__atomic_store_n(&t->sh->seq, t->sh->seq + 1, __ATOMIC_RELEASE);
		rebuild(t);
		t->sh->repairs++;
		pthread_mutex_consistent(&t->sh->lock);
	} else if (rc != 0) {
		errno = rc;
		fatal("connection table lock");
	}
}

static void
table_unlock(struct table *t)
{
	pthread_mutex_unlock(&t->sh->lock);
}

/* Reads e's active route without the lock; the caller validates with seq. */
static int
read_active(const struct table *t, const struct table_entry *e, struct route *out)
{
	uint32_t a = LOAD(&e->active);

	if (a >= TABLE_MAX_DUPS)
		return 0;
	out->worker = LOAD(&e->routes[a].worker);
	out->slot = LOAD(&e->routes[a].slot);
	out->gen = LOAD(&e->routes[a].gen);
	return out->worker < t->nworkers;
}

int
table_lookup(struct table *t, const uint8_t key[KEY_LEN], struct route *out)
{
	uint64_t s1, s2;
	int64_t idx;
	int spins, found;

	for (spins = 0; spins < READ_SPINS; spins++) {
		s1 = __atomic_load_n(&t->sh->seq, __ATOMIC_ACQUIRE);
		if (s1 & 1) {
			if (spins > 64)
				sched_yield();
			continue;
		}
		idx = probe(t, key, NULL);
		found = idx >= 0 && read_active(t, &t->entries[idx], out);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(&t->sh->seq, __ATOMIC_RELAXED);
		if (s1 == s2)
			return found;
	}
	table_lock(t);
	idx = probe(t, key, NULL);
	found = idx >= 0 && read_active(t, &t->entries[idx], out);
	table_unlock(t);
	return found;
}

static int
insert_new(struct table *t, const uint8_t key[KEY_LEN],
    const struct route *r, const struct peer_info *info)
{
	struct table_entry ne;
	int64_t free_idx;

	if (t->sh->live >= table_max_live(t))
		return -1;
	/* Live keys stay under 3/4 of cap; rebuild once tombstones fill 1/8. */
	if (t->sh->live + t->sh->dead >= t->cap - t->cap / 8)
		rebuild(t);
	(void)probe(t, key, &free_idx);
	if (free_idx < 0)
		return -1;
	memset(&ne, 0, sizeof(ne));
	memcpy(ne.key, key, KEY_LEN);
	ne.nroutes = 1;
	ne.routes[0] = *r;
	if (info != NULL)
		ne.info[0] = *info;
	if (LOAD(&t->entries[free_idx].state) == SLOT_DEAD)
		t->sh->dead--;
	write_begin(t);
	put_entry(&t->entries[free_idx], &ne);
	write_end(t);
	t->sh->live++;
	return 0;
}

static void
join(struct table *t, struct table_entry *e, const struct route *r,
    const struct peer_info *info, struct table_join *j)
{
	uint32_t n0 = e->nroutes;

	j->nothers = e->nroutes;
	memcpy(j->others, e->routes, sizeof(j->others));
	write_begin(t);
	if (e->nroutes == TABLE_MAX_DUPS) {
		j->evicted = 1;
		j->evicted_route = e->routes[0];
		memmove(&e->routes[0], &e->routes[1],
		    (TABLE_MAX_DUPS - 1) * sizeof(e->routes[0]));
		memmove(&e->info[0], &e->info[1],
		    (TABLE_MAX_DUPS - 1) * sizeof(e->info[0]));
		e->nroutes--;
	}
	e->routes[e->nroutes] = *r;
	if (info != NULL)
		e->info[e->nroutes] = *info;
	else
		memset(&e->info[e->nroutes], 0, sizeof(e->info[0]));
	STORE(&e->active, e->nroutes);
	e->nroutes++;
	write_end(t);
	count_dups(t, n0, e->nroutes);
}

int
table_register(struct table *t, const uint8_t key[KEY_LEN],
    const struct route *r, const struct peer_info *info, struct table_join *j)
{
	int64_t idx;
	int rc = 0;

	memset(j, 0, sizeof(*j));
	table_lock(t);
	idx = probe(t, key, NULL);
	if (idx >= 0)
		join(t, &t->entries[idx], r, info, j);
	else
		rc = insert_new(t, key, r, info);
	table_unlock(t);
	return rc;
}

static void
kill_entry(struct table *t, struct table_entry *e)
{
	write_begin(t);
	STORE(&e->state, SLOT_DEAD);
	write_end(t);
	t->sh->live--;
	t->sh->dead++;
}

/* Removes routes[i]; the most recent route left becomes active if it was. */
static void
drop_route(struct table_entry *e, uint32_t i)
{
	uint32_t was_active = e->active;

	memmove(&e->routes[i], &e->routes[i + 1],
	    (e->nroutes - i - 1) * sizeof(e->routes[0]));
	memmove(&e->info[i], &e->info[i + 1],
	    (e->nroutes - i - 1) * sizeof(e->info[0]));
	e->nroutes--;
	if (e->nroutes == 0)
		return;
	if (was_active == i)
		STORE(&e->active, e->nroutes - 1);
	else if (was_active > i)
		STORE(&e->active, was_active - 1);
}

static int
route_index(const struct table_entry *e, const struct route *r)
{
	uint32_t i;

	for (i = 0; i < e->nroutes; i++)
		if (same_route(&e->routes[i], r))
			return (int)i;
	return -1;
}

enum table_leave
table_unregister(struct table *t, const uint8_t key[KEY_LEN],
    const struct route *r)
{
	enum table_leave rc = TABLE_NOT_FOUND;
	struct table_entry *e;
	int64_t idx;
	uint32_t n0;
	int i;

	table_lock(t);
	idx = probe(t, key, NULL);
	if (idx >= 0 && (i = route_index(e = &t->entries[idx], r)) >= 0) {
		n0 = e->nroutes;
		if (n0 == 1) {
			kill_entry(t, e);
			rc = TABLE_GONE;
		} else {
			write_begin(t);
			drop_route(e, (uint32_t)i);
			write_end(t);
			rc = TABLE_STAYS;
		}
		count_dups(t, n0, n0 - 1);
	}
	table_unlock(t);
	return rc;
}

int
table_claim(struct table *t, const uint8_t key[KEY_LEN],
    const struct route *r)
{
	struct table_entry *e;
	int64_t idx;
	int i, rc = -1;

	table_lock(t);
	idx = probe(t, key, NULL);
	if (idx >= 0 && (i = route_index(e = &t->entries[idx], r)) >= 0) {
		rc = e->active != (uint32_t)i;
		if (rc) {
			write_begin(t);
			STORE(&e->active, (uint32_t)i);
			write_end(t);
		}
	}
	table_unlock(t);
	return rc;
}

size_t
table_remove_worker(struct table *t, uint32_t w,
    void (*gone)(const uint8_t *key, void *arg), void *arg)
{
	uint64_t k[4];
	uint32_t i, j, n0;
	size_t n = 0;

	table_lock(t);
	for (i = 0; i < t->cap; i++) {
		struct table_entry *e = &t->entries[i];

		if (e->state != SLOT_LIVE || e->nroutes > TABLE_MAX_DUPS)
			continue;
		n0 = e->nroutes;
		write_begin(t);
		for (j = e->nroutes; j-- > 0; )
			if (e->routes[j].worker == w)
				drop_route(e, j);
		write_end(t);
		if (e->nroutes == n0)
			continue;
		n += n0 - e->nroutes;
		count_dups(t, n0, e->nroutes);
		if (e->nroutes == 0) {
			entry_key(e, k);
			kill_entry(t, e);
			if (gone != NULL)
				gone((const uint8_t *)k, arg);
		}
	}
	table_unlock(t);
	return n;
}

uint32_t
table_live(struct table *t)
{
	uint32_t n;

	table_lock(t);
	n = t->sh->live;
	table_unlock(t);
	return n;
}

void
table_foreach(struct table *t, void (*fn)(const uint8_t *key,
    const struct route *r, const struct peer_info *info, void *arg), void *arg)
{
	struct route r;
	uint64_t k[4];
	uint32_t i;

	table_lock(t);
	for (i = 0; i < t->cap; i++) {
		struct table_entry *e = &t->entries[i];

		if (e->state != SLOT_LIVE || !read_active(t, e, &r))
			continue;
		entry_key(e, k);
		fn((const uint8_t *)k, &r, &e->info[e->active], arg);
	}
	table_unlock(t);
}

int
table_routes(struct table *t, const uint8_t key[KEY_LEN],
    struct route out[TABLE_MAX_DUPS])
{
	int64_t idx;
	int n = 0;

	table_lock(t);
	idx = probe(t, key, NULL);
	if (idx >= 0 && t->entries[idx].nroutes <= TABLE_MAX_DUPS) {
		n = (int)t->entries[idx].nroutes;
		memcpy(out, t->entries[idx].routes, n * sizeof(*out));
	}
	table_unlock(t);
	return n;
}

void
table_dup_counts(struct table *t, uint32_t *keys, uint32_t *conns)
{
	*keys = __atomic_load_n(&t->sh->dup_keys, __ATOMIC_RELAXED);
	*conns = __atomic_load_n(&t->sh->dup_conns, __ATOMIC_RELAXED);
}
