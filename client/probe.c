/* SPDX-License-Identifier: BSD-3-Clause */
#include "probe.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"

/* Marks every check after the first n as skipped for reason. */
static void
skip_rest(struct report *r, size_t from, const char *reason)
{
	size_t i;

	for (i = from; i < r->n; i++)
		check_set(&r->checks[i], CHECK_SKIPPED, "%s", reason);
}

/* TCP (and TLS) to the relay: everything else needs it. */
static struct tp *
probe_connect(struct probe *p, struct check *c)
{
	char err[TP_ERR_MAX];
	struct tp *t;

	t = tp_connect(&p->o->url, &p->dco.tp, now_ms() + p->o->timeout_ms,
	    err, sizeof(err));
	if (t == NULL) {
		check_set(c, CHECK_CRITICAL, "%s", err);
		return NULL;
	}
	check_set(c, CHECK_OK, "%s port %s in %.1f ms%s%s", p->o->dial != NULL ?
	    p->o->dial : p->o->url.host, p->o->url.port, t->connect_ms,
	    t->ssl != NULL ? ", " : "", t->ssl != NULL ? SSL_get_version(t->ssl) : "");
	check_value(c, t->connect_ms, "ms");
	return t;
}

int
cmd_probe(const struct copts *o)
{
	struct probe p = { .o = o };
	struct check *conn, *cert, *http, *g204, *login, *meta, *rt, *ping, *stun;
	struct tp *t;

	p.rep.url = o->url.text;
	p.dco = (struct dc_opts){ .tp = { o->cafile, o->dial, 1 }, .ws = o->ws,
	    .prober = 1, .timeout_ms = o->timeout_ms };
	conn = report_add(&p.rep, "connect");
	cert = report_add(&p.rep, "certificate");
	http = report_add(&p.rep, "http-probe");
	g204 = report_add(&p.rep, "generate-204");
	login = report_add(&p.rep, "derp-login");
	meta = report_add(&p.rep, "meta-certificate");
	rt = report_add(&p.rep, "round-trip");
	ping = report_add(&p.rep, "ping");
	stun = report_add(&p.rep, "stun");
	if ((t = probe_connect(&p, conn)) == NULL)
		skip_rest(&p.rep, 1, "not run: no connection");
	else {
		probe_certificate(&p, t, cert);
		probe_http_probe(&p, http);
		probe_generate_204(&p, g204);
		probe_login(&p, login);
		probe_meta(&p, t, meta);
		tp_close(t);
		probe_round_trip(&p, rt);
		probe_ping(&p, ping);
		probe_stun(&p, stun);
	}
	dc_close(p.ca);
	if (p.a.priv != NULL)
		ident_free(&p.a);
	report_print(&p.rep, o->json);
	return report_exit(&p.rep);
}
