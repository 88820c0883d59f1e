/* SPDX-License-Identifier: BSD-3-Clause */
#include "keyd.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdpass.h"
#include "keyproc.h"
#include "log.h"
#include "setup.h"
#include "spawn.h"

#define START_TIMEOUT_MS 10000

void
keyd_init(struct keyd *k)
{
	uint32_t w;

	memset(k, 0, sizeof(*k));
	k->ctl = k->key_fd = k->tls_key_fd = k->tls_crt_fd = k->keyring_fd = -1;
	k->mesh_key_fd = -1;
	k->acme_end = -1;
	for (w = 0; w < SHM_MAX_WORKERS; w++)
		k->worker_end[w] = -1;
}

static void
send_attach(struct keyd *k, uint32_t w)
{
	static struct keyd_ctl msg;

	msg.op = KEYD_CTL_WORKER;
	msg.worker = w;
	if (fdpass_send(k->ctl, &msg, sizeof(msg), k->worker_end[w], 0) != 0)
		log_warn("cannot hand worker %u's socket to the key process", w);
}

static void
send_acme(struct keyd *k)
{
	static struct keyd_ctl msg = { .op = KEYD_CTL_ACME };

	if (fdpass_send(k->ctl, &msg, sizeof(msg), k->acme_end, 0) != 0)
		log_warn("cannot hand the ACME client's socket to the key process");
}

void
keyd_attach(struct keyd *k, uint32_t w, int fd)
{
	keyd_detach(k, w);
	k->worker_end[w] = fd;
	if (k->ready)
		send_attach(k, w);
}

void
keyd_attach_acme(struct keyd *k, int fd)
{
	if (k->acme_end >= 0)
		close(k->acme_end);
	k->acme_end = fd;
	if (k->ready && fd >= 0)
		send_acme(k);
}

/* The key process's answer to a reload, skipping nothing else (it sends
 * nothing unasked after its hello). 1 took it, 0 refused, -1 no answer. */
static int
reload_answer(struct keyd *k)
{
	struct pollfd pfd = { .fd = k->ctl, .events = POLLIN };
	struct keyd_hello reply;

	if (poll(&pfd, 1, START_TIMEOUT_MS) != 1 ||
	    recv(k->ctl, &reply, sizeof(reply), MSG_DONTWAIT) !=
	    (ssize_t)sizeof(reply) || reply.op != KEYD_CTL_TLS_KEY)
		return -1;
	return reply.ok ? 1 : 0;
}

int
keyd_reload_tls_key(struct keyd *k, int fd, const uint8_t *leaf_der,
    size_t len)
{
	static struct keyd_ctl msg;

	if (!k->ready || len > sizeof(msg.der)) {
		log_warnx("TLS key reload: the key process is not ready");
		return -1;
	}
	memset(&msg, 0, sizeof(msg));
	msg.op = KEYD_CTL_TLS_KEY;
	msg.der_len = (uint32_t)len;
	memcpy(msg.der, leaf_der, len);
	if (fdpass_send(k->ctl, &msg, sizeof(msg), fd, 0) != 0) {
		log_warn("TLS key reload: cannot reach the key process");
		return -1;
	}
	return reload_answer(k) == 1 ? 0 : -1;
}

void
keyd_detach(struct keyd *k, uint32_t w)
{
	if (k->worker_end[w] >= 0)
		close(k->worker_end[w]);
	k->worker_end[w] = -1;
}

static json_t *
run_as_json(const struct run_as *ra)
{
	return json_pack("{s:i, s:i, s:i, s:s}", "switch", ra->switch_user,
	    "uid", (int)ra->uid, "gid", (int)ra->gid, "name", ra->name);
}

int
keyd_spawn(struct keyd *k, const struct config *cfg)
{
	struct spawn sp;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		log_warn("socketpair for the key process");
		return -1;
	}
	spawn_begin(&sp, "key", "derpd: key");
	setup_put_config(sp.setup, cfg, SETUP_CFG_KEY);
	if (json_object_set_new(sp.setup, "master_pid", json_integer(getpid())) ||
	    json_object_set_new(sp.setup, "ctl", json_integer(spawn_fd(&sp, sv[1]))) ||
	    json_object_set_new(sp.setup, "derp_key",
	    json_integer(spawn_fd(&sp, k->key_fd))) ||
	    json_object_set_new(sp.setup, "key_path", json_string(k->key_path ?
	    k->key_path : "")) ||
	    json_object_set_new(sp.setup, "tls_key",
	    json_integer(spawn_fd(&sp, k->tls_key_fd))) ||
	    json_object_set_new(sp.setup, "tls_crt",
	    json_integer(spawn_fd(&sp, k->tls_crt_fd))) ||
	    json_object_set_new(sp.setup, "selfsign", json_string(k->selfsign ?
	    k->selfsign : "")) ||
	    json_object_set_new(sp.setup, "keyring",
	    json_integer(spawn_fd(&sp, k->keyring_fd))) ||
	    json_object_set_new(sp.setup, "tls_chain", json_string(k->tls_chain ?
	    k->tls_chain : "")) ||
	    json_object_set_new(sp.setup, "mesh_key",
	    json_integer(spawn_fd(&sp, k->mesh_key_fd))) ||
	    json_object_set_new(sp.setup, "mesh_chain", json_string(k->mesh_chain ?
	    k->mesh_chain : "")) ||
	    json_object_set_new(sp.setup, "run_as", run_as_json(&k->ra)))
		fatalx("set-up: out of memory");
	k->pid = spawn_run(&sp);
	close(sv[1]);
	if (k->pid < 0) {
		k->pid = 0;
		close(sv[0]);
		return -1;
	}
	k->ctl = sv[0];
	k->ready = 0;
	log_info("key process started, pid %d", (int)k->pid);
	return 0;
}

int
keyd_hello(struct keyd *k)
{
	struct keyd_hello hello;
	ssize_t r;
	uint32_t w;

	r = recv(k->ctl, &hello, sizeof(hello), MSG_DONTWAIT);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (r != (ssize_t)sizeof(hello) || hello.op != KEYD_CTL_HELLO)
		return -1;
	if (k->have_pub && memcmp(hello.pub, k->pub, KEY_LEN) != 0)
		fatalx("the key file changed on disk; restart derpd to use the new key");
	memcpy(k->pub, hello.pub, KEY_LEN);
	k->have_pub = 1;
	k->ready = 1;
	for (w = 0; w < SHM_MAX_WORKERS; w++)
		if (k->worker_end[w] >= 0)
			send_attach(k, w);
	if (k->acme_end >= 0)
		send_acme(k);
	return 1;
}

/* Start-up failed: the key process goes before we do (it logged why). */
static void __attribute__((noreturn))
failed(struct keyd *k, const char *why)
{
	kill(k->pid, SIGKILL);
	waitpid(k->pid, NULL, 0);
	fatalx("%s", why);
}

void
keyd_wait_ready(struct keyd *k)
{
	struct pollfd pfd = { .fd = k->ctl, .events = POLLIN };

	if (poll(&pfd, 1, START_TIMEOUT_MS) != 1)
		failed(k, "the key process did not start");
	if (keyd_hello(k) != 1)
		failed(k, "the key process could not load the keys (see above)");
}

void
keyd_gone(struct keyd *k)
{
	if (k->ctl >= 0)
		close(k->ctl);
	k->ctl = -1;
	k->pid = 0;
	k->ready = 0;
}
