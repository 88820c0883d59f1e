/* SPDX-License-Identifier: BSD-3-Clause */
#include "setup.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "role.h"

enum field_type { FT_BOOL, FT_INT, FT_STRING, FT_LIMIT, FT_KEY };

struct field {
	const char	*name;
	enum field_type	 type;
	size_t		 off;
	unsigned int	 roles;		/* bit (1 << enum setup_cfg) */
};

#define CF(f)	offsetof(struct config, f)
#define W	(1u << SETUP_CFG_WORKER)
#define D	(1u << SETUP_CFG_DNS)
#define K	(1u << SETUP_CFG_KEY)
#define S	(1u << SETUP_CFG_STUN)
#define V	(1u << SETUP_CFG_VERIFY)
#define M	(1u << SETUP_CFG_DIALER)
#define A	(1u << SETUP_CFG_ACME)

/* What each role may know of the configuration; nothing else crosses. */
static const struct field fields[] = {
	{ "verbose",		FT_BOOL,	CF(verbose),		W | D | K | S | V | M | A },
	{ "no-seccomp",		FT_BOOL,	CF(no_seccomp),		W },
	{ "tls",		FT_BOOL,	CF(tls),		W },
	{ "hostname",		FT_STRING,	CF(hostname),		W | A },
	{ "home",		FT_STRING,	CF(home),		W },
	{ "derp",		FT_BOOL,	CF(run_derp),		W },
	{ "max-clients",	FT_INT,		CF(max_clients),	W },
	{ "queue-kib",		FT_INT,		CF(queue_kib),		W },
	{ "queue-budget-mib",	FT_INT,		CF(queue_budget_mib),	W },
	{ "keepalive",		FT_INT,		CF(keepalive_ms),	W },
	{ "handshake-timeout",	FT_INT,		CF(handshake_timeout_ms), W },
	{ "login-memory-mib",	FT_INT,		CF(login_memory_mib),	W },
	{ "tcp-keepalive-time",	FT_INT,		CF(tcp_keepalive_ms),	W },
	{ "tcp-user-timeout",	FT_INT,		CF(tcp_user_timeout_ms), W },
	{ "tcp-write-timeout",	FT_INT,		CF(tcp_write_timeout_ms), W },
	{ "accept-connection-limit", FT_LIMIT,	CF(accept_conn_limit),	W },
	{ "accept-connection-burst", FT_INT,	CF(accept_conn_burst),	W },
	{ "mesh-key",		FT_KEY,		CF(mesh_key),		W },
	{ "verify-interval",	FT_INT,		CF(verify_interval_ms),	W },
	{ "verify-clients",	FT_BOOL,	CF(verify_clients),	V },
	{ "socket",		FT_STRING,	CF(socket_path),	V },
	{ "verify-client-url",	FT_STRING,	CF(verify_client_url),	V },
	{ "verify-client-url-fail-open", FT_BOOL, CF(verify_fail_open),	V },
	{ "mesh-with",		FT_STRING,	CF(mesh_with),		W | M },
	{ "bootstrap-dns-names", FT_STRING,	CF(bootstrap_dns_names), D },
	{ "unpublished-bootstrap-dns-names", FT_STRING, CF(unpublished_dns_names), D },
	{ "certmode",		FT_STRING,	CF(certmode),		A },
	{ "http-port",		FT_INT,		CF(http_port),		A },
	{ "acme-directory",	FT_STRING,	CF(acme_directory),	A },
	{ "acme-email",		FT_STRING,	CF(acme_email),		A },
	{ "acme-eab-kid",	FT_STRING,	CF(acme_eab_kid),	A },
	{ "acme-eab-key",	FT_STRING,	CF(acme_eab_key),	A },
	{ "acme-ip-certs",	FT_BOOL,	CF(acme_ip_certs),	W | A },
};

static json_t *
put_field(const struct config *cfg, const struct field *f)
{
	const void *p = (const char *)cfg + f->off;

	switch (f->type) {
	case FT_BOOL:
		return json_boolean(*(const int *)p);
	case FT_INT:
		return json_integer(*(const int64_t *)p);
	case FT_STRING:
		return json_string(*(const char *const *)p ? *(const char *const *)p : "");
	case FT_LIMIT:	/* +Inf (no limit) has no JSON form */
		return isinf(*(const double *)p) ? json_null() :
		    json_real(*(const double *)p);
	case FT_KEY:	/* written by setup_put_config itself */
		break;
	}
	return NULL;
}

void
setup_put_config(json_t *o, const struct config *cfg, enum setup_cfg role)
{
	json_t *c = json_object();
	size_t i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (!(fields[i].roles & (1u << role)))
			continue;
		if (fields[i].type == FT_KEY) {
			if (cfg->has_mesh_key)
				setup_put_hex(c, fields[i].name, cfg->mesh_key, KEY_LEN);
			continue;
		}
		if (json_object_set_new(c, fields[i].name, put_field(cfg, &fields[i])) != 0)
			fatalx("set-up: out of memory");
	}
	if (json_object_set_new(o, "config", c) != 0)
		fatalx("set-up: out of memory");
}

static void
get_field(const json_t *v, struct config *cfg, const struct field *f)
{
	void *p = (char *)cfg + f->off;

	switch (f->type) {
	case FT_BOOL:
		if (!json_is_boolean(v))
			fatalx("set-up: %s is not a boolean", f->name);
		*(int *)p = json_is_true(v);
		break;
	case FT_INT:
		if (!json_is_integer(v))
			fatalx("set-up: %s is not an integer", f->name);
		*(int64_t *)p = json_integer_value(v);
		break;
	case FT_STRING:
		if (!json_is_string(v))
			fatalx("set-up: %s is not a string", f->name);
		*(const char **)p = json_string_value(v);	/* lives as long as the set-up */
		break;
	case FT_LIMIT:
		if (!json_is_null(v) && !json_is_number(v))
			fatalx("set-up: %s is not a number", f->name);
		*(double *)p = json_is_null(v) ? INFINITY : json_number_value(v);
		break;
	case FT_KEY:
		break;
	}
}

void
setup_get_config(const json_t *o, struct config *cfg, enum setup_cfg role)
{
	const json_t *c = json_object_get(o, "config"), *v;
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	if (!json_is_object(c))
		fatalx("set-up: no configuration");
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (!(fields[i].roles & (1u << role)))
			continue;
		v = json_object_get(c, fields[i].name);
		if (fields[i].type == FT_KEY) {
			if (v != NULL) {
				setup_hex(c, fields[i].name, cfg->mesh_key, KEY_LEN);
				cfg->has_mesh_key = 1;
			}
			continue;
		}
		if (v == NULL)
			fatalx("set-up: no %s", fields[i].name);
		get_field(v, cfg, &fields[i]);
	}
}

json_t *
setup_read(void)
{
	json_error_t err;
	json_t *o;

	o = json_loadfd(ROLE_SETUP_FD, JSON_REJECT_DUPLICATES, &err);
	close(ROLE_SETUP_FD);
	if (!json_is_object(o))
		fatalx("%s is for derpd's own children, which the master starts "
		    "(set-up: %s)", ROLE_FLAG, o == NULL ? err.text : "not an object");
	return o;
}

int64_t
setup_int(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		fatalx("set-up: %s is not an integer", key);
	return json_integer_value(v);
}

const char *
setup_str(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_string(v))
		fatalx("set-up: %s is not a string", key);
	return json_string_value(v);
}

int
setup_fd(const json_t *o, const char *key)
{
	int64_t fd = setup_int(o, key);

	if (fd < -1 || fd > 65535 || (fd >= 0 && fd <= ROLE_SETUP_FD))
		fatalx("set-up: %s is not a passed descriptor", key);
	return (int)fd;
}

static int
hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

void
setup_hex(const json_t *o, const char *key, uint8_t *out, size_t len)
{
	const char *s = setup_str(o, key);
	size_t i;
	int hi, lo;

	if (strlen(s) != 2 * len)
		fatalx("set-up: %s has the wrong length", key);
	for (i = 0; i < len; i++) {
		if ((hi = hexval(s[2 * i])) < 0 || (lo = hexval(s[2 * i + 1])) < 0)
			fatalx("set-up: %s is not hexadecimal", key);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
}

void
setup_put_hex(json_t *o, const char *key, const uint8_t *p, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char *s = malloc(2 * len + 1);
	size_t i;

	if (s == NULL)
		fatalx("set-up: out of memory");
	for (i = 0; i < len; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 15];
	}
	s[2 * len] = '\0';
	if (json_object_set_new(o, key, json_string(s)) != 0)
		fatalx("set-up: out of memory");
	explicit_bzero(s, 2 * len);
	free(s);
}

void
setup_get_shm(const json_t *o, struct shm *s, enum shm_role role, uint32_t id)
{
	const json_t *m = json_object_get(o, "shm"), *regions, *r;
	uint8_t hash_key[16];
	struct shm_region *reg;
	size_t i;
	int64_t idx;

	if (!json_is_object(m) || !json_is_array(regions = json_object_get(m, "regions")))
		fatalx("set-up: no shared memory");
	setup_hex(m, "hash_key", hash_key, sizeof(hash_key));
	shm_import(s, (uint32_t)setup_int(m, "nworkers"),
	    (uint32_t)setup_int(m, "max_conns"), (uint32_t)setup_int(m, "max_remote"),
	    (uint32_t)setup_int(m, "ring_data"),
	    hash_key);
	json_array_foreach(regions, i, r) {
		idx = setup_int(r, "region");
		if ((reg = shm_region_at(s, (int)idx)) == NULL || idx != (int)idx)
			fatalx("set-up: no shared-memory region %lld", (long long)idx);
		if (json_is_true(json_object_get(r, "rw")))
			reg->rw_fd = setup_fd(r, "fd");
		else
			reg->ro_fd = setup_fd(r, "fd");
	}
	shm_enter_role(s, role, id);
}
