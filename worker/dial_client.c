/* SPDX-License-Identifier: BSD-3-Clause */
#include "dial_client.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define MAX_FDS	4	/* more than the one we expect are closed */

int
dial_client_ask(struct wk *w, uint32_t peer, uint32_t id)
{
	struct dial_req req = { peer, id };

	return send(w->links.dial_fd, &req, sizeof(req), MSG_DONTWAIT |
	    MSG_NOSIGNAL) == (ssize_t)sizeof(req) ? 0 : -1;
}

/* The descriptors that came with a message, into fds[]; how many. */
static int
take_fds(struct msghdr *mh, int fds[MAX_FDS])
{
	struct cmsghdr *cm;
	int n = 0, k, m;

	for (cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		m = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (k = 0; k < m && n < MAX_FDS; k++)
			memcpy(&fds[n++], CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
	}
	return n;
}

int
dial_client_recv(struct wk *w, struct dial_resp *resp, int *fd)
{
	char cbuf[CMSG_SPACE(MAX_FDS * sizeof(int))];
	uint8_t buf[64];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh;
	int fds[MAX_FDS], n, i;
	ssize_t r;

	for (;;) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		r = recvmsg(w->links.dial_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (r == 0)
			fatalx("the mesh dialer's socket closed; master gone");
		if (r < 0)
			fatal("recvmsg from the mesh dialer");
		n = take_fds(&mh, fds);
		if (!(mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) &&
		    dial_resp_parse(buf, (size_t)r, n, w->id, w->nworkers,
		    (uint32_t)w->links.npeers, resp) == 0) {
			*fd = n == 1 ? fds[0] : -1;
			return 1;
		}
		for (i = 0; i < n; i++)
			close(fds[i]);
		log_warnx("a malformed answer from the mesh dialer; ignored");
	}
}
