/* SPDX-License-Identifier: BSD-3-Clause */
#include "http_serve.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "handshake.h"
#include "http_debug.h"
#include "http_reply.h"
#include "seqlock.h"
#include "tlsstore.h"
#include "websocket.h"


static int
challenge_ok(const struct http_str *s)
{
	size_t i;
	char ch;

	if (s->len > 64)
		return 0;
	for (i = 0; i < s->len; i++) {
		ch = s->p[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ||
		    ch == '_' || ch == ':'))
			return 0;
	}
	return 1;
}

/* Captive-portal check: echo X-Tailscale-Challenge as X-Tailscale-Response. */
static void
serve_no_content(struct wk *w, struct conn *c, const struct http_request *req)
{
	const struct http_str *ch = http_header(req, "X-Tailscale-Challenge");
	char headers[256];
	struct reply r = { "204 No Content", NULL, headers, NULL, 0 };

	snprintf(headers, sizeof(headers), "%s%.*s%s"
	    "Cache-Control: no-cache, no-store, must-revalidate, no-transform, "
	    "max-age=0\r\n",
	    ch != NULL && ch->len > 0 && challenge_ok(ch) ?
	    "X-Tailscale-Response: response " : "",
	    ch != NULL && ch->len > 0 && challenge_ok(ch) ? (int)ch->len : 0,
	    ch != NULL ? ch->p : "",
	    ch != NULL && ch->len > 0 && challenge_ok(ch) ? "\r\n" : "");
	reply_send(w, c, req, &r);
}

static void
serve_probe(struct wk *w, struct conn *c, const struct http_request *req)
{
	struct reply r = { "200 OK", NULL, "Access-Control-Allow-Origin: *\r\n",
	    NULL, 0 };

	if (!http_str_eq(&req->method, "GET") && !http_str_eq(&req->method, "HEAD")) {
		reply_error(w, c, req, "405 Method Not Allowed", "bogus probe method\n");
		return;
	}
	reply_send(w, c, req, &r);
}

static void
serve_robots(struct wk *w, struct conn *c, const struct http_request *req)
{
	static const char body[] = "User-agent: *\nDisallow: /\n";
	struct reply r = { "200 OK", "text/plain; charset=utf-8", BROWSER_HEADERS,
	    body, sizeof(body) - 1 };

	reply_send(w, c, req, &r);
}

/*
 * The DNS process's answer for q, found in a private copy of its region
 * (every length clamped to the buffer it describes): *body points into d.
 */
static size_t
dns_answer(const struct shm_dns *d, const struct http_str *q, const char **body)
{
	size_t ul, nl, jl, off;

	ul = d->unpublished_len < DNS_BLOB_MAX ? d->unpublished_len : 0;
	for (off = 0; q->len > 0 && off < ul; off += nl + jl + 2) {
		nl = strnlen(d->unpublished + off, ul - off);
		jl = off + nl + 1 < ul ? strnlen(d->unpublished + off + nl + 1,
		    ul - off - nl - 1) : 0;
		if (nl == q->len && memcmp(d->unpublished + off, q->p, nl) == 0) {
			*body = d->unpublished + off + nl + 1;
			return jl;
		}
	}
	*body = d->published;
	return d->published_len <= DNS_BLOB_MAX ? d->published_len : 0;
}

static void
serve_bootstrap_dns(struct wk *w, struct conn *c, const struct http_request *req)
{
	struct http_str q = http_query_param(req, "q");
	struct reply r = { "200 OK", "application/json", BROWSER_HEADERS, NULL, 0 };
	struct shm_dns *d;

	wk_stat(w, ST_BOOTSTRAP_DNS_REQUESTS, 1);
	if ((d = malloc(sizeof(*d))) == NULL) {
		reply_error(w, c, req, "503 Service Unavailable", "out of memory\n");
		return;
	}
	/* Nothing published (yet), or no clean copy: derper's cache is empty,
	 * and so is its answer. */
	if (seq_read(&w->shm->dns->seq, d, w->shm->dns, sizeof(*d)) == 0)
		r.body_len = dns_answer(d, &q, &r.body);
	reply_send(w, c, req, &r);
	free(d);
}

/* Appends s[0..len) to out, each byte >= 0x80 as %XX (Go's hexEscapeNonASCII). */
static size_t
url_append(char *out, size_t off, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x80) {
			out[off++] = s[i];
			continue;
		}
		out[off++] = '%';
		out[off++] = hex[(unsigned char)s[i] >> 4];
		out[off++] = hex[s[i] & 0xf];
	}
	return off;
}

/* The URL as HTML text: the five characters Go's htmlEscape replaces. */
static size_t
html_escape(char *out, const char *s)
{
	size_t off = 0, n;
	const char *rep;

	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&': rep = "&amp;"; break;
		case '\'': rep = "&#39;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&#34;"; break;
		default: out[off++] = *s; continue;
		}
		n = strlen(rep);
		memcpy(out + off, rep, n);
		off += n;
	}
	return off;
}

/* http.Redirect's body for GET: a link to the new place. */
static size_t
redirect_body(char *out, size_t cap, const char *url)
{
	size_t n;

	if (cap < 5 * strlen(url) + 32)
		return 0;
	n = (size_t)snprintf(out, cap, "<a href=\"");
	n += html_escape(out + n, url);
	n += (size_t)snprintf(out + n, cap - n, "\">Found</a>.\n\n");
	return n;
}

static void
serve_home(struct wk *w, struct conn *c, const struct http_request *req)
{
	static const char page[] =
	    "<!DOCTYPE html>\n<html><head><title>DERP</title></head><body>\n"
	    "<h1>DERP</h1>\n"
	    "<p>This is a DERP relay for <a href=\"https://tailscale.com/\">"
	    "Tailscale</a> clients, served by derpd. It relays end-to-end "
	    "encrypted packets between clients that cannot reach each other "
	    "directly, and answers STUN and latency probes.</p>\n"
	    "<p><a href=\"https://tailscale.com/kb/1232/derp-servers\">About "
	    "DERP servers</a></p>\n</body></html>\n";
	char body[5 * 1024 + 32];	/* -home is at most 1024 bytes */
	const char *home = w->cfg->home;
	char headers[2048];
	struct reply r = { "200 OK", "text/html; charset=utf-8", BROWSER_HEADERS,
	    page, sizeof(page) - 1 };

	if (strcmp(home, "blank") == 0) {
		r.body = NULL;
		r.body_len = 0;
	} else if (*home != '\0') {
		/* -home URL (checked by the master): a redirect */
		snprintf(headers, sizeof(headers), "%sLocation: %s\r\n",
		    BROWSER_HEADERS, home);
		r.status = "302 Found";
		r.headers = headers;
		r.body = body;
		r.body_len = redirect_body(body, sizeof(body), home);
	}
	reply_send(w, c, req, &r);
}

static void
upgrade(struct wk *w, struct conn *c, const struct http_request *req)
{
	const struct http_str *up = http_header(req, "Upgrade");
	const struct http_str *fast = http_header(req, "Derp-Fast-Start");

	if (!w->cfg->run_derp) {
		reply_error(w, c, req, "404 Not Found", "derp server disabled\n");
		return;
	}
	/* Very old clients said "Upgrade: WebSocket" but spoke plain DERP. */
	if (up == NULL || (!http_str_caseeq(up, "derp") &&
	    !http_str_caseeq(up, "websocket"))) {
		reply_error(w, c, req, "426 Upgrade Required",
		    "DERP requires connection upgrade\n");
		return;
	}
	if (ws_wanted(req)) {
		if (ws_accept(w, c, req) != 0) {
			reply_error(w, c, req, "400 Bad Request",
			    "bad WebSocket upgrade request\n");
			return;
		}
		wk_stat(w, ST_WEBSOCKET_ACCEPTS, 1);
		fast = NULL;	/* the 101 was sent; DERP starts with ServerKey */
	}
	c->not_ideal = http_header(req, "Ideal-Node") != NULL &&
	    http_header(req, "Ideal-Node")->len > 0;
	wk_stat(w, ST_DERP_ACCEPTS, 1);
	handshake_start(w, c, c->ws != NULL || (fast != NULL && http_str_eq(fast, "1")));
}

#define P80_HOST_MAX	1024
#define P80_TARGET_MAX	2048
#define P80_URL_MAX	(8 + 3 * (P80_HOST_MAX + P80_TARGET_MAX) + 1)

/* GET or HEAD on port 80: the same place over https ("/" may go to /debug/). */
static void
redirect_to_https(struct wk *w, struct conn *c, const struct http_request *req)
{
	struct p80 {
		char	url[P80_URL_MAX];
		char	headers[P80_URL_MAX + 16];
		char	body[5 * P80_URL_MAX + 32];
	} *p;
	const struct http_str *host = http_header(req, "Host");
	struct reply r = { "302 Found", "text/html; charset=utf-8", NULL, NULL, 0 };
	size_t n;

	if ((p = malloc(sizeof(*p))) == NULL) {
		reply_error(w, c, req, "503 Service Unavailable", "out of memory\n");
		return;
	}
	n = url_append(p->url, 0, "https://", 8);
	if (host != NULL && host->len < P80_HOST_MAX)
		n = url_append(p->url, n, host->p, host->len);
	if (http_str_eq(&req->target, "/") && http_debug_allowed(c, req))
		n = url_append(p->url, n, "/debug/", 7);
	else
		n = url_append(p->url, n, req->target.p, req->target.len);
	p->url[n] = '\0';
	snprintf(p->headers, sizeof(p->headers), "Location: %s\r\n", p->url);
	r.headers = p->headers;
	r.body = p->body;
	r.body_len = redirect_body(p->body, sizeof(p->body), p->url);
	reply_send(w, c, req, &r);
	free(p);
}

#define ACME_CHALLENGE_PATH	"/.well-known/acme-challenge/"

/* HTTP-01 (RFC 8555 section 8.3): the key authorization for a token being
 * validated now, as text/plain; any other token is not found. */
static void
serve_acme_challenge(struct wk *w, struct conn *c, const struct http_request *req)
{
	size_t plen = sizeof(ACME_CHALLENGE_PATH) - 1;
	const char *key_auth = w->tls == NULL ? NULL : tlsstore_http(w,
	    req->path.p + plen, req->path.len - plen);
	struct reply r = { "200 OK", "text/plain", NULL, key_auth,
	    key_auth != NULL ? strlen(key_auth) : 0 };

	if (key_auth == NULL) {
		reply_error(w, c, req, "404 Not Found", "404 page not found\n");
		return;
	}
	reply_send(w, c, req, &r);
}

/*
 * derper's port 80 beside TLS (tsweb.Port80Handler): captive-portal checks,
 * ACME HTTP-01 answers and debug pages are served, GET and HEAD are
 * redirected to https ("/" to
 * the debug page for a client allowed to see it), anything else refused.
 */
static void
serve_port80(struct wk *w, struct conn *c, const struct http_request *req)
{
	const struct http_str *p = &req->path;

	if (http_str_eq(p, "/generate_204")) {
		serve_no_content(w, c, req);
		return;
	}
	if (p->len >= sizeof(ACME_CHALLENGE_PATH) - 1 &&
	    memcmp(p->p, ACME_CHALLENGE_PATH, sizeof(ACME_CHALLENGE_PATH) - 1) == 0) {
		serve_acme_challenge(w, c, req);
		return;
	}
	if ((p->len >= 6 && memcmp(p->p, "/debug", 6) == 0) ||
	    http_str_eq(p, "/metrics")) {
		http_debug_serve(w, c, req, http_str_eq(p, "/metrics") ||
		    http_str_eq(p, "/debug/varz"));
		return;
	}
	if (!http_str_eq(&req->method, "GET") && !http_str_eq(&req->method, "HEAD")) {
		reply_error(w, c, req, "400 Bad Request", "Use HTTPS\n");
		return;
	}
	if (req->target.len > P80_TARGET_MAX) {
		reply_error(w, c, req, "414 URI Too Long", "URI too long\n");
		return;
	}
	redirect_to_https(w, c, req);
}

int
serve_http(struct wk *w, struct conn *c)
{
	struct http_request req;
	struct buf *b = c->in;
	const struct http_str *p = &req.path;
	int n;

	n = http_parse_request((const char *)b->data + b->rd, b->wr - b->rd, &req);
	if (n == HTTP_INCOMPLETE)
		return 0;
	if (n == HTTP_BAD) {
		wk_stat(w, ST_HANDSHAKE_FAILURES, 1);
		memset(&req, 0, sizeof(req));
		reply_error(w, c, &req, "400 Bad Request", "400 Bad Request\n");
		return -1;
	}
	wk_stat(w, ST_HTTP_REQUESTS, 1);
	if (c->port80) {
		serve_port80(w, c, &req);
		return 1;
	}
	if (http_str_eq(p, "/derp")) {
		/* Bytes after the head are DERP frames: consume the head only. */
		b->rd += n;
		upgrade(w, c, &req);
		return 1;
	}
	if (http_str_eq(p, "/derp/probe") || http_str_eq(p, "/derp/latency-check"))
		serve_probe(w, c, &req);
	else if (http_str_eq(p, "/generate_204"))
		serve_no_content(w, c, &req);
	else if (http_str_eq(p, "/robots.txt"))
		serve_robots(w, c, &req);
	else if (http_str_eq(p, "/bootstrap-dns"))
		serve_bootstrap_dns(w, c, &req);
	else if (http_str_eq(p, "/metrics") || http_str_eq(p, "/debug/varz"))
		http_debug_serve(w, c, &req, 1);
	else if (p->len >= 7 && memcmp(p->p, "/debug/", 7) == 0)
		http_debug_serve(w, c, &req, 0);
	else
		serve_home(w, c, &req);
	return 1;
}
