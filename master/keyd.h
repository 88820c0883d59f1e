/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The key process: the only process that ever holds the DERP private key.
 * It reads the key file from a descriptor the master opened as root, sends
 * the public key back, drops privileges, enters its own small sandbox, and
 * answers crypto_box_beforenm(client_pub, server_priv) for workers over one
 * SOCK_SEQPACKET socket each. The master keeps the key process's ends of
 * those sockets so that a restarted key process picks them up again.
 */
#ifndef DERPD_KEYD_H
#define DERPD_KEYD_H

#include <stdint.h>
#include <sys/types.h>

#include "keyd_proto.h"
#include "privdrop.h"
#include "shm.h"

struct keyd {
	pid_t		pid;
	int		ctl;		/* master <-> key process */
	int		key_fd;		/* kept open to restart it; -1 for an ephemeral key */
	const char	*key_path;
	int		worker_end[SHM_MAX_WORKERS];	/* key process's ends */
	uint8_t		pub[KEY_LEN];
};

/*
 * Starts the key process and waits for the public key; fatal on failure.
 * shm: the master's shared memory, which a restarted key process unmaps.
 */
void	keyd_start(struct keyd *k, const struct run_as *ra, struct shm *shm);
/* Gives the key process its end of worker w's socket (replacing any old one). */
void	keyd_attach(struct keyd *k, uint32_t w, int fd);
void	keyd_detach(struct keyd *k, uint32_t w);
/* Closes, in a freshly forked child, every descriptor the key process uses. */
void	keyd_close_in_child(struct keyd *k);
/*
 * In the key process (master/keyd_answer.c): the answer to one datagram of
 * len bytes from a worker, which must be a struct keyd_req; -1 (nothing to
 * send) for anything else.
 */
int	keyd_answer(const void *msg, size_t len, const uint8_t priv[KEY_LEN],
	    struct keyd_resp *resp);

#endif
