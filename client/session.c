/* SPDX-License-Identifier: BSD-3-Clause */
#include "session.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>

#include "clock.h"
#include "errfmt.h"
#include "log.h"

struct derpconn *
session_open(const struct copts *o, const struct ident *id)
{
	struct dc_opts dco = { .tp = { o->cafile, o->dial, 0 }, .ws = o->ws,
	    .fast_start = 1, .timeout_ms = o->timeout_ms };
	char err[TP_ERR_MAX], key[KEY_TEXT_MAX];
	struct derpconn *c;

	if ((c = dc_open(&o->url, &dco, id, err, sizeof(err))) == NULL)
		fatalx("%s: %s", o->url.text, err);
	key_format_text(key, NODEKEY_PREFIX, id->pub);
	log_debug("logged in to %s%s", o->url.text,
	    c->fast_started ? " (fast start)" : "");
	fprintf(stderr, "%s\n", key);
	return c;
}

int
session_send(struct derpconn *c, const uint8_t peer[KEY_LEN],
    const uint8_t shared[crypto_box_BEFORENMBYTES], const uint8_t *msg,
    size_t len, int64_t deadline)
{
	static uint8_t sealed[DERP_MAX_PACKET];

	if (len + E2E_OVERHEAD > sizeof(sealed)) {
		errfmt(c->err, sizeof(c->err), "message too long");
		return -1;
	}
	return dc_send_packet(c, peer, sealed,
	    e2e_seal(sealed, msg, len, shared), deadline);
}

int
session_wait(struct derpconn *c, int fd, int64_t deadline)
{
	struct pollfd p[2] = { { .fd = dc_fd(c), .events = POLLIN },
	    { .fd = fd, .events = POLLIN } };
	int r, ready = 0;

	do
		r = poll(p, fd >= 0 ? 2 : 1, ms_left(deadline));
	while (r < 0 && errno == EINTR);
	if (r > 0 && p[0].revents != 0)
		ready |= SESSION_RELAY;
	if (r > 0 && fd >= 0 && p[1].revents != 0)
		ready |= SESSION_OTHER;
	return ready;
}
