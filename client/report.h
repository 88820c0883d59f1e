/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The probe's results: one line per check (name, ok/warning/critical/
 * skipped, detail) under a summary line a monitoring system can show, or
 * the same as JSON (-j). The exit status is the worst result, as Nagios
 * plugins report it: 0 ok, 1 warning, 2 critical.
 */
#ifndef CLIENT_REPORT_H
#define CLIENT_REPORT_H

#include <stddef.h>

enum check_status { CHECK_OK, CHECK_WARNING, CHECK_CRITICAL, CHECK_SKIPPED };

#define REPORT_MAX	16

struct check {
	const char		*name;
	enum check_status	 status;
	char			 detail[320];
	const char		*unit;	/* of value; NULL when there is none */
	double			 value;
};

struct report {
	const char	*url;
	struct check	 checks[REPORT_MAX];
	size_t		 n;
};

/* A new check, skipped until it is set. */
struct check *report_add(struct report *r, const char *name);
void	check_set(struct check *c, enum check_status st, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	check_value(struct check *c, double value, const char *unit);
/* Raises c to warning when value is above limit (and c is ok). */
void	check_limit(struct check *c, double value, double limit, const char *what);
int	report_exit(const struct report *r);
void	report_print(const struct report *r, int json);

#endif
