/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * derper's debug pages (/debug/, /debug/varz, /metrics) and derpd's own
 * (/debug/route, /debug/mesh), for loopback and Tailscale addresses only.
 */
#include "http_debug.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dial_proto.h"
#include "http_reply.h"
#include "keyfmt.h"
#include "meshstat.h"
#include "metrics.h"

/* tsweb.AllowDebugAccess: loopback and Tailscale addresses, never proxied. */
int
http_debug_allowed(const struct conn *c, const struct http_request *req)
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
	struct http_str q = http_query_param(req, "key");
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

void
http_debug_serve(struct wk *w, struct conn *c, const struct http_request *req,
    int metrics)
{
	enum { BODY_MAX = 64 * 1024 };
	struct reply r = { "200 OK", NULL, NULL, NULL, 0 };
	char *body;

	if (!http_debug_allowed(c, req)) {
		reply_error(w, c, req, "403 Forbidden", "debug access denied\n");
		return;
	}
	if ((body = malloc(BODY_MAX)) == NULL) {
		reply_error(w, c, req, "503 Service Unavailable", "out of memory\n");
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
		reply_error(w, c, req, "404 Not Found", "404 page not found\n");
		return;
	}
	reply_send(w, c, req, &r);
	free(body);
}
