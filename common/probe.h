/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test builds only (-DDERPD_TEST_HOOKS, build-test/derpd, never installed):
 * a sandboxed process sent SIGUSR1 with a queued value (sigqueue) attempts
 * that probe, so the tests can show that each class of forbidden call
 * kills it, that restricted calls work on the allowed side, and what a
 * compromised worker can and cannot do to shared memory. The numbers are
 * shared with tests/e2e/probes.py.
 */
#ifndef DERPD_PROBE_H
#define DERPD_PROBE_H

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
	PROBE_PROCESS_VM_READV,
	PROBE_KILL,			/* kill(master, SIGKILL) */
	PROBE_MAX,
};

#endif
