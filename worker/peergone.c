/* SPDX-License-Identifier: BSD-3-Clause */
#include "peergone.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "log.h"

struct heard_ref {
	uint32_t	slot;
	uint32_t	gen;
};

/* One source key, and the local connections it sent packets to. */
struct heard_src {
	struct heard_src *hnext;
	uint8_t		 key[KEY_LEN];
	struct heard_ref *refs;
	uint32_t	 nrefs, cap;
};

static uint32_t
bucket_of(const struct heard_table *t, const uint8_t key[KEY_LEN])
{
	uint64_t h;

	crypto_shorthash((unsigned char *)&h, key, KEY_LEN, t->hash_key);
	return (uint32_t)h & (t->nbuckets - 1);
}

static void
grow(struct heard_table *t)
{
	struct heard_src **old = t->buckets, *s, *next;
	uint32_t oldn = t->nbuckets, i, b;

	if (t->nbuckets == 0)
		randombytes_buf(t->hash_key, sizeof(t->hash_key));
	t->nbuckets = t->nbuckets ? t->nbuckets * 2 : 256;
	if ((t->buckets = calloc(t->nbuckets, sizeof(*t->buckets))) == NULL)
		fatal("PeerGone table");
	for (i = 0; i < oldn; i++) {
		for (s = old[i]; s != NULL; s = next) {
			next = s->hnext;
			b = bucket_of(t, s->key);
			s->hnext = t->buckets[b];
			t->buckets[b] = s;
		}
	}
	free(old);
}

static struct heard_src **
find(struct heard_table *t, const uint8_t key[KEY_LEN])
{
	struct heard_src **pp;

	if (t->nbuckets == 0)
		return NULL;
	for (pp = &t->buckets[bucket_of(t, key)]; *pp != NULL; pp = &(*pp)->hnext)
		if (memcmp((*pp)->key, key, KEY_LEN) == 0)
			return pp;
	return NULL;
}

static void
unlink_src(struct heard_table *t, struct heard_src *s)
{
	struct heard_src **pp = find(t, s->key);

	if (pp != NULL)
		*pp = s->hnext;
	free(s->refs);
	free(s);
	t->nsrcs--;
}

static int
conn_heard(const struct conn *c, const struct heard_src *s)
{
	uint32_t i;

	if (s->nrefs < c->nheard) {
		for (i = 0; i < s->nrefs; i++)
			if (s->refs[i].slot == c->slot && s->refs[i].gen == c->gen)
				return 1;
		return 0;
	}
	for (i = 0; i < c->nheard; i++)
		if (c->heard[i] == s)
			return 1;
	return 0;
}

static int
grow_array(void **arr, uint32_t *cap, size_t elem)
{
	uint32_t ncap = *cap ? *cap * 2 : 4;
	void *n = reallocarray(*arr, ncap, elem);

	if (n == NULL)
		return -1;
	*arr = n;
	*cap = ncap;
	return 0;
}

static struct heard_src *
add_src(struct heard_table *t, const uint8_t src[KEY_LEN])
{
	struct heard_src *s;
	uint32_t b;

	if (t->nsrcs >= t->nbuckets)
		grow(t);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	memcpy(s->key, src, KEY_LEN);
	b = bucket_of(t, src);
	s->hnext = t->buckets[b];
	t->buckets[b] = s;
	t->nsrcs++;
	return s;
}

void
peergone_note_src(struct wk *w, struct conn *c, const uint8_t src[KEY_LEN])
{
	struct heard_table *t = &w->heard;
	struct heard_src **pp, *s;

	if (c->last_heard != NULL &&
	    memcmp(c->last_heard->key, src, KEY_LEN) == 0)
		return;
	pp = find(t, src);
	if (pp != NULL && conn_heard(c, *pp)) {
		c->last_heard = *pp;
		return;
	}
	if ((s = pp != NULL ? *pp : add_src(t, src)) == NULL)
		return;
	if ((s->nrefs == s->cap &&
	    grow_array((void **)&s->refs, &s->cap, sizeof(*s->refs)) != 0) ||
	    (c->nheard == c->heard_cap &&
	    grow_array((void **)&c->heard, &c->heard_cap, sizeof(*c->heard)) != 0)) {
		if (s->nrefs == 0)
			unlink_src(t, s);
		return;
	}
	s->refs[s->nrefs].slot = c->slot;
	s->refs[s->nrefs].gen = c->gen;
	s->nrefs++;
	c->heard[c->nheard++] = s;
	c->last_heard = s;
}

static void
forget_src(struct conn *c, const struct heard_src *s)
{
	uint32_t i;

	for (i = 0; i < c->nheard; i++) {
		if (c->heard[i] == s) {
			c->heard[i] = c->heard[--c->nheard];
			break;
		}
	}
	if (c->last_heard == s)
		c->last_heard = NULL;
}

void
peergone_fire(struct wk *w, const uint8_t src[KEY_LEN])
{
	uint8_t f[DERP_FRAME_HDR_LEN + KEY_LEN + 1];
	struct heard_src **pp = find(&w->heard, src), *s;
	struct conn *c;
	uint32_t i;

	if (pp == NULL)
		return;
	s = *pp;
	frame_peer_gone(f, src, PEER_GONE_DISCONNECTED);
	for (i = 0; i < s->nrefs; i++) {
		c = conn_at(w, s->refs[i].slot, s->refs[i].gen);
		if (c == NULL)
			continue;
		forget_src(c, s);
		if (c->state == CS_RELAY) {
			conn_queue_control(w, c, f, sizeof(f));
			wk_stat(w, ST_PEER_GONE_DISCONNECTED, 1);
		}
	}
	unlink_src(&w->heard, s);
}

void
peergone_sweep(struct wk *w)
{
	struct heard_table *t = &w->heard;
	uint8_t (*gone)[KEY_LEN];
	struct heard_src *s;
	uint32_t b, n = 0, i;

	if (t->nsrcs == 0)
		return;
	/* Firing may close connections, which frees other sources: collect first. */
	if ((gone = calloc(t->nsrcs, KEY_LEN)) == NULL) {
		log_warnx("out of memory for PeerGone after a worker died");
		return;
	}
	for (b = 0; b < t->nbuckets; b++)
		for (s = t->buckets[b]; s != NULL && n < t->nsrcs; s = s->hnext)
			if (table_present(&w->shm->table, s->key) == 0)
				memcpy(gone[n++], s->key, KEY_LEN);
	for (i = 0; i < n; i++)
		peergone_fire(w, gone[i]);
	free(gone);
}

void
peergone_drop_conn(struct wk *w, struct conn *c)
{
	struct heard_src *s;
	uint32_t i, j;

	for (i = 0; i < c->nheard; i++) {
		s = c->heard[i];
		for (j = 0; j < s->nrefs; j++) {
			if (s->refs[j].slot == c->slot && s->refs[j].gen == c->gen) {
				s->refs[j] = s->refs[--s->nrefs];
				break;
			}
		}
		if (s->nrefs == 0)
			unlink_src(&w->heard, s);
	}
	free(c->heard);
	c->heard = NULL;
	c->nheard = c->heard_cap = 0;
	c->last_heard = NULL;
}
