/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A strict parser for one HTTP/1.x request head (request line + headers),
 * enough for DERP's upgrade and derper's small GET endpoints. It never
 * copies: fields point into the caller's buffer.
 */
#ifndef DERPD_HTTP_H
#define DERPD_HTTP_H

#include <stddef.h>

#define HTTP_MAX_HEAD		16384
#define HTTP_MAX_HEADERS	64

struct http_str {
	const char	*p;
	size_t		 len;
};

struct http_header {
	struct http_str	name;
	struct http_str	value;
};

struct http_request {
	struct http_str	method;
	struct http_str	target;		/* as sent */
	struct http_str	path;		/* target without the query */
	int		minor;		/* HTTP/1.<minor> */
	size_t		nheaders;
	struct http_header headers[HTTP_MAX_HEADERS];
};

enum { HTTP_INCOMPLETE = 0, HTTP_BAD = -1 };

/*
 * Returns the length of the head (> 0) once it is complete and valid,
 * HTTP_INCOMPLETE when more bytes are needed, HTTP_BAD when it is malformed
 * or longer than HTTP_MAX_HEAD.
 */
int	http_parse_request(const char *buf, size_t len, struct http_request *req);
/* The first header named name (case-insensitive), or NULL. */
const struct http_str *http_header(const struct http_request *req,
	    const char *name);
int	http_str_eq(const struct http_str *s, const char *lit);
/* The value of query parameter name in req's target, or an empty string. */
struct http_str http_query_param(const struct http_request *req,
	    const char *name);
int	http_str_caseeq(const struct http_str *s, const char *lit);
/* Whether a comma-separated header value lists token (case-insensitive). */
int	http_list_has(const struct http_str *s, const char *token);

#endif
