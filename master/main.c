/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * derpd master: runs as root only to read the key file (through the key
 * process), bind the listeners and load the TLS certificate; then drops to
 * an unprivileged user with no capabilities and supervises the workers. It
 * never parses network input.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "acme_child.h"
#include "acmed.h"
#include "dialer.h"
#include "dnsd.h"
#include "keyproc.h"
#include "flags.h"
#include "keyfile.h"
#include "keyfmt.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "notify.h"
#include "rateconf.h"
#include "stund.h"
#include "certs.h"
#include "role.h"
#include "spawn.h"
#include "tlspub.h"
#include "verifier.h"
#include "worker.h"

#define DERPD_VERSION		"0.1.0"
#define DEFAULT_KEY_PATH	"/var/lib/derpd/derpd.key"

static struct config cfg;
static struct master m;

static int
make_signalfd(void)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
#ifdef DERPD_TEST_HOOKS
	sigaddset(&set, SIGUSR1);	/* probe_run(): see common/probe.h */
#endif
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		fatal("sigprocmask");
	if ((fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		fatal("signalfd");
	signal(SIGPIPE, SIG_IGN);
	return fd;
}

/* A missing key file is generated, as derper does, by a short-lived child so
 * that the key never passes through the master's memory. */
static void
create_key_file(const char *path)
{
	char err[512];
	uint8_t *priv;
	pid_t pid;
	int status;

	if ((pid = fork()) < 0)
		fatal("fork");
	if (pid == 0) {
		if ((priv = sodium_malloc(KEY_LEN)) == NULL ||
		    keyfile_create(path, priv, err, sizeof(err)) != 0) {
			log_warnx("%s", priv == NULL ? "out of memory" : err);
			_exit(1);
		}
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		fatalx("cannot create the key file %s", path);
	log_info("generated a new key file %s (mode 0600)", path);
}

static void
open_key_file(void)
{
	char err[512];
	const char *path = cfg.config_path;
	int fd;

	if (*path == '\0') {
		if (cfg.dev) {
			log_info("no -c given: using an ephemeral key (dev mode)");
			m.keyd.key_fd = -1;
			return;
		}
		if (geteuid() != 0)
			fatalx("-c <key file> not specified");
		path = DEFAULT_KEY_PATH;
		log_info("no -c given; using %s", path);
	}
	m.keyd.key_path = path;
	fd = keyfile_open(path, err, sizeof(err));
	if (fd == KEYFILE_MISSING) {
		create_key_file(path);
		fd = keyfile_open(path, err, sizeof(err));
	}
	if (fd < 0)
		fatalx("%s", err);
	m.keyd.key_fd = fd;
}

/*
 * The key process reads the key files from descriptors opened here, as
 * root; the master never reads a private key. It checks the TLS key
 * against the certificate before it says it is ready.
 */
static void
start_keyd(void)
{
	if (cfg.tls && !cfg.acme) {
		certs_open(&m.certs, &cfg, &m.ra);
		m.keyd.tls_key_fd = m.certs.key_fd;
		m.keyd.tls_chain = m.certs.chain;
		m.keyd.tls_crt_fd = m.certs.crt_fd;
		m.keyd.selfsign = m.certs.crt_fd >= 0 ? cfg.hostname : NULL;
	} else if (cfg.acme)
		acmed_prepare(&m);
	m.keyd.mesh_key_fd = m.dial.client_key_fd;
	m.keyd.mesh_chain = m.dial.client_chain;
	m.keyd.ra = m.ra;
	if (keyd_spawn(&m.keyd, &cfg) != 0)
		fatalx("cannot start the key process");
	m.keyp.pid = m.keyd.pid;
	keyd_wait_ready(&m.keyd);
	if (cfg.tls && !cfg.acme) {
		certs_loaded(&m.certs, &cfg, &m.ra);
		m.keyd.tls_chain = m.certs.chain;
		m.keyd.tls_crt_fd = -1;		/* made: a restart loads it */
		m.keyd.selfsign = NULL;
	}
	if (cfg.tls)
		certs_make_meta(&m.certs, m.keyd.pub);
}

/* derper's default: the first of these that exists. */
static const char *
default_mesh_psk_file(void)
{
	static char path[4096];
	const char *home = getenv("HOME");

	if (access("/home/derp/keys/derp-mesh.key", F_OK) == 0)
		return "/home/derp/keys/derp-mesh.key";
	if (home != NULL && (size_t)snprintf(path, sizeof(path),
	    "%s/keys/derp-mesh.key", home) < sizeof(path) &&
	    access(path, F_OK) == 0)
		return path;
	return "";
}

static void
parse_mesh_key(const char *text, size_t len, const char *from)
{
	while (len > 0 && strchr(" \t\r\n", text[len - 1]) != NULL)
		len--;
	while (len > 0 && strchr(" \t\r\n", *text) != NULL)
		text++, len--;
	if (key_parse_text(text, len, "", cfg.mesh_key) != 0)
		fatalx("invalid mesh key in %s: must be 64 hexadecimal digits", from);
	cfg.has_mesh_key = 1;
	log_info("DERP mesh key configured (from %s)", from);
}

static void
load_mesh_key(void)
{
	const char *path = cfg.mesh_psk_file, *env;
	char buf[256];
	struct stat st;
	ssize_t n;
	int fd;

	if (cfg.dev && (env = getenv("TAILSCALE_DERPER_MESH_KEY")) != NULL &&
	    *env != '\0') {
		parse_mesh_key(env, strlen(env), "TAILSCALE_DERPER_MESH_KEY");
		return;
	}
	if (*path == '\0')
		path = default_mesh_psk_file();
	if (*path == '\0')
		return;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
	    fstat(fd, &st) != 0)
		fatal("mesh key file %s", path);
	if ((st.st_mode & 077) != 0)
		log_warnx("mesh key file %s is accessible by group or "
		    "others; chmod 600 %s", path, path);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		fatal("mesh key file %s", path);
	parse_mesh_key(buf, (size_t)n, path);
	sodium_memzero(buf, sizeof(buf));
}

static void
make_eventfds(void)
{
	uint32_t i;

	for (i = 0; i < m.nworkers; i++)
		if ((m.evfds[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
			fatal("eventfd");
}

#ifdef __SANITIZE_ADDRESS__
static void *volatile leak_sink;

/*
 * Test hook of the ASan build only: DERPD_TEST_LEAK=<role> loses a block
 * of 4242 bytes in that role, so a test can see LeakSanitizer report it
 * when the process exits (proof that the check runs inside the sandbox).
 */
static void __attribute__((noinline))
leak_for_test(const char *role)
{
	const char *want = getenv("DERPD_TEST_LEAK");
	volatile uint8_t scrub[16384];

	if (want != NULL && strcmp(want, role) == 0) {
		leak_sink = malloc(4242);
		leak_sink = NULL;
		/* The allocator's frames left the address on the stack, where a
		 * role's own frames (the mesh dialer's) may keep it uncleared and
		 * LeakSanitizer would count it a reference. */
		memset((void *)scrub, 0, sizeof(scrub));
	}
}
#endif

/*
 * The verifier, with -allow-keys read as the unprivileged user (as on every
 * SIGHUP); start-up fails if either fails.
 */
static void
start_verifier(void)
{
	if (!cfg.verify_on)
		return;
	if (*cfg.allow_keys != '\0' &&
	    allowkeys_load(&m.verifyd.keys, cfg.allow_keys) != 0)
		fatalx("cannot use -allow-keys %s", cfg.allow_keys);
	if (verifyd_spawn(&m.verifyd, &cfg) != 0)
		fatalx("cannot start the verifier");
	verifyd_wait_ready(&m.verifyd);
	m.verp.pid = m.verifyd.pid;
}

/* Says which access control is on, or that there is none. */
static void
log_access(void)
{
	char what[1024];
	size_t n = 0;

	what[0] = '\0';
	if (*cfg.client_ca != '\0')
		n += snprintf(what + n, sizeof(what) - n, "; TLS client certificates "
		    "from %s (%d CA certificates%s)", cfg.client_ca, m.clientca.ncerts,
		    *cfg.client_crl != '\0' ? ", with CRLs" : "");
	if (*cfg.allow_keys != '\0' && n < sizeof(what))
		n += snprintf(what + n, sizeof(what) - n, "; keys in %s (%zu)",
		    cfg.allow_keys, m.verifyd.keys.n);
	if (cfg.verify_clients && n < sizeof(what))
		n += snprintf(what + n, sizeof(what) - n, "; nodes the local "
		    "tailscaled knows (%s)", *cfg.socket_path != '\0' ?
		    cfg.socket_path : "/var/run/tailscale/tailscaled.sock");
	if (*cfg.verify_client_url != '\0' && n < sizeof(what))
		n += snprintf(what + n, sizeof(what) - n, "; admission controller "
		    "%s (fail %s)", cfg.verify_client_url, cfg.verify_fail_open ?
		    "open" : "closed");
	if (n == 0) {
		log_warnx("open relay: any client that can reach this relay may "
		    "use it (see SECURITY.md, \"Restricting access\")");
		return;
	}
	log_info("access control: %s%s", what + 2, !cfg.verify_on ? "" :
	    cfg.verify_interval_ms > 0 ? "; connected clients verified again "
	    "periodically and on SIGHUP" : "; connected clients verified again on SIGHUP");
}

/*
 * A child, exec'd in its role (common/role.h). Not dumpable before it
 * reads anything (exec made it dumpable again), and gone with the master.
 */
static void __attribute__((noreturn))
role_main(const char *role)
{
	char comm[16];

	if (prctl(PR_SET_DUMPABLE, 0) != 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
		fatal("prctl");
	if (sodium_init() < 0)
		fatalx("libsodium failed to initialise");
	json_setup();
	snprintf(comm, sizeof(comm), "derpd-%s", role);
	prctl(PR_SET_NAME, comm);
#ifdef __SANITIZE_ADDRESS__
	leak_for_test(role);
#endif
	if (strcmp(role, "worker") == 0)
		worker_main();
	if (strcmp(role, "key") == 0)
		keyproc_main();
	if (strcmp(role, "stun") == 0)
		stund_main();
	if (strcmp(role, "dns") == 0)
		dnsd_main();
	if (strcmp(role, "verify") == 0)
		verifier_main();
	if (strcmp(role, "mesh-dialer") == 0)
		dialer_main();
	if (strcmp(role, "acme") == 0)
		acme_main();
	fatalx("no such role: %s", role);
}

int
main(int argc, char **argv)
{
	char pubtext[KEY_TEXT_MAX];
	uint32_t i;

	if (argc == 3 && strcmp(argv[1], ROLE_FLAG) == 0)
		role_main(argv[2]);
	log_init("derpd");
	flags_parse(&cfg, argc, argv);
	if (cfg.version) {
		printf("derpd %s\n", DERPD_VERSION);
		return 0;
	}
	log_set_verbose(cfg.verbose);
	if (sodium_init() < 0)
		fatalx("libsodium failed to initialise");
	json_setup();
	umask(077);
	memset(&m, 0, sizeof(m));
	m.cfg = &cfg;
	m.acme_fd = m.acme_certdir = -1;
	m.nworkers = (uint32_t)cfg.workers;
	keyd_init(&m.keyd);
	verifyd_init(&m.verifyd);
	dialctl_init(&m.dial);
	m.sigfd = make_signalfd();
	if (cfg.no_seccomp)
		log_warnx("-no-seccomp: workers run WITHOUT their syscall "
		    "sandbox. Use this for debugging only, never in production.");

	dnsd_check_flags(&cfg);
	runas_resolve(&m.ra, cfg.user);
	spawn_init();
	load_mesh_key();
	m.run_mesh = dialctl_configure(&m.dial, &cfg);
	open_key_file();
	start_keyd();
	listen_open(&cfg, cfg.listen_port, m.listen_fds, m.nworkers);
	for (i = 0; i < m.nworkers; i++)
		m.http_fds[i] = -1;
	if (cfg.tls && cfg.http_port >= 0)
		listen_open(&cfg, (int)cfg.http_port, m.http_fds, m.nworkers);
	m.stun_fd = cfg.run_stun ? listen_udp(&cfg, (int)cfg.stun_port) : -1;
	m.run_dns = *cfg.bootstrap_dns_names != '\0' ||
	    *cfg.unpublished_dns_names != '\0';
	clientca_load(&m.clientca, &cfg);
	/* A region's keys connected elsewhere: at most as many as here. */
	shm_create(&m.shm, m.nworkers, (uint32_t)cfg.max_clients,
	    m.run_mesh ? (uint32_t)cfg.max_clients : 0,
	    (uint32_t)cfg.ring_kib * 1024);
	if (cfg.tls && !cfg.acme && tlspub_cert(&m, cfg.hostname, m.certs.chain,
	    strlen(m.certs.chain), m.certs.not_after) != 0)
		fatalx("cannot serve the certificate");
	tablesrv_init(&m.tables, &m.shm, (uint32_t)cfg.max_clients);
	make_eventfds();
	if (*cfg.rate_config != '\0' && rateconf_load(cfg.rate_config, &m.shm) != 0)
		fatalx("cannot load -rate-config %s", cfg.rate_config);
	notify_init();
	privdrop(&m.ra);
	m.keyd.ra.switch_user = 0;	/* a restarted key process: already that user */
	start_verifier();

	key_format_text(pubtext, NODEKEY_PREFIX, m.keyd.pub);
	log_info("serving on %s (%s) with %u workers as %s; public key %s",
	    cfg.addr, cfg.tls ? "TLS" : "plain HTTP", m.nworkers, m.ra.name,
	    pubtext);
	log_access();
	return master_run(&m);
}
