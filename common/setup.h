/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A child's set-up (common/role.h) as JSON: written by the master
 * (master/roles.c), read here by the child, which trusts its parent but
 * still refuses anything malformed (fatal, before it serves anything).
 * Which configuration a role gets is one table per role in setup.c, used by
 * both sides.
 */
#ifndef DERPD_SETUP_H
#define DERPD_SETUP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "shm.h"

enum setup_cfg {
	SETUP_CFG_WORKER,
	SETUP_CFG_DNS,
	SETUP_CFG_KEY,
	SETUP_CFG_STUN,
	SETUP_CFG_VERIFY,
	SETUP_CFG_DIALER,
	SETUP_CFG_ACME,
};

/* The master: adds the configuration role needs, as "config". */
void	setup_put_config(json_t *o, const struct config *cfg, enum setup_cfg role);
/* The child: reads it into *cfg (everything else zero). */
void	setup_get_config(const json_t *o, struct config *cfg, enum setup_cfg role);

/* The child: reads and parses its set-up descriptor, then closes it. */
json_t	*setup_read(void);
int64_t	 setup_int(const json_t *o, const char *key);
const char *setup_str(const json_t *o, const char *key);
/* A descriptor the master passed (or -1 when the key says -1). */
int	 setup_fd(const json_t *o, const char *key);
void	 setup_hex(const json_t *o, const char *key, uint8_t *out, size_t len);
void	 setup_put_hex(json_t *o, const char *key, const uint8_t *p, size_t len);
/* The child: shared memory as "shm" says, mapped for role. */
void	 setup_get_shm(const json_t *o, struct shm *s, enum shm_role role,
	    uint32_t id);

#endif
