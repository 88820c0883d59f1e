/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Prometheus text for /metrics and /debug/varz, summed over every worker's
 * counters in shared memory. Names follow derper's expvar names (derp_*)
 * where derper has the metric; derpd's own are derpd_*.
 */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>

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

static const struct {
	const char	*name;
	const char	*type;
	enum stat_id	 id;
} simple[] = {
	{ "derpd_tcp_accepts", "counter", ST_TCP_ACCEPTS },
	{ "derpd_current_tcp_connections", "gauge", ST_TCP_CURRENT },
	{ "derp_accepts", "counter", ST_DERP_ACCEPTS },
	{ "derp_current_connections", "gauge", ST_CLIENTS_CURRENT },
	{ "derp_current_home_connections", "gauge", ST_HOME_CLIENTS },
	{ "derpd_handshake_failures", "counter", ST_HANDSHAKE_FAILURES },
	{ "derpd_http_requests", "counter", ST_HTTP_REQUESTS },
	{ "bootstrap_dns_requests", "counter", ST_BOOTSTRAP_DNS_REQUESTS },
	{ "derp_websocket_accepts", "counter", ST_WEBSOCKET_ACCEPTS },
	{ "derp_packets_received", "counter", ST_PACKETS_RECV },
	{ "derp_bytes_received", "counter", ST_BYTES_RECV },
	{ "derp_packets_sent", "counter", ST_PACKETS_SENT },
	{ "derp_bytes_sent", "counter", ST_BYTES_SENT },
	{ "derp_peer_gone_disconnected_frames", "counter", ST_PEER_GONE_DISCONNECTED },
	{ "derp_peer_gone_not_here_frames", "counter", ST_PEER_GONE_NOT_HERE },
	{ "derp_got_ping", "counter", ST_GOT_PING },
	{ "derp_sent_pong", "counter", ST_SENT_PONG },
	{ "derpd_sent_ping", "counter", ST_SENT_PING },
	{ "derpd_got_pong", "counter", ST_GOT_PONG },
	{ "derpd_pong_rtt_ms_sum", "counter", ST_PONG_RTT_MS_SUM },
	{ "derpd_restarting_frames", "counter", ST_RESTARTING_SENT },
	{ "derpd_health_frames", "counter", ST_HEALTH_SENT },
	{ "derp_unknown_frames", "counter", ST_UNKNOWN_FRAMES },
	{ "derp_total_dup_client_conns", "counter", ST_DUP_CONNS_TOTAL },
	{ "derpd_dup_client_switches", "counter", ST_DUP_SWITCHES },
	{ "derpd_dup_client_fights", "counter", ST_DUP_FIGHTS },
	{ "derp_packets_forwarded_in", "counter", ST_PACKETS_FORWARDED_IN },
	{ "derpd_ring_resets", "counter", ST_RING_RESETS },
};

/* derper's drop reasons where they match; ring_full is derpd's own. */
static const struct {
	const char	*reason;
	enum stat_id	 id;
	enum stat_id	 bytes;		/* ST_MAX: not counted */
} drops[] = {
	{ "unknown_dest", ST_DROP_UNKNOWN_DEST, ST_DROP_BYTES_UNKNOWN_DEST },
	{ "gone_disconnected", ST_DROP_GONE, ST_DROP_BYTES_GONE },
	{ "queue_tail", ST_DROP_QUEUE_FULL, ST_DROP_BYTES_QUEUE_FULL },
	{ "ring_full", ST_DROP_RING_FULL, ST_DROP_BYTES_RING_FULL },
	{ "write_error", ST_DROP_WRITE_ERROR, ST_MAX },
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
emit_frames(struct wk *w, struct out *o)
{
	uint64_t n, other = 0;
	uint32_t t, i;

	emit(o, "# TYPE derpd_frames_received counter\n");
	for (t = 0; t < STAT_FRAME_TYPES; t++) {
		for (n = 0, i = 0; i < w->nworkers; i++)
			n += load(&w->shm->counters[i]->frames[t]);
		if (frame_names[t] != NULL)
			emit(o, "derpd_frames_received{kind=\"%s\"} %llu\n",
			    frame_names[t], (unsigned long long)n);
		else
			other += n;
	}
	emit(o, "derpd_frames_received{kind=\"other\"} %llu\n",
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
	emit(o, "# TYPE derpd_workers gauge\nderpd_workers %u\n", alive);
	emit(o, "# TYPE derpd_worker_restarts counter\nderpd_worker_restarts %llu\n",
	    (unsigned long long)restarts);
}

static void
emit_dups(struct wk *w, struct out *o)
{
	uint32_t keys, conns, all;

	table_counts(&w->shm->table, &keys, &conns, &all);
	emit(o, "# TYPE derp_current_dup_client_keys gauge\n"
	    "derp_current_dup_client_keys %u\n"
	    "# TYPE derp_current_dup_client_conns gauge\n"
	    "derp_current_dup_client_conns %u\n", keys, conns);
}

static void
emit_rate(struct wk *w, struct out *o)
{
	uint64_t bps, burst;

	if (!shm_rate_get(w->shm, &bps, &burst))
		return;
	emit(o, "# TYPE derp_rate_limit_per_client_bytes_per_second gauge\n"
	    "derp_rate_limit_per_client_bytes_per_second %llu\n"
	    "# TYPE derp_rate_limit_per_client_burst_bytes gauge\n"
	    "derp_rate_limit_per_client_burst_bytes %llu\n"
	    "# TYPE derp_rate_limit_per_client_waited counter\n"
	    "derp_rate_limit_per_client_waited %llu\n",
	    (unsigned long long)bps, (unsigned long long)burst,
	    (unsigned long long)shm_stat_total(w->shm, ST_RATE_LIMIT_WAITS));
}

static void
emit_stun(struct wk *w, struct out *o)
{
	const struct shm_stun *st = w->shm->stun;

	emit(o, "# TYPE stun_requests counter\n"
	    "stun_requests{disposition=\"success\"} %llu\n"
	    "stun_requests{disposition=\"not_stun\"} %llu\n"
	    "stun_requests{disposition=\"write_error\"} %llu\n",
	    (unsigned long long)load(&st->success),
	    (unsigned long long)load(&st->not_stun),
	    (unsigned long long)load(&st->write_error));
	emit(o, "# TYPE stun_addrfamily counter\n"
	    "stun_addrfamily{family=\"ipv4\"} %llu\n"
	    "stun_addrfamily{family=\"ipv6\"} %llu\n",
	    (unsigned long long)load(&st->ipv4),
	    (unsigned long long)load(&st->ipv6));
}

size_t
metrics_render(struct wk *w, char *buf, size_t cap)
{
	struct out o = { buf, cap, 0 };
	size_t i;

	for (i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
		emit(&o, "# TYPE %s %s\n%s %llu\n", simple[i].name, simple[i].type,
		    simple[i].name,
		    (unsigned long long)shm_stat_total(w->shm, simple[i].id));
	emit(&o, "# TYPE derp_packets_dropped counter\n");
	for (i = 0; i < sizeof(drops) / sizeof(drops[0]); i++)
		emit(&o, "derp_packets_dropped{reason=\"%s\"} %llu\n",
		    drops[i].reason,
		    (unsigned long long)shm_stat_total(w->shm, drops[i].id));
	emit(&o, "# TYPE derp_bytes_dropped counter\n");
	for (i = 0; i < sizeof(drops) / sizeof(drops[0]); i++)
		emit(&o, "derp_bytes_dropped{reason=\"%s\"} %llu\n",
		    drops[i].reason, drops[i].bytes == ST_MAX ? 0ULL :
		    (unsigned long long)shm_stat_total(w->shm, drops[i].bytes));
	emit_dups(w, &o);
	emit_frames(w, &o);
	emit_workers(w, &o);
	emit_stun(w, &o);
	emit_rate(w, &o);
	emit(&o, "# TYPE tls_listener_accepted_connections counter\n"
	    "tls_listener_accepted_connections %llu\n"
	    "# TYPE tls_listener_rejected_connections counter\n"
	    "tls_listener_rejected_connections %llu\n",
	    (unsigned long long)shm_stat_total(w->shm, ST_ACCEPT_LIMIT_ACCEPTED),
	    (unsigned long long)shm_stat_total(w->shm, ST_ACCEPT_LIMIT_REJECTED));
	return o.len;
}
