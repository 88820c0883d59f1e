/* SPDX-License-Identifier: BSD-3-Clause */
/* The relay's HTTP response head, parsed strictly (see httpc.h). */
#include <string.h>
#include <strings.h>

#include "httpc.h"

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
