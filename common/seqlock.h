/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sequence locks over shared memory with one writer (the region's owner).
 * The writer makes the counter odd, writes, makes it even. A reader copies
 * the data into private memory between two reads of the counter and tries
 * again while they differ or are odd -- at most SEQ_TRIES times, then gives
 * up: a writer that stalls or scribbles can make a read fail, never make a
 * reader wait. Every seqlock reader in derpd goes through seq_read().
 */
#ifndef DERPD_SEQLOCK_H
#define DERPD_SEQLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SEQ_TRIES	256

/* A polite spin: lets a sibling hyperthread (the writer, maybe) run. */
static inline void
seq_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

static inline void
seq_write_begin(uint64_t *seq)
{
	__atomic_store_n(seq, __atomic_load_n(seq, __ATOMIC_RELAXED) + 1,
	    __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static inline void
seq_write_end(uint64_t *seq)
{
	__atomic_store_n(seq, __atomic_load_n(seq, __ATOMIC_RELAXED) + 1,
	    __ATOMIC_RELEASE);
}

/*
 * Copies len bytes at src, guarded by *seq, into dst. Returns 0 for a
 * consistent copy, -1 (dst zeroed) when tries attempts were torn.
 */
static inline int
seq_read_tries(const uint64_t *seq, void *dst, const volatile void *src,
    size_t len, int tries)
{
	uint64_t s1;
	int i;

	for (i = 0; i < tries; i++) {
		s1 = __atomic_load_n(seq, __ATOMIC_ACQUIRE);
		if (s1 & 1) {
			seq_relax();
			continue;
		}
		memcpy(dst, (const void *)src, len);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(seq, __ATOMIC_RELAXED) == s1)
			return 0;
	}
	memset(dst, 0, len);
	return -1;
}

static inline int
seq_read(const uint64_t *seq, void *dst, const volatile void *src, size_t len)
{
	return seq_read_tries(seq, dst, src, len, SEQ_TRIES);
}

#endif
