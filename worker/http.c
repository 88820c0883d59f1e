/* SPDX-License-Identifier: BSD-3-Clause */
#include "http.h"

#include <string.h>
#include <strings.h>

static int
is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static int
is_vchar_or_space(unsigned char c)
{
	return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

/* Finds the end of the line starting at p; sets *next past its LF. */
static const char *
line_end(const char *p, const char *end, const char **next)
{
	const char *lf = memchr(p, '\n', end - p);

	if (lf == NULL)
		return NULL;
	*next = lf + 1;
	return lf > p && lf[-1] == '\r' ? lf - 1 : lf;
}

static int
parse_request_line(const char *p, const char *eol, struct http_request *req)
{
	const char *sp;

	req->method.p = p;
	while (p < eol && *p >= 'A' && *p <= 'Z')
		p++;
	req->method.len = p - req->method.p;
	if (req->method.len == 0 || req->method.len > 16 || p == eol || *p != ' ')
		return -1;
	req->target.p = ++p;
	while (p < eol && (unsigned char)*p > 0x20 && *p != 0x7f)
		p++;
	req->target.len = p - req->target.p;
	if (req->target.len == 0 || p == eol || *p != ' ')
		return -1;
	p++;
	if (eol - p != 8 || memcmp(p, "HTTP/1.", 7) != 0 ||
	    (p[7] != '0' && p[7] != '1'))
		return -1;
	req->minor = p[7] - '0';
	req->path = req->target;
	sp = memchr(req->target.p, '?', req->target.len);
	if (sp != NULL)
		req->path.len = sp - req->target.p;
	return 0;
}

static int
parse_header(const char *p, const char *eol, struct http_header *h)
{
	const char *v;

	h->name.p = p;
	while (p < eol && is_tchar((unsigned char)*p))
		p++;
	h->name.len = p - h->name.p;
	if (h->name.len == 0 || p == eol || *p != ':')
		return -1;
	p++;
	while (p < eol && (*p == ' ' || *p == '\t'))
		p++;
	for (v = p; v < eol; v++)
		if (!is_vchar_or_space((unsigned char)*v))
			return -1;
	while (eol > p && (eol[-1] == ' ' || eol[-1] == '\t'))
		eol--;
	h->value.p = p;
	h->value.len = eol - p;
	return 0;
}

int
http_parse_request(const char *buf, size_t len, struct http_request *req)
{
	const char *p = buf, *end, *eol, *next;
	int first = 1;

	end = buf + (len > HTTP_MAX_HEAD ? HTTP_MAX_HEAD : len);
	memset(req, 0, sizeof(*req));
	/* RFC 9112 2.2: ignore empty lines (CRLF or LF) before the request line. */
	for (;;) {
		if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
			p += 2;
		else if (p < end && *p == '\n')
			p++;
		else
			break;
	}
	for (;;) {
		eol = line_end(p, end, &next);
		if (eol == NULL)
			return len >= HTTP_MAX_HEAD ? HTTP_BAD : HTTP_INCOMPLETE;
		if (memchr(p, '\r', eol - p) != NULL || memchr(p, '\0', eol - p))
			return HTTP_BAD;
		if (first) {
			if (parse_request_line(p, eol, req) != 0)
				return HTTP_BAD;
			first = 0;
		} else if (eol == p) {
			return (int)(next - buf);
		} else {
			if (req->nheaders == HTTP_MAX_HEADERS ||
			    parse_header(p, eol, &req->headers[req->nheaders]) != 0)
				return HTTP_BAD;
			req->nheaders++;
		}
		p = next;
	}
}

int
http_str_eq(const struct http_str *s, const char *lit)
{
	return s->len == strlen(lit) && memcmp(s->p, lit, s->len) == 0;
}

int
http_str_caseeq(const struct http_str *s, const char *lit)
{
	return s->len == strlen(lit) && strncasecmp(s->p, lit, s->len) == 0;
}

const struct http_str *
http_header(const struct http_request *req, const char *name)
{
	size_t i;

	for (i = 0; i < req->nheaders; i++)
		if (http_str_caseeq(&req->headers[i].name, name))
			return &req->headers[i].value;
	return NULL;
}

int
http_list_has(const struct http_str *s, const char *token)
{
	const char *p = s->p, *end = s->p + s->len, *comma;
	struct http_str item;

	while (p < end) {
		comma = memchr(p, ',', end - p);
		if (comma == NULL)
			comma = end;
		item.p = p;
		item.len = comma - p;
		while (item.len > 0 && (*item.p == ' ' || *item.p == '\t'))
			item.p++, item.len--;
		while (item.len > 0 && (item.p[item.len - 1] == ' ' ||
		    item.p[item.len - 1] == '\t'))
			item.len--;
		if (http_str_caseeq(&item, token))
			return 1;
		p = comma + 1;
	}
	return 0;
}

/* The value of query parameter name, or an empty string. */
struct http_str
http_query_param(const struct http_request *req, const char *name)
{
	size_t nl = strlen(name);
	struct http_str q = { NULL, 0 };
	const char *p = req->target.p + req->path.len, *end = req->target.p +
	    req->target.len, *amp;

	if (p >= end)
		return q;
	for (p++; p < end; p = amp + 1) {
		amp = memchr(p, '&', end - p);
		if (amp == NULL)
			amp = end;
		if ((size_t)(amp - p) > nl && memcmp(p, name, nl) == 0 &&
		    p[nl] == '=') {
			q.p = p + nl + 1;
			q.len = amp - p - nl - 1;
			return q;
		}
	}
	return q;
}
