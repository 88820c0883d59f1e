/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * derpd-client: an ordinary DERP client for operators. Commands: probe (a
 * relay's health, for monitoring), send/recv (a byte stream to another key,
 * end-to-end encrypted) and chat (a terminal chat between keys).
 */
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "chat.h"
#include "log.h"
#include "opts.h"
#include "probe.h"
#include "stream.h"

static const char usage_text[] =
"usage: derpd-client [flags] probe URL\n"
"       derpd-client [flags] recv URL > FILE\n"
"       derpd-client [flags] send URL nodekey:HEX < FILE\n"
"       derpd-client [flags] chat URL\n"
"\n"
"URL is the relay, https://host[:port] or http://host:port, as in a DERP map.\n"
"\n"
"  probe   checks the relay as a client sees it (connection, certificate,\n"
"          HTTP probes, DERP login, meta certificate, a packet round trip,\n"
"          Ping/Pong, STUN); exits 0 ok, 1 warning, 2 critical\n"
"  recv    prints its key (nodekey:HEX) on stderr, writes what one sender\n"
"          sends to stdout\n"
"  send    sends stdin to the recv holding that key; exits 0 once all of it\n"
"          is acknowledged\n"
"  chat    a line-based chat with other keys; /help lists its commands\n"
"\n"
"flags:\n"
"  -k FILE        our key, a derper key file (derpd-keygen makes one);\n"
"                 default: a fresh key (probe always uses fresh keys)\n"
"  -ca FILE       trust the CA certificates in FILE, not the system's\n"
"  -dial HOST[:PORT]  connect there; TLS and HTTP still name the URL's host\n"
"  -ws            speak DERP over WebSocket\n"
"  -timeout DUR   limit for connecting, logging in and waiting (10s)\n"
"  -c NAME=VALUE  probe warning thresholds: days=14 (certificate),\n"
"                 rtt-ms=1000 (round trip and ping)\n"
"  -stun-port N   probe: the relay's STUN port (3478; 0 skips the check)\n"
"  -j             probe: JSON output\n"
"  -v             log more\n"
"  -h             this help\n";

struct command {
	const char	*name;
	int		 nargs;		/* after the URL */
	int		(*run)(const struct copts *);
};

static const struct command commands[] = {
	{ "probe", 0, cmd_probe },
	{ "recv", 0, cmd_recv },
	{ "send", 1, cmd_send },
	{ "chat", 0, cmd_chat },
};

static int
usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "derpd-client: %s%s\n%s", what, arg, usage_text);
	return EXIT_USAGE;
}

int
main(int argc, char **argv)
{
	const struct command *cmd = NULL;
	struct copts o;
	const char *why;
	char err[256];
	size_t i;

	log_init("derpd-client");
	signal(SIGPIPE, SIG_IGN);
	if (opts_parse(&o, argc, argv, err, sizeof(err)) != 0)
		return usage_error(err, "");
	if (o.help) {
		fputs(usage_text, stdout);
		return 0;
	}
	log_set_verbose(o.verbose);
	for (i = 0; o.cmd != NULL && i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(o.cmd, commands[i].name) == 0)
			cmd = &commands[i];
	if (cmd == NULL)
		return o.cmd == NULL ? usage_error("no command", "") :
		    usage_error("unknown command ", o.cmd);
	if (o.nargs != 1 + cmd->nargs)
		return usage_error("wrong number of arguments for ", cmd->name);
	if (url_parse(o.args[0], &o.url, &why) != 0)
		return usage_error("bad relay URL: ", why);
	if (sodium_init() < 0)
		fatalx("libsodium failed to initialise");
	return cmd->run(&o);
}
