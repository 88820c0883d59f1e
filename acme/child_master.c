/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ACME child's side of its socket to the master (common/acme_proto.h):
 * each request waits for the master's acknowledgement, so a challenge
 * answer is in every worker's reach before the CA is asked to validate;
 * the master's own messages (IP addresses wanted) that arrive meanwhile
 * are queued.
 */
#include "child.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "acme_proto.h"
#include "log.h"
#include "stopsig.h"

#define ACK_TIMEOUT_MS	10000

/* One message the master sent, handled; 1 if it was an ACK (*ok set). */
static int
received(struct child *c, const struct acme_msg *m, ssize_t r, int *ok)
{
	if (r == 0)
		fatalx("the master went away");
	if (r != (ssize_t)sizeof(*m))
		return 0;
	if (m->op == ACME_MSG_ACK) {
		*ok = m->ok != 0;
		return 1;
	}
	if (m->op == ACME_MSG_WANT_IP && c->nwanted < CHILD_JOBS &&
	    memchr(m->name, '\0', sizeof(m->name)) != NULL)
		snprintf(c->wanted[c->nwanted++], sizeof(c->wanted[0]), "%s",
		    m->name);
	return 0;
}

/* Reads what the master sent within timeout_ms; 1 and *ok on its ACK. */
static int
read_master(struct child *c, int timeout_ms, int *ok)
{
	static struct acme_msg in;
	struct pollfd pfd = { .fd = c->master_fd, .events = POLLIN };
	ssize_t r;

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return 0;
	r = recv(c->master_fd, &in, sizeof(in), MSG_DONTWAIT);
	if (r < 0)
		return errno == EAGAIN || errno == EINTR ? 0 :
		    (fatal("reading from the master"), 0);
	return received(c, &in, r, ok);
}

/* Sends m and waits for the master to have done it; 0 or -1. */
static int
call(struct child *c, struct acme_msg *m)
{
	struct timespec t0, t1;
	int ok = 0;
	long waited;

	if (send(c->master_fd, m, sizeof(*m), MSG_NOSIGNAL) != (ssize_t)sizeof(*m))
		fatal("writing to the master");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		waited = (t1.tv_sec - t0.tv_sec) * 1000 +
		    (t1.tv_nsec - t0.tv_nsec) / 1000000;
		if (waited >= ACK_TIMEOUT_MS)
			return -1;
		if (read_master(c, (int)(ACK_TIMEOUT_MS - waited), &ok))
			return ok ? 0 : -1;
	}
}

static struct acme_msg *
new_msg(enum acme_msg_op op, const char *name)
{
	static struct acme_msg m;

	memset(&m, 0, sizeof(m));
	m.op = op;
	snprintf(m.name, sizeof(m.name), "%s", name);
	return &m;
}

int
child_serve(struct child *c, const struct job *j, const char *chain,
    size_t len, time_t not_after)
{
	struct acme_msg *m = new_msg(ACME_MSG_CERT, j->name);

	if (len >= sizeof(m->data))
		return -1;
	m->len = (uint32_t)len;
	memcpy(m->data, chain, len);
	m->not_after = not_after;
	return call(c, m);
}

void
child_status(struct child *c, const struct job *j)
{
	struct acme_msg *m = new_msg(ACME_MSG_STATUS, j->name);

	m->orders_issued = j->issued;
	m->orders_failed = j->failed;
	m->last_error_at = j->last_error_at;
	snprintf(m->text, sizeof(m->text), "%s", j->last_error);
	if (call(c, m) != 0)
		log_warnx("acme: the master did not take the figures for %s",
		    j->name);
}

void
child_wait(struct child *c, int timeout_ms)
{
	int ok, r = stopsig_wait(c->master_fd, timeout_ms);

	if (r < 0)
		exit(0);	/* SIGTERM: through the exit handlers */
	if (r > 0)
		(void)read_master(c, 0, &ok);
}

int
child_http01_publish(void *arg, const char *token, const char *key_auth,
    char *err)
{
	struct acme_msg *m = new_msg(ACME_MSG_HTTP_PUT, token);

	snprintf(m->text, sizeof(m->text), "%s", key_auth);
	if (strlen(key_auth) >= sizeof(m->text) || call(arg, m) != 0) {
		snprintf(err, ACME_ERR_LEN, "the master did not publish it");
		return -1;
	}
	return 0;
}

void
child_http01_withdraw(void *arg, const char *token)
{
	(void)call(arg, new_msg(ACME_MSG_HTTP_DEL, token));
}

int
child_tlsalpn01_publish(void *arg, const char *sni, const char *cert,
    const char *key, char *err)
{
	struct acme_msg *m = new_msg(ACME_MSG_ALPN_PUT, sni);
	size_t clen = strlen(cert), klen = strlen(key);

	if (clen + klen > sizeof(m->data)) {
		snprintf(err, ACME_ERR_LEN, "the challenge certificate is too large");
		return -1;
	}
	m->len = (uint32_t)clen;
	m->len2 = (uint32_t)klen;
	memcpy(m->data, cert, clen);
	memcpy(m->data + clen, key, klen);
	if (call(arg, m) != 0) {
		snprintf(err, ACME_ERR_LEN, "the master did not publish it");
		return -1;
	}
	return 0;
}

void
child_tlsalpn01_withdraw(void *arg, const char *sni)
{
	(void)call(arg, new_msg(ACME_MSG_ALPN_DEL, sni));
}
