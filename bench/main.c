/* SPDX-License-Identifier: BSD-3-Clause */
/* derpbench: options, threads, and the report. */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <openssl/err.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "derpbench.h"

struct opts opt = {
	.mode = MODE_THROUGHPUT,
	.pairs = 1,
	.size = 1024,
	.duration = 5,
	.window = UINT32_MAX,	/* auto */
	.workers = 2,
	.clients = 1000,
	.on_worker = -1,
	.concurrency = 64,
	.pid = 0,
	.threads = 1,
};
SSL_CTX *client_ctx;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
"usage: derpbench [options] http://host:port | https://host:port\n"
"  -m, --mode MODE        throughput (default), idle or handshake\n"
"  -k, --insecure         do not verify the server's certificate\n"
"      --cafile FILE      trust this CA file instead of the system's\n"
"      --servername NAME  TLS server name and Host header (default: URL host)\n"
"      --rx-url URL       receivers log in to this server instead (a relay\n"
"                         meshed with the first: every packet crosses the mesh)\n"
"      --rx-servername N  --servername for it\n"
"      --rx-pid PID       its master: server CPU time counts both\n"
"      --settle SEC       wait this long after the logins before sending (0;\n"
"                         a meshed relay must learn the receivers first)\n"
"throughput: K sender->receiver pairs\n"
"  -P, --pairs K          pairs (1)\n"
"  -s, --size BYTES       packet size, >= %d (1024)\n"
"  -d, --duration SEC     seconds of sending (5)\n"
"  -n, --count N          packets per pair (0: until the duration is over)\n"
"  -w, --window N         packets in flight per pair, 0 = no limit (default:\n"
"                         64, fewer to keep 256 KiB per pair, 512 KiB in all)\n"
"  -r, --rate PPS         packets/s over all pairs, 0 = no limit (0)\n"
"  -W, --workers N        server workers, for placement (2)\n"
"  -x, --placement P      any, same (sender and receiver on one worker) or\n"
"                         cross; derpd picks worker = source port %% workers\n"
"      --strict           exit 3 unless every packet arrived, in order\n"
"idle: N logged-in clients, then the server's memory\n"
"  -N, --clients N        clients (1000)\n"
"  -o, --on-worker I      place every client on worker I of -W (source port;\n"
"                         past 11,000 on IPv4 loopback, more source addresses)\n"
"      --hold SEC         keep them this long after measuring (0)\n"
"handshake: logins per second, -c at a time, for -d seconds\n"
"common:\n"
"  -c, --concurrency N    logins under way at once, per thread (64)\n"
"  -p, --pid PID          server (master) pid: report memory and CPU time of\n"
"                         it and its descendants, every thread, from /proc\n"
"  -t, --threads N        threads (1)\n"
"  -j, --json             one JSON object on stdout instead of text\n",
	    PKT_HDR_LEN);
	exit(2);
}

static double
num(const char *s, double lo, double hi, const char *what)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
		log_warnx("bad %s \"%s\"", what, s);
		usage();
	}
	return v;
}

/* A server's URL into its host (256 bytes) and address; returns whether TLS. */
static int
parse_url(const char *url, char *host, struct sockaddr_storage *addr,
    socklen_t *addrlen)
{
	struct addrinfo hints, *res;
	char port[8], *p, *end;
	const char *rest;
	int err, tls = 0;

	if (strncmp(url, "https://", 8) == 0) {
		tls = 1;
		rest = url + 8;
		snprintf(port, sizeof(port), "443");
	} else if (strncmp(url, "http://", 7) == 0) {
		rest = url + 7;
		snprintf(port, sizeof(port), "80");
	} else
		usage();
	snprintf(host, 256, "%s", rest);
	if ((p = strchr(host, '/')) != NULL)
		*p = '\0';
	if (host[0] == '[') {	/* [v6]:port */
		if ((end = strchr(host, ']')) == NULL)
			usage();
		*end = '\0';
		if (end[1] == ':')
			snprintf(port, sizeof(port), "%s", end + 2);
		memmove(host, host + 1, strlen(host + 1) + 1);
	} else if ((p = strrchr(host, ':')) != NULL) {
		*p = '\0';
		snprintf(port, sizeof(port), "%s", p + 1);
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((err = getaddrinfo(host, port, &hints, &res)) != 0) {
		log_warnx("%s: %s", url, gai_strerror(err));
		exit(1);
	}
	memcpy(addr, res->ai_addr, res->ai_addrlen);
	*addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return tls;
}

/*
 * Below overload by default: at most 256 KiB in flight per pair (derpd
 * queues 512 KiB per client) and 512 KiB over all pairs (half of derpd's
 * default 1 MiB cross-worker ring, which every pair may share).
 */
static uint32_t
auto_window(void)
{
	uint64_t frame = DERP_FRAME_HDR_LEN + KEY_LEN + opt.size;
	uint64_t w = 64;

	if (w > 256 * 1024 / frame)
		w = 256 * 1024 / frame;
	if (w > 512 * 1024 / (frame * (uint64_t)opt.pairs))
		w = 512 * 1024 / (frame * (uint64_t)opt.pairs);
	return w < 1 ? 1 : (uint32_t)w;
}

static void
parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "insecure", no_argument, NULL, 'k' },
		{ "cafile", required_argument, NULL, 'C' },
		{ "servername", required_argument, NULL, 'S' },
		{ "pairs", required_argument, NULL, 'P' },
		{ "size", required_argument, NULL, 's' },
		{ "duration", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },
		{ "window", required_argument, NULL, 'w' },
		{ "rate", required_argument, NULL, 'r' },
		{ "workers", required_argument, NULL, 'W' },
		{ "placement", required_argument, NULL, 'x' },
		{ "strict", no_argument, NULL, 'X' },
		{ "clients", required_argument, NULL, 'N' },
		{ "on-worker", required_argument, NULL, 'o' },
		{ "hold", required_argument, NULL, 'H' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "pid", required_argument, NULL, 'p' },
		{ "threads", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "rx-url", required_argument, NULL, 'U' },
		{ "rx-servername", required_argument, NULL, 'V' },
		{ "rx-pid", required_argument, NULL, 'Q' },
		{ "settle", required_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 },
	};
	const char *rx_url = NULL;
	int ch;

	while ((ch = getopt_long(argc, argv, "m:kP:s:d:n:w:r:W:x:N:o:c:p:t:j",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'm':
			if (strcmp(optarg, "throughput") == 0)
				opt.mode = MODE_THROUGHPUT;
			else if (strcmp(optarg, "idle") == 0)
				opt.mode = MODE_IDLE;
			else if (strcmp(optarg, "handshake") == 0)
				opt.mode = MODE_HANDSHAKE;
			else
				usage();
			break;
		case 'k': opt.insecure = 1; break;
		case 'C': opt.cafile = optarg; break;
		case 'S': opt.servername = optarg; break;
		case 'P': opt.pairs = (int)num(optarg, 1, 100000, "pairs"); break;
		case 's': opt.size = (uint32_t)num(optarg, PKT_HDR_LEN,
		    DERP_MAX_PACKET, "size"); break;
		case 'd': opt.duration = num(optarg, 0.01, 86400, "duration"); break;
		case 'n': opt.count = (uint64_t)num(optarg, 0, 1e15, "count"); break;
		case 'w': opt.window = (uint32_t)num(optarg, 0, 1e6, "window"); break;
		case 'r': opt.rate = num(optarg, 0, 1e9, "rate"); break;
		case 'W': opt.workers = (int)num(optarg, 1, 1024, "workers"); break;
		case 'x':
			if (strcmp(optarg, "any") == 0)
				opt.placement = PLACE_ANY;
			else if (strcmp(optarg, "same") == 0)
				opt.placement = PLACE_SAME;
			else if (strcmp(optarg, "cross") == 0)
				opt.placement = PLACE_CROSS;
			else
				usage();
			break;
		case 'X': opt.strict = 1; break;
		case 'N': opt.clients = (int)num(optarg, 1, 1000000, "clients"); break;
		case 'o': opt.on_worker = (int)num(optarg, 0, 1023, "worker"); break;
		case 'H': opt.hold = num(optarg, 0, 86400, "hold"); break;
		case 'c': opt.concurrency = (int)num(optarg, 1, 100000,
		    "concurrency"); break;
		case 'p': opt.pid = (int)num(optarg, 1, 1 << 30, "pid"); break;
		case 't': opt.threads = (int)num(optarg, 1, 256, "threads"); break;
		case 'j': opt.json = 1; break;
		case 'U': rx_url = optarg; break;
		case 'V': opt.rx_servername = optarg; break;
		case 'Q': opt.rx_pid = (int)num(optarg, 1, 1 << 30, "pid"); break;
		case 'L': opt.settle = num(optarg, 0, 60, "settle"); break;
		default: usage();
		}
	}
	if (optind != argc - 1)
		usage();
	opt.tls = parse_url(argv[optind], opt.host, &opt.addr, &opt.addrlen);
	if (rx_url != NULL) {
		opt.rx = 1;
		if (parse_url(rx_url, opt.rx_host, &opt.rx_addr,
		    &opt.rx_addrlen) != opt.tls ||
		    opt.rx_addr.ss_family != opt.addr.ss_family) {
			log_warnx("--rx-url: the same scheme and address family, please");
			usage();
		}
	}
	if (opt.on_worker >= opt.workers) {
		log_warnx("--on-worker must be below -W");
		usage();
	}
	if (opt.placement == PLACE_CROSS && opt.workers < 2) {
		log_warnx("cross-worker placement needs -W 2 or more");
		usage();
	}
	if (opt.window == UINT32_MAX)
		opt.window = auto_window();
	if (opt.mode == MODE_THROUGHPUT && opt.threads > opt.pairs)
		opt.threads = opt.pairs;
	if (opt.mode == MODE_IDLE && opt.threads > opt.clients)
		opt.threads = opt.clients;
	if (opt.mode == MODE_HANDSHAKE && opt.threads > opt.concurrency)
		opt.threads = opt.concurrency;
}

static void
tls_setup(void)
{
	if ((client_ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		fatal("SSL_CTX_new");
	SSL_CTX_set_min_proto_version(client_ctx, TLS1_2_VERSION);
	/* Every login is a full handshake, as for a client that just started. */
	SSL_CTX_set_session_cache_mode(client_ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(client_ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(client_ctx, SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (opt.insecure)
		SSL_CTX_set_verify(client_ctx, SSL_VERIFY_NONE, NULL);
	else {
		SSL_CTX_set_verify(client_ctx, SSL_VERIFY_PEER, NULL);
		if ((opt.cafile != NULL ?
		    SSL_CTX_load_verify_locations(client_ctx, opt.cafile, NULL) :
		    SSL_CTX_set_default_verify_paths(client_ctx)) != 1)
			fatal("cannot load CA certificates");
	}
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (opt.mode == MODE_IDLE && rl.rlim_cur < (rlim_t)opt.clients + 64)
		log_warnx("RLIMIT_NOFILE is %llu: too low for %d clients",
		    (unsigned long long)rl.rlim_cur, opt.clients);
}

static const char *
place_name(void)
{
	return opt.placement == PLACE_SAME ? "same" :
	    opt.placement == PLACE_CROSS ? "cross" : "any";
}

struct totals {
	uint64_t	sent, rcvd, lost, reordered, foreign, skipped;
	uint64_t	logins, restarts;
	int		ready, failed, died;
	double		min_pair;	/* lowest delivery ratio of a pair */
	int64_t		t0, t1;		/* first send, last receive */
	struct hist	lat, hs;
};

static void
add_up(struct loop *loops, struct totals *t)
{
	struct loop *lp;
	struct pair *p;
	double r;
	int i, j;

	memset(t, 0, sizeof(*t));
	t->min_pair = 1;
	for (i = 0; i < opt.threads; i++) {
		lp = &loops[i];
		for (j = 0; j < lp->npairs; j++) {
			p = &lp->pairs[j];
			t->sent += p->next_seq;
			t->rcvd += p->rcvd;
			t->lost += p->rcvd < p->next_seq ? p->next_seq - p->rcvd : 0;
			t->reordered += p->reordered;
			t->foreign += p->foreign;
			r = p->next_seq ? (double)p->rcvd / (double)p->next_seq : 1;
			if (r < t->min_pair)
				t->min_pair = r;
		}
		t->skipped += lp->skipped;
		t->logins += lp->logins;
		t->restarts += lp->restarts;
		t->ready += lp->ready;
		t->failed += lp->failed;
		t->died += lp->died;
		if (lp->t_send0 != 0 && (t->t0 == 0 || lp->t_send0 < t->t0))
			t->t0 = lp->t_send0;
		if (opt.mode == MODE_HANDSHAKE) {
			if (lp->t_send_end > t->t1)
				t->t1 = lp->t_send_end;
		} else if (lp->last_rx_ns > t->t1)
			t->t1 = lp->last_rx_ns;
		hist_merge(&t->lat, &lp->lat);
		hist_merge(&t->hs, &lp->hs);
	}
}

static double
us(const struct hist *h, double q)
{
	return (double)hist_quantile(h, q) / 1e3;
}

static uint64_t server_cpu_ns;	/* while the threads were sending */

static int
report_throughput(const struct totals *t, const struct mem *peak)
{
	double cpu_pkt = t->rcvd ? (double)server_cpu_ns / (double)t->rcvd : 0;
	double secs = t->t1 > t->t0 ? (double)(t->t1 - t->t0) / 1e9 : 0;
	double pps = secs > 0 ? (double)t->rcvd / secs : 0;
	double mbs = pps * opt.size / 1e6;
	double deliv = t->sent ? 100.0 * (double)t->rcvd / (double)t->sent : 0;
	int ok = t->sent > 0 && t->rcvd == t->sent && t->reordered == 0 &&
	    t->foreign == 0 && t->died == 0;

	if (opt.json) {
		printf("{\"mode\":\"throughput\",\"tls\":%d,\"pairs\":%d,"
		    "\"size\":%u,\"placement\":\"%s\",\"window\":%u,"
		    "\"rate\":%.0f,\"seconds\":%.3f,\"sent\":%llu,"
		    "\"received\":%llu,\"lost\":%llu,\"reordered\":%llu,"
		    "\"foreign\":%llu,\"skipped\":%llu,\"died\":%d,"
		    "\"delivery_pct\":%.4f,\"min_pair_delivery_pct\":%.4f,"
		    "\"pps\":%.0f,\"mbps\":%.2f,\"lat_p50_us\":%.1f,"
		    "\"lat_p99_us\":%.1f,\"lat_p999_us\":%.1f,"
		    "\"peak_rss_kib\":%llu,\"peak_pss_kib\":%llu,"
		    "\"server_cpu_ns_per_pkt\":%.0f}\n",
		    opt.tls, opt.pairs, opt.size, place_name(), opt.window,
		    opt.rate, secs, (unsigned long long)t->sent,
		    (unsigned long long)t->rcvd, (unsigned long long)t->lost,
		    (unsigned long long)t->reordered,
		    (unsigned long long)t->foreign,
		    (unsigned long long)t->skipped, t->died, deliv,
		    100 * t->min_pair, pps, mbs, us(&t->lat, 0.5),
		    us(&t->lat, 0.99), us(&t->lat, 0.999),
		    (unsigned long long)peak->rss_kib,
		    (unsigned long long)peak->pss_kib, cpu_pkt);
		return ok;
	}
	printf("throughput: %s, %d pair(s), placement %s, %u B packets, "
	    "window %u, rate %s\n", opt.tls ? "TLS" : "plain", opt.pairs,
	    place_name(), opt.size, opt.window, opt.rate > 0 ? "limited" :
	    "unlimited");
	printf("  sent %llu, received %llu (%.3f %%; worst pair %.3f %%), "
	    "lost %llu, reordered %llu, foreign %llu, skipped by us %llu\n",
	    (unsigned long long)t->sent, (unsigned long long)t->rcvd, deliv,
	    100 * t->min_pair, (unsigned long long)t->lost,
	    (unsigned long long)t->reordered, (unsigned long long)t->foreign,
	    (unsigned long long)t->skipped);
	printf("  %.0f packets/s, %.2f MB/s of payload over %.2f s\n", pps,
	    mbs, secs);
	printf("  relay latency p50 %.0f us, p99 %.0f us, p99.9 %.0f us\n",
	    us(&t->lat, 0.5), us(&t->lat, 0.99), us(&t->lat, 0.999));
	if (peak->nprocs > 0)
		printf("  server memory at peak: RSS %.1f MiB, PSS %.1f MiB; "
		    "server CPU %.0f ns per packet\n", peak->rss_kib / 1024.0,
		    peak->pss_kib / 1024.0, cpu_pkt);
	if (t->died > 0)
		printf("  %d client(s) closed during the run\n", t->died);
	return ok;
}

static void
report_idle(const struct totals *t, const struct mem *base, const struct mem *m)
{
	double n = t->ready > 0 ? t->ready : 1;
	double rss = ((double)m->rss_kib - (double)base->rss_kib) * 1024 / n;
	double pss = ((double)m->pss_kib - (double)base->pss_kib) * 1024 / n;

	if (opt.json) {
		printf("{\"mode\":\"idle\",\"tls\":%d,\"clients\":%d,"
		    "\"logged_in\":%d,\"failed\":%d,\"procs\":%d,"
		    "\"base_rss_kib\":%llu,\"rss_kib\":%llu,"
		    "\"base_pss_kib\":%llu,\"pss_kib\":%llu,"
		    "\"rss_per_client\":%.0f,\"pss_per_client\":%.0f,"
		    "\"login_p50_ms\":%.2f,\"login_p99_ms\":%.2f}\n",
		    opt.tls, opt.clients, t->ready, t->failed, m->nprocs,
		    (unsigned long long)base->rss_kib,
		    (unsigned long long)m->rss_kib,
		    (unsigned long long)base->pss_kib,
		    (unsigned long long)m->pss_kib, rss, pss,
		    us(&t->hs, 0.5) / 1e3, us(&t->hs, 0.99) / 1e3);
		return;
	}
	printf("idle: %d of %d %s clients logged in (%d failed)\n", t->ready,
	    opt.clients, opt.tls ? "TLS" : "plain", t->failed);
	if (m->nprocs == 0) {
		printf("  (no -p: server memory not measured)\n");
		return;
	}
	printf("  server (%d processes): RSS %.1f -> %.1f MiB, PSS %.1f -> "
	    "%.1f MiB\n", m->nprocs, base->rss_kib / 1024.0,
	    m->rss_kib / 1024.0, base->pss_kib / 1024.0, m->pss_kib / 1024.0);
	printf("  per client: RSS %.0f B (%.1f KiB), PSS %.0f B (%.1f KiB)\n",
	    rss, rss / 1024, pss, pss / 1024);
}

static void
report_handshake(const struct totals *t)
{
	double secs = t->t1 > t->t0 ? (double)(t->t1 - t->t0) / 1e9 : 0;
	double rate = secs > 0 ? (double)t->logins / secs : 0;

	if (opt.json) {
		printf("{\"mode\":\"handshake\",\"tls\":%d,\"concurrency\":%d,"
		    "\"seconds\":%.3f,\"logins\":%llu,\"failed\":%d,"
		    "\"per_sec\":%.1f,\"login_p50_ms\":%.2f,"
		    "\"login_p99_ms\":%.2f}\n", opt.tls,
		    opt.concurrency, secs, (unsigned long long)t->logins,
		    t->failed, rate, us(&t->hs, 0.5) / 1e3,
		    us(&t->hs, 0.99) / 1e3);
		return;
	}
	printf("handshake: %s, %d at a time: %llu logins in %.2f s = %.0f/s "
	    "(%d failed)\n", opt.tls ? "TLS" : "plain", opt.concurrency,
	    (unsigned long long)t->logins, secs, rate, t->failed);
	printf("  connect to ServerInfo p50 %.2f ms, p99 %.2f ms\n",
	    us(&t->hs, 0.5) / 1e3, us(&t->hs, 0.99) / 1e3);
}

static int threads_done;

/* The main thread samples the server's memory while the threads run. */
static void
watch_memory(struct mem *peak)
{
	struct mem m;

	memset(peak, 0, sizeof(*peak));
	while (__atomic_load_n(&threads_done, __ATOMIC_ACQUIRE) < opt.threads) {
		if (opt.pid > 0 && mem_tree(opt.pid, &m) == 0 &&
		    m.rss_kib > peak->rss_kib)
			*peak = m;
		usleep(200000);
	}
}

static void *
thread_start(void *arg)
{
	thread_main(arg);
	__atomic_add_fetch(&threads_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

int
main(int argc, char **argv)
{
	struct mem base, after, peak;
	struct totals t;
	struct loop *loops;
	pthread_t *tids;
	uint64_t cpu0;
	int i, ok = 1;

	log_init("derpbench");
	parse_args(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		fatal("sodium_init");
	if (opt.tls)
		tls_setup();
	raise_nofile();
	memset(&base, 0, sizeof(base));
	memset(&after, 0, sizeof(after));
	if (opt.pid > 0 && mem_tree(opt.pid, &base) != 0)
		fatal("cannot read the memory of pid %d", opt.pid);
	if ((loops = calloc((size_t)opt.threads, sizeof(*loops))) == NULL ||
	    (tids = calloc((size_t)opt.threads, sizeof(*tids))) == NULL)
		fatal("calloc");
	modes_init(loops, opt.threads);
	pthread_barrier_init(&start_barrier, NULL, (unsigned)opt.threads + 1);
	pthread_barrier_init(&measured_barrier, NULL, (unsigned)opt.threads + 1);
	for (i = 0; i < opt.threads; i++)
		if ((errno = pthread_create(&tids[i], NULL, thread_start,
		    &loops[i])) != 0)
			fatal("pthread_create");
	pthread_barrier_wait(&start_barrier);
	if (opt.mode == MODE_IDLE) {
		sleep(1);	/* let the server finish what the logins left */
		if (opt.pid > 0 && mem_tree(opt.pid, &after) != 0)
			fatal("cannot read the memory of pid %d", opt.pid);
		pthread_barrier_wait(&measured_barrier);
	}
	cpu0 = (opt.pid > 0 ? cpu_tree(opt.pid) : 0) +
	    (opt.rx_pid > 0 ? cpu_tree(opt.rx_pid) : 0);
	watch_memory(&peak);
	for (i = 0; i < opt.threads; i++)
		pthread_join(tids[i], NULL);
	if (opt.pid > 0)
		server_cpu_ns = cpu_tree(opt.pid) + (opt.rx_pid > 0 ?
		    cpu_tree(opt.rx_pid) : 0) - cpu0;
	add_up(loops, &t);
	switch (opt.mode) {
	case MODE_THROUGHPUT:
		if (abort_run) {
			log_warnx("not every client logged in (%d failed)", t.failed);
			return 1;
		}
		ok = report_throughput(&t, &peak);
		break;
	case MODE_IDLE:
		report_idle(&t, &base, &after);
		if (t.failed > 0)
			return 1;
		break;
	case MODE_HANDSHAKE:
		report_handshake(&t);
		if (t.logins == 0)
			return 1;
		break;
	}
	fflush(stdout);
	return opt.strict && !ok ? 3 : 0;
}
