/* SPDX-License-Identifier: BSD-3-Clause */
#include "keyproc.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "keyfile.h"
#include "log.h"
#include "privdrop.h"
#include "probe.h"
#include "sandbox.h"
#include "setup.h"

#define KEYD_BATCH	64	/* requests per worker per turn, for fairness */
#define TAG_CTL		0xffffffffu
#define TLS_KEY_MAX	(64 * 1024)	/* a PEM private key is a few KiB */
#define SECURE_HEAP	(64 * 1024)

static void
load_derp_key(struct keyproc *kp, int fd, const char *path)
{
	char err[512];

	if ((kp->derp_priv = sodium_malloc(KEY_LEN)) == NULL)
		fatalx("out of memory for the key");
	if (fd < 0) {
		/* -dev without -c: ephemeral, like derper */
		randombytes_buf(kp->derp_priv, KEY_LEN);
		kp->derp_priv[0] &= 248;
		kp->derp_priv[31] = (kp->derp_priv[31] & 127) | 64;
	} else if (keyfile_read_fd(fd, path, kp->derp_priv, err, sizeof(err)) !=
	    KEYFILE_OK) {
		log_warnx("%s", err);
		exit(78);	/* EX_CONFIG */
	}
	if (fd >= 0)
		close(fd);
	sodium_mprotect_readonly(kp->derp_priv);
}

/*
 * The whole file behind fd, from its start (the master's descriptor is
 * shared with every earlier key process), in locked memory the caller
 * wipes and frees.
 */
static char *
read_locked(int fd, size_t *len)
{
	char *buf = sodium_malloc(TLS_KEY_MAX);
	ssize_t r;

	*len = 0;
	if (buf == NULL)
		fatalx("out of memory for the TLS key");
	while ((r = pread(fd, buf + *len, TLS_KEY_MAX - *len, (off_t)*len)) > 0)
		*len += (size_t)r;
	if (r < 0 || *len == TLS_KEY_MAX)
		fatalx("cannot read the TLS key (%s)", r < 0 ? strerror(errno) :
		    "larger than 64 KiB");
	close(fd);
	return buf;
}

static X509 *
leaf_of(const char *chain)
{
	BIO *b = BIO_new_mem_buf(chain, -1);
	X509 *x = b == NULL ? NULL : PEM_read_bio_X509(b, NULL, NULL, NULL);

	BIO_free(b);
	if (x == NULL)
		fatalx("set-up: no certificate to check the TLS key against");
	return x;
}

/* Only what TLS 1.3 certificates use: ECDSA, or RSA of 2048 bits or more. */
static void
check_tls_key(struct keyproc *kp, const char *chain)
{
	X509 *leaf = leaf_of(chain);

	if (EVP_PKEY_is_a(kp->tls_key, "RSA"))
		kp->tls_rsa = 1;
	else if (!EVP_PKEY_is_a(kp->tls_key, "EC"))
		fatalx("the TLS key is neither ECDSA nor RSA");
	if (kp->tls_rsa && EVP_PKEY_get_bits(kp->tls_key) < 2048)
		fatalx("the TLS key is RSA of %d bits; 2048 or more, please",
		    EVP_PKEY_get_bits(kp->tls_key));
	if (X509_check_private_key(leaf, kp->tls_key) != 1)
		fatalx("the TLS key does not match the certificate");
	X509_free(leaf);
	ERR_clear_error();
}

static void
load_tls_key(struct keyproc *kp, int fd, const char *chain)
{
	size_t len;
	char *pem;
	BIO *b;

	if (fd < 0)
		return;
	switch (CRYPTO_secure_malloc_init(SECURE_HEAP, 32)) {
	case 1:
		break;
	case 2:		/* made, but one of guard pages, mlock, no-dump failed */
		log_warnx("the TLS key's secure heap is only partly protected "
		    "(most likely it could not be locked in memory, so the key "
		    "may be written to swap)");
		break;
	default:
		fatalx("cannot set up OpenSSL's secure heap for the TLS key");
	}
	pem = read_locked(fd, &len);
	if ((b = BIO_new_mem_buf(pem, (int)len)) == NULL ||
	    (kp->tls_key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) == NULL)
		fatalx("the TLS key is not a PEM private key");
	BIO_free(b);
	sodium_free(pem);	/* wipes it */
	check_tls_key(kp, chain);
}

static const EVP_MD *
digest_of(uint32_t md)
{
	switch (md) {
	case KEYD_SHA256:
		return EVP_sha256();
	case KEYD_SHA384:
		return EVP_sha384();
	case KEYD_SHA512:
		return EVP_sha512();
	}
	return NULL;
}

/* A TLS 1.3 server CertificateVerify input, and nothing else, is signed. */
static int
is_cert_verify(const struct keyproc *kp, const struct keyd_req *req,
    const EVP_MD *md, const char **why)
{
	static const char context[] = KEYD_CV_CONTEXT;
	uint32_t i;

	if (kp->tls_key == NULL)
		return (*why = "no TLS key here", 0);
	if (md == NULL)
		return (*why = "unknown digest", 0);
	if (req->pad != (kp->tls_rsa ? KEYD_PAD_PSS : KEYD_PAD_NONE))
		return (*why = "padding does not fit the key", 0);
	/* The transcript hash: SHA-256 or SHA-384, whatever the signature's digest. */
	if (req->tbs_len != KEYD_CV_PREFIX + 32 && req->tbs_len != KEYD_CV_PREFIX + 48)
		return (*why = "not a CertificateVerify input (length)", 0);
	for (i = 0; i < 64; i++)
		if (req->tbs[i] != 0x20)
			return (*why = "not a CertificateVerify input (padding)", 0);
	if (memcmp(req->tbs + 64, context, sizeof(context)) != 0)
		return (*why = "not a server CertificateVerify input", 0);
	return 1;
}

static int
sign(const struct keyproc *kp, const struct keyd_req *req, struct keyd_resp *resp,
    const char **why)
{
	const EVP_MD *md = digest_of(req->md);
	EVP_MD_CTX *mctx;
	EVP_PKEY_CTX *pctx;
	size_t siglen = sizeof(resp->sig);
	int ok;

	if (!is_cert_verify(kp, req, md, why))
		return -1;
	if ((mctx = EVP_MD_CTX_new()) == NULL)
		return (*why = "out of memory", -1);
	ok = EVP_DigestSignInit(mctx, &pctx, md, NULL, kp->tls_key) == 1 &&
	    (!kp->tls_rsa || (EVP_PKEY_CTX_set_rsa_padding(pctx,
	    RSA_PKCS1_PSS_PADDING) == 1 && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
	    RSA_PSS_SALTLEN_DIGEST) == 1)) &&
	    EVP_DigestSign(mctx, resp->sig, &siglen, req->tbs, req->tbs_len) == 1;
	EVP_MD_CTX_free(mctx);
	ERR_clear_error();
	if (!ok)
		return (*why = "signing failed", -1);
	resp->ok = 1;
	resp->sig_len = (uint32_t)siglen;
	return 0;
}

int
keyproc_answer(const struct keyproc *kp, const struct keyd_req *req,
    struct keyd_resp *resp, const char **why)
{
	memset(resp, 0, sizeof(*resp));
	resp->op = req->op;
	resp->slot = req->slot;
	resp->gen = req->gen;
	resp->id = req->id;
	*why = NULL;
	switch (req->op) {
	case KEYD_SHARED:
		/* A low-order point gives ok = 0: the login fails, not us. */
		resp->ok = crypto_box_beforenm(resp->shared, req->client_pub,
		    kp->derp_priv) == 0;
		return 0;
	case KEYD_SIGN:
		if (req->tbs_len > KEYD_TBS_MAX)
			return (*why = "input too long", -1);
		return sign(kp, req, resp, why);
	default:
		return (*why = "unknown operation", -1);
	}
}

/* Sends pending[w]: 1 if sent, 0 if there is no room yet, -1 if w is gone. */
static int
send_answer(struct keyproc *kp, uint32_t w)
{
	ssize_t r;

	r = send(kp->worker_fd[w], &kp->pending[w], sizeof(kp->pending[w]),
	    MSG_DONTWAIT | MSG_NOSIGNAL);
	if (r < 0 && (errno == EAGAIN || errno == ENOBUFS || errno == EINTR))
		return 0;
	sodium_memzero(&kp->pending[w], sizeof(kp->pending[w]));
	return r == (ssize_t)sizeof(kp->pending[w]) ? 1 : -1;
}

/* While an answer waits for room, wait for writability, not for requests. */
static void
set_blocked(struct keyproc *kp, uint32_t w, int on)
{
	struct epoll_event ev = { .events = on ? EPOLLOUT : EPOLLIN };

	ev.data.u32 = w;
	if (epoll_ctl(kp->epfd, EPOLL_CTL_MOD, kp->worker_fd[w], &ev) != 0)
		fatal("epoll_ctl");
	kp->blocked[w] = on;
}

/* A bad request is the worker's failure: refused (ok = 0), logged once. */
static void
refused(struct keyproc *kp, uint32_t w, const char *why)
{
	if (kp->refused[w]++ == 0)
		log_warnx("refused a request from worker %u: %s (logged once "
		    "per worker)", w, why);
}

/*
 * Answers up to KEYD_BATCH requests of worker w. An answer is never dropped
 * (its login would hang): when w's socket is full, the answer waits and the
 * rest of w's requests wait in w's queue until w has read. Returns -1 once
 * the worker has gone away.
 */
static int
serve_worker(struct keyproc *kp, uint32_t w)
{
	struct keyd_req req;
	const char *why;
	ssize_t r;
	int i, sent;

	if (kp->blocked[w]) {
		if ((sent = send_answer(kp, w)) <= 0)
			return sent;
		set_blocked(kp, w, 0);
	}
	for (i = 0; i < KEYD_BATCH; i++) {
		/* MSG_TRUNC: the datagram's real length, so a longer one is
		 * refused, not cut down to a request. */
		r = recv(kp->worker_fd[w], &req, sizeof(req),
		    MSG_DONTWAIT | MSG_TRUNC);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (r == 0 || (r < 0 && errno != EMSGSIZE))
			return -1;
		if (r != (ssize_t)sizeof(req)) {
			refused(kp, w, "wrong size");
			continue;
		}
#ifdef DERPD_TEST_HOOKS
		if (probe_swallowing())
			continue;
#endif
		if (keyproc_answer(kp, &req, &kp->pending[w], &why) != 0)
			refused(kp, w, why);
		if ((sent = send_answer(kp, w)) < 0)
			return -1;
		if (sent == 0) {
			set_blocked(kp, w, 1);
			return 0;
		}
	}
	return 0;
}

/*
 * EPOLL_CTL_DEL before close: the master holds a duplicate of the same open
 * file description, so close() alone would leave it registered.
 */
static void
drop_worker_fd(struct keyproc *kp, uint32_t w)
{
	if (kp->worker_fd[w] < 0)
		return;
	epoll_ctl(kp->epfd, EPOLL_CTL_DEL, kp->worker_fd[w], NULL);
	close(kp->worker_fd[w]);
	kp->worker_fd[w] = -1;
	sodium_memzero(&kp->pending[w], sizeof(kp->pending[w]));
	kp->blocked[w] = 0;
	kp->refused[w] = 0;
}

/* Wipes the keys; the master closing our socket means stop. */
static void __attribute__((noreturn))
wipe_and_exit(struct keyproc *kp)
{
	sodium_free(kp->derp_priv);
	EVP_PKEY_free(kp->tls_key);	/* secure heap: cleared on free */
	exit(0);
}

static void
take_worker_fd(struct keyproc *kp)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct keyd_attach msg;
	struct iovec iov = { &msg, sizeof(msg) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct epoll_event ev = { .events = EPOLLIN };
	struct cmsghdr *cm;
	ssize_t r;
	int fd;

	r = recvmsg(kp->ctl, &mh, MSG_CMSG_CLOEXEC);
	if (r == 0)
		wipe_and_exit(kp);
	if (r != (ssize_t)sizeof(msg) || (cm = CMSG_FIRSTHDR(&mh)) == NULL ||
	    cm->cmsg_type != SCM_RIGHTS || msg.worker >= SHM_MAX_WORKERS)
		fatalx("bad message from the master");
	memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	drop_worker_fd(kp, msg.worker);
	kp->worker_fd[msg.worker] = fd;
	ev.data.u32 = msg.worker;
	if (epoll_ctl(kp->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
		fatal("epoll_ctl");
}

/*
 * One signature before the sandbox: OpenSSL initialises lazily (methods,
 * random generator), and that must not happen under the filter.
 */
static void
warm_up(const struct keyproc *kp)
{
	static const char context[] = KEYD_CV_CONTEXT;
	struct keyd_req req;
	struct keyd_resp resp;
	const char *why;

	if (kp->tls_key == NULL)
		return;
	memset(&req, 0, sizeof(req));
	req.op = KEYD_SIGN;
	req.md = KEYD_SHA256;
	req.pad = kp->tls_rsa ? KEYD_PAD_PSS : KEYD_PAD_NONE;
	memset(req.tbs, 0x20, 64);
	memcpy(req.tbs + 64, context, sizeof(context));
	req.tbs_len = KEYD_CV_PREFIX + 32;
	if (keyproc_answer(kp, &req, &resp, &why) != 0 || !resp.ok)
		fatalx("the TLS key cannot sign: %s", why ? why : "unknown error");
}

static void __attribute__((noreturn))
serve(struct keyproc *kp)
{
	struct epoll_event evs[SHM_MAX_WORKERS + 1], ev = { .events = EPOLLIN };
	uint32_t w;
	int n, i;

	ev.data.u32 = TAG_CTL;
	if ((kp->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    epoll_ctl(kp->epfd, EPOLL_CTL_ADD, kp->ctl, &ev) != 0)
		fatal("epoll");
	warm_up(kp);
#ifdef DERPD_TEST_HOOKS
	{
		static struct probe_target t = { .fd = -1, .keyd_fd = -1,
		    .verify_fd = -1 };

		probe_install(&t);
	}
#endif
	sandbox_apply(SANDBOX_KEY);
	for (;;) {
		n = epoll_wait(kp->epfd, evs, SHM_MAX_WORKERS + 1, -1);
		for (i = 0; i < n; i++) {
			w = evs[i].data.u32;
			if (w == TAG_CTL)
				take_worker_fd(kp);
			else if (w >= SHM_MAX_WORKERS || kp->worker_fd[w] < 0)
				continue;
			else if (serve_worker(kp, w) != 0)
				drop_worker_fd(kp, w);	/* its successor brings a new fd */
		}
	}
}

static void
run_as_from(const json_t *o, struct run_as *ra)
{
	const json_t *r = json_object_get(o, "run_as");

	memset(ra, 0, sizeof(*ra));
	if (!json_is_object(r))
		fatalx("set-up: no run_as");
	ra->switch_user = (int)setup_int(r, "switch");
	ra->uid = (uid_t)setup_int(r, "uid");
	ra->gid = (gid_t)setup_int(r, "gid");
	snprintf(ra->name, sizeof(ra->name), "%s", setup_str(r, "name"));
}

void
keyproc_main(void)
{
	struct keyproc kp;
	struct keyd_hello hello;
	struct config cfg;
	struct run_as ra;
	json_t *setup;
	int i;

	log_init("derpd[key]");
	/* Only the master stops the key process (a terminal's ^C reaches the
	 * whole process group). */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	setup = setup_read();
	setup_get_config(setup, &cfg, SETUP_CFG_KEY);
	log_set_verbose(cfg.verbose);
	if (getppid() != (pid_t)setup_int(setup, "master_pid"))
		fatalx("master exited during start-up");
	memset(&kp, 0, sizeof(kp));
	for (i = 0; i < SHM_MAX_WORKERS; i++)
		kp.worker_fd[i] = -1;
	kp.ctl = setup_fd(setup, "ctl");
	load_derp_key(&kp, setup_fd(setup, "derp_key"), setup_str(setup, "key_path"));
	load_tls_key(&kp, setup_fd(setup, "tls_key"), setup_str(setup, "tls_chain"));
	run_as_from(setup, &ra);
	json_decref(setup);
	key_public(hello.pub, kp.derp_priv);
	if (send(kp.ctl, &hello, sizeof(hello), MSG_NOSIGNAL) != (ssize_t)sizeof(hello))
		fatal("sending the public key");
	privdrop(&ra);
	serve(&kp);
}
