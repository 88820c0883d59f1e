/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for common/dial_proto.c: the checks on the mesh
 * dialer's messages, each side's defence against the other (a worker's
 * request in the dialer, the dialer's answer in a worker, the master's
 * attach in the dialer).
 *
 * The input is a script of messages: for each, a byte of shape (which
 * message, how many descriptors came with it), the asking worker, the
 * number of workers and peers, a length and that many bytes. Every verdict
 * is compared with the rules written out here again: a request is exactly
 * one struct, for a peer the asking worker owns; an answer likewise, with a
 * socket exactly when it reports success and a small errno otherwise; an
 * attach names a worker that exists and carries its socket.
 */
#include <stdint.h>
#include <string.h>

#include "dial_proto.h"
#include "fuzz.h"

struct script {
	const uint8_t	*p;
	size_t		 n;
};

static uint8_t
get8(struct script *s)
{
	uint8_t v;

	if (s->n == 0)
		return 0;
	v = *s->p++;
	s->n--;
	return v;
}

static void
one(struct script *s)
{
	uint8_t shape = get8(s), buf[64];
	uint32_t w = get8(s), nworkers = get8(s) % 65, npeers = get8(s) % 33;
	size_t len = get8(s) % sizeof(buf);
	int nfds = (shape >> 2) % 3, rc;
	struct dial_req req;
	struct dial_resp resp;
	struct dial_attach at;

	if (len > s->n)
		len = s->n;
	memset(buf, 0, sizeof(buf));
	memcpy(buf, s->p, len);
	s->p += len;
	s->n -= len;
	switch (shape % 3) {
	case 0:
		rc = dial_req_parse(buf, len, w, nworkers, npeers, &req);
		memcpy(&req, buf, sizeof(req));
		CHECK((rc == 0) == (len == sizeof(req) && nworkers > 0 &&
		    req.peer < npeers && req.peer % nworkers == w));
		break;
	case 1:
		rc = dial_resp_parse(buf, len, nfds, w, nworkers, npeers, &resp);
		memcpy(&resp, buf, sizeof(resp));
		CHECK((rc == 0) == (len == sizeof(resp) && nworkers > 0 &&
		    resp.peer < npeers && resp.peer % nworkers == w &&
		    resp.pad == 0 && (resp.err == 0 ? nfds == 1 :
		    nfds == 0 && resp.err > 0 && resp.err < 4096)));
		break;
	default:
		rc = dial_attach_parse(buf, len, nfds, nworkers, &at);
		memcpy(&at, buf, sizeof(at));
		CHECK((rc == 0) == (len == sizeof(at) && nfds == 1 &&
		    at.worker < nworkers && at.pad == 0));
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct script s = { data, size };

	while (s.n > 0)
		one(&s);
	return 0;
}
