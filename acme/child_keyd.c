/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ACME child's side of its socket to the key process (common/
 * keyd_acme_proto.h): one request at a time, waiting for its answer. The
 * certificate's key is made there and stays there; only its CSR and the
 * hash that names it come back.
 */
#include "child.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "keyd_acme_proto.h"
#include "log.h"

#define KEYD_TIMEOUT_MS	10000

/* req answered into resp; 0, or -1 (no answer, or an answer to another op). */
static int
ask(struct child *c, const struct keyd_acme_req *req,
    struct keyd_acme_resp *resp)
{
	struct pollfd pfd = { .fd = c->keyd_fd, .events = POLLIN };
	ssize_t r;

	if (send(c->keyd_fd, req, sizeof(*req), MSG_NOSIGNAL) != (ssize_t)sizeof(*req))
		return -1;
	if (poll(&pfd, 1, KEYD_TIMEOUT_MS) != 1)
		return -1;
	r = recv(c->keyd_fd, resp, sizeof(*resp), MSG_DONTWAIT);
	if (r == 0)
		fatalx("the key process went away");	/* the master restarts us */
	return r == (ssize_t)sizeof(*resp) && resp->op == req->op ? 0 : -1;
}

static struct keyd_acme_req *
new_req(enum keyd_acme_op op)
{
	static struct keyd_acme_req req;

	memset(&req, 0, sizeof(req));
	req.op = op;
	return &req;
}

int
child_keyd_has(struct child *c, const uint8_t hash[KEYD_HASH_LEN])
{
	static struct keyd_acme_resp resp;
	struct keyd_acme_req *req = new_req(KEYD_ACME_HAS);

	memcpy(req->hash, hash, KEYD_HASH_LEN);
	if (ask(c, req, &resp) != 0)	/* not "no": we cannot tell yet */
		fatalx("the key process does not answer");
	return resp.ok != 0;
}

int
child_keyd_install(struct child *c, const uint8_t *old)
{
	static struct keyd_acme_resp resp;
	struct keyd_acme_req *req = new_req(KEYD_ACME_INSTALL);

	memcpy(req->hash, c->aside, KEYD_HASH_LEN);
	if (old != NULL)
		memcpy(req->old_hash, old, KEYD_HASH_LEN);
	if (ask(c, req, &resp) != 0 || !resp.ok) {
		log_warnx("acme: the key process did not take the new key "
		    "(restarted meanwhile?)");
		return -1;
	}
	return 0;
}

int
child_make_csr(void *arg, const char **names, size_t nnames, uint8_t **der,
    size_t *derlen, char *err)
{
	static struct keyd_acme_resp resp;
	struct child *c = arg;
	struct keyd_acme_req *req = new_req(KEYD_ACME_CSR);
	size_t i;

	if (nnames > KEYD_ACME_NAMES)
		return snprintf(err, ACME_ERR_LEN, "too many names"), -1;
	for (i = 0; i < nnames; i++)
		if (snprintf(req->names[i], sizeof(req->names[i]), "%s",
		    names[i]) >= (int)sizeof(req->names[i]))
			return snprintf(err, ACME_ERR_LEN, "name too long"), -1;
	req->nnames = (uint32_t)nnames;
	if (ask(c, req, &resp) != 0 || !resp.ok || resp.der_len == 0 ||
	    resp.der_len > sizeof(resp.der))
		return snprintf(err, ACME_ERR_LEN, "the key process made no "
		    "key and CSR"), -1;
	if ((*der = malloc(resp.der_len)) == NULL)
		return snprintf(err, ACME_ERR_LEN, "out of memory"), -1;
	memcpy(*der, resp.der, resp.der_len);
	*derlen = resp.der_len;
	memcpy(c->aside, resp.hash, KEYD_HASH_LEN);
	return 0;
}
