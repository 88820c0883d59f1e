/* SPDX-License-Identifier: BSD-3-Clause */
/* derpd-client's command line: a command, its arguments, and flags. */
#ifndef CLIENT_OPTS_H
#define CLIENT_OPTS_H

#include <stddef.h>
#include <stdint.h>

#include "url.h"

#define OPTS_ARGS_MAX	4
#define EXIT_USAGE	3	/* also "UNKNOWN" to a monitoring system */

struct copts {
	const char	*cmd;
	const char	*args[OPTS_ARGS_MAX];	/* after the command */
	int		 nargs;
	struct url	 url;
	const char	*keyfile;	/* -k */
	const char	*cafile;	/* -ca */
	const char	*dial;		/* -dial */
	int		 ws;		/* -ws */
	int		 json;		/* -j */
	int		 verbose;	/* -v */
	int		 help;		/* -h */
	int64_t		 timeout_ms;	/* -timeout */
	int64_t		 stun_port;	/* -stun-port */
	int64_t		 warn_days;	/* -c days= */
	int64_t		 warn_rtt_ms;	/* -c rtt-ms= */
};

/* Fills o from argv; -1 with err set on a bad flag or value. */
int	opts_parse(struct copts *o, int argc, char **argv, char *err,
	    size_t errlen);
/* Go's durations as derper's flags take them: "10s", "1.5s", "250ms", "2m". */
int	parse_duration(const char *s, int64_t *ms);

#endif
