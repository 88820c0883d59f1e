/* SPDX-License-Identifier: BSD-3-Clause */
/* HTTP responses, one per connection: the response then close. */
#ifndef DERPD_HTTP_REPLY_H
#define DERPD_HTTP_REPLY_H

#include "http.h"
#include "wk.h"

/* derper's security headers on what a browser renders. */
#define BROWSER_HEADERS \
	"Strict-Transport-Security: max-age=63072000; includeSubDomains\r\n" \
	"Content-Security-Policy: default-src 'self'; frame-ancestors 'none'; " \
	"form-action 'self'; base-uri 'self'; block-all-mixed-content; " \
	"object-src 'none'\r\n" \
	"X-Frame-Options: DENY\r\n" \
	"X-Content-Type-Options: nosniff\r\n"

struct reply {
	const char	*status;	/* "200 OK" */
	const char	*type;		/* Content-Type, or NULL */
	const char	*headers;	/* extra header lines, each ending in CRLF */
	const char	*body;
	size_t		 body_len;
};

/* Queues r (no body for HEAD) and closes c once it is written. */
void	reply_send(struct wk *w, struct conn *c, const struct http_request *req,
	    const struct reply *r);
/* Go's http.Error: text/plain, nosniff. */
void	reply_error(struct wk *w, struct conn *c, const struct http_request *req,
	    const char *status, const char *text);

#endif
