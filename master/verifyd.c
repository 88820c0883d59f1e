/* SPDX-License-Identifier: BSD-3-Clause */
#include "verifyd.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdpass.h"
#include "log.h"
#include "setup.h"
#include "spawn.h"
#include "verifier.h"

#define START_TIMEOUT_MS 10000

void
verifyd_init(struct verifyd *v)
{
	uint32_t w;

	memset(v, 0, sizeof(*v));
	v->ctl = -1;
	allowkeys_init(&v->keys);
	for (w = 0; w < SHM_MAX_WORKERS; w++)
		v->worker_end[w] = -1;
}

static void
send_attach(struct verifyd *v, uint32_t w)
{
	struct verifyd_attach msg = { w };

	if (fdpass_send(v->ctl, &msg, sizeof(msg), v->worker_end[w], 0) != 0)
		log_warn("cannot hand worker %u's socket to the verifier", w);
}

void
verifyd_attach(struct verifyd *v, uint32_t w, int fd)
{
	verifyd_detach(v, w);
	v->worker_end[w] = fd;
	if (v->ready)
		send_attach(v, w);
}

void
verifyd_detach(struct verifyd *v, uint32_t w)
{
	if (v->worker_end[w] >= 0)
		close(v->worker_end[w]);
	v->worker_end[w] = -1;
}

int
verifyd_spawn(struct verifyd *v, const struct config *cfg)
{
	struct spawn sp;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		log_warn("socketpair for the verifier");
		return -1;
	}
	spawn_begin(&sp, "verify", "derpd: verify");
	setup_put_config(sp.setup, cfg, SETUP_CFG_VERIFY);
	if (json_object_set_new(sp.setup, "master_pid", json_integer(getpid())) ||
	    json_object_set_new(sp.setup, "ctl", json_integer(spawn_fd(&sp, sv[1]))) ||
	    json_object_set_new(sp.setup, "allow_keys",
	    json_integer(spawn_fd(&sp, v->keys.fd))))
		fatalx("set-up: out of memory");
	v->pid = spawn_run(&sp);
	close(sv[1]);
	if (v->pid < 0) {
		v->pid = 0;
		close(sv[0]);
		return -1;
	}
	v->ctl = sv[0];
	v->ready = 0;
	log_info("verifier started, pid %d", (int)v->pid);
	return 0;
}

int
verifyd_hello(struct verifyd *v)
{
	struct verifyd_hello hello;
	ssize_t r;
	uint32_t w;

	r = recv(v->ctl, &hello, sizeof(hello), MSG_DONTWAIT);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (r != (ssize_t)sizeof(hello) || hello.ready != 1)
		return -1;
	v->ready = 1;
	for (w = 0; w < SHM_MAX_WORKERS; w++)
		if (v->worker_end[w] >= 0)
			send_attach(v, w);
	return 1;
}

void
verifyd_wait_ready(struct verifyd *v)
{
	struct pollfd pfd = { .fd = v->ctl, .events = POLLIN };

	if (poll(&pfd, 1, START_TIMEOUT_MS) == 1 && verifyd_hello(v) == 1)
		return;
	kill(v->pid, SIGKILL);
	waitpid(v->pid, NULL, 0);
	fatalx("the verifier could not start (see above)");
}

void
verifyd_stop(struct verifyd *v)
{
	v->reloading = 1;	/* a verifier waiting to restart counts too */
	if (v->pid != 0)
		kill(v->pid, SIGTERM);
}

void
verifyd_gone(struct verifyd *v)
{
	if (v->ctl >= 0)
		close(v->ctl);
	v->ctl = -1;
	v->pid = 0;
	v->ready = 0;
}
