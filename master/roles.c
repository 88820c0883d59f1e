/* SPDX-License-Identifier: BSD-3-Clause */
#include "roles.h"

#include <unistd.h>

#include "log.h"
#include "setup.h"
#include "spawn.h"

static void
set(struct spawn *sp, const char *key, json_t *v)
{
	if (v == NULL || json_object_set_new(sp->setup, key, v) != 0)
		fatalx("set-up: out of memory");
}

/* The regions role maps, each by the descriptor it may map it through. */
static void
put_shm(struct spawn *sp, struct shm *s, enum shm_role role, uint32_t id)
{
	json_t *m = json_object(), *regions = json_array();
	struct shm_region *r;
	int i, rw;

	if (m == NULL || regions == NULL)
		fatalx("set-up: out of memory");
	for (i = 0; i < shm_nregions(s); i++) {
		if (!shm_role_maps(s, role, id, i, &rw))
			continue;
		r = shm_region_at(s, i);
		if (json_array_append_new(regions, json_pack("{s:i, s:i, s:b}",
		    "region", i, "fd", spawn_fd(sp, rw ? r->rw_fd : r->ro_fd),
		    "rw", rw)) != 0)
			fatalx("set-up: out of memory");
	}
	if (json_object_set_new(m, "regions", regions) != 0 ||
	    json_object_set_new(m, "nworkers", json_integer(s->nworkers)) != 0 ||
	    json_object_set_new(m, "max_conns", json_integer(s->max_conns)) != 0 ||
	    json_object_set_new(m, "max_remote", json_integer(s->max_remote)) != 0 ||
	    json_object_set_new(m, "ring_data", json_integer(s->ring_data)) != 0)
		fatalx("set-up: out of memory");
	setup_put_hex(m, "hash_key", s->table_hash_key, sizeof(s->table_hash_key));
	set(sp, "shm", m);
}

static json_t *
evfds(struct spawn *sp, const struct master *m)
{
	json_t *a = json_array();
	uint32_t j;

	for (j = 0; a != NULL && j < m->nworkers; j++)
		if (json_array_append_new(a, json_integer(spawn_fd(sp, m->evfds[j]))))
			fatalx("set-up: out of memory");
	return a;
}

pid_t
roles_spawn_worker(struct master *m, uint32_t i, int keyd_fd, int table_fd,
    int verify_fd, int dial_fd)
{
	struct spawn sp;
	char title[32];

	snprintf(title, sizeof(title), "derpd: worker %u", i);
	spawn_begin(&sp, "worker", title);
	setup_put_config(sp.setup, m->cfg, SETUP_CFG_WORKER);
	set(&sp, "master_pid", json_integer(getpid()));
	set(&sp, "id", json_integer(i));
	set(&sp, "epoch", json_integer(m->shm.ctl->workers[i].epoch));
	put_shm(&sp, &m->shm, SHM_WORKER, i);
	set(&sp, "listen", json_integer(spawn_fd(&sp, m->listen_fds[i])));
	set(&sp, "http", json_integer(spawn_fd(&sp, m->http_fds[i])));
	set(&sp, "keyd", json_integer(spawn_fd(&sp, keyd_fd)));
	set(&sp, "table", json_integer(spawn_fd(&sp, table_fd)));
	set(&sp, "verify", json_integer(spawn_fd(&sp, verify_fd)));
	set(&sp, "dialer", json_integer(spawn_fd(&sp, dial_fd)));
	set(&sp, "mesh_ca", json_string(m->dial.ca_pem ? m->dial.ca_pem : ""));
	set(&sp, "mesh_chain", json_string(m->dial.client_chain ?
	    m->dial.client_chain : ""));
	set(&sp, "evfds", evfds(&sp, m));
	setup_put_hex(sp.setup, "server_pub", m->keyd.pub, KEY_LEN);
	set(&sp, "client_ca", json_string(m->clientca.ca ? m->clientca.ca : ""));
	set(&sp, "client_crl", json_string(m->clientca.crl ? m->clientca.crl : ""));
	return spawn_run(&sp);
}

pid_t
roles_spawn_stun(struct master *m)
{
	struct spawn sp;

	spawn_begin(&sp, "stun", "derpd: stun");
	setup_put_config(sp.setup, m->cfg, SETUP_CFG_STUN);
	set(&sp, "master_pid", json_integer(getpid()));
	put_shm(&sp, &m->shm, SHM_STUN, 0);
	set(&sp, "socket", json_integer(spawn_fd(&sp, m->stun_fd)));
	return spawn_run(&sp);
}

pid_t
roles_spawn_dns(struct master *m)
{
	struct spawn sp;

	spawn_begin(&sp, "dns", "derpd: dns");
	setup_put_config(sp.setup, m->cfg, SETUP_CFG_DNS);
	set(&sp, "master_pid", json_integer(getpid()));
	put_shm(&sp, &m->shm, SHM_DNS, 0);
	return spawn_run(&sp);
}

pid_t
roles_spawn_dialer(struct master *m, int ctl_fd)
{
	struct spawn sp;

	spawn_begin(&sp, "mesh-dialer", "derpd: mesh dialer");
	setup_put_config(sp.setup, m->cfg, SETUP_CFG_DIALER);
	set(&sp, "master_pid", json_integer(getpid()));
	set(&sp, "nworkers", json_integer(m->nworkers));
	set(&sp, "ctl", json_integer(spawn_fd(&sp, ctl_fd)));
	return spawn_run(&sp);
}

pid_t
roles_spawn_acme(struct master *m, int master_fd, int keyd_fd)
{
	struct spawn sp;

	spawn_begin(&sp, "acme", "derpd: acme");
	setup_put_config(sp.setup, m->cfg, SETUP_CFG_ACME);
	set(&sp, "master_pid", json_integer(getpid()));
	set(&sp, "master", json_integer(spawn_fd(&sp, master_fd)));
	set(&sp, "keyd", json_integer(spawn_fd(&sp, keyd_fd)));
	set(&sp, "certdir", json_integer(spawn_fd(&sp, m->acme_certdir)));
	set(&sp, "ca_pem", json_string(m->acme_ca));
	return spawn_run(&sp);
}
