/* SPDX-License-Identifier: BSD-3-Clause */
/* What every libFuzzer harness here shares. */
#ifndef DERPD_FUZZ_H
#define DERPD_FUZZ_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* An invariant of the code under test; a violation is a finding. */
#define CHECK(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
		    __FILE__, __LINE__, #c);				\
		abort();						\
	}								\
} while (0)

/* tests/fuzz/fuzz_log.c, for harnesses that link it instead of common/log.c. */
extern jmp_buf	*fuzz_fatal_jmp;	/* where fatal() jumps; NULL: abort */
extern char	 fuzz_last_log[1024];	/* the latest message */
extern unsigned long fuzz_nlogs;	/* messages so far */

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
