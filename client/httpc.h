/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The client's HTTP/1.1: one request per connection, as derpd and derper
 * answer (GET /derp upgrades, probes, /generate_204, /debug/route). The
 * response-head parser reads server input, so it is strict and fuzzed
 * (tests/fuzz/fuzz_client_http.c).
 */
#ifndef CLIENT_HTTPC_H
#define CLIENT_HTTPC_H

#include <stddef.h>
#include <stdint.h>

struct tp;
struct url;

#define HTTPC_HEAD_MAX		16384
#define HTTPC_HEADERS_MAX	64
#define HTTPC_BODY_MAX		65536

struct httpc_str {
	const char	*p;
	size_t		 len;
};

struct httpc_resp {
	int		 status;
	size_t		 head_len;
	size_t		 nhdr;
	struct httpc_str name[HTTPC_HEADERS_MAX];
	struct httpc_str value[HTTPC_HEADERS_MAX];
	struct httpc_str body;	/* httpc_get only */
};

/* Returns the head's length, 0 if more bytes are needed, -1 if malformed. */
long	httpc_parse(const char *buf, size_t len, struct httpc_resp *r);
/* The first header called name (any case), or NULL. */
const struct httpc_str *httpc_header(const struct httpc_resp *r,
	    const char *name);
/* 1 if header name exists and equals value, ignoring case. */
int	httpc_header_is(const struct httpc_resp *r, const char *name,
	    const char *value);

/* Writes "GET path" with Host (and extra header lines, each ending CRLF). */
int	httpc_send_get(struct tp *t, const struct url *u, const char *path,
	    const char *extra, int64_t deadline);
/*
 * Reads a response head into t->in and parses it; r points into t->in
 * until the next read. The caller consumes r->head_len when done.
 * Returns 0, or -1 with err set.
 */
int	httpc_read_head(struct tp *t, struct httpc_resp *r, int64_t deadline,
	    char *err, size_t errlen);
/* GET path and read the whole answer (body by Content-Length or EOF). */
int	httpc_get(struct tp *t, const struct url *u, const char *path,
	    const char *extra, struct httpc_resp *r, int64_t deadline,
	    char *err, size_t errlen);

#endif
