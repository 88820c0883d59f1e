/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Error text into a fixed buffer. Messages nest ("login: reading from the
 * relay: connection reset"), and cutting a long one short is the intent.
 */
#ifndef CLIENT_ERRFMT_H
#define CLIENT_ERRFMT_H

#include <stddef.h>

void	errfmt(char *out, size_t cap, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#endif
