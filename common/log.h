/* SPDX-License-Identifier: BSD-3-Clause */
/* Logging to stderr (journald under systemd). Never pass packet contents here. */
#ifndef DERPD_LOG_H
#define DERPD_LOG_H

#include <stdarg.h>

void log_init(const char *tag);
void log_set_verbose(int verbose);
void logit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* fatal appends strerror(errno) when errno is set; fatalx never. Both exit(1). */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
