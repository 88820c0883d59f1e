/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * common/log.h for harnesses that link daemon code: every message is
 * formatted (so ASan and UBSan see its arguments) and dropped, which keeps
 * millions of runs quiet and fast. fatal() and fatalx() jump back to the
 * harness through fuzz_fatal_jmp when it is set (a start-up error is an
 * answer, not a crash), and abort otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "fuzz.h"

jmp_buf	*fuzz_fatal_jmp;
char	 fuzz_last_log[1024];
unsigned long fuzz_nlogs;

static void
format(const char *fmt, va_list ap)
{
	vsnprintf(fuzz_last_log, sizeof(fuzz_last_log), fmt, ap);
	fuzz_nlogs++;
}

#define FORMAT(fmt) do {		\
	va_list ap;			\
					\
	va_start(ap, fmt);		\
	format(fmt, ap);		\
	va_end(ap);			\
} while (0)

void
log_init(const char *tag)
{
	(void)tag;
}

void
log_set_verbose(int verbose)
{
	(void)verbose;
}

void
log_warn(const char *fmt, ...)
{
	FORMAT(fmt);
}

void
log_warnx(const char *fmt, ...)
{
	FORMAT(fmt);
}

void
log_info(const char *fmt, ...)
{
	FORMAT(fmt);
}

void
log_debug(const char *fmt, ...)
{
	FORMAT(fmt);
}

static void __attribute__((noreturn))
fatal_jump(void)
{
	if (fuzz_fatal_jmp == NULL)
		abort();
	longjmp(*fuzz_fatal_jmp, 1);
}

void
fatal(const char *fmt, ...)
{
	FORMAT(fmt);
	fatal_jump();
}

void
fatalx(const char *fmt, ...)
{
	FORMAT(fmt);
	fatal_jump();
}
