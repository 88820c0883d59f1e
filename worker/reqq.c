/* SPDX-License-Identifier: BSD-3-Clause */
#include "reqq.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "log.h"

static int
send_one(int fd, const void *req, size_t size)
{
	ssize_t r = send(fd, req, size, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (r == (ssize_t)size)
		return 0;
	if (r < 0 && errno != EAGAIN && errno != ENOBUFS)
		fatal("send to a helper process");
	return -1;
}

static void
want_write(struct wk *w, struct req_queue *q, int fd, uint64_t tag, int on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0) };

	if (q->wants_write == on)
		return;
	q->wants_write = on;
	ev.data.u64 = tag;
	if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, fd, &ev) != 0)
		fatal("epoll_ctl");
}

void
reqq_send(struct wk *w, struct req_queue *q, int fd, uint64_t tag,
    const void *req)
{
	uint8_t *nb;
	uint32_t ncap;

	if (q->len == 0 && send_one(fd, req, q->size) == 0)
		return;
	if (q->len == q->cap) {
		ncap = q->cap ? q->cap * 2 : 64;
		if ((nb = reallocarray(q->reqs, ncap, q->size)) == NULL)
			fatal("request backlog");
		q->reqs = nb;
		q->cap = ncap;
	}
	memcpy(q->reqs + (size_t)q->len++ * q->size, req, q->size);
	want_write(w, q, fd, tag, 1);
}

void
reqq_writable(struct wk *w, struct req_queue *q, int fd, uint64_t tag)
{
	uint32_t i = 0;

	while (i < q->len && send_one(fd, q->reqs + (size_t)i * q->size,
	    q->size) == 0)
		i++;
	memmove(q->reqs, q->reqs + (size_t)i * q->size,
	    (size_t)(q->len - i) * q->size);
	q->len -= i;
	if (q->len == 0)
		want_write(w, q, fd, tag, 0);
}

int
reqq_recv(int fd, void *resp, size_t size, const char *who)
{
	ssize_t r;

	for (;;) {
		r = recv(fd, resp, size, MSG_DONTWAIT);
		if (r == (ssize_t)size)
			return 1;
		sodium_memzero(resp, size);
		if (r == 0)
			fatalx("%s closed its socket; master gone", who);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (r < 0)
			fatal("recv from %s", who);
		/* a short message: skip it */
	}
}
