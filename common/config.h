/* SPDX-License-Identifier: BSD-3-Clause */
/* Settings parsed by the master and inherited by workers across fork. */
#ifndef DERPD_CONFIG_H
#define DERPD_CONFIG_H

#include <stdint.h>

#include "key.h"

struct config {
	/* derper's flags */
	const char	*addr;
	const char	*config_path;
	int		dev;
	const char	*hostname;
	const char	*certmode;
	const char	*certdir;
	int64_t		http_port;
	int64_t		stun_port;
	int		run_stun;
	int		run_derp;
	const char	*home;
	const char	*mesh_psk_file;
	const char	*mesh_with;
	const char	*bootstrap_dns_names;
	const char	*unpublished_dns_names;
	int		verify_clients;
	const char	*verify_client_url;
	int		verify_fail_open;
	const char	*socket_path;
	double		accept_conn_limit;
	int64_t		accept_conn_burst;
	const char	*rate_config;
	const char	*secrets_url;
	const char	*secrets_path_prefix;	/* only with -secrets-url */
	const char	*secrets_cache_dir;	/* only with -secrets-url */
	const char	*acme_eab_kid;		/* only with -certmode gcp */
	const char	*acme_eab_key;
	const char	*acme_email;		/* only with Let's Encrypt/gcp */
	int		acme_ip_certs;
	const char	*acme_directory;	/* derpd: the CA's directory URL */
	const char	*acme_ca_file;		/* derpd: trust store for it (PEM) */
	int		ace;
	int64_t		tcp_keepalive_ms;
	int64_t		tcp_user_timeout_ms;
	int64_t		tcp_write_timeout_ms;
	int		version;

	/* derpd's own */
	const char	*config_file;
	int64_t		workers;
	const char	*placement;	/* "source-port" or "hash" */
	const char	*user;
	int		no_seccomp;
	int		verbose;
	int64_t		max_clients;
	int64_t		ring_kib;
	int64_t		queue_kib;
	int64_t		queue_budget_mib;	/* per worker: packets queued to clients */
	int64_t		keepalive_ms;
	int64_t		handshake_timeout_ms;
	int64_t		login_memory_mib;	/* per worker, before the DERP login */
	const char	*allow_keys;		/* -allow-keys: admitted node keys */
	int64_t		verify_interval_ms;	/* re-verify connected clients; 0: only on SIGHUP */
	const char	*client_ca;		/* -client-ca: TLS client certificates required */
	const char	*client_crl;
	const char	*mesh_ca_file;		/* -mesh-with: trust these, not the system's */
	const char	*mesh_client_cert;	/* -mesh-with: present this chain... */
	const char	*mesh_client_key;	/* ...signing with this key (key process) */

	/* derived */
	int		has_mesh_key;
	uint8_t		mesh_key[KEY_LEN];
	int		tls;		/* serve TLS on addr */
	int		acme;		/* tls with -certmode letsencrypt or gcp */
	char		listen_host[256];
	int		listen_port;
	int		verify_on;	/* a verifier decides who logs in */
};

#endif
