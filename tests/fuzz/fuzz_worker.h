/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A worker in the harness's own process, for harnesses of the worker's
 * input surfaces (fuzz_serve, fuzz_login, fuzz_ws): the real worker code
 * (everything but worker/main.c, whose loop is mirrored here without the
 * sandbox, signals and timers), reached through real sockets, with the
 * harness playing the master (master/tablesrv.c on a real table) and the
 * key process (keyproc_answer, master/keyproc.c, with the harness's key). Clients are
 * AF_UNIX stream sockets: the harness can set the peer address a
 * connection appears to come from.
 */
#ifndef DERPD_FUZZ_WORKER_H
#define DERPD_FUZZ_WORKER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "wk.h"

#define FW_MAX_CLIENTS	64

/* How the harness's key process answers the worker. */
enum fw_keyd_mode {
	FW_KEYD_ANSWER,		/* as the real one does */
	FW_KEYD_REFUSE,		/* ok = 0: a low-order point */
	FW_KEYD_OTHER_CONN,	/* for a connection that is not waiting */
};

struct fw {
	struct wk	 w;
	struct config	 cfg;
	uint8_t		 priv[KEY_LEN];	/* the server's DERP key */
	enum fw_keyd_mode keyd_mode;
	uint64_t	 keyd_answers;	/* requests answered */
};

extern struct fw fw;

/* Once, from LLVMFuzzerInitialize: the worker and its peers. */
void	fw_init(void);
/* Before each input: the configuration the next connections see. */
void	fw_reset(void);
/*
 * Opens a client connection (to the port-80 listener if port80) and lets
 * the worker accept it; peer (if not NULL) is the address it seems to come
 * from. Returns the client's end (non-blocking), or -1.
 */
int	fw_connect(int port80, const struct sockaddr_storage *peer);
/* Writes all of p to the client's end (the worker reads as it goes). */
void	fw_send(int fd, const void *p, size_t n);
/* Runs worker turns until nothing more happens. */
void	fw_settle(void);
/*
 * Reads what the worker sent fd into buf (at most cap): returns the length;
 * *eof set if the worker closed the connection.
 */
size_t	fw_recv(int fd, uint8_t *buf, size_t cap, int *eof);
/* Closes the client's end and lets the worker clean up; checks it did. */
void	fw_close(int fd);

#endif
