/* HTTP requests before the DERP upgrade; each response closes the connection. */
#include <stdio.h>
#include <string.h>

#include "http.h"
#include "log.h"
#include "wk.h"

static void
respond(struct wk *w, struct conn *c, const char *status, const char *body)
{
	char resp[512];
	int n;

	n = snprintf(resp, sizeof(resp),
	    "HTTP/1.1 %s\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Content-Length: %zu\r\n"
	    "Connection: close\r\n\r\n%s", status, strlen(body), body);
	if (n > 0 && (size_t)n < sizeof(resp))
		conn_queue_control(w, c, resp, n);
	conn_flush_close(w, c);
}

static int
upgrade_to_derp(struct wk *w, struct conn *c, const struct http_request *req)
{
	const struct http_str *up = http_header(req, "Upgrade");
	const struct http_str *fast = http_header(req, "Derp-Fast-Start");

	if (up == NULL || !http_str_caseeq(up, "derp")) {
		respond(w, c, "426 Upgrade Required",
		    "DERP requires connection upgrade\n");
		return 0;
	}
	handshake_start(w, c, fast != NULL && http_str_eq(fast, "1"));
	return 1;
}

/* Returns 1 when a request was handled, 0 when more input is needed, -1 after an error response. */
int
serve_http(struct wk *w, struct conn *c)
{
	struct http_request req;
	struct buf *b = c->in;
	int n;

	n = http_parse_request((const char *)b->data + b->rd, b->wr - b->rd, &req);
	if (n == HTTP_INCOMPLETE)
		return 0;
	if (n == HTTP_BAD) {
		stat(w, ST_HANDSHAKE_FAILURES, 1);
		respond(w, c, "400 Bad Request", "400 Bad Request\n");
		return -1;
	}
	b->rd += n;
	if (http_str_eq(&req.path, "/derp")) {
		upgrade_to_derp(w, c, &req);
		return 1;
	}
	respond(w, c, "404 Not Found", "404 page not found\n");
	return 1;
}
