/* SPDX-License-Identifier: BSD-3-Clause */
#include "opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errfmt.h"

#define MAX_TIMEOUT_MS	(24LL * 3600 * 1000)

int
parse_duration(const char *s, int64_t *ms)
{
	static const struct { const char *suffix; double ms; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
	};
	char *end;
	double v;
	size_t i;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno != 0 || v < 0 || *s == '-' || *s == '+')
		return -1;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(end, units[i].suffix) == 0) {
			v *= units[i].ms;
			if (v > (double)MAX_TIMEOUT_MS)
				return -1;
			*ms = (int64_t)v;
			return 0;
		}
	return -1;
}

static int
parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* -c name=value: the probe's warning thresholds. */
static int
parse_threshold(struct copts *o, const char *s, char *err, size_t errlen)
{
	const char *eq = strchr(s, '=');

	if (eq != NULL && strncmp(s, "days=", 5) == 0 &&
	    parse_int(eq + 1, 0, 100000, &o->warn_days) == 0)
		return 0;
	if (eq != NULL && strncmp(s, "rtt-ms=", 7) == 0 &&
	    parse_int(eq + 1, 0, MAX_TIMEOUT_MS, &o->warn_rtt_ms) == 0)
		return 0;
	errfmt(err, errlen, "-c %s: expected days=N or rtt-ms=N", s);
	return -1;
}

/* A flag's value, from "-flag=value" or the next argument. */
static const char *
flag_value(const char *eq, int argc, char **argv, int *i)
{
	if (eq != NULL)
		return eq + 1;
	return *i + 1 < argc ? argv[++*i] : NULL;
}

static int
value_flag(struct copts *o, const char *name, const char *v, char *err,
    size_t errlen)
{
	if (strcmp(name, "k") == 0)
		o->keyfile = v;
	else if (strcmp(name, "ca") == 0)
		o->cafile = v;
	else if (strcmp(name, "dial") == 0)
		o->dial = v;
	else if (strcmp(name, "c") == 0)
		return parse_threshold(o, v, err, errlen);
	else if (strcmp(name, "timeout") == 0) {
		if (parse_duration(v, &o->timeout_ms) != 0 || o->timeout_ms == 0) {
			errfmt(err, errlen, "-timeout %s: expected a duration "
			    "such as 10s or 500ms", v);
			return -1;
		}
	} else if (strcmp(name, "stun-port") == 0) {
		if (parse_int(v, 0, 65535, &o->stun_port) != 0) {
			errfmt(err, errlen, "-stun-port %s: expected 0..65535", v);
			return -1;
		}
	} else {
		errfmt(err, errlen, "unknown flag -%s (see -h)", name);
		return -1;
	}
	return 0;
}

static int
bool_flag(struct copts *o, const char *name)
{
	int *p = strcmp(name, "ws") == 0 ? &o->ws : strcmp(name, "j") == 0 ?
	    &o->json : strcmp(name, "v") == 0 ? &o->verbose :
	    strcmp(name, "h") == 0 || strcmp(name, "help") == 0 ? &o->help : NULL;

	if (p == NULL)
		return -1;
	*p = 1;
	return 0;
}

static int
one_flag(struct copts *o, int argc, char **argv, int *i, char *err,
    size_t errlen)
{
	char name[32];
	const char *arg = argv[*i] + (argv[*i][1] == '-' ? 2 : 1);
	const char *eq = strchr(arg, '='), *v;
	size_t n = eq != NULL ? (size_t)(eq - arg) : strlen(arg);

	if (n == 0 || n >= sizeof(name)) {
		errfmt(err, errlen, "bad flag %s", argv[*i]);
		return -1;
	}
	memcpy(name, arg, n);
	name[n] = '\0';
	if (eq == NULL && bool_flag(o, name) == 0)
		return 0;
	if ((v = flag_value(eq, argc, argv, i)) == NULL) {
		errfmt(err, errlen, "flag -%s needs a value", name);
		return -1;
	}
	return value_flag(o, name, v, err, errlen);
}

int
opts_parse(struct copts *o, int argc, char **argv, char *err, size_t errlen)
{
	int i, flags_done = 0;

	memset(o, 0, sizeof(*o));
	o->timeout_ms = 10000;
	o->stun_port = 3478;
	o->warn_days = 14;
	o->warn_rtt_ms = 1000;
	for (i = 1; i < argc; i++) {
		if (!flags_done && strcmp(argv[i], "--") == 0)
			flags_done = 1;
		else if (!flags_done && argv[i][0] == '-' && argv[i][1] != '\0') {
			if (one_flag(o, argc, argv, &i, err, errlen) != 0)
				return -1;
		} else if (o->cmd == NULL)
			o->cmd = argv[i];
		else if (o->nargs < OPTS_ARGS_MAX)
			o->args[o->nargs++] = argv[i];
		else {
			errfmt(err, errlen, "too many arguments");
			return -1;
		}
	}
	return 0;
}
