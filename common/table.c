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
bucket(const struct table *t, const uint8_t key[TABLE_KEY_LEN])
{
	uint64_t h;

	crypto_shorthash((unsigned char *)&h, key, TABLE_KEY_LEN, t->hash_key);
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
entry_has_key(const struct table_entry *e, const uint8_t key[TABLE_KEY_LEN])
{
	uint64_t k[4];

	entry_key(e, k);
	return memcmp(k, key, TABLE_KEY_LEN) == 0;
}

/* Probe for key; returns its index, or -1 and the first reusable index. */
static int64_t
probe(const struct table *t, const uint8_t key[TABLE_KEY_LEN], int64_t *free_idx)
{
	uint32_t i = bucket(t, key), n;
	uint32_t state;

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

static void
put_entry(struct table_entry *e, const uint8_t key[TABLE_KEY_LEN],
    const struct route *r, const struct peer_info *info)
{
	uint64_t k[4];
	int i;

	memcpy(k, key, TABLE_KEY_LEN);
	for (i = 0; i < 4; i++)
		STORE(&e->key[i], k[i]);
	STORE(&e->worker, r->worker);
	STORE(&e->slot, r->slot);
	STORE(&e->gen, r->gen);
	/* Readers without the lock never look at info. */
	if (info != NULL)
		e->info = *info;
	else
		memset(&e->info, 0, sizeof(e->info));
	STORE(&e->state, SLOT_LIVE);
}

/*
 * Rebuilds the table from its live, valid entries: drops tombstones and
 * anything a dying writer left half-done. Called with the lock held.
 */
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
		struct table_entry *e = &t->entries[i];

		if (LOAD(&e->state) == SLOT_LIVE && LOAD(&e->worker) < t->nworkers)
			live[n++] = *e;
	}
	write_begin(t);
	memset(t->entries, 0, (size_t)t->cap * sizeof(*t->entries));
	t->sh->live = t->sh->dead = 0;
	for (i = 0; i < n; i++) {
		struct route r = { live[i].worker, live[i].slot, live[i].gen };

		idx = probe(t, (const uint8_t *)live[i].key, &free_idx);
		if (idx >= 0 || free_idx < 0)
			continue;	/* duplicate left by a dead writer */
		put_entry(&t->entries[free_idx], (const uint8_t *)live[i].key, &r,
		    &live[i].info);
		t->sh->live++;
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

static int
lookup_locked(struct table *t, const uint8_t key[TABLE_KEY_LEN],
    struct route *out)
{
	int64_t idx = probe(t, key, NULL);

	if (idx < 0)
		return 0;
	out->worker = t->entries[idx].worker;
	out->slot = t->entries[idx].slot;
	out->gen = t->entries[idx].gen;
	return 1;
}

int
table_lookup(struct table *t, const uint8_t key[TABLE_KEY_LEN], struct route *out)
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
		found = idx >= 0;
		if (found) {
			const struct table_entry *e = &t->entries[idx];

			out->worker = LOAD(&e->worker);
			out->slot = LOAD(&e->slot);
			out->gen = LOAD(&e->gen);
		}
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(&t->sh->seq, __ATOMIC_RELAXED);
		if (s1 == s2)
			return found && out->worker < t->nworkers;
	}
	table_lock(t);
	found = lookup_locked(t, key, out);
	table_unlock(t);
	return found;
}

int
table_set(struct table *t, const uint8_t key[TABLE_KEY_LEN],
    const struct route *r, const struct peer_info *info, struct route *old)
{
	int64_t idx, free_idx;
	int rc;

	table_lock(t);
	idx = probe(t, key, &free_idx);
	if (idx >= 0) {
		struct table_entry *e = &t->entries[idx];

		old->worker = e->worker;
		old->slot = e->slot;
		old->gen = e->gen;
		write_begin(t);
		put_entry(e, key, r, info);
		write_end(t);
		rc = 1;
		goto out;
	}
	if (t->sh->live >= table_max_live(t)) {
		rc = -1;
		goto out;
	}
	if (t->sh->live + t->sh->dead >= table_max_live(t)) {
		rebuild(t);
		(void)probe(t, key, &free_idx);
	}
	if (free_idx < 0) {
		rc = -1;
		goto out;
	}
	if (LOAD(&t->entries[free_idx].state) == SLOT_DEAD)
		t->sh->dead--;
	write_begin(t);
	put_entry(&t->entries[free_idx], key, r, info);
	write_end(t);
	t->sh->live++;
	rc = 0;
 out:
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

int
table_remove_if(struct table *t, const uint8_t key[TABLE_KEY_LEN],
    const struct route *r)
{
	int64_t idx;
	int removed = 0;

	table_lock(t);
	idx = probe(t, key, NULL);
	if (idx >= 0) {
		struct table_entry *e = &t->entries[idx];

		if (e->worker == r->worker && e->slot == r->slot &&
		    e->gen == r->gen) {
			kill_entry(t, e);
			removed = 1;
		}
	}
	table_unlock(t);
	return removed;
}

size_t
table_remove_worker(struct table *t, uint32_t w,
    void (*gone)(const uint8_t *key, void *arg), void *arg)
{
	uint64_t k[4];
	uint32_t i;
	size_t n = 0;

	table_lock(t);
	for (i = 0; i < t->cap; i++) {
		struct table_entry *e = &t->entries[i];

		if (e->state != SLOT_LIVE || e->worker != w)
			continue;
		entry_key(e, k);
		kill_entry(t, e);
		n++;
		if (gone != NULL)
			gone((const uint8_t *)k, arg);
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

		if (e->state != SLOT_LIVE || e->worker >= t->nworkers)
			continue;
		entry_key(e, k);
		r.worker = e->worker;
		r.slot = e->slot;
		r.gen = e->gen;
		fn((const uint8_t *)k, &r, &e->info, arg);
	}
	table_unlock(t);
}
