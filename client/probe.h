/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * derpd-client probe: what an operator checks from outside. probe.c runs
 * the checks in order and reports; probe_tls.c judges the certificate and
 * the meta certificate, probe_http.c the HTTP endpoints and the relay's
 * /debug/route placement answer, probe_derp.c the DERP login, a packet
 * round trip between two fresh keys and Ping/Pong, probe_stun.c STUN.
 */
#ifndef CLIENT_PROBE_H
#define CLIENT_PROBE_H

#include "derpconn.h"
#include "opts.h"
#include "report.h"

struct probe {
	const struct copts	*o;
	struct dc_opts		 dco;	/* record-only TLS: report, go on */
	struct report		 rep;
	struct ident		 a;	/* the login, ping and round trip's A */
	struct derpconn		*ca;
};

int	cmd_probe(const struct copts *o);

void	probe_certificate(struct probe *p, struct tp *t, struct check *c);
void	probe_meta(struct probe *p, struct tp *t, struct check *c);

void	probe_http_probe(struct probe *p, struct check *c);
void	probe_generate_204(struct probe *p, struct check *c);
/* The worker serving key: 1 with *worker, 0 with why when unknown. */
int	probe_route(struct probe *p, const uint8_t key[KEY_LEN], long *worker,
	    char *why, size_t whylen);

void	probe_login(struct probe *p, struct check *c);
void	probe_round_trip(struct probe *p, struct check *c);
void	probe_ping(struct probe *p, struct check *c);

void	probe_stun(struct probe *p, struct check *c);

#endif
