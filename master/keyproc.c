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

#include "acme.h"
#include "keyfile.h"
#include "log.h"
#include "privdrop.h"
#include "probe.h"
#include "sandbox.h"
#include "setup.h"

#define KEYD_BATCH	64	/* requests per worker per turn, for fairness */
#define SECURE_HEAP	(256 * 1024)

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

static X509 *
leaf_of(const char *chain)
{
	BIO *b = BIO_new_mem_buf(chain, -1);
	X509 *x = b == NULL ? NULL : PEM_read_bio_X509(b, NULL, NULL, NULL);

	BIO_free(b);
	return x;
}

/*
 * The private key in the file behind fd (read from its start: the
 * master's descriptor is shared with every earlier key process), which
 * must match leaf; kept in state under the hash of leaf's public key. 0,
 * or -1 with *why.
 */
static int
add_key_file(struct keyproc *kp, int fd, X509 *leaf, int state, const char **why)
{
	uint8_t hash[KEYD_HASH_LEN];
	EVP_PKEY *key = NULL;
	size_t len;
	char *pem;
	BIO *b;

	if ((pem = keyring_read_locked(fd, &len)) == NULL)
		return (*why = "cannot read the TLS key file", -1);
	if ((b = BIO_new_mem_buf(pem, (int)len)) != NULL)
		key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	sodium_free(pem);	/* wipes it */
	ERR_clear_error();
	if (key == NULL)
		return (*why = "the TLS key is not a PEM private key", -1);
	if (X509_check_private_key(leaf, key) != 1 ||
	    keyring_hash_cert(leaf, hash) != 0) {
		EVP_PKEY_free(key);
		ERR_clear_error();
		return (*why = "the TLS key does not match the certificate", -1);
	}
	if (state == KEYPROC_SERVED)
		keyring_retire_all(kp);
	return keyring_add(kp, key, hash, state, why);
}

/* A manual key file to serve from now on, in place of the current key. */
int
keyproc_add_key_file(struct keyproc *kp, int fd, X509 *leaf, const char **why)
{
	return add_key_file(kp, fd, leaf, KEYPROC_SERVED, why);
}

/* -mesh-client-key, for the certificate the mesh links present. */
static void
load_mesh_key(struct keyproc *kp, int fd, const char *chain)
{
	const char *why;
	X509 *leaf;

	if (fd < 0)
		return;
	if ((leaf = leaf_of(chain)) == NULL)
		fatalx("set-up: no certificate to check -mesh-client-key against");
	if (add_key_file(kp, fd, leaf, KEYPROC_CLIENT, &why) != 0)
		fatalx("-mesh-client-key: %s", why);
	X509_free(leaf);
	close(fd);
}

/* -certmode manual at start: the key file the master opened, as root. */
static void
load_tls_key(struct keyproc *kp, int fd, const char *chain)
{
	const char *why;
	X509 *leaf;

	if (fd < 0)
		return;
	if ((leaf = leaf_of(chain)) == NULL)
		fatalx("set-up: no certificate to check the TLS key against");
	if (keyproc_add_key_file(kp, fd, leaf, &why) != 0)
		fatalx("%s", why);
	X509_free(leaf);
	close(fd);
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

/*
 * A TLS 1.3 server CertificateVerify input, and nothing else, is signed,
 * and only by a key this process holds (k).
 */
_Static_assert(sizeof(KEYD_CV_CLIENT) == sizeof(KEYD_CV_CONTEXT),
    "both CertificateVerify contexts make a prefix of KEYD_CV_PREFIX bytes");

static int
is_cert_verify(const struct keyproc_tlskey *k, const struct keyd_req *req,
    const EVP_MD *md, const char **why)
{
	static const char server[] = KEYD_CV_CONTEXT, client[] = KEYD_CV_CLIENT;
	const char *context = k != NULL && k->state == KEYPROC_CLIENT ? client :
	    server;
	uint32_t i;

	if (md == NULL)
		return (*why = "unknown digest", 0);
	/* The transcript hash: SHA-256 or SHA-384, whatever the signature's digest. */
	if (req->tbs_len != KEYD_CV_PREFIX + 32 && req->tbs_len != KEYD_CV_PREFIX + 48)
		return (*why = "not a CertificateVerify input (length)", 0);
	for (i = 0; i < 64; i++)
		if (req->tbs[i] != 0x20)
			return (*why = "not a CertificateVerify input (padding)", 0);
	if (memcmp(req->tbs + 64, context, sizeof(server)) != 0)
		return (*why = context == client ? "not a client CertificateVerify "
		    "input" : "not a server CertificateVerify input", 0);
	if (k == NULL)
		return (*why = "no such TLS key here", 0);
	if (req->pad != (k->rsa ? KEYD_PAD_PSS : KEYD_PAD_NONE))
		return (*why = "padding does not fit the key", 0);
	return 1;
}

static int
sign(const struct keyproc *kp, const struct keyd_req *req, struct keyd_resp *resp,
    const char **why)
{
	const struct keyproc_tlskey *k = keyring_find(kp, req->key_hash);
	const EVP_MD *md = digest_of(req->md);
	EVP_MD_CTX *mctx;
	EVP_PKEY_CTX *pctx;
	size_t siglen = sizeof(resp->sig);
	int ok;

	if (!is_cert_verify(k, req, md, why))
		return -1;
	if ((mctx = EVP_MD_CTX_new()) == NULL)
		return (*why = "out of memory", -1);
	ok = EVP_DigestSignInit(mctx, &pctx, md, NULL, k->key) == 1 &&
	    (!k->rsa || (EVP_PKEY_CTX_set_rsa_padding(pctx,
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
 * One signature with each served key, and a throwaway key with its CSR,
 * before the sandbox: OpenSSL initialises lazily (methods, the random
 * generator, encoders), and that must not happen under the filter.
 */
static void
warm_up(struct keyproc *kp)
{
	static const char context[] = KEYD_CV_CONTEXT;
	static const char *names[] = { "warm-up.invalid" };
	struct keyd_req req;
	struct keyd_resp resp;
	const char *why;
	uint8_t *der = NULL;
	size_t len;
	EVP_PKEY *key;
	BIO *b;
	int i;

	for (i = 0; i < KEYPROC_TLS_KEYS; i++) {
		if (kp->tls[i].state != KEYPROC_SERVED)
			continue;
		memset(&req, 0, sizeof(req));
		req.op = KEYD_SIGN;
		req.md = KEYD_SHA256;
		req.pad = kp->tls[i].rsa ? KEYD_PAD_PSS : KEYD_PAD_NONE;
		memset(req.tbs, 0x20, 64);
		memcpy(req.tbs + 64, context, sizeof(context));
		req.tbs_len = KEYD_CV_PREFIX + 32;
		memcpy(req.key_hash, kp->tls[i].hash, KEYD_HASH_LEN);
		if (keyproc_answer(kp, &req, &resp, &why) != 0 || !resp.ok)
			fatalx("the TLS key cannot sign: %s", why ? why : "unknown error");
	}
	if (kp->keyring_fd < 0)
		return;
	if ((key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL ||
	    acme_csr_build(key, names, 1, &der, &len) != 0 ||
	    (b = BIO_new(BIO_s_secmem())) == NULL ||
	    PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) != 1)
		fatalx("cannot make TLS keys for ACME");
	BIO_free(b);
	free(der);
	EVP_PKEY_free(key);
}

static void __attribute__((noreturn))
serve(struct keyproc *kp)
{
	struct epoll_event evs[SHM_MAX_WORKERS + 2], ev = { .events = EPOLLIN };
	uint32_t w;
	int n, i;

	ev.data.u32 = KEYPROC_TAG_CTL;
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
		n = epoll_wait(kp->epfd, evs, SHM_MAX_WORKERS + 2, -1);
		for (i = 0; i < n; i++) {
			w = evs[i].data.u32;
			if (w == KEYPROC_TAG_CTL)
				keyproc_ctl(kp);
			else if (w == KEYPROC_TAG_ACME)
				keyproc_serve_acme(kp);
			else if (w >= SHM_MAX_WORKERS || kp->worker_fd[w] < 0)
				continue;
			else if (serve_worker(kp, w) != 0)
				keyproc_drop_fd(kp, w);	/* its successor brings a new fd */
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

/* OpenSSL's secure heap for the TLS keys. */
static void
secure_heap(void)
{
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
}

/* The TLS keys the set-up names: a manual key file, a self-signed
 * certificate to make, or the ACME keys stored in the certdir. */
static void
load_tls_keys(struct keyproc *kp, const json_t *setup)
{
	int key = setup_fd(setup, "tls_key"), crt = setup_fd(setup, "tls_crt");
	int mesh = setup_fd(setup, "mesh_key");

	kp->keyring_fd = setup_fd(setup, "keyring");
	if (key >= 0 || kp->keyring_fd >= 0 || mesh >= 0)
		secure_heap();
	load_mesh_key(kp, mesh, setup_str(setup, "mesh_chain"));
	if (crt >= 0)
		selfsign_make(kp, setup_str(setup, "selfsign"), key, crt);
	else
		load_tls_key(kp, key, setup_str(setup, "tls_chain"));
	if (kp->keyring_fd >= 0)
		keyring_load(kp, kp->keyring_fd);
}

void
keyproc_main(void)
{
	struct keyproc kp;
	struct keyd_hello hello = { .op = KEYD_CTL_HELLO, .ok = 1 };
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
	kp.acme_fd = -1;
	kp.ctl = setup_fd(setup, "ctl");
	load_derp_key(&kp, setup_fd(setup, "derp_key"), setup_str(setup, "key_path"));
	load_tls_keys(&kp, setup);
	run_as_from(setup, &ra);
	json_decref(setup);
	key_public(hello.pub, kp.derp_priv);
	if (send(kp.ctl, &hello, sizeof(hello), MSG_NOSIGNAL) != (ssize_t)sizeof(hello))
		fatal("sending the public key");
	privdrop(&ra);
	serve(&kp);
}
