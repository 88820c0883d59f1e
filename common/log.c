/* SPDX-License-Identifier: BSD-3-Clause */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

static char log_tag[32] = "derpd";
static int log_verbose;
static int log_journal;		/* stderr is journald's stream */

/* systemd sets JOURNAL_STREAM=<dev>:<inode> of the stream it connected. */
static int
stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(STDERR_FILENO, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_init(const char *tag)
{
	snprintf(log_tag, sizeof(log_tag), "%s", tag);
	log_journal = stderr_is_journal();
}

void
log_set_verbose(int verbose)
{
	log_verbose = verbose;
}

static int
clamp(int n, size_t cap)
{
	return (size_t)n >= cap - 1 ? (int)cap - 2 : n;
}

/* One write(2) per line so lines from several processes never interleave. */
static void
vlog(int pri, const char *fmt, va_list ap, const char *suffix)
{
	char line[1024];
	int n, m;

	if (log_journal)
		n = snprintf(line, sizeof(line), "<%d>%s: ", pri, log_tag);
	else
		n = snprintf(line, sizeof(line), "%s: %s", log_tag,
		    pri == LOG_WARNING ? "WARNING: " : "");
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	if ((m = vsnprintf(line + n, sizeof(line) - n, fmt, ap)) < 0)
		return;
	n = clamp(n + m, sizeof(line));
	if (suffix != NULL) {
		m = snprintf(line + n, sizeof(line) - n, ": %s", suffix);
		n = clamp(n + m, sizeof(line));
	}
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
}

/* errno 0 has no reason to add (": Success" only misleads). */
static const char *
errno_text(void)
{
	return errno != 0 ? strerror(errno) : NULL;
}

#define LOG_BODY(pri, suffix) do {		\
	va_list ap;				\
	const char *sfx = (suffix);		\
						\
	va_start(ap, fmt);			\
	vlog((pri), fmt, ap, sfx);		\
	va_end(ap);				\
} while (0)

void
log_warn(const char *fmt, ...)
{
	LOG_BODY(LOG_WARNING, errno_text());
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_WARNING, NULL);
}

void
log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_INFO, NULL);
}

void
log_debug(const char *fmt, ...)
{
	if (log_verbose)
		LOG_BODY(LOG_DEBUG, NULL);
}

void
fatal(const char *fmt, ...)
{
	LOG_BODY(LOG_ERR, errno_text());
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_ERR, NULL);
	exit(1);
}
