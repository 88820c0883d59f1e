/* SPDX-License-Identifier: BSD-3-Clause */
#include "stund.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "probe.h"
#include "sandbox.h"
#include "setup.h"
#include "stopsig.h"
#include "stun.h"

#define BATCH	64
#define PKT_MAX	2048

static void
count(uint64_t *p)
{
	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + 1,
	    __ATOMIC_RELAXED);
}

/* Answers what one recvmmsg batch brought; returns the replies in out. */
static unsigned int
answer(struct mmsghdr *in, unsigned int n, struct mmsghdr *out,
    struct iovec *oiov, uint8_t (*resp)[STUN_RESP_MAX], struct shm_stun *st)
{
	uint8_t txid[STUN_TXID_LEN];
	const struct sockaddr *from;
	unsigned int i, k = 0;
	size_t len;

	for (i = 0; i < n; i++) {
		from = in[i].msg_hdr.msg_name;
		if (stun_parse_binding_request(in[i].msg_hdr.msg_iov->iov_base,
		    in[i].msg_len, txid) != 0 ||
		    (len = stun_binding_response(resp[k], txid, from)) == 0) {
			count(&st->not_stun);
			continue;
		}
		count(len == STUN_HDR_LEN + 12 ? &st->ipv4 : &st->ipv6);
		oiov[k].iov_base = resp[k];
		oiov[k].iov_len = len;
		memset(&out[k], 0, sizeof(out[k]));
		out[k].msg_hdr.msg_name = in[i].msg_hdr.msg_name;
		out[k].msg_hdr.msg_namelen = in[i].msg_hdr.msg_namelen;
		out[k].msg_hdr.msg_iov = &oiov[k];
		out[k].msg_hdr.msg_iovlen = 1;
		k++;
	}
	return k;
}

void
stund_main(void)
{
	static uint8_t bufs[BATCH][PKT_MAX], resp[BATCH][STUN_RESP_MAX];
	static struct sockaddr_storage from[BATCH];
	static struct mmsghdr in[BATCH], out[BATCH];
	static struct iovec iov[BATCH], oiov[BATCH];
	unsigned int i, j, k;
	struct config cfg;
	struct shm_stun *st;
	struct shm shm;
	json_t *setup;
	int n, sent, fd;

	log_init("derpd[stun]");
	signal(SIGINT, SIG_IGN);	/* the master stops us, with SIGTERM */
	stopsig_init();
	setup = setup_read();
	if (getppid() != (pid_t)setup_int(setup, "master_pid"))
		fatalx("master exited during start-up");
	setup_get_config(setup, &cfg, SETUP_CFG_STUN);
	log_set_verbose(cfg.verbose);
	setup_get_shm(setup, &shm, SHM_STUN, 0);
	st = shm.stun;
	fd = setup_fd(setup, "socket");
	json_decref(setup);
#ifdef DERPD_TEST_HOOKS
	{
		static struct probe_target t = { .fd = -1, .keyd_fd = -1,
		    .verify_fd = -1 };

		t.fd = fd;
		probe_install(&t);
	}
#endif
	sandbox_apply(SANDBOX_STUN);
	for (;;) {
		if ((n = stopsig_wait(fd, -1)) < 0)
			break;
		if (n == 0)
			continue;
		for (i = 0; i < BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = PKT_MAX;
			memset(&in[i], 0, sizeof(in[i]));
			in[i].msg_hdr.msg_name = &from[i];
			in[i].msg_hdr.msg_namelen = sizeof(from[i]);
			in[i].msg_hdr.msg_iov = &iov[i];
			in[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(fd, in, BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno != EINTR && errno != EAGAIN)
				log_warn("recvmmsg");
			continue;
		}
		k = answer(in, (unsigned int)n, out, oiov, resp, st);
		for (i = 0; i < k; ) {
			sent = sendmmsg(fd, out + i, k - i, MSG_DONTWAIT);
			if (sent <= 0) {	/* skip the reply that failed */
				count(&st->write_error);
				i++;
				continue;
			}
			for (j = 0; j < (unsigned int)sent; j++)
				count(&st->success);
			i += (unsigned int)sent;
		}
	}
	exit(0);
}
