/* SPDX-License-Identifier: BSD-3-Clause */
/* HTTP responses before the upgrade; every one closes the connection. */
#include "http_reply.h"

#include <stdio.h>
#include <string.h>

#include "conn.h"

void
reply_send(struct wk *w, struct conn *c, const struct http_request *req,
    const struct reply *r)
{
	char head[16384];	/* a port-80 Location can be long */
	char length[64] = "";
	int n;

	/* RFC 9110 8.6: no Content-Length in a 204. */
	if (strncmp(r->status, "204", 3) != 0)
		snprintf(length, sizeof(length), "Content-Length: %zu\r\n",
		    r->body_len);
	n = snprintf(head, sizeof(head), "HTTP/1.1 %s\r\n%s%s%s%s%s"
	    "Connection: close\r\n\r\n", r->status,
	    r->type ? "Content-Type: " : "", r->type ? r->type : "",
	    r->type ? "\r\n" : "", r->headers ? r->headers : "", length);
	if (n > 0 && (size_t)n < sizeof(head)) {
		conn_queue_control(w, c, head, n);
		if (r->body_len > 0 && !http_str_eq(&req->method, "HEAD"))
			conn_queue_control(w, c, r->body, r->body_len);
	}
	conn_flush_close(w, c);
}

/* Go's http.Error. */
void
reply_error(struct wk *w, struct conn *c, const struct http_request *req,
    const char *status, const char *text)
{
	struct reply r = { status, "text/plain; charset=utf-8",
	    "X-Content-Type-Options: nosniff\r\n", text, strlen(text) };

	reply_send(w, c, req, &r);
}
