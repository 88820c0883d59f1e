/* SPDX-License-Identifier: BSD-3-Clause */
#include "errfmt.h"

#include <stdarg.h>
#include <stdio.h>

void
errfmt(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, cap, fmt, ap);
	va_end(ap);
}
