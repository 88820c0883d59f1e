/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Seccomp policies, one table per sandboxed process (after OpenSSH's
 * sandbox-seccomp-filter.c). Installed once set-up is done: from then on a
 * process can only move bytes on descriptors it already holds (workers also
 * accept), allocate non-executable memory, and exit. Anything else kills it
 * (SECCOMP_RET_KILL_PROCESS); the master logs the SIGSYS and starts a fresh
 * one. No execve, no ptrace, no executable memory anywhere; no open, socket
 * or connect except in the bootstrap-DNS process, which must be a resolver.
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

enum arg_rule {
	ANY,		/* no argument checks */
	READ_ONLY_OPEN,	/* openat for reading (resolv.conf, hosts) */
	IP_SOCKET,	/* socket(AF_INET, AF_INET6 or AF_UNIX (nscd)) */
	FIONREAD_ONLY,	/* ioctl(fd, FIONREAD) */
	NO_EXEC_PROT,	/* arg 2 (prot) without PROT_EXEC */
	TCP_SOCKOPT,	/* setsockopt: only the options a worker sets on accept */
	SELF_SIGNAL,	/* tgkill on ourselves only (abort()) */
	FUTEX_OPS,	/* futex wait/wake (the shared table's robust mutex) */
};

#define W	(1 << SANDBOX_WORKER)
#define K	(1 << SANDBOX_KEY)
#define S	(1 << SANDBOX_STUN)
#define D	(1 << SANDBOX_DNS)

static const struct {
	const char	*name;
	enum arg_rule	 rule;
	unsigned int	 roles;
} policy[] = {
	/* Bytes on descriptors already open (sockets, eventfds, signalfd). */
	{ "read",		ANY,		W | K | D },
	{ "write",		ANY,		W | K | S | D },
	{ "readv",		ANY,		W },
	{ "writev",		ANY,		W },
	{ "recvfrom",		ANY,		W | K | D },
	{ "sendto",		ANY,		W | K | D },
	{ "recvmsg",		ANY,		W | K | D },
	{ "sendmsg",		ANY,		W | K | D },
	{ "close",		ANY,		W | K | D },
	/* STUN: a batch of requests in, a batch of answers out. */
	{ "recvmmsg",		ANY,		S },
	{ "sendmmsg",		ANY,		S },
	/* New client connections, tuned, then shut. */
	{ "accept4",		ANY,		W },
	{ "setsockopt",		TCP_SOCKOPT,	W },
	{ "shutdown",		ANY,		W },
	/* The event loop. */
	{ "epoll_wait",		ANY,		W | K },
	{ "epoll_pwait",	ANY,		W | K },
	{ "epoll_ctl",		ANY,		W | K },
	{ "clock_gettime",	ANY,		W | K | S | D },
	{ "gettimeofday",	ANY,		W | K | S | D },
	{ "restart_syscall",	ANY,		W | K | S | D },
	/* Memory, never executable. */
	{ "brk",		ANY,		W | K | S | D },
	{ "mmap",		NO_EXEC_PROT,	W | K | S | D },
	{ "mprotect",		NO_EXEC_PROT,	W | K | D },
	{ "munmap",		ANY,		W | K | S | D },
	{ "mremap",		ANY,		W | K },
	{ "madvise",		ANY,		W | K | D },
	{ "munlock",		ANY,		K },	/* sodium_free() */
	/* The shared connection table's robust mutex and its read fallback. */
	{ "futex",		FUTEX_OPS,	W },
	{ "sched_yield",	ANY,		W },
	/* Nonces and TLS. */
	{ "getrandom",		ANY,		W | D },
	/* A stub resolver (the bootstrap-DNS process only). */
	{ "openat",		READ_ONLY_OPEN,	D },
	{ "fstat",		ANY,		D },
	{ "newfstatat",		ANY,		D },
	{ "lseek",		ANY,		D },
	{ "socket",		IP_SOCKET,	D },
	{ "connect",		ANY,		D },
	{ "bind",		ANY,		D },
	{ "getsockname",	ANY,		D },
	{ "setsockopt",		ANY,		D },
	{ "sendmmsg",		ANY,		D },
	{ "poll",		ANY,		D },
	{ "ppoll",		ANY,		D },
	{ "ioctl",		FIONREAD_ONLY,	D },
	{ "fcntl",		ANY,		D },
	{ "clock_nanosleep",	ANY,		D },
	{ "nanosleep",		ANY,		D },
	{ "uname",		ANY,		D },
	/* Leaving, and dying loudly. */
	{ "exit",		ANY,		W | K | S | D },
	{ "exit_group",		ANY,		W | K | S | D },
	{ "rt_sigreturn",	ANY,		W | K | S | D },
	{ "rt_sigprocmask",	ANY,		W | K | S | D },
	{ "getpid",		ANY,		W | K | S | D },
	{ "gettid",		ANY,		W | K | S | D },
	{ "tgkill",		SELF_SIGNAL,	W | K | S | D },
#ifdef __SANITIZE_ADDRESS__
	/* ASan test builds only: its runtime drops its alternate signal stack
	 * at exit. Production builds never see this entry. */
	{ "sigaltstack",	ANY,		W | K | S | D },
#endif
};

static void
allow(scmp_filter_ctx ctx, int nr, unsigned int n, const struct scmp_arg_cmp *a)
{
	int rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, n, a);

	if (rc != 0) {
		errno = -rc;
		fatal("seccomp_rule_add");
	}
}

static void
allow_sockopts(scmp_filter_ctx ctx, int nr)
{
	static const int tcp_opts[] = {
		TCP_NODELAY, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_USER_TIMEOUT,
	};
	struct scmp_arg_cmp a[2];
	size_t i;

	for (i = 0; i < sizeof(tcp_opts) / sizeof(tcp_opts[0]); i++) {
		a[0] = SCMP_A1(SCMP_CMP_EQ, IPPROTO_TCP);
		a[1] = SCMP_A2(SCMP_CMP_EQ, tcp_opts[i]);
		allow(ctx, nr, 2, a);
	}
	a[0] = SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET);
	a[1] = SCMP_A2(SCMP_CMP_EQ, SO_KEEPALIVE);
	allow(ctx, nr, 2, a);
}

static void
allow_futex(scmp_filter_ctx ctx, int nr)
{
	static const int ops[] = {
		FUTEX_WAIT, FUTEX_WAKE, FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET,
	};
	struct scmp_arg_cmp a;
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		a = SCMP_A1(SCMP_CMP_MASKED_EQ,
		    ~(scmp_datum_t)(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME),
		    (scmp_datum_t)ops[i]);
		allow(ctx, nr, 1, &a);
	}
}

static void
add_rule(scmp_filter_ctx ctx, int nr, enum arg_rule rule)
{
	struct scmp_arg_cmp a;

	switch (rule) {
	case ANY:
		allow(ctx, nr, 0, NULL);
		break;
	case NO_EXEC_PROT:
		a = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
		allow(ctx, nr, 1, &a);
		break;
	case TCP_SOCKOPT:
		allow_sockopts(ctx, nr);
		break;
	case SELF_SIGNAL:
		a = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid());
		allow(ctx, nr, 1, &a);
		break;
	case FUTEX_OPS:
		allow_futex(ctx, nr);
		break;
	case READ_ONLY_OPEN:
		a = SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC, O_RDONLY);
		allow(ctx, nr, 1, &a);
		break;
	case IP_SOCKET:
		a = SCMP_A0(SCMP_CMP_EQ, AF_INET);
		allow(ctx, nr, 1, &a);
		a = SCMP_A0(SCMP_CMP_EQ, AF_INET6);
		allow(ctx, nr, 1, &a);
		a = SCMP_A0(SCMP_CMP_EQ, AF_UNIX);
		allow(ctx, nr, 1, &a);
		break;
	case FIONREAD_ONLY:
		a = SCMP_A1(SCMP_CMP_EQ, FIONREAD);
		allow(ctx, nr, 1, &a);
		break;
	}
}

void
sandbox_apply(enum sandbox_role role)
{
	scmp_filter_ctx ctx;
	size_t i;
	int nr, rc;

	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		fatalx("seccomp_init failed");
	for (i = 0; i < sizeof(policy) / sizeof(policy[0]); i++) {
		if (!(policy[i].roles & (1u << role)))
			continue;
		nr = seccomp_syscall_resolve_name(policy[i].name);
		if (nr == __NR_SCMP_ERROR)
			continue;	/* not on this architecture */
		add_rule(ctx, nr, policy[i].rule);
	}
	/* Set by privdrop() already; needed for an unprivileged filter load. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		fatal("PR_SET_NO_NEW_PRIVS");
	if ((rc = seccomp_load(ctx)) != 0) {
		errno = -rc;
		fatal("seccomp_load");
	}
	seccomp_release(ctx);
}
