/* SPDX-License-Identifier: BSD-3-Clause */
/* The probe's DERP checks: a login with a fresh key, a packet round trip
 * between two fresh keys (across workers when the relay says so), and
 * Ping/Pong. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "probe.h"

#define PLACEMENT_TRIES	12	/* logins of B to land on another worker */
#define PROBE_PKT_LEN	32

void
probe_login(struct probe *p, struct check *c)
{
	char err[TP_ERR_MAX], hex[KEY_HEX_LEN + 1];
	const struct server_info *si;

	ident_init(&p->a, NULL);
	if ((p->ca = dc_open(&p->o->url, &p->dco, &p->a, err, sizeof(err))) == NULL) {
		check_set(c, CHECK_CRITICAL, "%s", err);
		return;
	}
	si = &p->ca->info;
	key_format_hex(hex, p->ca->server);
	check_set(c, CHECK_OK, "ServerKey %.16s..., ServerInfo version %lld%s, "
	    "%.1f ms%s", hex, (long long)si->version,
	    si->bucket_bytes_per_sec > 0 ? ", rate limited" : "",
	    p->ca->login_ms, p->o->ws ? " over WebSocket" : "");
	check_value(c, p->ca->login_ms, "ms");
}

/* Waits for a packet from src on c; 1 with it copied, 0 on timeout, -1. */
static int
await_packet(struct derpconn *c, const uint8_t src[KEY_LEN], uint8_t *buf,
    size_t *len, int64_t deadline)
{
	struct dc_event ev;
	int r;

	while ((r = dc_next(c, &ev, deadline)) == 1) {
		if (ev.type != DC_PACKET || memcmp(ev.src, src, KEY_LEN) != 0)
			continue;
		*len = ev.len < PROBE_PKT_LEN ? ev.len : PROBE_PKT_LEN;
		memcpy(buf, ev.data, *len);
		*len = ev.len;
		return 1;
	}
	return r;
}

/* One packet from -> to; 0, or -1 with the reason in c. */
static int
one_way(struct probe *p, struct derpconn *from, struct derpconn *to,
    const char *dir, struct check *c)
{
	uint8_t sent[PROBE_PKT_LEN], got[PROBE_PKT_LEN];
	int64_t deadline = now_ms() + p->o->timeout_ms;
	size_t len = 0;
	int r;

	randombytes_buf(sent, sizeof(sent));
	if (dc_send_packet(from, to->id->pub, sent, sizeof(sent), deadline) != 0) {
		check_set(c, CHECK_CRITICAL, "%s: %s", dir, from->err);
		return -1;
	}
	if ((r = await_packet(to, from->id->pub, got, &len, deadline)) != 1)
		check_set(c, CHECK_CRITICAL, "%s: %s", dir, r == 0 ?
		    "no packet arrived (dropped by the relay?)" : to->err);
	else if (len != sizeof(sent) || memcmp(got, sent, sizeof(sent)) != 0)
		check_set(c, CHECK_CRITICAL, "%s: the packet's bytes changed", dir);
	else
		return 0;
	return -1;
}

/*
 * Logs B in until the relay's /debug/route puts A and B on different
 * workers, or says nothing (then the placement is unknown). Describes the
 * placement in where.
 */
static struct derpconn *
login_b(struct probe *p, struct ident *b, char *where, size_t wlen,
    char *err, size_t errlen)
{
	struct derpconn *cb = NULL;
	long wa, wb;
	int i;

	for (i = 0; i < PLACEMENT_TRIES; i++) {
		dc_close(cb);
		if (b->priv != NULL)
			ident_free(b);
		ident_init(b, NULL);
		if ((cb = dc_open(&p->o->url, &p->dco, b, err, errlen)) == NULL)
			return NULL;
		if (!probe_route(p, p->a.pub, &wa, where, wlen) ||
		    !probe_route(p, b->pub, &wb, where, wlen)) {
			snprintf(where + strlen(where), wlen - strlen(where),
			    ": placement unknown");
			return cb;
		}
		if (wa != wb) {
			snprintf(where, wlen, "cross-worker (%ld to %ld)", wa, wb);
			return cb;
		}
		snprintf(where, wlen, "same worker (%ld, %d tries)", wa, i + 1);
	}
	return cb;
}

void
probe_round_trip(struct probe *p, struct check *c)
{
	char where[160] = "", err[TP_ERR_MAX];
	struct ident b = { 0 };
	struct derpconn *cb;
	double t0, rtt;

	if (p->ca == NULL) {
		check_set(c, CHECK_SKIPPED, "not run: no DERP login");
		return;
	}
	if ((cb = login_b(p, &b, where, sizeof(where), err, sizeof(err))) == NULL)
		check_set(c, CHECK_CRITICAL, "second login: %s", err);
	else {
		t0 = now_msf();
		if (one_way(p, p->ca, cb, "A to B", c) == 0 &&
		    one_way(p, cb, p->ca, "B to A", c) == 0) {
			rtt = now_msf() - t0;
			check_set(c, CHECK_OK, "A to B to A in %.1f ms, %s", rtt,
			    where);
			check_value(c, rtt, "ms");
			check_limit(c, rtt, (double)p->o->warn_rtt_ms, "rtt-ms");
		}
	}
	dc_close(cb);
	if (b.priv != NULL)
		ident_free(&b);
}

void
probe_ping(struct probe *p, struct check *c)
{
	int64_t deadline = now_ms() + p->o->timeout_ms;
	double t0 = now_msf(), rtt;
	uint8_t data[DERP_PING_LEN];
	struct dc_event ev;
	int r;

	if (p->ca == NULL) {
		check_set(c, CHECK_SKIPPED, "not run: no DERP login");
		return;
	}
	randombytes_buf(data, sizeof(data));
	if (dc_send_ping(p->ca, data, deadline) != 0) {
		check_set(c, CHECK_CRITICAL, "%s", p->ca->err);
		return;
	}
	while ((r = dc_next(p->ca, &ev, deadline)) == 1)
		if (ev.type == DC_PONG && ev.len == DERP_PING_LEN &&
		    memcmp(ev.data, data, DERP_PING_LEN) == 0)
			break;
	if (r != 1) {
		check_set(c, CHECK_CRITICAL, "%s", r == 0 ?
		    "no Pong with our Ping's bytes" : p->ca->err);
		return;
	}
	rtt = now_msf() - t0;
	check_set(c, CHECK_OK, "Pong in %.1f ms", rtt);
	check_value(c, rtt, "ms");
	check_limit(c, rtt, (double)p->o->warn_rtt_ms, "rtt-ms");
}
