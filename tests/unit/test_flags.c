/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for master/flags.c: Go-style flags and durations.
 *
 * flags_parse() exits the process on any error, so every call runs in a
 * forked child: it leaves the parsed config in shared
 * memory and its exit status and output for the parent to check. The parent
 * itself never calls flags_parse(), so every child starts fresh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "flags.h"

/* ---- parse_go_duration ---- */

static void
expect_duration(const char *s, int64_t want)
{
	int64_t ms = 0x7777;

	if (parse_go_duration(s, &ms) != 0)
		fail_msg("parse_go_duration(\"%s\") failed", s);
	if (ms != want)
		fail_msg("parse_go_duration(\"%s\") = %lld ms, want %lld", s,
		    (long long)ms, (long long)want);
}

static void
expect_bad_duration(const char *s)
{
	int64_t ms = 0x7777;

	if (parse_go_duration(s, &ms) != -1)
		fail_msg("parse_go_duration(\"%s\") accepted: %lld ms", s,
		    (long long)ms);
	assert_int_equal(ms, 0x7777);
}

static void
test_duration_valid(void **state)
{
	(void)state;
	expect_duration("0", 0);
	expect_duration("-0", 0);
	expect_duration("10m", 600000);
	expect_duration("15s", 15000);
	expect_duration("1h2m3.5s", 3723500);
	expect_duration("250ms", 250);
	expect_duration("1.5h", 5400000);
	expect_duration("-1s", -1000);
	expect_duration("+2s", 2000);
	expect_duration("100us", 1);		/* rounded up: never 0 */
	expect_duration("1500us", 1);
	expect_duration("2000000ns", 2);
	expect_duration("3\xc2\xb5s", 1);	/* U+00B5 micro sign */
	expect_duration("4000\xce\xbcs", 4);	/* U+03BC mu */
	expect_duration(".5s", 500);
	expect_duration("1.s", 1000);
	expect_duration("1m1m", 120000);
	expect_duration("0s", 0);
	/* Decimal fractions exactly, as Go's integer nanoseconds (a double
	 * sum made 1.001s 1000 ms: found by tests/fuzz/fuzz_flags.c). */
	expect_duration("1.001s", 1001);
	expect_duration("45.554s", 45554);
	expect_duration("0.3s", 300);
	expect_duration("2562047h47m16.854775807s", 9223372036854);
}

static void
test_duration_invalid(void **state)
{
	(void)state;
	expect_bad_duration("");
	expect_bad_duration("10");
	expect_bad_duration("1x");
	expect_bad_duration("s");
	expect_bad_duration("1..5s");
	expect_bad_duration("-");
	expect_bad_duration("+");
	expect_bad_duration(".");
	expect_bad_duration(".s");
	expect_bad_duration("1s ");
	expect_bad_duration(" 1s");
	expect_bad_duration("1 s");
	expect_bad_duration("1s2");
	expect_bad_duration("--1s");
	expect_bad_duration("1h-1m");
	expect_bad_duration("1S");
	expect_bad_duration("1sec");
	expect_bad_duration("10000000000h");	/* beyond Go's ~292 years */
	expect_bad_duration("3000000h");
	expect_bad_duration("2562047h47m16.854775808s");	/* 2^63 ns */
}

/*
 * Go's time.ParseDuration takes decimal numbers only: no exponents, no hex
 * (strtod would take both).
 */
static void
test_duration_rejects_exponent_and_hex(void **state)
{
	(void)state;
	expect_bad_duration("1e3s");
	expect_bad_duration("0x10s");
	expect_bad_duration("1E1m");
}

/* ---- flags_parse in a child ---- */

struct result {
	struct config	cfg;
	char		addr[256];
	char		certmode[64];
	char		config_file[256];
	char		acme_directory[256];
	char		acme_ca_file[256];
	char		acme_eab_key[256];
	char		out[8192];	/* the child's stdout and stderr */
};

static struct result *res;

static int
group_setup(void **state)
{
	(void)state;
	res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return res == MAP_FAILED ? -1 : 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	munmap(res, sizeof(*res));
	return 0;
}

static void
copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src != NULL ? src : "(null)");
}

/*
 * Runs flags_parse(argv) in a child. With twice != NULL, the child first
 * parses twice, then argv. Returns the exit status (128 + signal if killed);
 * on 0, res->cfg holds the result.
 */
static int
run2(char **twice, char **argv)
{
	int pfd[2], status, argc = 0;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	while (argv[argc] != NULL)
		argc++;
	memset(res, 0, sizeof(*res));
	assert_int_equal(pipe(pfd), 0);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		close(pfd[1]);
		if (twice != NULL) {
			int c2 = 0;

			while (twice[c2] != NULL)
				c2++;
			flags_parse(&res->cfg, c2, twice);
		}
		flags_parse(&res->cfg, argc, argv);
		copy_str(res->addr, sizeof(res->addr), res->cfg.addr);
		copy_str(res->certmode, sizeof(res->certmode), res->cfg.certmode);
		copy_str(res->config_file, sizeof(res->config_file),
		    res->cfg.config_file);
		copy_str(res->acme_directory, sizeof(res->acme_directory),
		    res->cfg.acme_directory);
		copy_str(res->acme_ca_file, sizeof(res->acme_ca_file),
		    res->cfg.acme_ca_file);
		copy_str(res->acme_eab_key, sizeof(res->acme_eab_key),
		    res->cfg.acme_eab_key);
		fflush(stdout);
		_exit(0);
	}
	close(pfd[1]);
	while (got < sizeof(res->out) - 1 &&
	    (n = read(pfd[0], res->out + got, sizeof(res->out) - 1 - got)) > 0)
		got += (size_t)n;
	/* Drain anything beyond what we keep. */
	{
		char sink[4096];

		while (read(pfd[0], sink, sizeof(sink)) > 0)
			;
	}
	close(pfd[0]);
	res->out[got] = '\0';
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

static int
run(char **argv)
{
	return run2(NULL, argv);
}

#define ARGV(...)	((char *[]){ "derpd", __VA_ARGS__, NULL })

static void
expect_ok(char **argv)
{
	int st = run(argv);

	if (st != 0)
		fail_msg("exit status %d, want 0; output:\n%.400s", st, res->out);
}

static void
expect_exit(char **argv, int want, const char *msg)
{
	int st = run(argv);

	if (st != want)
		fail_msg("exit status %d, want %d; output:\n%.400s", st, want, res->out);
	if (msg != NULL && strstr(res->out, msg) == NULL)
		fail_msg("output lacks \"%s\":\n%s", msg, res->out);
}

static void
test_defaults(void **state)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	(void)state;
	/* Defaults are :443 with letsencrypt, not implemented: use another port. */
	expect_ok(ARGV("-a", ":8080", "-stun=false"));
	assert_int_equal(res->cfg.run_stun, 0);
	assert_int_equal(res->cfg.run_derp, 1);
	assert_int_equal(res->cfg.http_port, 80);
	assert_int_equal(res->cfg.stun_port, 3478);
	assert_int_equal(res->cfg.tcp_write_timeout_ms, 2000);
	assert_int_equal(res->cfg.tcp_user_timeout_ms, 15000);
	assert_int_equal(res->cfg.tcp_keepalive_ms, 600000);
	assert_int_equal(res->cfg.max_clients, 65536);
	assert_int_equal(res->cfg.workers, ncpu < 1 ? 1 : ncpu > 64 ? 64 : ncpu);
	assert_string_equal(res->certmode, "letsencrypt");
	assert_int_equal(res->cfg.tls, 0);
	assert_int_equal(res->cfg.dev, 0);
}

static void
test_go_syntax_forms(void **state)
{
	(void)state;
	expect_ok(ARGV("-a", ":1234", "-stun=false"));
	assert_string_equal(res->addr, ":1234");
	assert_int_equal(res->cfg.listen_port, 1234);

	expect_ok(ARGV("--a=:1235", "--stun=false"));
	assert_int_equal(res->cfg.listen_port, 1235);

	expect_ok(ARGV("-a=:1236", "-workers=3", "-stun=false"));
	assert_int_equal(res->cfg.workers, 3);

	expect_ok(ARGV("-a", ":1237", "--workers", "5", "-stun=0"));
	assert_int_equal(res->cfg.workers, 5);
	assert_int_equal(res->cfg.run_stun, 0);
}

static void
test_bool_flags(void **state)
{
	(void)state;
	expect_ok(ARGV("-dev", "-stun=false", "-verbose"));
	assert_int_equal(res->cfg.dev, 1);
	assert_int_equal(res->cfg.verbose, 1);
	assert_int_equal(res->cfg.run_stun, 0);

	expect_ok(ARGV("-dev=true", "-stun=F", "-verbose=false", "-derp=T"));
	assert_int_equal(res->cfg.dev, 1);
	assert_int_equal(res->cfg.verbose, 0);
	assert_int_equal(res->cfg.run_stun, 0);
	assert_int_equal(res->cfg.run_derp, 1);

	expect_ok(ARGV("-dev", "-stun=FALSE", "-derp=0"));
	assert_int_equal(res->cfg.run_derp, 0);
}

static void
test_duration_flags(void **state)
{
	(void)state;
	expect_ok(ARGV("-dev", "-stun=false", "-tcp-write-timeout", "5s",
	    "-keepalive=1m30s", "-handshake-timeout", "250ms"));
	assert_int_equal(res->cfg.tcp_write_timeout_ms, 5000);
	assert_int_equal(res->cfg.keepalive_ms, 90000);
	assert_int_equal(res->cfg.handshake_timeout_ms, 250);

	expect_ok(ARGV("-dev", "-stun=false", "-tcp-write-timeout=0"));
	assert_int_equal(res->cfg.tcp_write_timeout_ms, 0);
}

static void
test_listen_address_forms(void **state)
{
	(void)state;
	expect_ok(ARGV("-a", ":443", "-certmode", "manual", "-http-port=-1",
	    "-stun=false"));
	assert_string_equal(res->cfg.listen_host, "");
	assert_int_equal(res->cfg.listen_port, 443);

	expect_ok(ARGV("-a", "127.0.0.1:3340", "-stun=false"));
	assert_string_equal(res->cfg.listen_host, "127.0.0.1");
	assert_int_equal(res->cfg.listen_port, 3340);

	expect_ok(ARGV("-a", "[::1]:8443", "-stun=false"));
	assert_string_equal(res->cfg.listen_host, "::1");
	assert_int_equal(res->cfg.listen_port, 8443);

	expect_ok(ARGV("-a", "[fe80::1%eth0]:80", "-stun=false"));
	assert_string_equal(res->cfg.listen_host, "fe80::1%eth0");
	assert_int_equal(res->cfg.listen_port, 80);
}

static void
test_tls_derived_from_port_and_certmode(void **state)
{
	(void)state;
	expect_ok(ARGV("-a", ":443", "-certmode=manual", "-http-port=-1",
	    "-stun=false"));
	assert_int_equal(res->cfg.tls, 1);

	expect_ok(ARGV("-a", ":8443", "-certmode", "manual", "-http-port=-1",
	    "-stun=false"));
	assert_int_equal(res->cfg.tls, 1);

	/* TLS next to plain HTTP on another port. */
	expect_ok(ARGV("-a", ":8443", "-certmode", "manual", "-http-port=8080",
	    "-stun=false"));
	assert_int_equal(res->cfg.tls, 1);
	assert_int_equal(res->cfg.http_port, 8080);

	expect_ok(ARGV("-a", ":8443", "-stun=false"));
	assert_int_equal(res->cfg.tls, 0);
	expect_ok(ARGV("-a", "127.0.0.1:80", "-stun=false"));
	assert_int_equal(res->cfg.tls, 0);

	/* Port 443 means TLS even without -certmode manual: then ACME
	 * (letsencrypt, the default) needs a -hostname of our own. */
	expect_exit(ARGV("-a", ":443", "-stun=false"), 1, "derp.tailscale.com");
	expect_exit(ARGV("-stun=false"), 1, "-hostname");
	expect_ok(ARGV("-a", ":443", "-hostname", "derp.example.com",
	    "-stun=false"));
	assert_int_equal(res->cfg.tls, 1);
	assert_int_equal(res->cfg.acme, 1);
	assert_string_equal(res->acme_directory,
	    "https://acme-v02.api.letsencrypt.org/directory");
	assert_string_equal(res->acme_ca_file, "/etc/ssl/certs/ca-certificates.crt");
	/* An -acme-directory serves TLS with ACME on any port. */
	expect_ok(ARGV("-a", ":8443", "-hostname", "derp.example.com",
	    "-acme-directory", "https://ca.test/dir", "-stun=false"));
	assert_int_equal(res->cfg.tls, 1);
	assert_int_equal(res->cfg.acme, 1);
	assert_string_equal(res->acme_directory, "https://ca.test/dir");
	/* TLS with -http-port equal to -a's port is refused. */
	expect_exit(ARGV("-a", ":8443", "-certmode=manual", "-http-port=8443",
	    "-stun=false"), 1, "-http-port");
}

static void
test_dev_without_a_listens_on_3340(void **state)
{
	(void)state;
	expect_ok(ARGV("-dev", "-stun=false"));
	assert_string_equal(res->addr, "127.0.0.1:3340");
	assert_string_equal(res->cfg.listen_host, "127.0.0.1");
	assert_int_equal(res->cfg.listen_port, 3340);
	assert_int_equal(res->cfg.tls, 0);

	/* -a wins over -dev, whatever the order. */
	expect_ok(ARGV("-dev", "-a", ":9999", "-stun=false"));
	assert_int_equal(res->cfg.listen_port, 9999);
	expect_ok(ARGV("-a", ":9998", "-dev", "-stun=false"));
	assert_int_equal(res->cfg.listen_port, 9998);
}

static void
test_workers_default_is_online_cpus(void **state)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	(void)state;
	expect_ok(ARGV("-dev", "-stun=false"));
	assert_int_equal(res->cfg.workers, ncpu < 1 ? 1 : ncpu > 64 ? 64 : ncpu);
	expect_ok(ARGV("-dev", "-stun=false", "-workers", "64"));
	assert_int_equal(res->cfg.workers, 64);
	expect_ok(ARGV("-dev", "-stun=false", "-workers", "1"));
	assert_int_equal(res->cfg.workers, 1);
}

static void
test_version_flag_returns_early(void **state)
{
	(void)state;
	/* -version skips the address and range checks. */
	expect_ok(ARGV("-version", "-a", "nocolon"));
	assert_int_equal(res->cfg.version, 1);
}

/* ---- exits ---- */

static void
test_exit_2_unknown_flag(void **state)
{
	(void)state;
	expect_exit(ARGV("-nope"), 2, "flag provided but not defined: -nope");
	expect_exit(ARGV("-dev", "-stun=false", "--nope=1"), 2, "nope");
	expect_exit(ARGV("-A", ":80"), 2, NULL);	/* case-sensitive */
}

static void
test_exit_2_bad_value(void **state)
{
	(void)state;
	expect_exit(ARGV("-workers=abc"), 2, "invalid value \"abc\" for flag -workers");
	expect_exit(ARGV("-workers", "3x"), 2, NULL);
	expect_exit(ARGV("-workers="), 2, NULL);
	expect_exit(ARGV("-stun=maybe"), 2, NULL);
	expect_exit(ARGV("-stun=yes"), 2, NULL);
	expect_exit(ARGV("-tcp-write-timeout", "5"), 2, NULL);
	expect_exit(ARGV("-tcp-write-timeout=5 s"), 2, NULL);
	expect_exit(ARGV("-accept-connection-limit=fast"), 2, NULL);
	expect_exit(ARGV("-http-port", "99999999999999999999999"), 2, NULL);
}

static void
test_exit_2_bad_syntax(void **state)
{
	(void)state;
	expect_exit(ARGV("-a"), 2, "flag needs an argument");
	expect_exit(ARGV("---a=:80"), 2, "bad flag syntax");
	expect_exit(ARGV("-=x"), 2, "bad flag syntax");
	expect_exit(ARGV("-dev", "extra"), 2, "unexpected argument");
	/* A bool flag does not take the next argument as its value. */
	expect_exit(ARGV("-dev", "-stun", "false"), 2, "unexpected argument");
}

static void
test_exit_1_bad_listen_address(void **state)
{
	(void)state;
	expect_exit(ARGV("-a", "nocolon", "-stun=false"), 1, "nocolon");
	expect_exit(ARGV("-a", "::1:80", "-stun=false"), 1, NULL);
	expect_exit(ARGV("-a", "[::1]", "-stun=false"), 1, NULL);
	expect_exit(ARGV("-a", "[::1]80", "-stun=false"), 1, NULL);
	expect_exit(ARGV("-a", ":", "-stun=false"), 1, NULL);
	expect_exit(ARGV("-a", ":65536", "-stun=false"), 1, NULL);
	expect_exit(ARGV("-a", ":-1", "-stun=false"), 1, NULL);
	expect_exit(ARGV("-a", ":http", "-stun=false"), 1, NULL);
}

static void
test_exit_1_workers_out_of_range(void **state)
{
	(void)state;
	expect_exit(ARGV("-dev", "-stun=false", "-workers", "65"), 1,
	    "-workers must be between 1 and 64");
	expect_exit(ARGV("-dev", "-stun=false", "-workers=-1"), 1,
	    "-workers must be between 1 and 64");
}

/*
 * An explicit -workers 0 is out of range; only an absent -workers means
 * "one per CPU".
 */
static void
test_exit_1_workers_zero(void **state)
{
	(void)state;
	expect_exit(ARGV("-dev", "-stun=false", "-workers", "0"), 1,
	    "-workers must be between 1 and 64");
}

static void
test_exit_1_other_ranges(void **state)
{
	(void)state;
	expect_exit(ARGV("-dev", "-stun=false", "-ring-kib=300"), 1, "-ring-kib");
	expect_exit(ARGV("-dev", "-stun=false", "-ring-kib=128"), 1, "-ring-kib");
	expect_exit(ARGV("-dev", "-stun=false", "-max-clients=15"), 1, NULL);
	expect_exit(ARGV("-dev", "-stun=false", "-keepalive=99ms"), 1, NULL);
	expect_exit(ARGV("-dev", "-stun=false", "-tcp-write-timeout=-1s"), 1, NULL);
	expect_exit(ARGV("-dev", "-stun-port=0"), 1, "-stun-port");
	expect_exit(ARGV("-dev", "-stun=false", "-home", "ftp://x"), 1, "-home");
	expect_ok(ARGV("-dev", "-stun=false", "-home", "blank"));
	expect_ok(ARGV("-dev", "-stun=false", "-home", "https://example.com/"));
}

/* derper's ACME rules (cmd/derper/cert.go), and derpd's default-hostname one. */
static void
test_acme_flags(void **state)
{
	(void)state;
	expect_exit(ARGV("-a", ":443", "-certmode", "gcp", "-hostname",
	    "derp.example.com", "-stun=false"), 1, "-acme-email, -acme-eab-kid");
	expect_ok(ARGV("-a", ":443", "-certmode", "gcp", "-hostname",
	    "derp.example.com", "-acme-email", "ops@example.com", "-acme-eab-kid",
	    "kid", "-acme-eab-key", "ab+/cd==", "-stun=false"));
	assert_string_equal(res->acme_directory,
	    "https://dv.acme-v02.api.pki.goog/directory");
	assert_string_equal(res->acme_eab_key, "ab-_cd");	/* base64url */
	expect_exit(ARGV("-a", ":443", "-certmode", "gcp", "-hostname",
	    "192.0.2.1", "-stun=false"), 1, "DNS name");
	expect_exit(ARGV("-a", ":443", "-hostname", "192.0.2.1", "-stun=false"),
	    1, "-acme-ip-certs");
	expect_ok(ARGV("-a", ":443", "-hostname", "192.0.2.1", "-acme-ip-certs",
	    "-stun=false"));
	expect_ok(ARGV("-a", ":443", "-acme-ip-certs", "-stun=false"));
	expect_exit(ARGV("-a", ":443", "-acme-ip-certs", "-http-port=-1",
	    "-stun=false"), 1, "HTTP-01");
	expect_exit(ARGV("-a", ":443", "-certmode", "manual", "-acme-ip-certs",
	    "-stun=false"), 1, "requires -certmode letsencrypt");
	expect_exit(ARGV("-a", ":443", "-hostname", "derp.example.com",
	    "-acme-eab-kid", "kid", "-stun=false"), 1, "go together");
	expect_exit(ARGV("-a", ":443", "-hostname", "derp.example.com",
	    "-certdir", "", "-stun=false"), 1, "-certdir");
	expect_exit(ARGV("-a", ":443", "-certmode", "self", "-stun=false"), 1,
	    "unsupported -certmode");
	/* Plain HTTP: no ACME, whatever -certmode says (as derper). */
	expect_ok(ARGV("-a", ":8080", "-certmode", "letsencrypt", "-stun=false"));
	assert_int_equal(res->cfg.acme, 0);
}

static void
test_exit_1_unimplemented(void **state)
{
	(void)state;
	expect_exit(ARGV("-dev", "-stun=false", "-ace"), 1,
	    "not implemented");
	expect_exit(ARGV("-dev", "-stun=false", "-secrets-url", "x"), 1,
	    "not implemented");
}

/* Who may use the relay: settings that cannot work together are refused. */
static void
test_access_control(void **state)
{
	(void)state;
	expect_ok(ARGV("-dev", "-stun=false", "-verify-clients"));
	assert_true(res->cfg.verify_on);
	expect_ok(ARGV("-dev", "-stun=false", "-allow-keys", "/etc/keys",
	    "-verify-interval", "5m"));
	assert_true(res->cfg.verify_on);
	assert_int_equal(res->cfg.verify_interval_ms, 300000);
	expect_ok(ARGV("-dev", "-stun=false"));
	assert_false(res->cfg.verify_on);
	expect_exit(ARGV("-dev", "-stun=false", "-verify-client-url", "ftp://x/"),
	    1, "http:// or https://");
	expect_exit(ARGV("-dev", "-stun=false", "-verify-clients",
	    "-verify-interval", "500ms"), 1, "at least 1s");
	expect_exit(ARGV("-dev", "-stun=false", "-verify-interval", "1m"), 1,
	    "-verify-interval needs");
	expect_exit(ARGV("-dev", "-stun=false", "-client-ca", "/ca.pem"), 1,
	    "-client-ca needs TLS");
	expect_exit(ARGV("-a", ":8443", "-certmode", "manual", "-stun=false",
	    "-client-ca", "/ca.pem"), 1, "-http-port=-1");
	expect_exit(ARGV("-a", ":8443", "-certmode", "manual", "-stun=false",
	    "-http-port=-1", "-client-crl", "/crl.pem"), 1, "needs -client-ca");
	expect_ok(ARGV("-a", ":8443", "-certmode", "manual", "-stun=false",
	    "-http-port=-1", "-client-ca", "/ca.pem", "-client-crl", "/crl.pem"));
}

static void
test_exit_0_help(void **state)
{
	(void)state;
	expect_exit(ARGV("-h"), 0, "Usage of derpd");
	assert_non_null(strstr(res->out, "-workers"));
	expect_exit(ARGV("-help"), 0, "Usage of derpd");
	expect_exit(ARGV("--help"), 0, "Usage of derpd");
	/* Before anything else is checked. */
	expect_exit(ARGV("-a", "nocolon", "-h"), 0, "Usage of derpd");
}

/*
 * "--" ends the flags, as in Go's flag package, and is not itself an
 * unexpected argument.
 */
static void
test_double_dash_terminator_alone_is_accepted(void **state)
{
	(void)state;
	expect_ok(ARGV("-dev", "-stun=false", "--"));
	assert_int_equal(res->cfg.dev, 1);
}

/*
 * The port in -a is decimal, as Go's net.Listen reads it: ":010" is port 10
 * and ":08080" is 8080 (not C's octal).
 */
static void
test_listen_port_is_decimal(void **state)
{
	(void)state;
	expect_ok(ARGV("-a", ":08080", "-stun=false"));
	assert_int_equal(res->cfg.listen_port, 8080);
	expect_ok(ARGV("-a", ":010", "-stun=false"));
	assert_int_equal(res->cfg.listen_port, 10);
}

/*
 * flags_parse() starts from scratch each time: -a seen by an earlier call
 * does not stop -dev choosing 127.0.0.1:3340 in a later one.
 */
static void
test_flags_parse_twice_keeps_dev_default(void **state)
{
	int st;

	(void)state;
	st = run2(ARGV("-a", ":1234", "-stun=false"), ARGV("-dev", "-stun=false"));
	if (st != 0)
		fail_msg("second flags_parse(-dev) exited %d; output:\n%.400s", st,
		    res->out);
	assert_int_equal(res->cfg.listen_port, 3340);
}

/* ---- -config file ---- */

static char conf_dir[64];
static char conf_path[128];

static int
conf_setup(void **state)
{
	(void)state;
	snprintf(conf_dir, sizeof(conf_dir), "/tmp/derpd-flags-XXXXXX");
	if (mkdtemp(conf_dir) == NULL)
		return -1;
	snprintf(conf_path, sizeof(conf_path), "%s/derpd.conf", conf_dir);
	return 0;
}

static int
conf_teardown(void **state)
{
	(void)state;
	unlink(conf_path);
	rmdir(conf_dir);
	return 0;
}

static void
write_conf(const char *text)
{
	FILE *f = fopen(conf_path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
test_config_file_applies_and_command_line_wins(void **state)
{
	(void)state;
	write_conf("# derpd settings\n"
	    "\n"
	    "a = :7000\n"
	    "  -stun = false\n"
	    "max-clients = 12345\n"
	    "hostname = \"relay.example.com\"\n"
	    "tcp-write-timeout=3s\n");
	expect_ok(ARGV("-config", conf_path));
	assert_string_equal(res->addr, ":7000");
	assert_int_equal(res->cfg.listen_port, 7000);
	assert_int_equal(res->cfg.run_stun, 0);
	assert_int_equal(res->cfg.max_clients, 12345);
	assert_int_equal(res->cfg.tcp_write_timeout_ms, 3000);

	expect_ok(ARGV("-config=" "/dev/null", "-a", ":7001", "-stun=false"));
	assert_int_equal(res->cfg.listen_port, 7001);

	expect_ok(ARGV("-max-clients=99", "-config", conf_path, "-a=:7002"));
	assert_int_equal(res->cfg.max_clients, 99);
	assert_int_equal(res->cfg.listen_port, 7002);
	assert_int_equal(res->cfg.run_stun, 0);

	/* -a in the file also overrides -dev's default address. */
	expect_ok(ARGV("-dev", "-config", conf_path));
	assert_int_equal(res->cfg.listen_port, 7000);
}

static void
test_config_file_errors_exit(void **state)
{
	(void)state;
	write_conf("nope = 1\n");
	expect_exit(ARGV("-config", conf_path), 1, "unknown flag");
	write_conf("a :7000\n");
	expect_exit(ARGV("-config", conf_path), 1, "flag = value");
	write_conf("config = /etc/other\n");
	expect_exit(ARGV("-config", conf_path), 1, "unknown flag");
	write_conf("workers = many\n");
	expect_exit(ARGV("-config", conf_path), 2, "invalid value");
	expect_exit(ARGV("-config", "/nonexistent/derpd.conf"), 1, NULL);
}

/*
 * -config is found even after a flag whose value is a separate argument
 * ("-a :7001 -config f").
 */
static void
test_config_file_after_flag_with_separate_value(void **state)
{
	(void)state;
	write_conf("max-clients = 12345\nstun = false\n");
	expect_ok(ARGV("-a", ":7001", "-stun=false", "-config", conf_path));
	assert_string_equal(res->config_file, conf_path);
	assert_int_equal(res->cfg.max_clients, 12345);
}

#define CONF(fn)	cmocka_unit_test_setup_teardown(fn, conf_setup, conf_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_valid),
		cmocka_unit_test(test_duration_invalid),
		cmocka_unit_test(test_duration_rejects_exponent_and_hex),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_go_syntax_forms),
		cmocka_unit_test(test_bool_flags),
		cmocka_unit_test(test_duration_flags),
		cmocka_unit_test(test_listen_address_forms),
		cmocka_unit_test(test_tls_derived_from_port_and_certmode),
		cmocka_unit_test(test_acme_flags),
		cmocka_unit_test(test_dev_without_a_listens_on_3340),
		cmocka_unit_test(test_workers_default_is_online_cpus),
		cmocka_unit_test(test_version_flag_returns_early),
		cmocka_unit_test(test_exit_2_unknown_flag),
		cmocka_unit_test(test_exit_2_bad_value),
		cmocka_unit_test(test_exit_2_bad_syntax),
		cmocka_unit_test(test_exit_1_bad_listen_address),
		cmocka_unit_test(test_exit_1_workers_out_of_range),
		cmocka_unit_test(test_exit_1_workers_zero),
		cmocka_unit_test(test_exit_1_other_ranges),
		cmocka_unit_test(test_exit_1_unimplemented),
		cmocka_unit_test(test_access_control),
		cmocka_unit_test(test_exit_0_help),
		cmocka_unit_test(test_double_dash_terminator_alone_is_accepted),
		cmocka_unit_test(test_listen_port_is_decimal),
		cmocka_unit_test(test_flags_parse_twice_keeps_dev_default),
		CONF(test_config_file_applies_and_command_line_wins),
		CONF(test_config_file_errors_exit),
		CONF(test_config_file_after_flag_with_separate_value),
	};

	return cmocka_run_group_tests_name("flags", tests, group_setup,
	    group_teardown);
}
