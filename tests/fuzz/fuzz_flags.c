/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for master/flags.c: the command line (Go's flag syntax)
 * and the -config file, the first thing the master parses, as root.
 *
 * The input is a -config file and a command line: the bytes up to the first
 * NUL are the file (a memfd, named by a -config argument the harness puts
 * first when the input's first byte is odd), each later NUL-terminated
 * piece is one argument. flags.c is compiled into this file so that its
 * exit(), fopen() and strdup() can be caught: exit() and fatal() return
 * here (a refusal is an answer), the file is closed and the strings freed
 * after every run.
 *
 * Whatever flags_parse accepts must satisfy every range and consistency
 * rule the rest of derpd relies on (and not ask for what is refused as not
 * implemented); every duration it holds, and every argument that parses as
 * one, must print (as Go prints it) and parse back to the same value.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"

static FILE *fuzz_fopen(const char *path, const char *mode);
static int fuzz_fclose(FILE *fp);
static char *fuzz_strdup(const char *s);
static void fuzz_exit(int status) __attribute__((noreturn));

#define fopen	fuzz_fopen
#define fclose	fuzz_fclose
#define strdup	fuzz_strdup
#define exit	fuzz_exit
#include "../../master/flags.c"
#undef fopen
#undef fclose
#undef strdup
#undef exit

#define MAX_ARGS	64
#define MAX_DUPS	4096

static jmp_buf env;
static FILE *open_file;			/* the -config file, while open */
static char *dups[MAX_DUPS];		/* strdup()s of the current run */
static size_t ndups;
static int file_fd;
static char config_arg[64];

static FILE *
fuzz_fopen(const char *path, const char *mode)
{
	CHECK(open_file == NULL);
	return open_file = fopen(path, mode);
}

static int
fuzz_fclose(FILE *fp)
{
	CHECK(fp == open_file);
	open_file = NULL;
	return fclose(fp);
}

static char *
fuzz_strdup(const char *s)
{
	CHECK(ndups < MAX_DUPS);
	return dups[ndups++] = strdup(s);
}

static void
fuzz_exit(int status)
{
	CHECK(status == 0 || status == 2);	/* -h, or Go's usage error */
	longjmp(env, 1);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	file_fd = memfd_create("fuzz-config", MFD_CLOEXEC);
	if (file_fd < 0)
		abort();
	snprintf(config_arg, sizeof(config_arg), "-config=/proc/self/fd/%d",
	    file_fd);
	return 0;
}

/* A duration prints as Go prints it and parses back to itself. */
static void
check_duration(int64_t ms)
{
	char buf[64];
	int64_t back;

	/* Past 2^50 ms the parser's double loses milliseconds. */
	if (ms > (int64_t)1 << 50 || ms < -((int64_t)1 << 50))
		return;
	format_duration(buf, sizeof(buf), ms);
	CHECK(parse_go_duration(buf, &back) == 0);
	CHECK(back == ms);
}

/* What the rest of derpd relies on after flags_parse returns. */
static void
check_config(const struct config *c)
{
	size_t i;

	for (i = 0; i < NFLAGS; i++)	/* -config alone may be unset */
		if (flags[i].type == F_STRING && flags[i].off != CF(config_file))
			CHECK(*(const char *const *)((const char *)c +
			    flags[i].off) != NULL);
	if (c->version)
		return;
	CHECK(c->workers >= 1 && c->workers <= 64);
	CHECK(c->max_clients >= 16 && c->max_clients <= (1 << 24));
	CHECK(c->ring_kib >= 256 && c->ring_kib <= (1 << 20) &&
	    (c->ring_kib & (c->ring_kib - 1)) == 0);
	CHECK(c->queue_kib >= 128 && c->queue_kib <= (1 << 20));
	CHECK(c->queue_budget_mib >= 8 && c->queue_budget_mib <= (1 << 20));
	CHECK(c->keepalive_ms >= 100 && c->handshake_timeout_ms >= 100);
	CHECK(c->tcp_write_timeout_ms >= 0 && c->tcp_user_timeout_ms >= 0 &&
	    c->tcp_keepalive_ms >= 0);
	CHECK(!(c->accept_conn_limit < 0) && c->accept_conn_burst >= 0);
	CHECK(!c->run_stun || (c->stun_port >= 1 && c->stun_port <= 65535));
	CHECK(c->listen_port >= 0 && c->listen_port <= 65535);
	CHECK(memchr(c->listen_host, '\0', sizeof(c->listen_host)) != NULL);
	CHECK(strcmp(c->certmode, "manual") == 0 ||
	    strcmp(c->certmode, "letsencrypt") == 0 ||
	    strcmp(c->certmode, "gcp") == 0);
	CHECK(c->tls || (c->listen_port != 443 &&
	    strcmp(c->certmode, "manual") != 0));
	CHECK(c->acme == (c->tls && strcmp(c->certmode, "manual") != 0));
	CHECK(!c->tls || c->http_port < 0 || (c->http_port >= 1 &&
	    c->http_port <= 65535 && c->http_port != c->listen_port));
	CHECK(*c->home == '\0' || strcmp(c->home, "blank") == 0 ||
	    strncmp(c->home, "http://", 7) == 0 ||
	    strncmp(c->home, "https://", 8) == 0);
	CHECK(strlen(c->home) <= 1024 && strpbrk(c->home, "\r\n") == NULL);
	if (c->acme) {	/* what the ACME child counts on */
		CHECK(*c->certdir != '\0' && *c->acme_directory != '\0' &&
		    *c->acme_ca_file != '\0');
		CHECK(!c->acme_ip_certs || (c->http_port >= 1 &&
		    strcmp(c->certmode, "letsencrypt") == 0));
		CHECK(c->acme_ip_certs ||
		    strcmp(c->hostname, DERPER_DEFAULT_HOSTNAME) != 0);
		CHECK((*c->acme_eab_kid == '\0') == (*c->acme_eab_key == '\0'));
	}
	/* Refused as not implemented yet, never silently ignored. */
	CHECK(*c->secrets_url == '\0' && !c->ace);
	check_duration(c->tcp_keepalive_ms);
	check_duration(c->tcp_user_timeout_ms);
	check_duration(c->tcp_write_timeout_ms);
	check_duration(c->keepalive_ms);
	check_duration(c->handshake_timeout_ms);
}

static void
cleanup(void)
{
	if (open_file != NULL)
		fuzz_fclose(open_file);
	while (ndups > 0)
		free(dups[--ndups]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *argv[MAX_ARGS + 3];
	static struct config cfg;
	const uint8_t *nul = memchr(data, '\0', size);
	size_t flen = nul != NULL ? (size_t)(nul - data) : size;
	char *copy;
	int64_t ms;
	int argc = 0;

	if (size == 0 || (copy = malloc(size + 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	CHECK(ftruncate(file_fd, 0) == 0);
	CHECK(flen <= 1 || pwrite(file_fd, data + 1, flen - 1, 0) ==
	    (ssize_t)(flen - 1));
	argv[argc++] = "derpd";
	if (data[0] & 1)
		argv[argc++] = config_arg;
	if (nul != NULL) {
		char *p = copy + flen + 1, *end = copy + size;

		while (p < end && argc < MAX_ARGS) {
			argv[argc++] = p;
			p += strlen(p) + 1;
		}
	}
	argv[argc] = NULL;
	for (int i = 1; i < argc; i++)
		if (parse_go_duration(argv[i], &ms) == 0)
			check_duration(ms);

	fuzz_fatal_jmp = &env;
	if (setjmp(env) == 0) {
		flags_parse(&cfg, argc, argv);
		check_config(&cfg);
	}
	fuzz_fatal_jmp = NULL;
	cleanup();
	free(copy);
	return 0;
}
