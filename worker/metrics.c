/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Prometheus text for /metrics and /debug/varz, summed over every worker's
 * counters in shared memory, each family with # HELP and # TYPE. Where
 * derper has the metric its name is derper's, as tsweb renders its expvars
 * (derp_*, stun_*, bootstrap_dns_requests, tls_listener_*: dashboards use
 * them, so counters keep their names without _total); derpd's own are
 * derpd_* and follow Prometheus's conventions (_total, base units).
 */
#include "metrics.h"

#include "meshstat.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct out {
	char	*p;
	size_t	 cap;
	size_t	 len;
};

static void
emit(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->len >= o->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len = (size_t)n >= o->cap - o->len ? o->cap : o->len + n;
}

/* Starts a metric family: its # HELP and # TYPE lines. */
static void
family(struct out *o, const char *name, const char *type, const char *help)
{
	emit(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static const struct {
	const char	*name;
	const char	*type;
	enum stat_id	 id;
	const char	*help;
} simple[] = {
	{ "derpd_tcp_accepts_total", "counter", ST_TCP_ACCEPTS,
	    "TCP connections accepted, on every port" },
	{ "derpd_current_tcp_connections", "gauge", ST_TCP_CURRENT,
	    "TCP connections open now, logged in or not" },
	{ "derp_accepts", "counter", ST_DERP_ACCEPTS,
	    "DERP connections upgraded from HTTP" },
	{ "derp_current_connections", "gauge", ST_CLIENTS_CURRENT,
	    "DERP clients logged in now" },
	{ "derp_current_home_connections", "gauge", ST_HOME_CLIENTS,
	    "DERP clients logged in now that call this relay their home" },
	{ "derpd_handshake_failures_total", "counter", ST_HANDSHAKE_FAILURES,
	    "Connections closed for a failed TLS handshake, HTTP request or "
	    "DERP login, or no login within -handshake-timeout" },
	{ "derpd_http_requests_total", "counter", ST_HTTP_REQUESTS,
	    "Well-formed HTTP requests read" },
	{ "bootstrap_dns_requests", "counter", ST_BOOTSTRAP_DNS_REQUESTS,
	    "Requests for /bootstrap-dns" },
	{ "derp_websocket_accepts", "counter", ST_WEBSOCKET_ACCEPTS,
	    "DERP connections upgraded to WebSocket" },
	{ "derp_packets_received", "counter", ST_PACKETS_RECV,
	    "Packets received from clients to relay" },
	{ "derp_bytes_received", "counter", ST_BYTES_RECV,
	    "Bytes of packets received from clients to relay" },
	{ "derp_packets_sent", "counter", ST_PACKETS_SENT,
	    "Packets relayed to clients" },
	{ "derp_bytes_sent", "counter", ST_BYTES_SENT,
	    "Bytes of packets relayed to clients" },
	{ "derp_peer_gone_disconnected_frames", "counter",
	    ST_PEER_GONE_DISCONNECTED,
	    "PeerGone frames sent because a peer disconnected" },
	{ "derp_peer_gone_not_here_frames", "counter", ST_PEER_GONE_NOT_HERE,
	    "PeerGone frames sent because a peer is not connected here" },
	{ "derp_got_ping", "counter", ST_GOT_PING,
	    "Ping frames received from clients" },
	{ "derp_sent_pong", "counter", ST_SENT_PONG,
	    "Pong frames sent to clients" },
	{ "derpd_pings_sent_total", "counter", ST_SENT_PING,
	    "Ping frames sent to clients that can answer them" },
	{ "derpd_pongs_received_total", "counter", ST_GOT_PONG,
	    "Pong frames received that answer our Ping" },
	{ "derpd_restarting_frames_sent_total", "counter", ST_RESTARTING_SENT,
	    "Restarting frames sent on graceful stop" },
	{ "derpd_health_frames_sent_total", "counter", ST_HEALTH_SENT,
	    "Health frames sent to clients fighting over a key" },
	{ "derp_unknown_frames", "counter", ST_UNKNOWN_FRAMES,
	    "Frames of unknown type received from clients (skipped)" },
	{ "derp_total_dup_client_conns", "counter", ST_DUP_CONNS_TOTAL,
	    "Connections accepted for a key that was already connected" },
	{ "derpd_dup_client_switches_total", "counter", ST_DUP_SWITCHES,
	    "Times a duplicate connection that sent took its key's route" },
	{ "derpd_dup_client_fights_total", "counter", ST_DUP_FIGHTS,
	    "Route switches by a duplicate that had sent before (fighting)" },
	{ "derp_packets_forwarded_in", "counter", ST_PACKETS_FORWARDED_IN,
	    "ForwardPacket frames received from mesh peers" },
	{ "derp_packets_forwarded_out", "counter", ST_PACKETS_FORWARDED_OUT,
	    "Packets for keys at a peer relay, sent on as ForwardPacket" },
	{ "derpd_mesh_remote_routes_refused_total", "counter",
	    ST_REMOTE_ROUTES_REFUSED,
	    "PeerPresent from a peer relay that found no room in the table" },
	{ "derpd_ring_resets_total", "counter", ST_RING_RESETS,
	    "Cross-worker rings discarded as corrupt" },
	{ "derpd_ring_pushbacks_total", "counter", ST_PUSHBACKS,
	    "Times a client was not read for a few ms because the ring to "
	    "another worker was full" },
	{ "derpd_send_queue_bytes", "gauge", ST_SENDQ_BYTES,
	    "Bytes of packets queued to clients, not yet on their streams "
	    "(-queue-budget-mib per worker)" },
	{ "derpd_logins_refused_full_total", "counter", ST_TABLE_FULL,
	    "Logins refused because -max-clients clients were logged in" },
	{ "derpd_accept_fd_exhausted_total", "counter", ST_ACCEPT_NO_FDS,
	    "accept() calls that failed for want of descriptors or memory "
	    "(accepting then pauses)" },
	{ "derpd_tls_ktls_total", "counter", ST_TLS_KTLS,
	    "TLS handshakes after which the kernel encrypts (kTLS)" },
	{ "derpd_worker_batch_naps_total", "counter", ST_BATCH_NAPS,
	    "Times a worker, woken again soon after it went to sleep, napped "
	    "30 us before its next turn so that the turn took more packets" },
	{ "derpd_tls_own_records_total", "counter", ST_TLS_OWN,
	    "TLS handshakes after which derpd's record layer took the "
	    "connection and OpenSSL's was freed" },
	{ "derpd_login_memory_bytes", "gauge", ST_LOGIN_MEM_BYTES,
	    "Bytes held by connections that have not finished the DERP login" },
	{ "derpd_login_memory_closed_total", "counter", ST_LOGIN_MEM_CLOSED,
	    "Connections closed or refused because -login-memory-mib was spent" },
};

/* derper's drop reasons where they match; ring_full is derpd's own. */
static const struct {
	const char	*reason;
	enum stat_id	 id;
	enum stat_id	 bytes;		/* ST_MAX: not counted */
} drops[] = {
	{ "unknown_dest", ST_DROP_UNKNOWN_DEST, ST_DROP_BYTES_UNKNOWN_DEST },
	{ "gone_disconnected", ST_DROP_GONE, ST_DROP_BYTES_GONE },
	{ "queue_head", ST_DROP_QUEUE_HEAD, ST_DROP_BYTES_QUEUE_HEAD },
	{ "queue_tail", ST_DROP_QUEUE_FULL, ST_DROP_BYTES_QUEUE_FULL },
	{ "ring_full", ST_DROP_RING_FULL, ST_DROP_BYTES_RING_FULL },
	{ "write_error", ST_DROP_WRITE_ERROR, ST_MAX },
	{ "unknown_dest_on_fwd", ST_DROP_UNKNOWN_DEST_FWD,
	    ST_DROP_BYTES_UNKNOWN_DEST_FWD },
	{ "mesh_loop", ST_DROP_MESH_LOOP, ST_DROP_BYTES_MESH_LOOP },
	{ "mesh_queue_full", ST_DROP_MESH_QUEUE, ST_DROP_BYTES_MESH_QUEUE },
};

static const char *const frame_names[STAT_FRAME_TYPES] = {
	[FRAME_SERVER_KEY] = "server_key", [FRAME_CLIENT_INFO] = "client_info",
	[FRAME_SERVER_INFO] = "server_info", [FRAME_SEND_PACKET] = "send_packet",
	[FRAME_RECV_PACKET] = "recv_packet", [FRAME_KEEP_ALIVE] = "keep_alive",
	[FRAME_NOTE_PREFERRED] = "note_preferred", [FRAME_PEER_GONE] = "peer_gone",
	[FRAME_PEER_PRESENT] = "peer_present",
	[FRAME_FORWARD_PACKET] = "forward_packet",
	[FRAME_WATCH_CONNS] = "watch_conns", [FRAME_CLOSE_PEER] = "close_peer",
	[FRAME_PING] = "ping", [FRAME_PONG] = "pong", [FRAME_HEALTH] = "health",
	[FRAME_RESTARTING] = "restarting",
};

static uint64_t
load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void
emit_drops(struct wk *w, struct out *o)
{
	size_t i;

	family(o, "derp_packets_dropped", "counter",
	    "Packets dropped instead of relayed, by reason");
	for (i = 0; i < sizeof(drops) / sizeof(drops[0]); i++)
		emit(o, "derp_packets_dropped{reason=\"%s\"} %llu\n",
		    drops[i].reason,
		    (unsigned long long)shm_stat_total(w->shm, drops[i].id));
	family(o, "derp_bytes_dropped", "counter",
	    "Bytes of packets dropped instead of relayed, by reason");
	for (i = 0; i < sizeof(drops) / sizeof(drops[0]); i++)
		emit(o, "derp_bytes_dropped{reason=\"%s\"} %llu\n",
		    drops[i].reason, drops[i].bytes == ST_MAX ? 0ULL :
		    (unsigned long long)shm_stat_total(w->shm, drops[i].bytes));
}

/* Round-trip times of our Pings, as a summary without quantiles. */
static void
emit_pong_rtt(struct wk *w, struct out *o)
{
	uint64_t ms = shm_stat_total(w->shm, ST_PONG_RTT_MS_SUM);

	family(o, "derpd_pong_rtt_seconds", "summary",
	    "Time from our Ping to the client's Pong");
	emit(o, "derpd_pong_rtt_seconds_sum %llu.%03llu\n"
	    "derpd_pong_rtt_seconds_count %llu\n",
	    (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000),
	    (unsigned long long)shm_stat_total(w->shm, ST_GOT_PONG));
}

static void
emit_frames(struct wk *w, struct out *o)
{
	uint64_t n, other = 0;
	uint32_t t, i;

	family(o, "derpd_frames_received_total", "counter",
	    "DERP frames received from clients, by type");
	for (t = 0; t < STAT_FRAME_TYPES; t++) {
		for (n = 0, i = 0; i < w->nworkers; i++)
			n += load(&w->shm->counters[i]->frames[t]);
		if (frame_names[t] != NULL)
			emit(o, "derpd_frames_received_total{kind=\"%s\"} %llu\n",
			    frame_names[t], (unsigned long long)n);
		else
			other += n;
	}
	emit(o, "derpd_frames_received_total{kind=\"other\"} %llu\n",
	    (unsigned long long)other);
}

static void
emit_workers(struct wk *w, struct out *o)
{
	uint64_t restarts = 0;
	uint32_t i, alive = 0;

	for (i = 0; i < w->nworkers; i++) {
		restarts += __atomic_load_n(&w->shm->ctl->workers[i].restarts,
		    __ATOMIC_RELAXED);
		alive += __atomic_load_n(&w->shm->ctl->workers[i].alive,
		    __ATOMIC_RELAXED) != 0;
	}
	family(o, "derpd_workers", "gauge", "Worker processes running");
	emit(o, "derpd_workers %u\n", alive);
	family(o, "derpd_worker_restarts_total", "counter",
	    "Worker processes that died and were restarted");
	emit(o, "derpd_worker_restarts_total %llu\n",
	    (unsigned long long)restarts);
}

static void
emit_dups(struct wk *w, struct out *o)
{
	uint32_t keys, conns, all;

	table_counts(&w->shm->table, &keys, &conns, &all);
	family(o, "derp_current_dup_client_keys", "gauge",
	    "Keys connected more than once now");
	emit(o, "derp_current_dup_client_keys %u\n", keys);
	family(o, "derp_current_dup_client_conns", "gauge",
	    "Connections now whose key is connected more than once");
	emit(o, "derp_current_dup_client_conns %u\n", conns);
}

static void
emit_rate(struct wk *w, struct out *o)
{
	uint64_t bps, burst;

	if (!shm_rate_get(w->shm, &bps, &burst))
		return;
	family(o, "derp_rate_limit_per_client_bytes_per_second", "gauge",
	    "What each non-mesh client may send, from -rate-config");
	emit(o, "derp_rate_limit_per_client_bytes_per_second %llu\n",
	    (unsigned long long)bps);
	family(o, "derp_rate_limit_per_client_burst_bytes", "gauge",
	    "Burst each non-mesh client may send, from -rate-config");
	emit(o, "derp_rate_limit_per_client_burst_bytes %llu\n",
	    (unsigned long long)burst);
	family(o, "derp_rate_limit_per_client_waited", "counter",
	    "Times a client's reads paused for its rate limit");
	emit(o, "derp_rate_limit_per_client_waited %llu\n",
	    (unsigned long long)shm_stat_total(w->shm, ST_RATE_LIMIT_WAITS));
}

static void
emit_stun(struct wk *w, struct out *o)
{
	const struct shm_stun *st = w->shm->stun;

	family(o, "stun_requests", "counter", "STUN datagrams, by outcome");
	emit(o, "stun_requests{disposition=\"success\"} %llu\n"
	    "stun_requests{disposition=\"not_stun\"} %llu\n"
	    "stun_requests{disposition=\"write_error\"} %llu\n",
	    (unsigned long long)load(&st->success),
	    (unsigned long long)load(&st->not_stun),
	    (unsigned long long)load(&st->write_error));
	family(o, "stun_addrfamily", "counter",
	    "STUN binding requests answered, by address family");
	emit(o, "stun_addrfamily{family=\"ipv4\"} %llu\n"
	    "stun_addrfamily{family=\"ipv6\"} %llu\n",
	    (unsigned long long)load(&st->ipv4),
	    (unsigned long long)load(&st->ipv6));
}

/* Who may use the relay: logins and re-checks by verdict, certificates refused. */
static void
emit_access(struct wk *w, struct out *o)
{
	static const struct {
		const char	*reason;
		enum stat_id	 id;
	} certs[] = {
		{ "missing", ST_CERT_MISSING }, { "untrusted", ST_CERT_UNTRUSTED },
		{ "expired", ST_CERT_EXPIRED }, { "revoked", ST_CERT_REVOKED },
		{ "invalid", ST_CERT_INVALID },
	};
	uint32_t r;
	size_t i;

	family(o, "derpd_verify_logins_total", "counter",
	    "Logins the verifier decided, by verdict (timeout: -handshake-timeout "
	    "passed while it was asked)");
	for (r = 0; r < VR_NREASONS; r++)
		emit(o, "derpd_verify_logins_total{result=\"%s\"} %llu\n",
		    verifyd_reason_name(r),
		    (unsigned long long)shm_stat_total(w->shm, ST_VERIFY_LOGIN + r));
	emit(o, "derpd_verify_logins_total{result=\"timeout\"} %llu\n",
	    (unsigned long long)shm_stat_total(w->shm, ST_VERIFY_TIMEOUT));
	family(o, "derpd_verify_rechecks_total", "counter",
	    "Connected clients verified again, by verdict (refusals are closed)");
	for (r = 0; r < VR_NREASONS; r++)
		emit(o, "derpd_verify_rechecks_total{result=\"%s\"} %llu\n",
		    verifyd_reason_name(r),
		    (unsigned long long)shm_stat_total(w->shm, ST_VERIFY_RECHECK + r));
	family(o, "derpd_client_cert_failures_total", "counter",
	    "TLS handshakes refused by -client-ca, by why");
	for (i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
		emit(o, "derpd_client_cert_failures_total{reason=\"%s\"} %llu\n",
		    certs[i].reason,
		    (unsigned long long)shm_stat_total(w->shm, certs[i].id));
	family(o, "derpd_verifier_restarts_total", "counter",
	    "Verifiers started after the first (a death, or SIGHUP)");
	emit(o, "derpd_verifier_restarts_total %llu\n", (unsigned long long)
	    __atomic_load_n(&w->shm->ctl->verify_restarts, __ATOMIC_RELAXED));
}

static void
emit_peer_family(struct wk *w, struct out *o, const char *name,
    const char *help, size_t off)
{
	int i;

	family(o, name, "counter", help);
	for (i = 0; i < w->links.npeers; i++)
		emit(o, "%s{peer=\"%s\"} %llu\n", name, w->links.peers[i].authority,
		    (unsigned long long)meshstat_sum(w, i, off));
}

static void
emit_mesh(struct wk *w, struct out *o)
{
	uint32_t keys, routes, st, cur;
	int i;

	table_remote_counts(&w->shm->table, &keys, &routes);
	family(o, "derpd_mesh_remote_keys", "gauge",
	    "Keys reachable through a peer relay (and maybe here too)");
	emit(o, "derpd_mesh_remote_keys %u\n", keys);
	family(o, "derpd_mesh_remote_routes", "gauge",
	    "Routes to keys through peer relays (a key may have several)");
	emit(o, "derpd_mesh_remote_routes %u\n", routes);
	if (w->links.npeers == 0)
		return;
	family(o, "derpd_mesh_peer_up", "gauge",
	    "1 while our link to the peer relay is logged in and watching");
	for (i = 0; i < w->links.npeers; i++)
		emit(o, "derpd_mesh_peer_up{peer=\"%s\"} %d\n",
		    w->links.peers[i].authority, meshstat_state(w, i) == LINK_UP);
	family(o, "derpd_mesh_peer_state", "gauge",
	    "Our link to the peer relay, by state (1 for the current one)");
	for (i = 0; i < w->links.npeers; i++)
		for (st = 0, cur = meshstat_state(w, i); st < LINK_NSTATES; st++)
			emit(o, "derpd_mesh_peer_state{peer=\"%s\",state=\"%s\"} "
			    "%d\n", w->links.peers[i].authority,
			    meshstat_state_name(st), st == cur);
	emit_peer_family(w, o, "derpd_mesh_peer_connects_total",
	    "Logins to the peer relay", offsetof(struct shm_mesh_peer, connects));
	emit_peer_family(w, o, "derpd_mesh_peer_present_total",
	    "PeerPresent frames from the peer relay",
	    offsetof(struct shm_mesh_peer, present));
	emit_peer_family(w, o, "derpd_mesh_peer_gone_total",
	    "PeerGone frames from the peer relay",
	    offsetof(struct shm_mesh_peer, gone));
	emit_peer_family(w, o, "derpd_mesh_forwarded_packets_out_total",
	    "Packets forwarded to the peer relay",
	    offsetof(struct shm_mesh_peer, pkts_out));
	emit_peer_family(w, o, "derpd_mesh_forwarded_bytes_out_total",
	    "Bytes of packets forwarded to the peer relay",
	    offsetof(struct shm_mesh_peer, bytes_out));
	emit_peer_family(w, o, "derpd_mesh_forwarded_packets_in_total",
	    "Packets the peer relay forwarded to us",
	    offsetof(struct shm_mesh_peer, pkts_in));
	emit_peer_family(w, o, "derpd_mesh_forwarded_bytes_in_total",
	    "Bytes of packets the peer relay forwarded to us",
	    offsetof(struct shm_mesh_peer, bytes_in));
}

static void
emit_accept_limit(struct wk *w, struct out *o)
{
	family(o, "tls_listener_accepted_connections", "counter",
	    "Connections let through by -accept-connection-limit");
	emit(o, "tls_listener_accepted_connections %llu\n",
	    (unsigned long long)shm_stat_total(w->shm, ST_ACCEPT_LIMIT_ACCEPTED));
	family(o, "tls_listener_rejected_connections", "counter",
	    "Connections closed by -accept-connection-limit");
	emit(o, "tls_listener_rejected_connections %llu\n",
	    (unsigned long long)shm_stat_total(w->shm, ST_ACCEPT_LIMIT_REJECTED));
}

/* A label value: backslash, quote and newline escaped (Prometheus text). */
static void
emit_label(struct out *o, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			emit(o, "\\%c", *s);
		else if (*s == '\n')
			emit(o, "\\n");
		else
			emit(o, "%c", *s);
	}
}

static void
emit_named(struct out *o, const char *metric, const char *name)
{
	emit(o, "%s{name=\"", metric);
	emit_label(o, name);
	emit(o, "\"");
}

/* Which slots have a sample of each TLS family (families come with samples). */
struct tls_rows {
	struct certshm_status st[CERTSHM_CERTS];
	int	expiry[CERTSHM_CERTS], orders[CERTSHM_CERTS], error[CERTSHM_CERTS];
	int	nexpiry, norders, nerror;
};

static void
tls_rows(struct wk *w, struct tls_rows *r)
{
	struct certshm_status *st;
	int i;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < CERTSHM_CERTS; i++) {
		st = &r->st[i];
		if (certshm_read_status(w->shm->tls, i, st) != 0 || st->name[0] == '\0')
			continue;
		r->nexpiry += r->expiry[i] = st->not_after != 0;
		r->norders += r->orders[i] = st->orders_issued + st->orders_failed > 0;
		r->nerror += r->error[i] = st->last_error_at != 0;
	}
}

/* Certificates served, and the ACME client's orders (certshm.h). */
static void
emit_tls(struct wk *w, struct out *o)
{
	struct tls_rows r;
	int64_t now = (int64_t)time(NULL);
	int i;

	tls_rows(w, &r);
	if (r.nexpiry > 0)
		family(o, "derpd_tls_cert_expiry_seconds", "gauge",
		    "Seconds until the certificate served for a name expires");
	for (i = 0; i < CERTSHM_CERTS; i++)
		if (r.expiry[i]) {
			emit_named(o, "derpd_tls_cert_expiry_seconds", r.st[i].name);
			emit(o, "} %lld\n", (long long)(r.st[i].not_after - now));
		}
	if (r.norders > 0)
		family(o, "derpd_acme_orders_total", "counter",
		    "ACME orders placed for a name, by outcome");
	for (i = 0; i < CERTSHM_CERTS; i++)
		if (r.orders[i]) {
			emit_named(o, "derpd_acme_orders_total", r.st[i].name);
			emit(o, ",outcome=\"issued\"} %llu\n",
			    (unsigned long long)r.st[i].orders_issued);
			emit_named(o, "derpd_acme_orders_total", r.st[i].name);
			emit(o, ",outcome=\"failed\"} %llu\n",
			    (unsigned long long)r.st[i].orders_failed);
		}
	if (r.nerror > 0)
		family(o, "derpd_acme_last_error_timestamp_seconds", "gauge",
		    "When the last ACME order for a name failed, and why; gone "
		    "once one succeeds");
	for (i = 0; i < CERTSHM_CERTS; i++)
		if (r.error[i]) {
			emit_named(o, "derpd_acme_last_error_timestamp_seconds",
			    r.st[i].name);
			emit(o, ",error=\"");
			emit_label(o, r.st[i].last_error);
			emit(o, "\"} %lld\n", (long long)r.st[i].last_error_at);
		}
}

size_t
metrics_render(struct wk *w, char *buf, size_t cap)
{
	struct out o = { buf, cap, 0 };
	size_t i;

	for (i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
		family(&o, simple[i].name, simple[i].type, simple[i].help);
		emit(&o, "%s %llu\n", simple[i].name, (unsigned long long)
		    (strcmp(simple[i].type, "gauge") == 0 ?
		    shm_gauge_total(w->shm, simple[i].id) :
		    shm_stat_total(w->shm, simple[i].id)));
	}
	emit_drops(w, &o);
	emit_pong_rtt(w, &o);
	emit_dups(w, &o);
	emit_frames(w, &o);
	emit_workers(w, &o);
	emit_stun(w, &o);
	emit_rate(w, &o);
	emit_accept_limit(w, &o);
	emit_tls(w, &o);
	emit_access(w, &o);
	emit_mesh(w, &o);
	return o.len;
}
