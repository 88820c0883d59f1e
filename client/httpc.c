/* SPDX-License-Identifier: BSD-3-Clause */
#include "errfmt.h"
#include "httpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "transport.h"

static int
is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

#define LINE_BAD	(-1)	/* a bare CR or LF, or a NUL */
#define LINE_MORE	(-2)	/* no CRLF yet */

/* The length of the line at p (without its CRLF), LINE_BAD or LINE_MORE. */
static long
line_len(const char *p, const char *end)
{
	const char *q;

	for (q = p; q < end; q++) {
		if (q[0] == '\r' && q + 1 < end && q[1] == '\n')
			return q - p;
		if (q[0] == '\r' && q + 1 == end)
			return LINE_MORE;
		if (q[0] == '\r' || q[0] == '\n' || q[0] == '\0')
			return LINE_BAD;
	}
	return LINE_MORE;
}

/* "HTTP/1.x DDD reason" */
static int
parse_status(const char *p, long n, struct httpc_resp *r)
{
	if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 ||
	    (p[7] != '0' && p[7] != '1') || p[8] != ' ' ||
	    p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' ||
	    p[11] < '0' || p[11] > '9' || (n > 12 && p[12] != ' '))
		return -1;
	r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	return 0;
}

static int
parse_header(const char *p, long n, struct httpc_resp *r)
{
	long i = 0, v, e;

	while (i < n && is_tchar((unsigned char)p[i]))
		i++;
	if (i == 0 || i >= n || p[i] != ':' || r->nhdr == HTTPC_HEADERS_MAX)
		return -1;
	for (v = i + 1; v < n && (p[v] == ' ' || p[v] == '\t'); v++)
		;
	for (e = n; e > v && (p[e - 1] == ' ' || p[e - 1] == '\t'); e--)
		;
	r->name[r->nhdr] = (struct httpc_str){ p, (size_t)i };
	r->value[r->nhdr] = (struct httpc_str){ p + v, (size_t)(e - v) };
	r->nhdr++;
	return 0;
}

long
httpc_parse(const char *buf, size_t len, struct httpc_resp *r)
{
	const char *p = buf, *end;
	long n;

	memset(r, 0, sizeof(*r));
	end = buf + (len < HTTPC_HEAD_MAX ? len : HTTPC_HEAD_MAX);
	for (;;) {
		if ((n = line_len(p, end)) == LINE_BAD)
			return -1;
		if (n == LINE_MORE)
			return len >= HTTPC_HEAD_MAX ? -1 : 0;
		if (p == buf ? parse_status(p, n, r) != 0 :
		    n > 0 && parse_header(p, n, r) != 0)
			return -1;
		p += n + 2;
		if (n == 0)	/* the status line is never empty */
			break;
	}
	r->head_len = (size_t)(p - buf);
	return (long)r->head_len;
}

const struct httpc_str *
httpc_header(const struct httpc_resp *r, const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < r->nhdr; i++)
		if (r->name[i].len == n && strncasecmp(r->name[i].p, name, n) == 0)
			return &r->value[i];
	return NULL;
}

int
httpc_header_is(const struct httpc_resp *r, const char *name, const char *value)
{
	const struct httpc_str *v = httpc_header(r, name);

	return v != NULL && v->len == strlen(value) &&
	    strncasecmp(v->p, value, v->len) == 0;
}

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
