/* SPDX-License-Identifier: BSD-3-Clause */
#include "probe.h"

#ifdef DERPD_TEST_HOOKS
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define SCRIBBLE_SECONDS	3

static const char *const names[PROBE_MAX] = {
	[PROBE_EXECVE] = "execve", [PROBE_OPEN] = "open",
	[PROBE_OPEN_WRITE] = "open for writing", [PROBE_SOCKET] = "socket",
	[PROBE_CONNECT] = "connect", [PROBE_PTRACE] = "ptrace",
	[PROBE_MPROTECT_EXEC] = "mprotect PROT_EXEC",
	[PROBE_MMAP_EXEC] = "mmap PROT_EXEC",
	[PROBE_MPROTECT_RW] = "mprotect PROT_READ|PROT_WRITE",
	[PROBE_MMAP_RW] = "mmap PROT_READ|PROT_WRITE",
	[PROBE_WRITE_FOREIGN] = "a write to the master's region",
	[PROBE_MPROTECT_FOREIGN] = "mprotect of the master's region writable",
	[PROBE_SCRIBBLE] = "scribbling over our own region",
	[PROBE_PROCESS_VM_READV] = "process_vm_readv",
	[PROBE_KILL] = "kill of the master",
	[PROBE_PROC_MEM] = "open of /proc/PID/mem",
	[PROBE_KEYD_GARBAGE] = "a signature request for something else",
	[PROBE_KEYD_OVERSIZED] = "a key request with bytes after it",
	[PROBE_SWALLOW] = "swallowing requests",
	[PROBE_VERIFY_GARBAGE] = "garbage and a flood to the verifier",
};

static const struct probe_target *installed;	/* probe_install's */
static volatile sig_atomic_t swallow;		/* PROBE_SWALLOW */

static void *
own_page(void)
{
	return mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
}

static int64_t
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Random bytes over every byte of our region, again and again. */
static long
scribble(const struct probe_target *t)
{
	int64_t until = mono_s() + SCRIBBLE_SECONDS;
	uint64_t rounds = 0;

	if (t->own == NULL)
		return -1;
	while (mono_s() < until) {
		randombytes_buf(t->own, t->own_size);
		rounds++;
	}
	log_info("test hook: scribbled over our region %llu times",
	    (unsigned long long)rounds);
	return 0;
}

/* A request the key process must refuse: not a CertificateVerify input. */
static long
keyd_garbage(const struct probe_target *t)
{
	struct keyd_req req;

	memset(&req, 0, sizeof(req));
	req.op = KEYD_SIGN;
	req.md = KEYD_SHA256;
	req.tbs_len = 32;
	memset(req.tbs, 0xab, 32);
	return send(t->keyd_fd, &req, sizeof(req), MSG_NOSIGNAL);
}

/* A well-formed request followed by more bytes: refused whole, never
 * served as if the datagram ended where the request does. */
static long
keyd_oversized(const struct probe_target *t)
{
	uint8_t buf[sizeof(struct keyd_req) + 16];
	struct keyd_req req;

	memset(&req, 0, sizeof(req));
	req.op = KEYD_SHARED;
	memset(req.client_pub, 0x42, sizeof(req.client_pub));
	memset(buf, 0xcd, sizeof(buf));
	memcpy(buf, &req, sizeof(req));
	return send(t->keyd_fd, buf, sizeof(buf), MSG_NOSIGNAL);
}

/*
 * What a compromised worker can send the verifier: a short message, an
 * all-zero key, a datagram longer than a request, an unknown operation
 * (each refused), then 5,000 well-formed requests for fresh keys at once
 * (answered within its bounds).
 */
static long
verify_garbage(const struct probe_target *t)
{
	uint8_t longer[sizeof(struct verifyd_req) + 8];
	struct verifyd_req req;
	uint32_t i;
	long sent = 0;

	if (t->verify_fd < 0)
		return -1;
	memset(&req, 0, sizeof(req));
	req.op = VERIFYD_LOGIN;
	(void)!send(t->verify_fd, &req, 7, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)!send(t->verify_fd, &req, sizeof(req), MSG_NOSIGNAL | MSG_DONTWAIT);
	memset(longer, 0x5a, sizeof(longer));
	(void)!send(t->verify_fd, longer, sizeof(longer), MSG_NOSIGNAL | MSG_DONTWAIT);
	req.op = 77;
	req.key[0] = 1;
	(void)!send(t->verify_fd, &req, sizeof(req), MSG_NOSIGNAL | MSG_DONTWAIT);
	req.op = VERIFYD_RECHECK;
	req.deadline_ms = INT64_MAX;
	for (i = 0; i < 5000; i++) {
		randombytes_buf(req.key, sizeof(req.key));
		req.slot = i;
		if (send(t->verify_fd, &req, sizeof(req), MSG_NOSIGNAL | MSG_DONTWAIT) ==
		    (ssize_t)sizeof(req))
			sent++;
	}
	return sent;
}

static long
mem_of(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	return open(path, O_RDONLY);
}

/* The call's result for the log; the forbidden ones never return. */
static long
attempt(const struct probe_target *t, int n, pid_t target)
{
	char *argv[] = { "/bin/true", NULL };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	uint8_t buf[16];
	struct iovec local = { buf, sizeof(buf) }, remote = { buf, sizeof(buf) };
	void *p;

	switch (n) {
	case PROBE_EXECVE:
		return execve(argv[0], argv, NULL);
	case PROBE_OPEN:
		return open("/etc/hostname", O_RDONLY);
	case PROBE_OPEN_WRITE:
		return open("/tmp/derpd-probe", O_WRONLY | O_CREAT, 0600);
	case PROBE_SOCKET:
		return socket(AF_INET, SOCK_STREAM, 0);
	case PROBE_CONNECT:
		return connect(t->fd, (struct sockaddr *)&sin, sizeof(sin));
	case PROBE_PTRACE:
		return ptrace(PTRACE_ATTACH, target ? target : getppid(), NULL, NULL);
	case PROBE_MPROTECT_EXEC:
		return mprotect(own_page(), 4096, PROT_READ | PROT_EXEC);
	case PROBE_MMAP_EXEC:
		p = mmap(NULL, 4096, PROT_READ | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		return p == MAP_FAILED ? -1 : 0;
	case PROBE_MPROTECT_RW:
		return mprotect(own_page(), 4096, PROT_READ | PROT_WRITE);
	case PROBE_MMAP_RW:
		return own_page() == MAP_FAILED ? -1 : 0;
	case PROBE_WRITE_FOREIGN:
		if (t->foreign == NULL)
			return -1;
		*(volatile uint8_t *)t->foreign = 0x55;
		return 0;
	case PROBE_MPROTECT_FOREIGN:
		return t->foreign == NULL ? -1 : mprotect(t->foreign,
		    t->foreign_size, PROT_READ | PROT_WRITE);
	case PROBE_SCRIBBLE:
		return scribble(t);
	case PROBE_PROCESS_VM_READV:
		return process_vm_readv(target, &local, 1, &remote, 1, 0);
	case PROBE_KILL:
		return kill(getppid(), SIGKILL);
	case PROBE_PROC_MEM:
		return mem_of(target);
	case PROBE_KEYD_GARBAGE:
		return t->keyd_fd < 0 ? -1 : keyd_garbage(t);
	case PROBE_KEYD_OVERSIZED:
		return t->keyd_fd < 0 ? -1 : keyd_oversized(t);
	case PROBE_SWALLOW:
		swallow = 1;
		return 0;
	case PROBE_VERIFY_GARBAGE:
		return verify_garbage(t);
	}
	return -1;
}

void
probe_run(const struct probe_target *t, int value)
{
	int n = value & 0xff;
	pid_t target = (pid_t)((unsigned)value >> 8);
	long r;

	if (n <= 0 || n >= PROBE_MAX) {
		log_warnx("test hook: no probe %d", n);
		return;
	}
	log_info("test hook: attempting %s", names[n]);
	errno = 0;
	r = attempt(t, n, target);
	log_info("test hook: %s returned %ld (%s)", names[n], r,
	    errno != 0 ? strerror(errno) : "no error");
}

int
probe_swallowing(void)
{
	return swallow;
}

static void
on_sigusr1(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	probe_run(installed, si->si_value.sival_int);
}

void
probe_install(const struct probe_target *t)
{
	struct sigaction sa;

	installed = t;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigusr1;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		fatal("sigaction");
}
#endif
