/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The key process's other sockets: the master's (it hands over workers'
 * and the ACME child's sockets, and -certmode manual key files to reload)
 * and the ACME child's (keyproc_acme.c answers it; the served keys are
 * stored here after a change). The master is trusted, but a malformed
 * message from it is still fatal rather than acted on; a malformed one
 * from the ACME child is refused and logged.
 */
#include "keyproc.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

void
keyproc_drop_fd(struct keyproc *kp, uint32_t w)
{
	/* EPOLL_CTL_DEL before close: the master holds a duplicate of the
	 * same open file description, so close() alone would leave it
	 * registered. */
	if (kp->worker_fd[w] < 0)
		return;
	epoll_ctl(kp->epfd, EPOLL_CTL_DEL, kp->worker_fd[w], NULL);
	close(kp->worker_fd[w]);
	kp->worker_fd[w] = -1;
	sodium_memzero(&kp->pending[w], sizeof(kp->pending[w]));
	kp->blocked[w] = 0;
	kp->refused[w] = 0;
}

static void
drop_acme(struct keyproc *kp)
{
	if (kp->acme_fd < 0)
		return;
	epoll_ctl(kp->epfd, EPOLL_CTL_DEL, kp->acme_fd, NULL);
	close(kp->acme_fd);
	kp->acme_fd = -1;
}

/* Wipes the keys; the master closing our socket means stop. */
static void __attribute__((noreturn))
wipe_and_exit(struct keyproc *kp)
{
	sodium_free(kp->derp_priv);
	keyring_free(kp);	/* secure heap: cleared on free */
	exit(0);
}

static void
watch(struct keyproc *kp, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN };

	ev.data.u32 = tag;
	if (epoll_ctl(kp->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
		fatal("epoll_ctl");
}

/* A manual key file to serve in place of the current key. */
static void
reload_key(struct keyproc *kp, const struct keyd_ctl *msg, int fd)
{
	struct keyd_hello reply = { .op = KEYD_CTL_TLS_KEY };
	const unsigned char *p = msg->der;
	const char *why = "the certificate is malformed";
	X509 *leaf;

	if (msg->der_len <= sizeof(msg->der) &&
	    (leaf = d2i_X509(NULL, &p, (long)msg->der_len)) != NULL) {
		reply.ok = keyproc_add_key_file(kp, fd, leaf, &why) == 0;
		X509_free(leaf);
	}
	ERR_clear_error();
	close(fd);
	if (!reply.ok)
		log_warnx("not reloading the TLS key: %s", why);
	if (send(kp->ctl, &reply, sizeof(reply), MSG_NOSIGNAL) != (ssize_t)sizeof(reply))
		log_warn("cannot answer the master");
}

void
keyproc_ctl(struct keyproc *kp)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	static struct keyd_ctl msg;
	struct iovec iov = { &msg, sizeof(msg) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	ssize_t r;
	int fd;

	r = recvmsg(kp->ctl, &mh, MSG_CMSG_CLOEXEC);
	if (r == 0)
		wipe_and_exit(kp);
	if (r != (ssize_t)sizeof(msg) || (cm = CMSG_FIRSTHDR(&mh)) == NULL ||
	    cm->cmsg_type != SCM_RIGHTS)
		fatalx("bad message from the master");
	memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	switch (msg.op) {
	case KEYD_CTL_WORKER:
		if (msg.worker >= SHM_MAX_WORKERS)
			fatalx("bad message from the master");
		keyproc_drop_fd(kp, msg.worker);
		kp->worker_fd[msg.worker] = fd;
		watch(kp, fd, msg.worker);
		break;
	case KEYD_CTL_ACME:
		drop_acme(kp);
		kp->acme_fd = fd;
		watch(kp, fd, KEYPROC_TAG_ACME);
		break;
	case KEYD_CTL_TLS_KEY:
		reload_key(kp, &msg, fd);
		break;
	default:
		fatalx("bad message from the master");
	}
}

/* One request of the ACME child, answered; a gone child's socket dropped. */
void
keyproc_serve_acme(struct keyproc *kp)
{
	static struct keyd_acme_req req;
	static struct keyd_acme_resp resp;
	const char *why;
	ssize_t r;
	int changed;

	r = recv(kp->acme_fd, &req, sizeof(req), MSG_DONTWAIT);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r == 0 || (r < 0 && errno != EMSGSIZE)) {
		drop_acme(kp);		/* the master brings its successor's */
		return;
	}
	if (r != (ssize_t)sizeof(req)) {
		log_warnx("refused a request from the ACME client: wrong size");
		return;
	}
	if (keyproc_acme_answer(kp, &req, &resp, &changed, &why) != 0)
		log_warnx("refused a request from the ACME client: %s", why);
	else if (why != NULL)
		log_warnx("for the ACME client: %s", why);
	if (changed && keyring_save(kp) != 0)
		resp.ok = 0;	/* served, but a restart would lose it */
	if (send(kp->acme_fd, &resp, sizeof(resp), MSG_DONTWAIT | MSG_NOSIGNAL) !=
	    (ssize_t)sizeof(resp))
		log_warn("cannot answer the ACME client");
	OPENSSL_cleanse(&resp, sizeof(resp));
}
