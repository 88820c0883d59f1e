/* SPDX-License-Identifier: BSD-3-Clause */
/* A worker: one epoll loop serving TLS/HTTP/DERP clients, sandboxed. */
#ifndef DERPD_WORKER_H
#define DERPD_WORKER_H

#include <openssl/ssl.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "key.h"
#include "shm.h"

/* What the master hands a worker at fork time. */
struct worker_setup {
	const struct config *cfg;
	struct shm	*shm;
	uint32_t	 id;
	uint32_t	 epoch;		/* this incarnation, as the master numbered it */
	pid_t		 master_pid;
	int		 listen_fd;
	int		 http_fd;	/* plain HTTP beside TLS (derper's port 80), or -1 */
	int		 keyd_fd;	/* SOCK_SEQPACKET to the key process */
	int		 table_fd;	/* SOCK_SEQPACKET to the master's table service */
	const int	*evfds;		/* every worker's wake-up eventfd */
	SSL_CTX		*ssl_ctx;	/* NULL for plain HTTP */
	uint8_t		 server_pub[KEY_LEN];
};

void	worker_main(const struct worker_setup *setup) __attribute__((noreturn));

#endif
