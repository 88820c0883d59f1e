/* SPDX-License-Identifier: BSD-3-Clause */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char log_tag[32] = "derpd";
static int log_verbose;

void
log_init(const char *tag)
{
	snprintf(log_tag, sizeof(log_tag), "%s", tag);
}

void
log_set_verbose(int verbose)
{
	log_verbose = verbose;
}

/* One write(2) per line so lines from several processes never interleave. */
static void
vlog(const char *fmt, va_list ap, const char *suffix)
{
	char line[1024];
	int n, m;

	n = snprintf(line, sizeof(line), "%s: ", log_tag);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (m < 0)
		return;
	n = (size_t)(n + m) >= sizeof(line) - 1 ? (int)sizeof(line) - 2 : n + m;
	if (suffix != NULL) {
		m = snprintf(line + n, sizeof(line) - n, ": %s", suffix);
		n = (size_t)(n + m) >= sizeof(line) - 1 ? (int)sizeof(line) - 2 : n + m;
	}
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
}

void
logit(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap, NULL);
	va_end(ap);
}

void
debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	vlog(fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	/* errno 0 has no reason to add (": Success" only misleads). */
	const char *err = errno != 0 ? strerror(errno) : NULL;

	va_start(ap, fmt);
	vlog(fmt, ap, err);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
