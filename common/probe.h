/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test builds only (-DDERPD_TEST_HOOKS, build-test/derpd, never installed):
 * a process sent SIGUSR1 with a queued value (sigqueue) attempts probe
 * (value & 0xff) against pid (value >> 8) where one is named, so the tests
 * can show that each class of forbidden call kills each sandboxed role,
 * that restricted calls work on their allowed side, what a compromised
 * worker can and cannot do to shared memory, and that nobody can read the
 * key process's memory. The numbers are shared with tests/e2e/probes.py.
 */
#ifndef DERPD_PROBE_H
#define DERPD_PROBE_H

#include <stddef.h>
#include <sys/types.h>

#include "keyd_proto.h"
#include "verifyd_proto.h"

enum probe {
	PROBE_EXECVE = 1,
	PROBE_OPEN,			/* openat of a file for reading */
	PROBE_OPEN_WRITE,		/* openat for writing (the resolver may read) */
	PROBE_SOCKET,
	PROBE_CONNECT,
	PROBE_PTRACE,
	PROBE_MPROTECT_EXEC,		/* PROT_EXEC on a heap page */
	PROBE_MMAP_EXEC,
	PROBE_MPROTECT_RW,		/* allowed: must survive */
	PROBE_MMAP_RW,			/* allowed: must survive */
	PROBE_WRITE_FOREIGN,		/* a store into a region another process owns */
	PROBE_MPROTECT_FOREIGN,		/* make that region writable: must fail */
	PROBE_SCRIBBLE,			/* random bytes over our own region, 3 s */
	PROBE_PROCESS_VM_READV,		/* of the target pid */
	PROBE_KILL,			/* kill(master, SIGKILL) */
	PROBE_PROC_MEM,			/* open /proc/<target>/mem */
	PROBE_KEYD_GARBAGE,		/* a signature request for something else */
	PROBE_KEYD_OVERSIZED,		/* a good request with bytes after it */
	PROBE_SWALLOW,			/* the key process: read requests, answer none */
	PROBE_VERIFY_GARBAGE,		/* malformed requests, then a flood, to the verifier */
	PROBE_MAX,
};

/* What a probe may touch in the process that runs it (NULL/-1: nothing). */
struct probe_target {
	void		*own;		/* our shared-memory region */
	size_t		 own_size;
	void		*foreign;	/* a region another process owns */
	size_t		 foreign_size;
	int		 fd;		/* a socket to connect() */
	int		 keyd_fd;	/* to the key process */
	int		 verify_fd;	/* to the verifier, or -1 */
};

#ifdef DERPD_TEST_HOOKS
/* Attempts the probe in value (see above), logging what happens if it survives. */
void	probe_run(const struct probe_target *t, int value);
/* For processes without a signalfd: runs probes from a SIGUSR1 handler. */
void	probe_install(const struct probe_target *t);
/* Whether PROBE_SWALLOW was asked for: requests are read and dropped, as a
 * key process killed between reading and answering would. */
int	probe_swallowing(void);
#endif

#endif
