/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TLS certificate, as the master handles it (derper's -certmode
 * manual): <certdir>/<hostname>.crt is read (it is public) and checked
 * against the hostname; <certdir>/<hostname>.key is only opened, as root,
 * and its descriptor handed to the key process, the one process that reads
 * it. Workers get the chain, with derper's meta certificate appended.
 */
#ifndef DERPD_CERTS_H
#define DERPD_CERTS_H

#include <stdint.h>

#include "config.h"
#include "key.h"

struct certs {
	char	*chain;		/* PEM, leaf first */
	int	 key_fd;	/* the private key file, unread */
	char	 sni[256];	/* what clients must send; empty for an IP address */
};

/* As root, before the key process starts. Fatal on failure. */
void	certs_open(struct certs *c, const struct config *cfg);
/* The chain as workers serve it: the meta certificate for derp_pub appended. */
char	*certs_served_chain(const struct certs *c, const uint8_t derp_pub[KEY_LEN]);

#endif
