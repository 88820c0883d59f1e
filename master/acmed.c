/* SPDX-License-Identifier: BSD-3-Clause */
/* The master's side of the ACME child (acmed.h). */
#include "acmed.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acme.h"
#include "acme_proto.h"
#include "log.h"
#include "roles.h"
#include "seqlock.h"
#include "tlspub.h"

#define KEYRING_FILE	"acme-keys.pem"
#define WANT_POLL_MS	1000

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Missing parents of the certdir, as derper's MkdirAll would (0700). */
static void
make_parents(const char *path)
{
	char buf[4096], *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		fatalx("-certdir path too long");
	for (p = buf + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			fatal("cannot create %s", buf);
		*p = '/';
	}
}

/* The key process's store of the ACME certificates' keys, for the run user. */
static int
open_keyring(int dirfd, const struct run_as *ra)
{
	struct stat st;
	int fd;

	if ((fd = openat(dirfd, KEYRING_FILE, O_RDWR | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) < 0)
		fatal("cannot open %s in -certdir", KEYRING_FILE);
	if (ra->switch_user && fchown(fd, ra->uid, ra->gid) != 0)
		fatal("chown %s", KEYRING_FILE);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077))
		fatalx("-certdir's %s must be a regular file, mode 0600",
		    KEYRING_FILE);
	return fd;
}

/* What the engine will check, now, so a mistake stops the start. */
static void
check_config(const struct config *cfg, const char *ca, size_t ca_len,
    int dirfd)
{
	const char *names[1] = { cfg->acme_ip_certs ? "192.0.2.1" :
	    cfg->hostname };
	struct acme_config ac = {
		.directory = cfg->acme_directory, .names = names, .nnames = 1,
		.email = *cfg->acme_email ? cfg->acme_email : NULL,
		.eab_kid = *cfg->acme_eab_kid ? cfg->acme_eab_kid : NULL,
		.eab_key = *cfg->acme_eab_key ? cfg->acme_eab_key : NULL,
		.challenges = ACME_CHALL_TLSALPN01, .ca_pem = ca,
		.ca_pem_len = ca_len, .certdir_fd = dirfd,
	};
	char err[ACME_ERR_LEN];

	if (acme_config_check(&ac, err, sizeof(err)) != 0)
		fatalx("%s", err);
}

void
acmed_prepare(struct master *m)
{
	const struct config *cfg = m->cfg;
	char err[ACME_ERR_LEN];
	size_t len;

	if (acme_trust_load(cfg->acme_ca_file, &m->acme_ca, &len, err,
	    sizeof(err)) != 0)
		fatalx("%s", err);
	make_parents(cfg->certdir);
	if ((m->acme_certdir = acme_certdir_open(cfg->certdir, m->ra.switch_user ?
	    m->ra.uid : geteuid(), err, sizeof(err))) < 0)
		fatalx("%s", err);
	check_config(cfg, m->acme_ca, len, m->acme_certdir);
	m->keyd.keyring_fd = open_keyring(m->acme_certdir, &m->ra);
	m->acme_fd = -1;
	log_info("ACME: certificates from %s, cached in %s", cfg->acme_directory,
	    cfg->certdir);
}

pid_t
acmed_spawn(struct master *m)
{
	int sv[2], kv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return log_warn("socketpair for the ACME client"), -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, kv) != 0) {
		log_warn("socketpair for the ACME client");
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	pid = roles_spawn_acme(m, sv[1], kv[1]);
	close(sv[1]);
	close(kv[1]);
	if (pid < 0) {
		close(sv[0]);
		close(kv[0]);
		return -1;
	}
	m->acme_fd = sv[0];
	keyd_attach_acme(&m->keyd, kv[0]);
	return pid;
}

void
acmed_gone(struct master *m)
{
	if (m->acme_fd >= 0)
		close(m->acme_fd);
	m->acme_fd = -1;
	keyd_attach_acme(&m->keyd, -1);
	tlspub_clear_challenges(m);
}

/* Applies a checked request; 0 done, -1 not (logged). */
static int
apply(struct master *m, const struct acme_msg *msg)
{
	switch (msg->op) {
	case ACME_MSG_CERT:
		return tlspub_cert(m, msg->name, msg->data, msg->len,
		    (time_t)msg->not_after);
	case ACME_MSG_STATUS:
		return tlspub_status(m, msg->name, msg->orders_issued,
		    msg->orders_failed, (time_t)msg->last_error_at, msg->text);
	case ACME_MSG_ALPN_PUT:
		return tlspub_alpn(m, msg->name, msg->data, msg->len,
		    msg->data + msg->len, msg->len2);
	case ACME_MSG_ALPN_DEL:
		tlspub_alpn_del(m, msg->name);
		return 0;
	case ACME_MSG_HTTP_PUT:
		return tlspub_http(m, msg->name, msg->text);
	case ACME_MSG_HTTP_DEL:
		tlspub_http_del(m, msg->name);
		return 0;
	default:
		return -1;	/* ours to send, not the child's */
	}
}

static void
ack(struct master *m, int ok)
{
	static struct acme_msg a;

	a.op = ACME_MSG_ACK;
	a.ok = (uint32_t)ok;
	if (send(m->acme_fd, &a, sizeof(a), MSG_DONTWAIT | MSG_NOSIGNAL) !=
	    (ssize_t)sizeof(a))
		log_warn("cannot answer the ACME client");
}

void
acmed_readable(struct master *m)
{
	static struct acme_msg msg;
	const char *why;
	ssize_t r;

	r = recv(m->acme_fd, &msg, sizeof(msg), MSG_DONTWAIT);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r == 0 || (r < 0 && errno != EMSGSIZE)) {
		close(m->acme_fd);	/* it exited; reaped in turn */
		m->acme_fd = -1;
		return;
	}
	if (r != (ssize_t)sizeof(msg) || acme_msg_check(&msg, &why) != 0) {
		log_warnx("refused a request from the ACME client: %s",
		    r != (ssize_t)sizeof(msg) ? "wrong size" : why);
		ack(m, 0);
		return;
	}
	ack(m, apply(m, &msg) == 0);
	explicit_bzero(&msg, sizeof(msg));
}

/* Worker w's want_cert, if new: 1 and the address's text. */
static int
wanted(struct master *m, uint32_t w, char *text, size_t cap)
{
	struct shm_want_cert want;
	static const uint8_t v4[12] = { [10] = 0xff, [11] = 0xff };
	static const uint8_t zero[16];

	if (seq_read(&m->shm.counters[w]->want_cert.seq, &want,
	    &m->shm.counters[w]->want_cert, sizeof(want)) != 0 ||
	    want.seq == m->want_seq[w])
		return 0;
	m->want_seq[w] = want.seq;
	if (memcmp(want.ip, zero, 16) == 0)
		return 0;
	if (memcmp(want.ip, v4, 12) == 0)
		return inet_ntop(AF_INET, want.ip + 12, text, cap) != NULL;
	return inet_ntop(AF_INET6, want.ip, text, cap) != NULL;
}

int
acmed_tick(struct master *m)
{
	static struct acme_msg msg;
	int64_t now = mono_ms();
	uint32_t w;

	if (!m->cfg->acme_ip_certs || m->acme_fd < 0)
		return -1;
	if (now < m->acme_poll_ms)
		return (int)(m->acme_poll_ms - now);
	m->acme_poll_ms = now + WANT_POLL_MS;
	for (w = 0; w < m->nworkers; w++) {
		if (m->w[w].pid == 0 || !wanted(m, w, msg.name, sizeof(msg.name)))
			continue;
		msg.op = ACME_MSG_WANT_IP;
		if (send(m->acme_fd, &msg, sizeof(msg), MSG_DONTWAIT |
		    MSG_NOSIGNAL) != (ssize_t)sizeof(msg))
			log_warn("cannot ask the ACME client for a certificate");
	}
	return WANT_POLL_MS;
}
