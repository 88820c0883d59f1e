/* SPDX-License-Identifier: BSD-3-Clause */
#include "httpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "errfmt.h"
#include "transport.h"

int
httpc_send_get(struct tp *t, const struct url *u, const char *path,
    const char *extra, int64_t deadline)
{
	char req[2048];
	int n;

	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s%s%s%s%s\r\n"
	    "User-Agent: derpd-client\r\n%s\r\n", path,
	    strchr(u->host, ':') ? "[" : "", u->host,
	    strchr(u->host, ':') ? "]" : "",
	    strcmp(u->port, u->tls ? "443" : "80") == 0 ? "" : ":",
	    strcmp(u->port, u->tls ? "443" : "80") == 0 ? "" : u->port,
	    extra != NULL ? extra : "");
	if (n < 0 || (size_t)n >= sizeof(req)) {
		errfmt(t->err, sizeof(t->err), "request too long");
		return -1;
	}
	return tp_write(t, req, (size_t)n, deadline);
}

int
httpc_read_head(struct tp *t, struct httpc_resp *r, int64_t deadline,
    char *err, size_t errlen)
{
	const uint8_t *p;
	size_t len;
	long n;
	int f;

	for (;;) {
		p = bq_data(&t->in, &len);
		if ((n = httpc_parse((const char *)p, len, r)) > 0)
			return 0;
		if (n < 0) {
			errfmt(err, errlen, "malformed HTTP response from the relay");
			return -1;
		}
		if ((f = tp_fill(t, deadline)) <= 0) {
			errfmt(err, errlen, "no HTTP response: %s",
			    f == 0 ? "timed out" : t->err);
			return -1;
		}
	}
}

/* Reads until the body is complete: Content-Length bytes, or EOF. */
static int
read_body(struct tp *t, struct httpc_resp *r, int64_t deadline, char *err,
    size_t errlen)
{
	const struct httpc_str *cl = httpc_header(r, "Content-Length");
	size_t want = HTTPC_BODY_MAX, len, head = r->head_len;
	const uint8_t *p;
	int f;

	if (cl != NULL) {
		char num[16];

		if (cl->len == 0 || cl->len >= sizeof(num) ||
		    strspn(cl->p, "0123456789") < cl->len)
			return errfmt(err, errlen, "bad Content-Length"), -1;
		memcpy(num, cl->p, cl->len);
		num[cl->len] = '\0';
		if ((want = strtoul(num, NULL, 10)) > HTTPC_BODY_MAX)
			return errfmt(err, errlen, "response body too long"), -1;
	}
	while (p = bq_data(&t->in, &len), len - head < want) {
		if ((f = tp_fill(t, deadline)) == 0)
			return errfmt(err, errlen, "response body timed out"), -1;
		if (f < 0)
			break;
	}
	if (cl != NULL && len - head < want)
		return errfmt(err, errlen, "response body cut short"), -1;
	/* The queue may have moved: parse again for pointers into it. */
	httpc_parse((const char *)p, len, r);
	r->body.p = (const char *)p + head;
	r->body.len = len - head < want ? len - head : want;
	return 0;
}

int
httpc_get(struct tp *t, const struct url *u, const char *path,
    const char *extra, struct httpc_resp *r, int64_t deadline, char *err,
    size_t errlen)
{
	if (httpc_send_get(t, u, path, extra, deadline) != 0) {
		errfmt(err, errlen, "sending the request: %s", t->err);
		return -1;
	}
	if (httpc_read_head(t, r, deadline, err, errlen) != 0)
		return -1;
	if (r->status == 101)
		return 0;
	return read_body(t, r, deadline, err, errlen);
}
