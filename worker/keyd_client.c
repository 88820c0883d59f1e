/* SPDX-License-Identifier: BSD-3-Clause */
#include "keyd_client.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "log.h"

static int
send_req(struct wk *w, const struct keyd_req *req)
{
	ssize_t r = send(w->keyd_fd, req, sizeof(*req), MSG_DONTWAIT | MSG_NOSIGNAL);

	if (r == (ssize_t)sizeof(*req))
		return 0;
	if (r < 0 && errno != EAGAIN && errno != ENOBUFS)
		fatal("key process send");
	return -1;
}

static void
want_write(struct wk *w, int on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0) };

	if (w->keyd.wants_write == on)
		return;
	w->keyd.wants_write = on;
	ev.data.u64 = TAG_KEYD;
	if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, w->keyd_fd, &ev) != 0)
		fatal("epoll_ctl");
}

static void
backlog_add(struct wk *w, const struct keyd_req *req)
{
	struct keyd_queue *q = &w->keyd;
	struct keyd_req *nb;
	uint32_t ncap;

	if (q->len == q->cap) {
		ncap = q->cap ? q->cap * 2 : 64;
		if ((nb = reallocarray(q->reqs, ncap, sizeof(*nb))) == NULL)
			fatal("key process backlog");
		q->reqs = nb;
		q->cap = ncap;
	}
	q->reqs[q->len++] = *req;
	want_write(w, 1);
}

void
keyd_client_ask(struct wk *w, uint32_t slot, uint32_t gen,
    const uint8_t client_pub[KEY_LEN])
{
	struct keyd_req req;

	req.slot = slot;
	req.gen = gen;
	memcpy(req.client_pub, client_pub, KEY_LEN);
	if (w->keyd.len == 0 && send_req(w, &req) == 0)
		return;
	backlog_add(w, &req);
}

void
keyd_client_writable(struct wk *w)
{
	struct keyd_queue *q = &w->keyd;
	uint32_t i = 0;

	while (i < q->len && send_req(w, &q->reqs[i]) == 0)
		i++;
	memmove(q->reqs, q->reqs + i, (q->len - i) * sizeof(*q->reqs));
	q->len -= i;
	if (q->len == 0)
		want_write(w, 0);
}

int
keyd_client_recv(struct wk *w, struct keyd_resp *resp)
{
	ssize_t r;

	for (;;) {
		r = recv(w->keyd_fd, resp, sizeof(*resp), MSG_DONTWAIT);
		if (r == (ssize_t)sizeof(*resp))
			return 1;
		sodium_memzero(resp, sizeof(*resp));
		if (r == 0)
			fatalx("the key process closed its socket; master gone");
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (r < 0)
			fatal("key process recv");
		/* a short message: ignore it, read the next */
	}
}
