/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Logging to stderr, after OpenBSD's log.c: one line per call, with a
 * syslog priority. Under journald (JOURNAL_STREAM names our stderr) each
 * line starts with "<N>" so the journal files it at that priority; on a
 * terminal, warnings say "WARNING:". Never pass packet contents here.
 */
#ifndef DERPD_LOG_H
#define DERPD_LOG_H

#include <stdarg.h>

void	log_init(const char *tag);
void	log_set_verbose(int verbose);
/* The _warn/fatal forms append strerror(errno) when errno is set; _x never. */
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Both exit(1). */
void	fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
