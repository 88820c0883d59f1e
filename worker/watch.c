/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * derper tells a client PeerGone(disconnected) about every peer it received
 * packets from once that peer leaves the server. Each worker keeps, per
 * source key, the local connections that heard from it.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "wk.h"

struct watch_ref {
	uint32_t	slot;
	uint32_t	gen;
};

struct watch_src {
	struct watch_src *hnext;
	uint8_t		 key[DERP_KEY_LEN];
	struct watch_ref *refs;
	uint32_t	 nrefs, cap;
};

static struct watch_src **buckets;
static uint32_t nbuckets, nsrcs;
static uint8_t hash_key[crypto_shorthash_KEYBYTES];

static uint32_t
bucket_of(const uint8_t key[DERP_KEY_LEN])
{
	uint64_t h;

	crypto_shorthash((unsigned char *)&h, key, DERP_KEY_LEN, hash_key);
	return (uint32_t)h & (nbuckets - 1);
}

static void
grow(void)
{
	struct watch_src **old = buckets, *s, *next;
	uint32_t oldn = nbuckets, i, b;

	if (nbuckets == 0)
		randombytes_buf(hash_key, sizeof(hash_key));
	nbuckets = nbuckets ? nbuckets * 2 : 256;
	if ((buckets = calloc(nbuckets, sizeof(*buckets))) == NULL)
		fatal("watch table");
	for (i = 0; i < oldn; i++) {
		for (s = old[i]; s != NULL; s = next) {
			next = s->hnext;
			b = bucket_of(s->key);
			s->hnext = buckets[b];
			buckets[b] = s;
		}
	}
	free(old);
}

static struct watch_src **
find(const uint8_t key[DERP_KEY_LEN])
{
	struct watch_src **pp;

	if (nbuckets == 0)
		return NULL;
	for (pp = &buckets[bucket_of(key)]; *pp != NULL; pp = &(*pp)->hnext)
		if (memcmp((*pp)->key, key, DERP_KEY_LEN) == 0)
			return pp;
	return NULL;
}

static void
unlink_src(struct watch_src *s)
{
	struct watch_src **pp = find(s->key);

	if (pp != NULL)
		*pp = s->hnext;
	free(s->refs);
	free(s);
	nsrcs--;
}

static int
conn_watches(const struct conn *c, const struct watch_src *s)
{
	uint32_t i;

	if (s->nrefs < c->nwatched) {
		for (i = 0; i < s->nrefs; i++)
			if (s->refs[i].slot == c->slot && s->refs[i].gen == c->gen)
				return 1;
		return 0;
	}
	for (i = 0; i < c->nwatched; i++)
		if (c->watched[i] == s)
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

void
watch_note_src(struct wk *w, struct conn *c, const uint8_t src[DERP_KEY_LEN])
{
	struct watch_src **pp, *s;

	(void)w;
	if (c->last_watched != NULL &&
	    memcmp(c->last_watched->key, src, DERP_KEY_LEN) == 0)
		return;
	pp = find(src);
	if (pp != NULL && conn_watches(c, *pp)) {
		c->last_watched = *pp;
		return;
	}
	if (pp == NULL) {
		if (nsrcs >= nbuckets)
			grow();
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return;
		memcpy(s->key, src, DERP_KEY_LEN);
		s->hnext = buckets[bucket_of(src)];
		buckets[bucket_of(src)] = s;
		nsrcs++;
	} else
		s = *pp;
	if ((s->nrefs == s->cap &&
	    grow_array((void **)&s->refs, &s->cap, sizeof(*s->refs)) != 0) ||
	    (c->nwatched == c->watched_cap &&
	    grow_array((void **)&c->watched, &c->watched_cap, sizeof(*c->watched)) != 0)) {
		if (s->nrefs == 0)
			unlink_src(s);
		return;
	}
	s->refs[s->nrefs].slot = c->slot;
	s->refs[s->nrefs].gen = c->gen;
	s->nrefs++;
	c->watched[c->nwatched++] = s;
	c->last_watched = s;
}

static void
forget_src(struct conn *c, const struct watch_src *s)
{
	uint32_t i;

	for (i = 0; i < c->nwatched; i++) {
		if (c->watched[i] == s) {
			c->watched[i] = c->watched[--c->nwatched];
			break;
		}
	}
	if (c->last_watched == s)
		c->last_watched = NULL;
}

void
watch_fire(struct wk *w, const uint8_t src[DERP_KEY_LEN])
{
	uint8_t f[DERP_FRAME_HDR_LEN + DERP_KEY_LEN + 1];
	struct watch_src **pp = find(src), *s;
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
			stat(w, ST_PEER_GONE_DISCONNECTED, 1);
		}
	}
	unlink_src(s);
}

void
watch_drop_conn(struct wk *w, struct conn *c)
{
	struct watch_src *s;
	uint32_t i, j;

	(void)w;
	for (i = 0; i < c->nwatched; i++) {
		s = c->watched[i];
		for (j = 0; j < s->nrefs; j++) {
			if (s->refs[j].slot == c->slot && s->refs[j].gen == c->gen) {
				s->refs[j] = s->refs[--s->nrefs];
				break;
			}
		}
		if (s->nrefs == 0)
			unlink_src(s);
	}
	free(c->watched);
	c->watched = NULL;
	c->nwatched = c->watched_cap = 0;
	c->last_watched = NULL;
}
