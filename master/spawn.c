/* SPDX-License-Identifier: BSD-3-Clause */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "role.h"

extern char **environ;

static int exe_fd = -1;

void
spawn_init(void)
{
	/* The binary as it was started: a replaced file on disk is not run. */
	if ((exe_fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)) < 0)
		fatal("cannot open /proc/self/exe (is /proc mounted?)");
}

void
spawn_begin(struct spawn *sp, const char *role, const char *title)
{
	memset(sp, 0, sizeof(*sp));
	sp->role = role;
	snprintf(sp->title, sizeof(sp->title), "%s", title);
	sp->setup = json_object();
	if (sp->setup == NULL)
		fatalx("out of memory");
}

int
spawn_fd(struct spawn *sp, int fd)
{
	if (fd < 0)
		return -1;
	if (sp->nfds == SPAWN_MAX_FDS)
		fatalx("too many descriptors for a child");
	sp->fds[sp->nfds++] = fd;
	return ROLE_SETUP_FD + sp->nfds;
}

/* The set-up document in a sealed memfd. */
static int
setup_fd(struct spawn *sp)
{
	char *text = json_dumps(sp->setup, JSON_COMPACT);
	size_t len, off = 0;
	ssize_t r;
	int fd;

	json_decref(sp->setup);
	sp->setup = NULL;
	if (text == NULL || (fd = memfd_create("derpd-setup",
	    MFD_CLOEXEC | MFD_ALLOW_SEALING)) < 0) {
		free(text);
		return -1;
	}
	for (len = strlen(text); off < len; off += (size_t)r)
		if ((r = write(fd, text + off, len - off)) <= 0)
			break;
	explicit_bzero(text, len);
	free(text);
	if (off != len || fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW |
	    F_SEAL_SHRINK | F_SEAL_SEAL) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Without systemd's per-process variables: only the master talks to it. */
static char **
child_environ(void)
{
	static const char *const drop[] = { "NOTIFY_SOCKET=", "WATCHDOG_USEC=",
	    "WATCHDOG_PID=" };
	char **env;
	size_t n = 0, i, k;

	for (i = 0; environ[i] != NULL; i++)
		;
	if ((env = calloc(i + 1, sizeof(*env))) == NULL)
		_exit(127);
	for (i = 0; environ[i] != NULL; i++) {
		for (k = 0; k < sizeof(drop) / sizeof(drop[0]); k++)
			if (strncmp(environ[i], drop[k], strlen(drop[k])) == 0)
				break;
		if (k == sizeof(drop) / sizeof(drop[0]))
			env[n++] = environ[i];
	}
	return env;
}

static void __attribute__((noreturn))
child_fail(const struct spawn *sp, const char *what)
{
	log_warn("starting the %s: %s", sp->role, what);
	_exit(127);
}

/* In the child: descriptors into place, everything else closed, exec. */
static void __attribute__((noreturn))
child(struct spawn *sp, int setup)
{
	char *argv[] = { sp->title, ROLE_FLAG, (char *)sp->role, NULL };
	int high[SPAWN_MAX_FDS + 2], i, exe, above = ROLE_SETUP_FD + 2 + sp->nfds;
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* First a copy of each above the places they go, so no move clobbers
	 * another's source (and within any RLIMIT_NOFILE that can hold them). */
	for (i = 0; i < sp->nfds; i++)
		if ((high[i] = fcntl(sp->fds[i], F_DUPFD, above)) < 0)
			child_fail(sp, "dup");
	if ((high[sp->nfds] = fcntl(setup, F_DUPFD, above)) < 0 ||
	    (exe = fcntl(exe_fd, F_DUPFD_CLOEXEC, above)) < 0)
		child_fail(sp, "dup");
	if (dup2(high[sp->nfds], ROLE_SETUP_FD) < 0)
		child_fail(sp, "dup2");
	for (i = 0; i < sp->nfds; i++)
		if (dup2(high[i], ROLE_SETUP_FD + 1 + i) < 0)
			child_fail(sp, "dup2");
	if (dup3(exe, ROLE_SETUP_FD + 1 + sp->nfds, O_CLOEXEC) < 0)
		child_fail(sp, "dup3");
	close_range(above, ~0U, 0);
	fexecve(ROLE_SETUP_FD + 1 + sp->nfds, argv, child_environ());
	child_fail(sp, "fexecve");
}

pid_t
spawn_run(struct spawn *sp)
{
	int setup = setup_fd(sp);
	pid_t pid;

	if (setup < 0) {
		log_warn("cannot write the %s's set-up", sp->role);
		return -1;
	}
	if ((pid = fork()) < 0)
		log_warn("fork for the %s", sp->role);
	else if (pid == 0)
		child(sp, setup);
	close(setup);
	return pid;
}
