/* SPDX-License-Identifier: BSD-3-Clause */
#include "http_serve.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "dial_proto.h"
#include "handshake.h"
#include "keyfmt.h"
#include "meshstat.h"
#include "metrics.h"
#include "seqlock.h"
#include "tlsstore.h"
#include "websocket.h"

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

static void
send_reply(struct wk *w, struct conn *c, const struct http_request *req,
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
static void
send_error(struct wk *w, struct conn *c, const struct http_request *req,
    const char *status, const char *text)
{
	struct reply r = { status, "text/plain; charset=utf-8",
	    "X-Content-Type-Options: nosniff\r\n", text, strlen(text) };

	send_reply(w, c, req, &r);
}

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
	send_reply(w, c, req, &r);
}

static void
serve_probe(struct wk *w, struct conn *c, const struct http_request *req)
{
	struct reply r = { "200 OK", NULL, "Access-Control-Allow-Origin: *\r\n",
	    NULL, 0 };

	if (!http_str_eq(&req->method, "GET") && !http_str_eq(&req->method, "HEAD")) {
		send_error(w, c, req, "405 Method Not Allowed", "bogus probe method\n");
		return;
	}
	send_reply(w, c, req, &r);
}

static void
serve_robots(struct wk *w, struct conn *c, const struct http_request *req)
{
	static const char body[] = "User-agent: *\nDisallow: /\n";
	struct reply r = { "200 OK", "text/plain; charset=utf-8", BROWSER_HEADERS,
	    body, sizeof(body) - 1 };

	send_reply(w, c, req, &r);
}

/* The value of query parameter name, or an empty string. */
static struct http_str
query_param(const struct http_request *req, const char *name)
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
	struct http_str q = query_param(req, "q");
	struct reply r = { "200 OK", "application/json", BROWSER_HEADERS, NULL, 0 };
	struct shm_dns *d;

	wk_stat(w, ST_BOOTSTRAP_DNS_REQUESTS, 1);
	if ((d = malloc(sizeof(*d))) == NULL) {
		send_error(w, c, req, "503 Service Unavailable", "out of memory\n");
		return;
	}
	/* Nothing published (yet), or no clean copy: derper's cache is empty,
	 * and so is its answer. */
	if (seq_read(&w->shm->dns->seq, d, w->shm->dns, sizeof(*d)) == 0)
		r.body_len = dns_answer(d, &q, &r.body);
	send_reply(w, c, req, &r);
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
	send_reply(w, c, req, &r);
}

/* tsweb.AllowDebugAccess: loopback and Tailscale addresses, never proxied. */
static int
debug_allowed(const struct conn *c, const struct http_request *req)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&c->peer;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&c->peer;
	static const uint8_t ts6[6] = { 0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0 };
	const uint8_t *a;
	uint32_t v4;

	if (http_header(req, "X-Forwarded-For") != NULL)
		return 0;
	if (c->peer.ss_family == AF_INET6) {
		a = s6->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) || memcmp(a, ts6, 6) == 0)
			return 1;
		if (!IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			return 0;
		memcpy(&v4, a + 12, 4);
	} else if (c->peer.ss_family == AF_INET)
		v4 = s4->sin_addr.s_addr;
	else
		return 0;
	v4 = ntohl(v4);
	return (v4 >> 24) == 127 || (v4 & 0xffc00000u) == 0x64400000u;
}

/* A key only a peer relay has: which one our route goes through. */
static size_t
remote_route_json(struct wk *w, const uint8_t key[KEY_LEN], char *out,
    size_t cap, const char **status)
{
	char text[KEY_TEXT_MAX];
	struct route r;
	int remote, peer;

	if (table_dest(&w->shm->table, key, &r, &remote) != 1 || !remote) {
		*status = "404 Not Found";
		return (size_t)snprintf(out, cap, "{\"error\":\"not connected\"}\n");
	}
	key_format_text(text, NODEKEY_PREFIX, key);
	peer = meshstat_peer_of_route(w, &r);
	*status = "200 OK";
	return (size_t)snprintf(out, cap, "{\"key\":\"%s\",\"via\":\"%s\"}\n",
	    text, peer >= 0 ? w->links.peers[peer].authority : "");
}

/*
 * /debug/route?key=nodekey:<hex>: which worker serves a key (or, for a key
 * connected to a peer relay only, which peer), for tests and derpd-client's
 * placement check. Loopback and Tailscale addresses only.
 */
static size_t
route_json(struct wk *w, const struct http_request *req, char *out, size_t cap,
    const char **status)
{
	struct http_str q = query_param(req, "key");
	struct route active, all[TABLE_MAX_DUPS];
	uint8_t key[KEY_LEN];
	char text[KEY_TEXT_MAX];
	int n;

	if (key_parse_text(q.p, q.len, NODEKEY_PREFIX, key) != 0) {
		*status = "400 Bad Request";
		return (size_t)snprintf(out, cap, "{\"error\":\"want ?key=nodekey:<64 hex digits>\"}\n");
	}
	if (table_lookup(&w->shm->table, key, &active) != 1)
		return remote_route_json(w, key, out, cap, status);
	n = table_routes(&w->shm->table, key, all);
	key_format_text(text, NODEKEY_PREFIX, key);
	*status = "200 OK";
	return (size_t)snprintf(out, cap, "{\"key\":\"%s\",\"worker\":%u,"
	    "\"connections\":%d}\n", text, active.worker, n);
}

/* /debug/mesh: our links to the -mesh-with peers, as JSON. */
static size_t
mesh_json(struct wk *w, char *out, size_t cap)
{
	const struct shm_mesh_peer *own;
	char text[KEY_TEXT_MAX];
	uint32_t keys, routes;
	size_t n;
	int i;

	table_remote_counts(&w->shm->table, &keys, &routes);
	n = (size_t)snprintf(out, cap, "{\"remote_keys\":%u,\"remote_routes\":%u,"
	    "\"peers\":[", keys, routes);
	for (i = 0; i < w->links.npeers && n < cap; i++) {
		own = &w->shm->counters[dial_owner((uint32_t)i, w->nworkers)]->mesh[i];
		if (__atomic_load_n(&own->has_pub, __ATOMIC_ACQUIRE))
			key_format_text(text, NODEKEY_PREFIX, own->pub);
		else
			text[0] = '\0';
		n += (size_t)snprintf(out + n, cap - n, "%s{\"peer\":\"%s\","
		    "\"dial\":\"%s\",\"state\":\"%s\",\"key\":\"%s\","
		    "\"connects\":%llu,\"present\":%llu,\"gone\":%llu,"
		    "\"packets_out\":%llu,\"packets_in\":%llu}", i ? "," : "",
		    w->links.peers[i].authority, w->links.peers[i].dial,
		    meshstat_state_name(meshstat_state(w, i)), text,
		    (unsigned long long)meshstat_sum(w, i,
		    offsetof(struct shm_mesh_peer, connects)),
		    (unsigned long long)meshstat_sum(w, i,
		    offsetof(struct shm_mesh_peer, present)),
		    (unsigned long long)meshstat_sum(w, i,
		    offsetof(struct shm_mesh_peer, gone)),
		    (unsigned long long)meshstat_sum(w, i,
		    offsetof(struct shm_mesh_peer, pkts_out)),
		    (unsigned long long)meshstat_sum(w, i,
		    offsetof(struct shm_mesh_peer, pkts_in)));
	}
	if (n < cap)
		n += (size_t)snprintf(out + n, cap - n, "]}\n");
	return n < cap ? n : cap;
}

static void
serve_debug(struct wk *w, struct conn *c, const struct http_request *req,
    int metrics)
{
	enum { BODY_MAX = 64 * 1024 };
	struct reply r = { "200 OK", NULL, NULL, NULL, 0 };
	char *body;

	if (!debug_allowed(c, req)) {
		send_error(w, c, req, "403 Forbidden", "debug access denied\n");
		return;
	}
	if ((body = malloc(BODY_MAX)) == NULL) {
		send_error(w, c, req, "503 Service Unavailable", "out of memory\n");
		return;
	}
	r.body = body;
	if (metrics) {
		r.type = "text/plain; version=0.0.4; charset=utf-8";
		r.body_len = metrics_render(w, body, BODY_MAX);
	} else if (http_str_eq(&req->path, "/debug/route")) {
		r.type = "application/json";
		r.body_len = route_json(w, req, body, BODY_MAX, &r.status);
	} else if (http_str_eq(&req->path, "/debug/mesh")) {
		r.type = "application/json";
		r.body_len = mesh_json(w, body, BODY_MAX);
	} else if (http_str_eq(&req->path, "/debug/")) {
		r.type = "text/html; charset=utf-8";
		r.body_len = (size_t)snprintf(body, BODY_MAX,
		    "<html><body><h1>derpd debug</h1><ul>"
		    "<li><a href=\"/debug/varz\">/debug/varz</a> (Prometheus)</li>"
		    "<li><a href=\"/metrics\">/metrics</a> (same)</li>"
		    "<li>/debug/route?key=nodekey:&lt;hex&gt; (which worker serves a key)</li>"
		    "<li><a href=\"/debug/mesh\">/debug/mesh</a> (links to peer relays)</li>"
		    "</ul></body></html>\n");
	} else {
		free(body);
		send_error(w, c, req, "404 Not Found", "404 page not found\n");
		return;
	}
	send_reply(w, c, req, &r);
	free(body);
}

static void
upgrade(struct wk *w, struct conn *c, const struct http_request *req)
{
	const struct http_str *up = http_header(req, "Upgrade");
	const struct http_str *fast = http_header(req, "Derp-Fast-Start");

	if (!w->cfg->run_derp) {
		send_error(w, c, req, "404 Not Found", "derp server disabled\n");
		return;
	}
	/* Very old clients said "Upgrade: WebSocket" but spoke plain DERP. */
	if (up == NULL || (!http_str_caseeq(up, "derp") &&
	    !http_str_caseeq(up, "websocket"))) {
		send_error(w, c, req, "426 Upgrade Required",
		    "DERP requires connection upgrade\n");
		return;
	}
	if (ws_wanted(req)) {
		if (ws_accept(w, c, req) != 0) {
			send_error(w, c, req, "400 Bad Request",
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
		send_error(w, c, req, "503 Service Unavailable", "out of memory\n");
		return;
	}
	n = url_append(p->url, 0, "https://", 8);
	if (host != NULL && host->len < P80_HOST_MAX)
		n = url_append(p->url, n, host->p, host->len);
	if (http_str_eq(&req->target, "/") && debug_allowed(c, req))
		n = url_append(p->url, n, "/debug/", 7);
	else
		n = url_append(p->url, n, req->target.p, req->target.len);
	p->url[n] = '\0';
	snprintf(p->headers, sizeof(p->headers), "Location: %s\r\n", p->url);
	r.headers = p->headers;
	r.body = p->body;
	r.body_len = redirect_body(p->body, sizeof(p->body), p->url);
	send_reply(w, c, req, &r);
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
		send_error(w, c, req, "404 Not Found", "404 page not found\n");
		return;
	}
	send_reply(w, c, req, &r);
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
		serve_debug(w, c, req, http_str_eq(p, "/metrics") ||
		    http_str_eq(p, "/debug/varz"));
		return;
	}
	if (!http_str_eq(&req->method, "GET") && !http_str_eq(&req->method, "HEAD")) {
		send_error(w, c, req, "400 Bad Request", "Use HTTPS\n");
		return;
	}
	if (req->target.len > P80_TARGET_MAX) {
		send_error(w, c, req, "414 URI Too Long", "URI too long\n");
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
		send_error(w, c, &req, "400 Bad Request", "400 Bad Request\n");
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
		serve_debug(w, c, &req, 1);
	else if (p->len >= 7 && memcmp(p->p, "/debug/", 7) == 0)
		serve_debug(w, c, &req, 0);
	else
		serve_home(w, c, &req);
	return 1;
}
