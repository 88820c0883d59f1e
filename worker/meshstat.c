/* SPDX-License-Identifier: BSD-3-Clause */
#include "meshstat.h"

#include "dial_proto.h"

static const char *const names[LINK_NSTATES] = {
	[LINK_WAIT] = "waiting", [LINK_DIALING] = "dialing",
	[LINK_LOGIN] = "login", [LINK_UP] = "up", [LINK_SELF] = "self",
};

static const struct shm_mesh_peer *
owners(const struct wk *w, int i)
{
	return &w->shm->counters[dial_owner((uint32_t)i, w->nworkers)]->mesh[i];
}

uint32_t
meshstat_state(const struct wk *w, int i)
{
	uint32_t st = __atomic_load_n(&owners(w, i)->state, __ATOMIC_ACQUIRE);

	return st < LINK_NSTATES ? st : LINK_WAIT;
}

const char *
meshstat_state_name(uint32_t state)
{
	return state < LINK_NSTATES ? names[state] : "?";
}

uint64_t
meshstat_sum(const struct wk *w, int i, size_t off)
{
	uint64_t n = 0;
	uint32_t k;

	for (k = 0; k < w->nworkers; k++)
		n += __atomic_load_n((const uint64_t *)((const char *)
		    &w->shm->counters[k]->mesh[i] + off), __ATOMIC_RELAXED);
	return n;
}

int
meshstat_peer_of_route(const struct wk *w, const struct route *r)
{
	const struct shm_mesh_peer *mp;
	int i;

	for (i = 0; i < w->links.npeers; i++) {
		if (dial_owner((uint32_t)i, w->nworkers) != r->worker)
			continue;
		mp = owners(w, i);
		if (__atomic_load_n(&mp->slot, __ATOMIC_RELAXED) == r->slot &&
		    __atomic_load_n(&mp->gen, __ATOMIC_RELAXED) == r->gen)
			return i;
	}
	return -1;
}
