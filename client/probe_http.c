/* SPDX-License-Identifier: BSD-3-Clause */
/* The probe's HTTP checks, and the relay's answer to "which worker serves
 * this key" (derpd's loopback-only GET /debug/route). */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "errfmt.h"
#include "httpc.h"
#include "probe.h"

/* One request on a new connection; the caller closes *tp after reading r. */
static int
get(struct probe *p, const char *path, const char *extra,
    struct httpc_resp *r, struct tp **tp, char *err, size_t errlen)
{
	int64_t deadline = now_ms() + p->o->timeout_ms;

	if ((*tp = tp_connect(&p->o->url, &p->dco.tp, deadline, err, errlen)) == NULL)
		return -1;
	return httpc_get(*tp, &p->o->url, path, extra, r, deadline, err, errlen);
}

void
probe_http_probe(struct probe *p, struct check *c)
{
	struct httpc_resp r;
	struct tp *t = NULL;
	char err[TP_ERR_MAX];

	if (get(p, "/derp/probe", NULL, &r, &t, err, sizeof(err)) != 0)
		check_set(c, CHECK_CRITICAL, "GET /derp/probe: %s", err);
	else if (r.status != 200)
		check_set(c, CHECK_CRITICAL, "GET /derp/probe: HTTP %d, not 200",
		    r.status);
	else
		check_set(c, CHECK_OK, "GET /derp/probe: 200");
	tp_close(t);
}

/* Captive-portal check: X-Tailscale-Challenge echoed as "response <c>". */
void
probe_generate_204(struct probe *p, struct check *c)
{
	uint8_t rnd[8];
	char chal[32], want[48], hdr[96], err[TP_ERR_MAX];
	const struct httpc_str *got;
	struct httpc_resp r;
	struct tp *t = NULL;

	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(chal, sizeof(chal), rnd, sizeof(rnd));
	snprintf(want, sizeof(want), "response %s", chal);
	snprintf(hdr, sizeof(hdr), "X-Tailscale-Challenge: %s\r\n", chal);
	if (get(p, "/generate_204", hdr, &r, &t, err, sizeof(err)) != 0)
		check_set(c, CHECK_CRITICAL, "GET /generate_204: %s", err);
	else if (r.status != 204)
		check_set(c, CHECK_CRITICAL, "GET /generate_204: HTTP %d, not 204",
		    r.status);
	else if ((got = httpc_header(&r, "X-Tailscale-Response")) == NULL ||
	    got->len != strlen(want) || memcmp(got->p, want, got->len) != 0)
		check_set(c, CHECK_CRITICAL, "GET /generate_204: the challenge "
		    "was not echoed in X-Tailscale-Response");
	else
		check_set(c, CHECK_OK, "204, challenge echoed");
	tp_close(t);
}

/* {"key":"nodekey:<hex>","worker":N,"connections":n} for our key. */
static int
route_worker(const struct httpc_str *body, const char *key, long *worker)
{
	json_t *root = json_loadb(body->p, body->len, 0, NULL);
	json_t *k = json_object_get(root, "key"), *w = json_object_get(root, "worker");
	int ok = json_is_string(k) && strcmp(json_string_value(k), key) == 0 &&
	    json_is_integer(w) && json_integer_value(w) >= 0 &&
	    json_integer_value(w) < 100000;

	if (ok)
		*worker = (long)json_integer_value(w);
	json_decref(root);
	return ok ? 0 : -1;
}

int
probe_route(struct probe *p, const uint8_t key[KEY_LEN], long *worker,
    char *why, size_t whylen)
{
	char text[KEY_TEXT_MAX], path[128], err[TP_ERR_MAX];
	struct httpc_resp r;
	struct tp *t = NULL;
	int known = 0;

	key_format_text(text, NODEKEY_PREFIX, key);
	snprintf(path, sizeof(path), "/debug/route?key=%s", text);
	if (get(p, path, NULL, &r, &t, err, sizeof(err)) != 0)
		errfmt(why, whylen, "/debug/route: %s", err);
	else if (r.status == 403)
		errfmt(why, whylen, "/debug/route not allowed from here");
	else if (r.status != 200)
		errfmt(why, whylen, "/debug/route: HTTP %d", r.status);
	else if (route_worker(&r.body, text, worker) != 0)
		errfmt(why, whylen, "/debug/route: unexpected answer");
	else
		known = 1;
	tp_close(t);
	return known;
}
