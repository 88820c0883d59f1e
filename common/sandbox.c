/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Seccomp policies, one table per sandboxed process (after OpenSSH's
 * sandbox-seccomp-filter.c). Installed once set-up is done: from then on a
 * process can only move bytes on descriptors it already holds (workers also
 * accept), allocate non-executable memory, and exit. Anything else kills it
 * (SECCOMP_RET_KILL_PROCESS); the master logs the SIGSYS and starts a fresh
 * one. No execve, no ptrace, no executable memory anywhere; no open except
 * in the bootstrap-DNS process and the mesh dialer, which must be
 * resolvers, and the ACME client, an HTTPS client that stores what it gets
 * in the certdir (seccomp cannot see paths: it may create files, never open
 * one for writing); no socket or connect except there and in the verifier,
 * an HTTP client (the dialer connects TCP sockets for the workers' mesh
 * links).
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/tls.h>
#include <sys/ioctl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define W	(1 << SANDBOX_WORKER)
#define K	(1 << SANDBOX_KEY)
#define S	(1 << SANDBOX_STUN)
#define D	(1 << SANDBOX_DNS)
#define V	(1 << SANDBOX_VERIFY)
#define M	(1 << SANDBOX_DIALER)
#define A	(1 << SANDBOX_ACME)

/* The syscall by name: a misspelt one does not compile. */
#define SC(name)	SCMP_SYS(name), #name

static const struct sandbox_rule policy[] = {
	/* Bytes on descriptors already open (sockets, eventfds, signalfd). */
	{ SC(read),		ANY,		W | K | D | V | M | A },
	{ SC(write),		ANY,		W | K | S | D | V | M | A },
	{ SC(readv),		ANY,		W },
	{ SC(writev),		ANY,		W },
	{ SC(recvfrom),		ANY,		W | K | D | V | M | A },
	{ SC(sendto),		ANY,		W | K | D | V | M | A },
	{ SC(recvmsg),		ANY,		W | K | D | V | M | A },
	{ SC(sendmsg),		ANY,		W | K | D | V | M | A },
	{ SC(close),		ANY,		W | K | D | V | M | A },
	/* STUN: a batch of requests in, a batch of answers out; waiting in
	 * ppoll, where SIGTERM ends it (common/stopsig.c). */
	{ SC(recvmmsg),		ANY,		S },
	{ SC(ppoll),		ANY,		S },
	{ SC(sendmmsg),		ANY,		S | D | M | A },
	/* New client connections, tuned, then shut. */
	{ SC(accept4),		ANY,		W },
	{ SC(setsockopt),	TCP_SOCKOPT,	W | V },
	/* kTLS (SSL_OP_ENABLE_KTLS): the tls ULP, then its keys. */
	{ SC(setsockopt),	KTLS_SOCKOPT,	W },
	{ SC(shutdown),		ANY,		W },
	/* The event loop (aarch64 has only the p-forms of epoll_wait and poll). */
	{ SC(epoll_wait),	ANY,		W | K | V },
	{ SC(epoll_pwait),	ANY,		W | K | V },
	{ SC(epoll_ctl),	ANY,		W | K | V },
	{ SC(clock_gettime),	ANY,		W | K | S | D | V | M | A },
	{ SC(gettimeofday),	ANY,		W | K | S | D | V | M | A },
	{ SC(restart_syscall),	ANY,		W | K | S | D | V | M | A },
	/* Memory, never executable. */
	{ SC(brk),		ANY,		W | K | S | D | V | M | A },
	{ SC(mmap),		NO_EXEC_PROT,	W | K | S | D | V | M | A },
	{ SC(mprotect),		NO_EXEC_PROT,	W | K | D | V | M | A },
	{ SC(munmap),		ANY,		W | K | S | D | V | M | A },
	{ SC(mremap),		ANY,		W | K | V | A },
	{ SC(madvise),		ANY,		W | K | D | V | M | A },
	{ SC(mlock),		ANY,		K },	/* sodium_malloc(): a reloaded key file */
	{ SC(munlock),		ANY,		K },	/* sodium_free() */
	/* Key files the key process is handed: a reload, the ACME keys. */
	{ SC(pread64),		ANY,		K },
	{ SC(pwrite64),		ANY,		K },
	{ SC(ftruncate),	ANY,		K },
	{ SC(fdatasync),	ANY,		K },
	/*
	 * Waking only: glibc's pthread_once wakes waiters after OpenSSL's lazy
	 * initialisations. Nothing here can wait on a futex, so no process
	 * can be made to wait on a lock another holds.
	 */
	{ SC(futex),		FUTEX_WAKE_ONLY, W | K | V | A },
	/* Nonces and TLS. */
	{ SC(getrandom),	ANY,		W | K | D | V | M | A },
	/*
	 * Stub resolvers (the bootstrap-DNS process; the mesh dialer, which
	 * connects TCP sockets for the workers and checks them with
	 * getsockopt; the ACME client), and the verifier's and the ACME
	 * client's HTTP clients (tailscaled's unix socket, the admission
	 * controller, the ACME CA): they make connections. The verifier opens
	 * no file and resolves no name (both done before its sandbox).
	 */
	{ SC(openat),		READ_ONLY_OPEN,	D | M | A },
	{ SC(fstat),		ANY,		D | M | A },
	{ SC(newfstatat),	ANY,		D | M | A },
	{ SC(lseek),		ANY,		D | M | A },
	{ SC(socket),		IP_SOCKET,	D | V | M | A },
	{ SC(connect),		ANY,		D | V | M | A },
	{ SC(bind),		ANY,		D | M },
	{ SC(getsockname),	ANY,		W | D | V | M | A },	/* W: -acme-ip-certs */
	{ SC(getpeername),	ANY,		V | A },
	{ SC(getsockopt),	ANY,		V | M | A },
	{ SC(setsockopt),	ANY,		D | M | A },
	{ SC(poll),		ANY,		D | V | M | A },
	{ SC(ppoll),		ANY,		D | V | M | A },
	{ SC(ioctl),		FIONREAD_ONLY,	D | M | A },
	{ SC(fcntl),		FILE_FLAGS_ONLY, D | V | M | A },
	/* The worker's 30 us batching nap (worker/main.c). */
	{ SC(clock_nanosleep),	ANY,		W | D | A },
	{ SC(nanosleep),	ANY,		D | A },
	{ SC(uname),		ANY,		D | M | A },
	/* libcurl's wake-up pair (the ACME client). */
	{ SC(socketpair),	UNIX_PAIR,	A },
	/* The ACME client's certdir: new files, renamed into place. */
	{ SC(openat),		CREATE_EXCL,	A },
	{ SC(fsync),		ANY,		A },
	{ SC(renameat),		ANY,		A },
	{ SC(renameat2),	ANY,		A },
	{ SC(unlinkat),		ANY,		A },
	/* Leaving, and dying loudly. */
	{ SC(exit),		ANY,		W | K | S | D | V | M | A },
	{ SC(exit_group),	ANY,		W | K | S | D | V | M | A },
	{ SC(rt_sigreturn),	ANY,		W | K | S | D | V | M | A },
	{ SC(rt_sigprocmask),	ANY,		W | K | S | D | V | M | A },
	{ SC(getpid),		ANY,		W | K | S | D | V | M | A },
	{ SC(gettid),		ANY,		W | K | S | D | V | M | A },
	{ SC(tgkill),		SELF_SIGNAL,	W | K | S | D | V | M | A },
};

#ifdef __SANITIZE_ADDRESS__
/*
 * The ASan test build only, never production, and outside the table that
 * tests check and SECURITY.md documents: ASan drops its alternate signal
 * stack at exit, and LeakSanitizer's exit-time check stops the process
 * from a cloned tracer task that ptraces it (after making it dumpable and
 * naming the tracer with PR_SET_PTRACER), waits on futexes, and reads
 * /proc/self/task and /proc/self/maps; a report reads the binary. The sandbox under test is the
 * production build's (tests/e2e/test_sandbox_probes.py runs against it).
 */
static const struct sandbox_rule asan_policy[] = {
	{ SC(sigaltstack),	ANY,		W | K | S | D | V | M | A },
	{ SC(prctl),		ANY,		W | K | S | D | V | M | A },
	{ SC(clone),		ANY,		W | K | S | D | V | M | A },
	{ SC(ptrace),		ANY,		W | K | S | D | V | M | A },
	{ SC(wait4),		ANY,		W | K | S | D | V | M | A },
	{ SC(futex),		ANY,		W | K | S | D | V | M | A },
	{ SC(sched_yield),	ANY,		W | K | S | D | V | M | A },
	{ SC(getppid),		ANY,		W | K | S | D | V | M | A },
	{ SC(rt_sigaction),	ANY,		W | K | S | D | V | M | A },
	{ SC(mprotect),		NO_EXEC_PROT,	W | K | S | D | V | M | A },
	{ SC(openat),		READ_ONLY_OPEN,	W | K | S | D | V | M | A },
#ifdef __NR_open
	{ SC(open),		READ_ONLY_OPEN,	W | K | S | D | V | M | A },
#endif
#ifdef __NR_getdents
	{ SC(getdents),		ANY,		W | K | S | D | V | M | A },
#endif
	{ SC(getdents64),	ANY,		W | K | S | D | V | M | A },
	{ SC(lseek),		ANY,		W | K | S | D | V | M | A },
	{ SC(read),		ANY,		W | K | S | D | V | M | A },
	{ SC(close),		ANY,		W | K | S | D | V | M | A },
	/* A leak report: symbolised in process (libbacktrace reads derpd). */
#ifdef __NR_readlink
	{ SC(readlink),		ANY,		W | K | S | D | V | M | A },
#endif
	{ SC(readlinkat),	ANY,		W | K | S | D | V | M | A },
	{ SC(newfstatat),	ANY,		W | K | S | D | V | M | A },
	{ SC(fstat),		ANY,		W | K | S | D | V | M | A },
	{ SC(fcntl),		ANY,		W | K | S | D | V | M | A },
	{ SC(ioctl),		ANY,		W | K | S | D | V | M | A },
};
#endif

/* Remembers the first failure; later calls do nothing. */
static void
allow(scmp_filter_ctx ctx, int nr, unsigned int n, const struct scmp_arg_cmp *a,
    int *rc)
{
	if (*rc == 0)
		*rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, n, a);
}

static void
allow_sockopts(scmp_filter_ctx ctx, int nr, int *rc)
{
	static const int tcp_opts[] = {
		TCP_NODELAY, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_USER_TIMEOUT,
	};
	struct scmp_arg_cmp a[2];
	size_t i;

	for (i = 0; i < sizeof(tcp_opts) / sizeof(tcp_opts[0]); i++) {
		a[0] = SCMP_A1(SCMP_CMP_EQ, IPPROTO_TCP);
		a[1] = SCMP_A2(SCMP_CMP_EQ, tcp_opts[i]);
		allow(ctx, nr, 2, a, rc);
	}
	a[0] = SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET);
	a[1] = SCMP_A2(SCMP_CMP_EQ, SO_KEEPALIVE);
	allow(ctx, nr, 2, a, rc);
}

/* setsockopt(fd, SOL_TCP, TCP_ULP, "tls"), then SOL_TLS's TLS_TX / TLS_RX. */
static void
allow_ktls(scmp_filter_ctx ctx, int nr, int *rc)
{
	static const int tls_opts[] = { TLS_TX, TLS_RX };
	struct scmp_arg_cmp a[2];
	size_t i;

	a[0] = SCMP_A1(SCMP_CMP_EQ, IPPROTO_TCP);
	a[1] = SCMP_A2(SCMP_CMP_EQ, TCP_ULP);
	allow(ctx, nr, 2, a, rc);
	for (i = 0; i < sizeof(tls_opts) / sizeof(tls_opts[0]); i++) {
		a[0] = SCMP_A1(SCMP_CMP_EQ, SOL_TLS);
		a[1] = SCMP_A2(SCMP_CMP_EQ, tls_opts[i]);
		allow(ctx, nr, 2, a, rc);
	}
}

static void
add_rule(scmp_filter_ctx ctx, int nr, enum arg_rule rule, int *rc)
{
	struct scmp_arg_cmp a;

	switch (rule) {
	case ANY:
		allow(ctx, nr, 0, NULL, rc);
		break;
	case NO_EXEC_PROT:
		a = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
		allow(ctx, nr, 1, &a, rc);
		break;
	case TCP_SOCKOPT:
		allow_sockopts(ctx, nr, rc);
		break;
	case KTLS_SOCKOPT:
		allow_ktls(ctx, nr, rc);
		break;
	case FUTEX_WAKE_ONLY:
		a = SCMP_A1(SCMP_CMP_MASKED_EQ,
		    ~(scmp_datum_t)(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME),
		    FUTEX_WAKE);
		allow(ctx, nr, 1, &a, rc);
		break;
	case SELF_SIGNAL:
		a = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid());
		allow(ctx, nr, 1, &a, rc);
		break;
	case READ_ONLY_OPEN:	/* the flags: open(path, flags), openat(dir, path, flags) */
		a = nr == SCMP_SYS(openat) ?
		    SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC, O_RDONLY) :
		    SCMP_A1(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC, O_RDONLY);
		allow(ctx, nr, 1, &a, rc);
		break;
	case CREATE_EXCL:
		a = SCMP_A2(SCMP_CMP_MASKED_EQ, O_CREAT | O_EXCL | O_TRUNC,
		    O_CREAT | O_EXCL);
		allow(ctx, nr, 1, &a, rc);
		break;
	case UNIX_PAIR:
		a = SCMP_A0(SCMP_CMP_EQ, AF_UNIX);
		allow(ctx, nr, 1, &a, rc);
		break;
	case IP_SOCKET:
		a = SCMP_A0(SCMP_CMP_EQ, AF_INET);
		allow(ctx, nr, 1, &a, rc);
		a = SCMP_A0(SCMP_CMP_EQ, AF_INET6);
		allow(ctx, nr, 1, &a, rc);
		a = SCMP_A0(SCMP_CMP_EQ, AF_UNIX);
		allow(ctx, nr, 1, &a, rc);
		break;
	case FIONREAD_ONLY:
		a = SCMP_A1(SCMP_CMP_EQ, FIONREAD);
		allow(ctx, nr, 1, &a, rc);
		break;
	case FILE_FLAGS_ONLY:
		a = SCMP_A1(SCMP_CMP_EQ, F_GETFL);
		allow(ctx, nr, 1, &a, rc);
		a = SCMP_A1(SCMP_CMP_EQ, F_SETFL);
		allow(ctx, nr, 1, &a, rc);
		break;
	}
}

const struct sandbox_rule *
sandbox_policy(size_t *n)
{
	*n = sizeof(policy) / sizeof(policy[0]);
	return policy;
}

int
sandbox_add_rules(scmp_filter_ctx ctx, enum sandbox_role role)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < sizeof(policy) / sizeof(policy[0]) && rc == 0; i++)
		if (policy[i].roles & (1u << role))
			add_rule(ctx, policy[i].nr, policy[i].rule, &rc);
	return rc;
}

static int
add_asan_rules(scmp_filter_ctx ctx, enum sandbox_role role)
{
	int rc = 0;
#ifdef __SANITIZE_ADDRESS__
	size_t i;

	for (i = 0; i < sizeof(asan_policy) / sizeof(asan_policy[0]) && rc == 0; i++)
		if (asan_policy[i].roles & (1u << role))
			add_rule(ctx, asan_policy[i].nr, asan_policy[i].rule, &rc);
#else
	(void)ctx;
	(void)role;
#endif
	return rc;
}

void
sandbox_apply(enum sandbox_role role)
{
	scmp_filter_ctx ctx;
	int rc;

	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		fatalx("seccomp_init failed");
	if ((rc = sandbox_add_rules(ctx, role)) != 0 ||
	    (rc = add_asan_rules(ctx, role)) != 0) {
		errno = -rc;
		fatal("seccomp_rule_add");
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
