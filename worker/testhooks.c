/* SPDX-License-Identifier: BSD-3-Clause */
#include "testhooks.h"

#ifdef DERPD_TEST_HOOKS
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "probe.h"

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
};

/* A page of our own heap, page-aligned. */
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
static void
scribble(struct wk *w)
{
	const struct shm_region *r = &w->shm->worker[w->id];
	int64_t until = mono_s() + SCRIBBLE_SECONDS;
	uint64_t rounds = 0;

	while (mono_s() < until) {
		randombytes_buf(r->base, r->size);
		rounds++;
	}
	log_info("test hook: scribbled over our region %llu times",
	    (unsigned long long)rounds);
}

/* Returns the call's result for the log; the forbidden ones never return. */
static long
attempt(struct wk *w, int n)
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
		return connect(w->listen_fd, (struct sockaddr *)&sin, sizeof(sin));
	case PROBE_PTRACE:
		return ptrace(PTRACE_ATTACH, getppid(), NULL, NULL);
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
		*(volatile uint8_t *)w->shm->master.base = 0x55;
		return 0;
	case PROBE_MPROTECT_FOREIGN:
		return mprotect(w->shm->master.base, w->shm->master.size,
		    PROT_READ | PROT_WRITE);
	case PROBE_SCRIBBLE:
		scribble(w);
		return 0;
	case PROBE_PROCESS_VM_READV:
		return process_vm_readv(getppid(), &local, 1, &remote, 1, 0);
	case PROBE_KILL:
		return kill(getppid(), SIGKILL);
	}
	return -1;
}

void
testhooks_probe(struct wk *w, int n)
{
	long r;

	if (n <= 0 || n >= PROBE_MAX) {
		log_warnx("test hook: no probe %d", n);
		return;
	}
	log_info("test hook: attempting %s", names[n]);
	errno = 0;
	r = attempt(w, n);
	log_info("test hook: %s returned %ld (%s)", names[n], r,
	    errno != 0 ? strerror(errno) : "no error");
}
#endif
