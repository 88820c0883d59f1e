/* SPDX-License-Identifier: BSD-3-Clause */
#include "flags.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acme.h"
#include "log.h"

enum flag_type { F_BOOL, F_STRING, F_INT, F_FLOAT, F_DURATION };

struct flag {
	const char	*name;
	enum flag_type	 type;
	size_t		 off;
	const char	*help;
};

#define CF(field)	offsetof(struct config, field)

static const struct flag flags[] = {
	{ "a", F_STRING, CF(addr), "listen address \":port\", \"ip:port\" or \"[ip]:port\"; port 443 (or -certmode manual) serves TLS, any other port plain HTTP" },
	{ "c", F_STRING, CF(config_path), "key file path (derper's config file)" },
	{ "dev", F_BOOL, CF(dev), "development mode: listen on 127.0.0.1:3340 unless -a is given, plain HTTP" },
	{ "version", F_BOOL, CF(version), "print version and exit" },
	{ "hostname", F_STRING, CF(hostname), "TLS host name; with -certmode manual, the certificate is <certdir>/<hostname>.crt and .key (for an IP address, a self-signed one is made if missing)" },
	{ "certmode", F_STRING, CF(certmode), "how to get a certificate: manual, letsencrypt or gcp (ACME, renewed automatically)" },
	{ "certdir", F_STRING, CF(certdir), "directory holding certificates (manual) or the ACME account, keys and certificates (letsencrypt, gcp)" },
	{ "http-port", F_INT, CF(http_port), "port for plain HTTP next to TLS; -1 disables" },
	{ "stun-port", F_INT, CF(stun_port), "UDP port for STUN" },
	{ "stun", F_BOOL, CF(run_stun), "run a STUN server" },
	{ "derp", F_BOOL, CF(run_derp), "run the DERP server" },
	{ "home", F_STRING, CF(home), "what to serve at /: empty for the default page, \"blank\", or a URL to redirect to" },
	{ "mesh-psk-file", F_STRING, CF(mesh_psk_file), "file with the mesh pre-shared key (64 hex digits)" },
	{ "mesh-with", F_STRING, CF(mesh_with), "comma-separated peer relays to mesh with, each host[:port][/dialhost]; needs -mesh-psk-file" },
	{ "bootstrap-dns-names", F_STRING, CF(bootstrap_dns_names), "comma-separated hostnames served at /bootstrap-dns" },
	{ "unpublished-bootstrap-dns-names", F_STRING, CF(unpublished_dns_names), "hostnames served at /bootstrap-dns but not listed" },
	{ "verify-clients", F_BOOL, CF(verify_clients), "admit only nodes that the local tailscaled knows (LocalAPI whois)" },
	{ "verify-client-url", F_STRING, CF(verify_client_url), "admission controller URL: POSTed each client's key and address, it answers {\"Allow\": bool}" },
	{ "verify-client-url-fail-open", F_BOOL, CF(verify_fail_open), "admit clients when -verify-client-url is unreachable" },
	{ "socket", F_STRING, CF(socket_path), "tailscaled socket for -verify-clients (empty: /var/run/tailscale/tailscaled.sock)" },
	{ "accept-connection-limit", F_FLOAT, CF(accept_conn_limit), "rate limit for accepting new connections (per second)" },
	{ "accept-connection-burst", F_INT, CF(accept_conn_burst), "burst limit for accepting new connections" },
	{ "rate-config", F_STRING, CF(rate_config), "JSON rate limit config file" },
	{ "secrets-url", F_STRING, CF(secrets_url), "setec server URL for the mesh key (not implemented yet)" },
	{ "secrets-path-prefix", F_STRING, CF(secrets_path_prefix), "setec path prefix of the mesh key secret (with -secrets-url)" },
	{ "secrets-cache-dir", F_STRING, CF(secrets_cache_dir), "directory to cache setec secrets in (with -secrets-url)" },
	{ "acme-eab-kid", F_STRING, CF(acme_eab_kid), "ACME External Account Binding key ID (-certmode gcp)" },
	{ "acme-eab-key", F_STRING, CF(acme_eab_key), "ACME External Account Binding HMAC key, base64 (-certmode gcp)" },
	{ "acme-email", F_STRING, CF(acme_email), "ACME account contact email (-certmode letsencrypt or gcp)" },
	{ "acme-ip-certs", F_BOOL, CF(acme_ip_certs), "get and serve a short-lived Let's Encrypt certificate for the IP address a client connects to without a DNS name (HTTP-01 on -http-port; -certmode letsencrypt)" },
	{ "ace", F_BOOL, CF(ace), "embedded ACE server (not implemented yet)" },
	{ "tcp-keepalive-time", F_DURATION, CF(tcp_keepalive_ms), "TCP keepalive time" },
	{ "tcp-user-timeout", F_DURATION, CF(tcp_user_timeout_ms), "TCP user timeout" },
	{ "tcp-write-timeout", F_DURATION, CF(tcp_write_timeout_ms), "close a client whose writes make no progress for this long; 0 disables" },
	/* derpd's own */
	{ "acme-directory", F_STRING, CF(acme_directory), "ACME directory URL (default: Let's Encrypt's, Google's with -certmode gcp); given, TLS is served on any -a port" },
	{ "acme-ca-file", F_STRING, CF(acme_ca_file), "PEM file of the CAs trusted for -acme-directory's HTTPS (default: " ACME_SYSTEM_CA ")" },
	{ "config", F_STRING, CF(config_file), "file of flag = value lines, read before the command line (which wins)" },
	{ "workers", F_INT, CF(workers), "worker processes (default: number of CPUs)" },
	{ "placement", F_STRING, CF(placement), "how connections are spread over workers: hash (of the client's address and port) or source-port (TCP source port % workers: predictable, for tests and benchmarks; Linux clients pick even ports); dead workers get none" },
	{ "user", F_STRING, CF(user), "unprivileged user to run as after binding (empty: _derpd, else nobody)" },
	{ "no-seccomp", F_BOOL, CF(no_seccomp), "DEBUGGING ONLY: run workers without the seccomp sandbox" },
	{ "verbose", F_BOOL, CF(verbose), "log connection-level events" },
	{ "max-clients", F_INT, CF(max_clients), "most clients connected at once, over all workers" },
	{ "ring-kib", F_INT, CF(ring_kib), "KiB of a worker's packet pool its records for one other worker may fill (power of two, >= 256); the pool holds up to four such shares" },
	{ "queue-kib", F_INT, CF(queue_kib), "KiB of replies (Pong, PeerGone) queued to a client that does not read before they are dropped; a mesh link queues four times this" },
	{ "queue-budget-mib", F_INT, CF(queue_budget_mib), "MiB per worker for packets queued to clients (32 per client, and 32 disco, as derper); past it a client's new packet takes the room of its own oldest, or is dropped if it has none" },
	{ "keepalive", F_DURATION, CF(keepalive_ms), "interval between KeepAlive frames" },
	{ "handshake-timeout", F_DURATION, CF(handshake_timeout_ms), "time allowed from accept to a completed DERP handshake" },
	{ "login-memory-mib", F_INT, CF(login_memory_mib), "MiB per worker for connections that have not finished the DERP login; past it the oldest are closed" },
	{ "allow-keys", F_STRING, CF(allow_keys), "file of node keys admitted (nodekey:<hex> a line); reread on SIGHUP" },
	{ "verify-interval", F_DURATION, CF(verify_interval_ms), "verify connected clients again this often (they are on every SIGHUP); 0: never" },
	{ "client-ca", F_STRING, CF(client_ca), "PEM CA certificates: TLS clients must present a certificate from one" },
	{ "client-crl", F_STRING, CF(client_crl), "PEM certificate revocation lists for -client-ca" },
	{ "mesh-ca-file", F_STRING, CF(mesh_ca_file), "PEM certificates to verify -mesh-with peers against, instead of the system's roots" },
	{ "mesh-client-cert", F_STRING, CF(mesh_client_cert), "PEM certificate chain the mesh links present to peers that ask (-client-ca there); with -mesh-client-key" },
	{ "mesh-client-key", F_STRING, CF(mesh_client_key), "PEM private key of -mesh-client-cert; read as root, held by the key process only" },
};

#define NFLAGS	(sizeof(flags) / sizeof(flags[0]))
#define DERPER_DEFAULT_HOSTNAME	"derp.tailscale.com"

static char default_certdir[4096], default_secrets_cache[4096];

static void
set_defaults(struct config *cfg)
{
	const char *cache = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");

	memset(cfg, 0, sizeof(*cfg));
	cfg->addr = ":443";
	cfg->config_path = "";
	cfg->hostname = DERPER_DEFAULT_HOSTNAME;
	cfg->certmode = "letsencrypt";
	/* derper: os.UserCacheDir()/tailscale/derper-certs */
	if (cache != NULL && *cache != '\0')
		snprintf(default_certdir, sizeof(default_certdir),
		    "%s/tailscale/derper-certs", cache);
	else
		snprintf(default_certdir, sizeof(default_certdir),
		    "%s/.cache/tailscale/derper-certs", home ? home : "");
	cfg->certdir = default_certdir;
	cfg->http_port = 80;
	cfg->stun_port = 3478;
	cfg->run_stun = 1;
	cfg->run_derp = 1;
	cfg->home = "";
	cfg->mesh_psk_file = "";
	cfg->mesh_with = "";
	cfg->bootstrap_dns_names = "";
	cfg->unpublished_dns_names = "";
	cfg->verify_client_url = "";
	cfg->verify_fail_open = 1;
	cfg->socket_path = "";
	cfg->accept_conn_limit = INFINITY;
	cfg->accept_conn_burst = INT64_MAX;
	cfg->rate_config = "";
	cfg->secrets_url = "";
	cfg->secrets_path_prefix = "prod/derp";
	/* derper: $HOME/.cache/derper-secrets */
	snprintf(default_secrets_cache, sizeof(default_secrets_cache),
	    "%s/.cache/derper-secrets", home ? home : "");
	cfg->secrets_cache_dir = default_secrets_cache;
	cfg->acme_eab_kid = "";
	cfg->acme_eab_key = "";
	cfg->acme_email = "";
	cfg->acme_directory = "";
	cfg->acme_ca_file = "";
	cfg->tcp_keepalive_ms = 10 * 60 * 1000;
	cfg->tcp_user_timeout_ms = 15 * 1000;
	cfg->tcp_write_timeout_ms = 2 * 1000;
	cfg->workers = INT64_MIN;	/* not given: one per CPU */
	cfg->placement = "hash";
	cfg->user = "";
	cfg->max_clients = 65536;
	cfg->ring_kib = 1024;
	cfg->queue_kib = 512;
	cfg->queue_budget_mib = 128;
	cfg->keepalive_ms = 60 * 1000;
	cfg->handshake_timeout_ms = 10 * 1000;
	cfg->login_memory_mib = 32;
	cfg->allow_keys = "";
	cfg->client_ca = "";
	cfg->client_crl = "";
	cfg->mesh_ca_file = "";
	cfg->mesh_client_cert = "";
	cfg->mesh_client_key = "";
}

/* A duration as Go prints one: "10m0s", "15s", "1.5s", "250ms". */
static void
format_duration(char *buf, size_t len, int64_t ms)
{
	int64_t h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60;
	char frac[8] = "";
	int n = 0;

	if (ms < 1000) {
		snprintf(buf, len, "%lldms", (long long)ms);
		return;
	}
	if (ms % 1000 != 0) {
		snprintf(frac, sizeof(frac), ".%03lld", (long long)(ms % 1000));
		while (frac[strlen(frac) - 1] == '0')
			frac[strlen(frac) - 1] = '\0';
	}
	if (h > 0)
		n = snprintf(buf, len, "%lldh", (long long)h);
	if (h > 0 || m > 0)
		n += snprintf(buf + n, len - n, "%lldm", (long long)m);
	snprintf(buf + n, len - n, "%lld%ss", (long long)s, frac);
}

/* Go's flag.PrintDefaults: " (default ...)" unless it is the zero value. */
static void
format_default(char *buf, size_t len, const struct flag *f,
    const struct config *def)
{
	const void *p = (const char *)def + f->off;
	char d[64];

	*buf = '\0';
	switch (f->type) {
	case F_BOOL:
		if (*(const int *)p)
			snprintf(buf, len, " (default true)");
		break;
	case F_STRING:
		if (*(const char *const *)p != NULL &&
		    **(const char *const *)p != '\0')
			snprintf(buf, len, " (default \"%s\")", *(const char *const *)p);
		break;
	case F_INT:	/* INT64_MIN: computed at start-up, said in the help */
		if (*(const int64_t *)p != 0 && *(const int64_t *)p != INT64_MIN)
			snprintf(buf, len, " (default %lld)",
			    (long long)*(const int64_t *)p);
		break;
	case F_FLOAT:
		if (isinf(*(const double *)p))
			snprintf(buf, len, " (default %sInf)",
			    *(const double *)p > 0 ? "+" : "-");
		else if (*(const double *)p != 0)
			snprintf(buf, len, " (default %g)", *(const double *)p);
		break;
	case F_DURATION:
		if (*(const int64_t *)p != 0) {
			format_duration(d, sizeof(d), *(const int64_t *)p);
			snprintf(buf, len, " (default %s)", d);
		}
		break;
	}
}

static int
cmp_flag(const void *a, const void *b)
{
	return strcmp((*(const struct flag *const *)a)->name,
	    (*(const struct flag *const *)b)->name);
}

/* The layout of Go's flag package: sorted, with type names and defaults. */
static void
usage(FILE *f)
{
	static const char *const type_names[] = {
		[F_BOOL] = "", [F_STRING] = " string", [F_INT] = " int",
		[F_FLOAT] = " float", [F_DURATION] = " duration",
	};
	const struct flag *sorted[NFLAGS];
	struct config def;
	char dflt[4200];
	size_t i;

	set_defaults(&def);
	for (i = 0; i < NFLAGS; i++)
		sorted[i] = &flags[i];
	qsort(sorted, NFLAGS, sizeof(sorted[0]), cmp_flag);
	fprintf(f, "Usage of derpd:\n");
	for (i = 0; i < NFLAGS; i++) {
		format_default(dflt, sizeof(dflt), sorted[i], &def);
		fprintf(f, "  -%s%s\n    \t%s%s\n", sorted[i]->name,
		    type_names[sorted[i]->type], sorted[i]->help, dflt);
	}
}

static void
usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	usage(stderr);
	exit(2);
}

static int
parse_go_bool(const char *s, int *out)
{
	static const char *yes[] = { "1", "t", "T", "true", "TRUE", "True" };
	static const char *no[] = { "0", "f", "F", "false", "FALSE", "False" };
	size_t i;

	for (i = 0; i < 6; i++) {
		if (strcmp(s, yes[i]) == 0)
			return *out = 1, 0;
		if (strcmp(s, no[i]) == 0)
			return *out = 0, 0;
	}
	return -1;
}

static int
parse_int(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

#define DUR_MAX	((uint64_t)1 << 63)	/* Go's limit, in nanoseconds */

/* Go's leadingInt: decimal digits; -1 past DUR_MAX. */
static int
leading_int(const char **sp, uint64_t *out)
{
	const char *s = *sp;
	uint64_t x = 0;

	for (; *s >= '0' && *s <= '9'; s++) {
		if (x > DUR_MAX / 10)
			return -1;
		x = x * 10 + (uint64_t)(*s - '0');
		if (x > DUR_MAX)
			return -1;
	}
	*out = x;
	*sp = s;
	return 0;
}

/* Go's leadingFraction: digits after the point, as x / scale; digits past
 * what 63 bits hold are read and ignored. */
static void
leading_fraction(const char **sp, uint64_t *x, double *scale)
{
	const char *s = *sp;
	int overflow = 0;

	*x = 0;
	*scale = 1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (overflow || *x > (DUR_MAX - 1) / 10) {
			overflow = 1;
			continue;
		}
		*x = *x * 10 + (uint64_t)(*s - '0');
		*scale *= 10;
	}
	*sp = s;
}

/* Go's unit: everything up to the next '.' or digit, in nanoseconds. */
static uint64_t
unit_ns(const char **sp)
{
	static const struct { const char *unit; uint64_t ns; } units[] = {
		{ "ns", 1 }, { "us", 1000 }, { "\xc2\xb5s", 1000 },
		{ "\xce\xbcs", 1000 }, { "ms", 1000000 }, { "s", 1000000000 },
		{ "m", 60000000000 }, { "h", 3600000000000 },
	};
	const char *s = *sp;
	size_t n, i;

	for (n = 0; s[n] != '\0' && s[n] != '.' && (s[n] < '0' || s[n] > '9'); n++)
		;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strlen(units[i].unit) == n && strncmp(s, units[i].unit, n) == 0) {
			*sp = s + n;
			return units[i].ns;
		}
	return 0;
}

/*
 * Go's time.ParseDuration, to the nanosecond (integer parts exactly, the
 * fraction as Go computes it), then truncated to our milliseconds.
 */
int
parse_go_duration(const char *s, int64_t *ms)
{
	uint64_t total = 0, v, f, unit;
	const char *start;
	double scale;
	int neg = 0, pre, post;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (strcmp(s, "0") == 0)
		return *ms = 0, 0;
	if (*s == '\0')
		return -1;
	while (*s != '\0') {
		start = s;
		if (leading_int(&s, &v) != 0)
			return -1;
		pre = s != start;
		f = 0;
		scale = 1;
		post = 0;
		if (*s == '.') {
			start = ++s;
			leading_fraction(&s, &f, &scale);
			post = s != start;
		}
		if ((!pre && !post) || (unit = unit_ns(&s)) == 0)
			return -1;
		if (v > DUR_MAX / unit)
			return -1;
		v *= unit;
		if (f > 0 && (v += (uint64_t)((double)f * ((double)unit /
		    scale))) > DUR_MAX)
			return -1;
		if ((total += v) > DUR_MAX)
			return -1;
	}
	if (!neg && total > DUR_MAX - 1)
		return -1;
	/* Milliseconds are our resolution; never round a real duration to 0. */
	*ms = (int64_t)(total / 1000000);
	if (total > 0 && *ms == 0)
		*ms = 1;
	if (neg)
		*ms = -*ms;
	return 0;
}

static const struct flag *
find_flag(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < NFLAGS; i++)
		if (strlen(flags[i].name) == len &&
		    strncmp(flags[i].name, name, len) == 0)
			return &flags[i];
	return NULL;
}

static void
set_flag(struct config *cfg, const struct flag *f, const char *v)
{
	void *dst = (char *)cfg + f->off;
	char *end;
	int ok = 0;

	switch (f->type) {
	case F_BOOL:
		ok = parse_go_bool(v, dst) == 0;
		break;
	case F_STRING:
		*(const char **)dst = v;
		ok = 1;
		break;
	case F_INT:
		ok = parse_int(v, dst) == 0;
		break;
	case F_FLOAT:
		errno = 0;
		*(double *)dst = strtod(v, &end);
		ok = errno == 0 && end != v && *end == '\0';
		break;
	case F_DURATION:
		ok = parse_go_duration(v, dst) == 0;
		break;
	}
	if (!ok) {
		fprintf(stderr, "invalid value \"%s\" for flag -%s\n", v, f->name);
		usage(stderr);
		exit(2);
	}
}

static int addr_given;

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && strchr(" \t\r\n", e[-1]) != NULL)
		*--e = '\0';
	return s;
}

/*
 * A copy of a -config file's string value that lives as long as the
 * process: the configuration points into it, even after the command line
 * replaced it.
 */
static char *
keep_string(const char *v)
{
	static char **kept;
	static size_t nkept;
	char **grown;

	if ((grown = reallocarray(kept, nkept + 1, sizeof(*kept))) == NULL ||
	    (grown[nkept] = strdup(v)) == NULL)
		fatal("config file");
	kept = grown;
	return kept[nkept++];
}

/* One "flag = value" line of a -config file; "#" starts a comment. */
static void
config_line(struct config *cfg, char *line, const char *path, int lineno)
{
	const struct flag *f;
	char *eq, *key, *val;
	size_t vlen;

	line = trim(line);
	if (*line == '\0' || *line == '#')
		return;
	if ((eq = strchr(line, '=')) == NULL)
		fatalx("%s:%d: want \"flag = value\"", path, lineno);
	*eq = '\0';
	key = trim(line);
	val = trim(eq + 1);
	while (*key == '-')
		key++;
	vlen = strlen(val);
	if (vlen >= 2 && val[0] == '"' && val[vlen - 1] == '"') {
		val[vlen - 1] = '\0';
		val++;
	}
	if ((f = find_flag(key, strlen(key))) == NULL || f->off == CF(config_file))
		fatalx("%s:%d: unknown flag \"%s\"", path, lineno, key);
	if (f->off == CF(addr))
		addr_given = 1;
	if (f->type == F_STRING)
		val = keep_string(val);
	set_flag(cfg, f, val);
}

static void
load_config_file(struct config *cfg, const char *path)
{
	char line[4096];
	FILE *fp;
	int lineno = 0;

	if ((fp = fopen(path, "re")) == NULL)
		fatal("config file %s", path);
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp))
			fatalx("%s:%d: line too long", path, lineno);
		config_line(cfg, line, path, lineno);
	}
	fclose(fp);
}

/* Finds -config in argv (Go syntax), so that its file is read first. */
static const char *
find_config_arg(int argc, char **argv)
{
	const struct flag *fl;
	const char *a, *eq;
	int i;

	for (i = 1; i < argc; i++) {
		a = argv[i];
		if (a[0] != '-' || strcmp(a, "--") == 0 || strcmp(a, "-") == 0)
			return NULL;
		a += a[1] == '-' ? 2 : 1;
		eq = strchr(a, '=');
		fl = find_flag(a, eq ? (size_t)(eq - a) : strlen(a));
		if (fl == NULL)
			return NULL;	/* parse_args reports it */
		if (fl->off == CF(config_file))
			return eq ? eq + 1 : i + 1 < argc ? argv[i + 1] : NULL;
		if (eq == NULL && fl->type != F_BOOL)
			i++;	/* its value */
	}
	return NULL;
}

/* Go's flag package: stops at the first non-flag argument or "--". */
static void
parse_args(struct config *cfg, int argc, char **argv)
{
	const struct flag *f;
	const char *arg, *name, *eq;
	int i;

	for (i = 1; i < argc; i++) {
		arg = argv[i];
		if (arg[0] != '-' || arg[1] == '\0')
			break;
		name = arg + 1;
		if (*name == '-') {
			name++;
			if (*name == '\0') {
				i++;	/* "--" ends the flags */
				break;
			}
		}
		if (*name == '-' || *name == '=')
			usage_error("bad flag syntax: %s", arg);
		eq = strchr(name, '=');
		if (strcmp(name, "h") == 0 || strcmp(name, "help") == 0) {
			usage(stdout);
			exit(0);
		}
		f = find_flag(name, eq ? (size_t)(eq - name) : strlen(name));
		if (f == NULL)
			usage_error("flag provided but not defined: -%s", name);
		if (f->off == CF(addr))
			addr_given = 1;
		if (eq != NULL)
			set_flag(cfg, f, eq + 1);
		else if (f->type == F_BOOL)
			set_flag(cfg, f, "true");
		else if (i + 1 < argc)
			set_flag(cfg, f, argv[++i]);
		else
			usage_error("flag needs an argument: -%s", name);
	}
	if (i < argc)	/* derper takes none either */
		usage_error("unexpected argument: %s", argv[i]);
}

/* Accepted for derper compatibility, but not implemented yet: refuse. */
static void
refuse_unimplemented(const struct config *cfg)
{
	const char *what = NULL;

	if (*cfg->secrets_url != '\0')
		what = "-secrets-url (use -mesh-psk-file)";
	else if (cfg->ace)
		what = "-ace";
	if (what != NULL)
		fatalx("not implemented yet in derpd: %s", what);
}

static int
is_ip_literal(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/*
 * derper takes the EAB key as base64url or, as gcloud prints it, standard
 * base64 with padding; the engine wants base64url.
 */
static const char *
eab_key_base64url(const char *key)
{
	char *k, *p;

	if (strpbrk(key, "+/=") == NULL)
		return key;
	if ((k = strdup(key)) == NULL)
		fatal("strdup");
	for (p = k; *p != '\0'; p++)
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	while (p > k && p[-1] == '=')
		*--p = '\0';
	return k;
}

/* derper's rules for ACME (cmd/derper/cert.go), and derpd's own refusal of
 * derper's default hostname, which is Tailscale's and never this relay's. */
static void
check_acme(struct config *cfg)
{
	int ip = is_ip_literal(cfg->hostname), gcp = strcmp(cfg->certmode, "gcp") == 0;

	if (*cfg->certdir == '\0')
		fatalx("missing required -certdir flag");
	if (gcp && ip)
		fatalx("-certmode gcp requires -hostname to be a DNS name, not an IP address");
	if (gcp && (*cfg->acme_email == '\0' || *cfg->acme_eab_kid == '\0' ||
	    *cfg->acme_eab_key == '\0'))
		fatalx("-certmode gcp requires -acme-email, -acme-eab-kid and "
		    "-acme-eab-key (from \"gcloud publicca external-account-keys "
		    "create\")");
	if ((*cfg->acme_eab_kid == '\0') != (*cfg->acme_eab_key == '\0'))
		fatalx("-acme-eab-kid and -acme-eab-key go together");
	cfg->acme_eab_key = eab_key_base64url(cfg->acme_eab_key);
	if (cfg->acme_ip_certs && cfg->http_port < 0)
		fatalx("-acme-ip-certs needs -http-port: IP address certificates "
		    "are validated by HTTP-01");
	if (ip && !cfg->acme_ip_certs)
		fatalx("-hostname is an IP address; use -certmode manual for a "
		    "self-signed certificate, or -acme-ip-certs to get Let's Encrypt "
		    "IP address certificates");
	if (strcmp(cfg->hostname, DERPER_DEFAULT_HOSTNAME) == 0 &&
	    !cfg->acme_ip_certs)
		fatalx("-certmode %s needs -hostname set to this relay's DNS name "
		    "(\"%s\" is derper's default, Tailscale's own relays' name); "
		    "or use -acme-ip-certs for IP address certificates, or "
		    "-certmode manual", cfg->certmode, DERPER_DEFAULT_HOSTNAME);
	if (*cfg->acme_directory == '\0')
		cfg->acme_directory = gcp ? ACME_DIR_GCP : ACME_DIR_LETSENCRYPT;
	if (*cfg->acme_ca_file == '\0')
		cfg->acme_ca_file = ACME_SYSTEM_CA;
}

/*
 * derper serves TLS on :443 or with -certmode manual; derpd also with an
 * -acme-directory, which names a CA to use (tests, private CAs on another
 * port). With TLS, letsencrypt and gcp run the ACME client.
 */
static void
choose_tls(struct config *cfg)
{
	int manual = strcmp(cfg->certmode, "manual") == 0;

	if (!manual && strcmp(cfg->certmode, "letsencrypt") != 0 &&
	    strcmp(cfg->certmode, "gcp") != 0)
		fatalx("unsupported -certmode \"%s\": manual, letsencrypt or gcp",
		    cfg->certmode);
	cfg->tls = cfg->listen_port == 443 || manual ||
	    *cfg->acme_directory != '\0';
	cfg->acme = cfg->tls && !manual;
	if (cfg->tls && cfg->acme_ip_certs && strcmp(cfg->certmode, "letsencrypt") != 0)
		fatalx("-acme-ip-certs requires -certmode letsencrypt");
	if (cfg->acme)
		check_acme(cfg);
}

/* A port in an address is decimal, leading zeros and all, as in Go. */
static int
parse_port(const char *s, int64_t *port)
{
	int64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || (v = v * 10 + (*s - '0')) > 65535)
			return -1;
	}
	*port = v;
	return 0;
}

static void
split_addr(struct config *cfg)
{
	const char *a = cfg->addr, *colon, *host;
	size_t hlen;
	int64_t port;

	if (a[0] == '[') {
		const char *close = strchr(a, ']');

		if (close == NULL || close[1] != ':')
			fatalx("invalid -a address \"%s\"", a);
		host = a + 1;
		hlen = close - host;
		colon = close + 1;
	} else {
		colon = strrchr(a, ':');
		if (colon == NULL || strchr(a, ':') != colon)
			fatalx("invalid -a address \"%s\": want \":port\", "
			    "\"ip:port\" or \"[ip]:port\"", a);
		host = a;
		hlen = colon - a;
	}
	if (hlen >= sizeof(cfg->listen_host))
		fatalx("invalid -a address \"%s\"", a);
	memcpy(cfg->listen_host, host, hlen);
	cfg->listen_host[hlen] = '\0';
	if (parse_port(colon + 1, &port) != 0)
		fatalx("invalid port in -a address \"%s\"", a);
	cfg->listen_port = (int)port;
}

/* Who may use the relay: settings that make sense together. */
static void
check_access(const struct config *cfg)
{
	const char *url = cfg->verify_client_url;

	if (*url != '\0' && strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0)
		fatalx("-verify-client-url must be an http:// or https:// URL");
	if (strpbrk(url, " \t\r\n") != NULL || strlen(url) > 2048)
		fatalx("-verify-client-url is not a valid URL");
	if (cfg->verify_interval_ms != 0 && cfg->verify_interval_ms < 1000)
		fatalx("-verify-interval must be 0 (off) or at least 1s");
	if (cfg->verify_interval_ms != 0 && !cfg->verify_on)
		fatalx("-verify-interval needs -verify-clients, -verify-client-url "
		    "or -allow-keys");
	if (*cfg->client_crl != '\0' && *cfg->client_ca == '\0')
		fatalx("-client-crl needs -client-ca");
	if (*cfg->client_ca != '\0' && !cfg->tls)
		fatalx("-client-ca needs TLS (port 443 in -a, -certmode manual or "
		    "-acme-directory)");
	/* mTLS keeps unauthenticated bytes away from the HTTP parser: all of them. */
	if (*cfg->client_ca != '\0' && cfg->http_port >= 0)
		fatalx("-client-ca: the plain-HTTP port (-http-port) would parse "
		    "requests from anyone; pass -http-port=-1");
	if ((*cfg->mesh_client_cert == '\0') != (*cfg->mesh_client_key == '\0'))
		fatalx("-mesh-client-cert and -mesh-client-key go together");
	if (*cfg->mesh_client_cert != '\0' && *cfg->mesh_with == '\0')
		fatalx("-mesh-client-cert needs -mesh-with");
}

static void
check_ranges(const struct config *cfg)
{
	if (*cfg->home != '\0' && strcmp(cfg->home, "blank") != 0 &&
	    strncmp(cfg->home, "http://", 7) != 0 &&
	    strncmp(cfg->home, "https://", 8) != 0)
		fatalx("unknown -home value \"%s\": want empty, \"blank\" or a URL",
		    cfg->home);
	if (strpbrk(cfg->home, "\r\n") != NULL || strlen(cfg->home) > 1024)
		fatalx("-home URL is not valid");
	if (cfg->tls && cfg->http_port >= 0 &&
	    (cfg->http_port < 1 || cfg->http_port > 65535 ||
	    cfg->http_port == cfg->listen_port))
		fatalx("-http-port must be a port other than -a's, or -1");
	if (cfg->accept_conn_limit < 0 || cfg->accept_conn_burst < 0)
		fatalx("-accept-connection-limit/-burst must not be negative");
	if (cfg->run_stun && (cfg->stun_port < 1 || cfg->stun_port > 65535))
		fatalx("-stun-port must be between 1 and 65535");
	if (cfg->workers < 1 || cfg->workers > 64)
		fatalx("-workers must be between 1 and 64");
	if (strcmp(cfg->placement, "source-port") != 0 &&
	    strcmp(cfg->placement, "hash") != 0)
		fatalx("unknown -placement \"%s\": want source-port or hash",
		    cfg->placement);
	if (cfg->max_clients < 16 || cfg->max_clients > (1 << 24))
		fatalx("-max-clients must be between 16 and 16777216");
	if (cfg->ring_kib < 256 || cfg->ring_kib > (1 << 20) ||
	    (cfg->ring_kib & (cfg->ring_kib - 1)) != 0)
		fatalx("-ring-kib must be a power of two between 256 and 1048576");
	if (cfg->queue_kib < 128 || cfg->queue_kib > (1 << 20))
		fatalx("-queue-kib must be between 128 and 1048576");
	if (cfg->queue_budget_mib < 8 || cfg->queue_budget_mib > (1 << 20))
		fatalx("-queue-budget-mib must be between 8 and 1048576");
	if (cfg->keepalive_ms < 100)
		fatalx("-keepalive must be at least 100ms");
	if (cfg->handshake_timeout_ms < 100)
		fatalx("-handshake-timeout must be at least 100ms");
	if (cfg->login_memory_mib < 1 || cfg->login_memory_mib > (1 << 20))
		fatalx("-login-memory-mib must be between 1 and 1048576");
	if (cfg->tcp_write_timeout_ms < 0 || cfg->tcp_user_timeout_ms < 0 ||
	    cfg->tcp_keepalive_ms < 0)
		fatalx("TCP timeouts must not be negative");
	check_access(cfg);
}

void
flags_parse(struct config *cfg, int argc, char **argv)
{
	const char *path;
	long ncpu;

	set_defaults(cfg);
	addr_given = 0;
	if ((path = find_config_arg(argc, argv)) != NULL)
		load_config_file(cfg, path);
	parse_args(cfg, argc, argv);
	if (cfg->version)
		return;
	if (cfg->dev && !addr_given)
		cfg->addr = "127.0.0.1:3340";
	if (cfg->workers == INT64_MIN) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		cfg->workers = ncpu < 1 ? 1 : ncpu > 64 ? 64 : ncpu;
	}
	split_addr(cfg);
	choose_tls(cfg);
	cfg->verify_on = cfg->verify_clients || *cfg->verify_client_url != '\0' ||
	    *cfg->allow_keys != '\0';
	check_ranges(cfg);
	refuse_unimplemented(cfg);
}
