/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for common/ring.c: the SPSC record ring. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "ring.h"

#define SIZE	RING_MIN_SIZE
#define HDR	sizeof(struct ring_rec)

static uint8_t payload_buf[SIZE];

static int
group_setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

static int
setup(void **state)
{
	struct ring *r = aligned_alloc(64, ring_size(SIZE));

	if (r == NULL)
		return -1;
	memset(r, 0x5c, ring_size(SIZE));	/* init must not rely on zeroed memory */
	ring_init(r);
	*state = r;
	return 0;
}

static int
teardown(void **state)
{
	free(*state);
	return 0;
}

/* Payload bytes are a function of (seq, i), so any mix-up shows. */
static uint8_t
pbyte(uint32_t seq, uint32_t i)
{
	return (uint8_t)(seq * 131 + i * 7 + (i >> 8));
}

static void
fill_payload(uint32_t seq, uint32_t len)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		payload_buf[i] = pbyte(seq, i);
}

static void
make_key(uint8_t key[KEY_LEN], uint32_t seq)
{
	memset(key, (int)(seq & 0xff), KEY_LEN);
	memcpy(key, &seq, sizeof(seq));
}

static int
push_seq(struct ring *r, uint32_t seq, uint32_t len, int *wake)
{
	uint8_t key[KEY_LEN];

	make_key(key, seq);
	fill_payload(seq, len);
	return ring_push(r, SIZE, RING_PACKET, seq ^ 0xabcd, seq + 1, key,
	    payload_buf, len, wake);
}

/* Pops the front record, checking it is seq with len payload bytes. */
static void
pop_seq(struct ring *r, uint32_t seq, uint32_t len)
{
	struct ring_rec hdr;
	const uint8_t *p = NULL;
	uint8_t key[KEY_LEN];
	uint32_t i;

	assert_int_equal(ring_front(r, SIZE, &hdr, &p), 1);
	assert_int_not_equal(hdr.kind, RING_PAD);
	assert_int_equal(hdr.kind, RING_PACKET);
	assert_int_equal(hdr.slot, seq ^ 0xabcd);
	assert_int_equal(hdr.gen, seq + 1);
	assert_int_equal(hdr.payload_len, len);
	assert_int_equal(hdr.len % 8, 0);
	assert_true(hdr.len >= HDR + len);
	make_key(key, seq);
	assert_memory_equal(hdr.key, key, KEY_LEN);
	assert_non_null(p);
	for (i = 0; i < len; i++)
		if (p[i] != pbyte(seq, i))
			fail_msg("record %u byte %u: %#x, want %#x", seq, i, p[i],
			    pbyte(seq, i));
	ring_pop(r, &hdr);
}

static void
assert_empty(struct ring *r)
{
	struct ring_rec hdr;
	const uint8_t *p;

	assert_int_equal(ring_used(r), 0);
	assert_int_equal(ring_front(r, SIZE, &hdr, &p), 0);
}

/* ---- basics ---- */

static void
test_empty_ring_has_no_front(void **state)
{
	struct ring *r = *state;

	assert_int_equal(r->head, 0);
	assert_int_equal(r->tail, 0);
	assert_int_equal(r->drops, 0);
	assert_int_equal(r->resets, 0);
	assert_empty(r);
}

static void
test_fifo_order_and_payload(void **state)
{
	struct ring *r = *state;
	int wake;
	uint32_t seq;

	for (seq = 0; seq < 20; seq++)
		assert_int_equal(push_seq(r, seq, seq * 13, &wake), 0);
	assert_int_equal(ring_used(r), r->tail - r->head);
	for (seq = 0; seq < 20; seq++)
		pop_seq(r, seq, seq * 13);
	assert_empty(r);
	assert_int_equal(r->drops, 0);
	assert_int_equal(r->resets, 0);
}

static void
test_null_key_and_empty_payload(void **state)
{
	struct ring *r = *state;
	struct ring_rec hdr;
	const uint8_t *p;
	uint8_t zero[KEY_LEN];
	int wake;

	memset(zero, 0, sizeof(zero));
	assert_int_equal(ring_push(r, SIZE, RING_PEER_GONE, 3, 4, NULL, NULL, 0,
	    &wake), 0);
	assert_int_equal(ring_front(r, SIZE, &hdr, &p), 1);
	assert_int_equal(hdr.kind, RING_PEER_GONE);
	assert_int_equal(hdr.slot, 3);
	assert_int_equal(hdr.gen, 4);
	assert_int_equal(hdr.payload_len, 0);
	assert_int_equal(hdr.len, HDR);
	assert_memory_equal(hdr.key, zero, KEY_LEN);
	ring_pop(r, &hdr);
	assert_empty(r);
}

/* ---- wrap-around ---- */

static uint32_t
rec_len(uint32_t payload_len)
{
	return (uint32_t)((HDR + payload_len + 7) & ~(size_t)7);
}

/*
 * Producer and consumer take turns at random, with payloads of 1..65536
 * bytes, ~40 times around the ring. A push may only be refused when the
 * record really does not fit (records never wrap: the space to the end is
 * skipped when too short), and every record comes back intact, in order.
 */
static void
test_wraparound_varied_sizes(void **state)
{
	struct ring *r = *state;
	uint32_t qseq[256], qlen[256], qhead = 0, qtail = 0;
	uint32_t seq = 0, len, pos, to_end, need, pushes = 0, refusals = 0;
	uint32_t step = 0, k;
	uint64_t drops = 0, used, x = 0x9e3779b97f4a7c15ull;
	int wake;

	while (r->tail < (uint64_t)SIZE * 40) {
		len = 1 + (uint32_t)(((uint64_t)(seq + 1) * 2654435761u) % 65536);
		if (seq % 11 == 0)
			len = 65536;
		if (seq % 13 == 0)
			len = 1;
		used = ring_used(r);
		pos = (uint32_t)(r->tail % SIZE);
		to_end = SIZE - pos;
		need = rec_len(len) <= to_end ? rec_len(len) : to_end + rec_len(len);
		if (push_seq(r, seq, len, &wake) == 0) {
			assert_true(used + need <= SIZE);
			assert_int_equal(ring_used(r), used + need);
			assert_int_equal(wake, qhead == qtail);
			qseq[qtail % 256] = seq;
			qlen[qtail % 256] = len;
			qtail++;
			seq++;
			pushes++;
		} else {
			assert_true(used + need > SIZE);
			assert_int_equal(r->drops, ++drops);
			assert_int_equal(ring_used(r), used);
			refusals++;
			assert_true(qhead != qtail);
			pop_seq(r, qseq[qhead % 256], qlen[qhead % 256]);
			qhead++;
		}
		/*
		 * The consumer takes 0..2 records per push (deterministic
		 * pseudo-random), and stalls for 40 pushes out of every 200, so
		 * the ring runs full and refuses some.
		 */
		step++;
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		for (k = step % 200 < 40 ? 0 : x % 3; k > 0 && qhead != qtail; k--) {
			pop_seq(r, qseq[qhead % 256], qlen[qhead % 256]);
			qhead++;
		}
		assert_true(qtail - qhead < 256);
	}
	while (qhead != qtail) {
		pop_seq(r, qseq[qhead % 256], qlen[qhead % 256]);
		qhead++;
	}
	assert_empty(r);
	assert_true(pushes > 100);
	assert_true(refusals > 0);
	assert_int_equal(r->resets, 0);
}

/* Strictly alternating push/pop: every record alone in the ring. */
static void
test_wraparound_push_pop_alternating(void **state)
{
	struct ring *r = *state;
	uint32_t seq, len;
	int wake;

	for (seq = 0; r->tail < (uint64_t)SIZE * 20; seq++) {
		len = 1 + (seq * 40503u) % 65536;
		assert_int_equal(push_seq(r, seq, len, &wake), 0);
		assert_int_equal(wake, 1);
		pop_seq(r, seq, len);
		assert_empty(r);
	}
	assert_int_equal(r->drops, 0);
	assert_int_equal(r->resets, 0);
}

/* A record that would straddle the end is put at the start, after a PAD. */
static void
test_pad_record_is_skipped(void **state)
{
	struct ring *r = *state;
	uint32_t big = SIZE / 2 - HDR;	/* record of exactly SIZE/2 */
	uint32_t near_end = SIZE / 2 - 2 * HDR - 64;
	int wake;

	/* Leave tail a little before the end. */
	assert_int_equal(push_seq(r, 1, big, &wake), 0);
	pop_seq(r, 1, big);
	assert_int_equal(push_seq(r, 2, near_end, &wake), 0);
	pop_seq(r, 2, near_end);
	assert_true(r->tail % SIZE > SIZE - 256);
	/* This one does not fit before the end: a PAD fills the gap. */
	assert_int_equal(push_seq(r, 3, 1000, &wake), 0);
	assert_true(r->tail > SIZE);
	assert_true(r->tail % SIZE < 2048);
	pop_seq(r, 3, 1000);
	assert_empty(r);
	assert_int_equal(r->resets, 0);
}

/* ---- full ring ---- */

static void
test_full_ring_refuses_and_counts_drops(void **state)
{
	struct ring *r = *state;
	uint32_t n = 0, i, len = 4000 - HDR;
	int wake;

	while (push_seq(r, n, len, &wake) == 0)
		n++;
	assert_int_equal(n, SIZE / 4000);
	assert_int_equal(r->drops, 1);
	assert_int_equal(push_seq(r, 9999, len, &wake), -1);
	assert_int_equal(wake, 0);
	assert_int_equal(r->drops, 2);
	/* The 2144 bytes left before the end still take a small record. */
	assert_int_equal(push_seq(r, n, 8, &wake), 0);
	assert_int_equal(r->drops, 2);
	assert_true(ring_used(r) <= SIZE);
	/* Nothing queued was harmed by the refusals. */
	for (i = 0; i < n; i++)
		pop_seq(r, i, len);
	pop_seq(r, n, 8);
	assert_empty(r);
	/* And it takes records again. */
	assert_int_equal(push_seq(r, 77, len, &wake), 0);
	pop_seq(r, 77, len);
	assert_int_equal(r->drops, 2);
	assert_int_equal(r->resets, 0);
}

static void
test_full_ring_exact_fit(void **state)
{
	struct ring *r = *state;
	uint32_t len = 1024 - HDR, i, n = SIZE / 1024;
	int wake;

	for (i = 0; i < n; i++)
		assert_int_equal(push_seq(r, i, len, &wake), 0);
	assert_int_equal(ring_used(r), SIZE);
	assert_int_equal(push_seq(r, n, 0, &wake), -1);
	assert_int_equal(r->drops, 1);
	pop_seq(r, 0, len);
	assert_int_equal(push_seq(r, n, len, &wake), 0);
	for (i = 1; i <= n; i++)
		pop_seq(r, i, len);
	assert_empty(r);
}

static void
test_record_over_half_refused(void **state)
{
	struct ring *r = *state;
	int wake = 7;

	assert_int_equal(push_seq(r, 1, SIZE / 2 - HDR + 1, &wake), -1);
	assert_int_equal(wake, 0);
	assert_int_equal(r->drops, 1);
	assert_empty(r);
	assert_int_equal(push_seq(r, 2, SIZE / 2, &wake), -1);
	assert_int_equal(r->drops, 2);
	assert_int_equal(push_seq(r, 3, SIZE / 2 - HDR, &wake), 0);
	pop_seq(r, 3, SIZE / 2 - HDR);
	assert_int_equal(r->drops, 2);
}

/*
 * A payload_len near 2^32 must be refused (and counted), not wrap the
 * record length to something small. Callers bound it to 64 KiB today; this is
 * defence in depth. Run in a child so a crash does not take the runner down.
 */
static void
test_huge_payload_len_refused_not_wrapped(void **state)
{
	struct ring *r = *state;
	pid_t pid;
	int status;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int wake, rc;

		/* Quietly (ASan would report the overflow at length) ... */
		int devnull = open("/dev/null", O_WRONLY);

		if (devnull >= 0)
			dup2(devnull, 2);
		/* ... and of the signal, not through cmocka's handler. */
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		signal(SIGABRT, SIG_DFL);
		alarm(10);
		rc = ring_push(r, SIZE, RING_PACKET, 0, 0, NULL, payload_buf,
		    0xfffffff0u, &wake);
		_exit(rc == -1 && r->drops == 1 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("regression: ring_push(payload_len=0xfffffff0) did not return "
		    "-1 (child %s %d)", WIFSIGNALED(status) ? "killed by signal" :
		    "exited", WIFSIGNALED(status) ? WTERMSIG(status) :
		    WEXITSTATUS(status));
}

/* ---- wake ---- */

static void
test_wake_only_when_consumer_drained(void **state)
{
	struct ring *r = *state;
	struct ring_rec hdr;
	const uint8_t *p;
	int wake = -1;

	assert_int_equal(push_seq(r, 1, 10, &wake), 0);
	assert_int_equal(wake, 1);
	assert_int_equal(push_seq(r, 2, 10, &wake), 0);
	assert_int_equal(wake, 0);
	/* Consumer takes one: not drained yet, so no wake. */
	pop_seq(r, 1, 10);
	assert_int_equal(push_seq(r, 3, 10, &wake), 0);
	assert_int_equal(wake, 0);
	pop_seq(r, 2, 10);
	pop_seq(r, 3, 10);
	assert_int_equal(ring_front(r, SIZE, &hdr, &p), 0);
	assert_int_equal(push_seq(r, 4, 10, &wake), 0);
	assert_int_equal(wake, 1);
	assert_int_equal(push_seq(r, 5, 10, &wake), 0);
	assert_int_equal(wake, 0);
}

/* ---- corruption ---- */

static struct ring_rec *
front_rec(struct ring *r)
{
	return (struct ring_rec *)(r->data + (r->head & (SIZE - 1)));
}

static void
expect_reset(struct ring *r, uint64_t resets_before)
{
	struct ring_rec hdr;
	const uint8_t *p;
	int wake;

	assert_int_equal(ring_front(r, SIZE, &hdr, &p), 0);
	assert_int_equal(r->resets, resets_before + 1);
	assert_int_equal(ring_used(r), 0);
	assert_int_equal(ring_front(r, SIZE, &hdr, &p), 0);
	assert_int_equal(r->resets, resets_before + 1);
	/* Usable afterwards. */
	assert_int_equal(push_seq(r, 42, 100, &wake), 0);
	pop_seq(r, 42, 100);
	assert_empty(r);
}

static void
push_three(struct ring *r)
{
	int wake;

	assert_int_equal(push_seq(r, 1, 100, &wake), 0);
	assert_int_equal(push_seq(r, 2, 100, &wake), 0);
	assert_int_equal(push_seq(r, 3, 100, &wake), 0);
}

static void
test_corrupt_len_not_multiple_of_8(void **state)
{
	struct ring *r = *state;

	push_three(r);
	front_rec(r)->len += 3;
	expect_reset(r, 0);
}

static void
test_corrupt_len_beyond_tail(void **state)
{
	struct ring *r = *state;

	push_three(r);
	front_rec(r)->len = (uint32_t)ring_used(r) + 8;
	expect_reset(r, 0);
}

static void
test_corrupt_len_zero_or_huge(void **state)
{
	struct ring *r = *state;

	push_three(r);
	front_rec(r)->len = 0;
	expect_reset(r, 0);
	push_three(r);
	front_rec(r)->len = 0xfffffff8u;
	expect_reset(r, 1);
}

static void
test_corrupt_unknown_kind(void **state)
{
	struct ring *r = *state;

	push_three(r);
	front_rec(r)->kind = RING_KIND_MAX;
	expect_reset(r, 0);
	push_three(r);
	front_rec(r)->kind = 0xffff;
	expect_reset(r, 1);
}

static void
test_corrupt_payload_len_beyond_record(void **state)
{
	struct ring *r = *state;

	push_three(r);
	front_rec(r)->payload_len = front_rec(r)->len - HDR + 1;
	expect_reset(r, 0);
}

static void
test_corrupt_short_pad(void **state)
{
	struct ring *r = *state;

	/* A PAD must reach exactly the end of the buffer. */
	push_three(r);
	front_rec(r)->kind = RING_PAD;
	expect_reset(r, 0);
}

static void
test_corrupt_second_record_after_good_one(void **state)
{
	struct ring *r = *state;
	struct ring_rec *second;

	push_three(r);
	second = (struct ring_rec *)((uint8_t *)front_rec(r) + front_rec(r)->len);
	second->len = 12;
	pop_seq(r, 1, 100);	/* the first is still fine */
	expect_reset(r, 0);
}

/*
 * A producer that publishes an unaligned tail: the consumer resets to it,
 * and must then never read a header that straddles the end of the buffer
 * (the fuzzer's crashes/ring_front-oob-read-unaligned-head).
 */
static void
test_corrupt_unaligned_tail_near_end(void **state)
{
	struct ring *r = *state;
	struct ring_rec hdr;
	const uint8_t *p;

	r->tail = SIZE - 4;		/* 4 bytes before the end */
	assert_int_equal(ring_front(r, SIZE, &hdr, &p), 0);
	assert_int_equal(r->resets, 1);
	r->tail = SIZE + 16;		/* the producer carries on from there */
	assert_int_equal(ring_front(r, SIZE, &hdr, &p), 0);
	assert_int_equal(r->resets, 2);
	assert_int_equal(ring_used(r), 0);
}

/* A tail another process made unaligned, 4 bytes before the end: the
 * producer must not write a PAD header that runs past the buffer. */
static void
test_push_refuses_unaligned_tail(void **state)
{
	struct ring *r = *state;
	int wake;

	r->tail = r->head = SIZE - 4;
	assert_int_equal(push_seq(r, 1, 100, &wake), -1);
	assert_int_equal(r->drops, 1);
	assert_int_equal(r->tail, SIZE - 4);
}

/* ---- discard ---- */

static void
test_discard_empties_ring(void **state)
{
	struct ring *r = *state;
	int wake;

	push_three(r);
	assert_true(ring_used(r) > 0);
	ring_discard(r);
	assert_empty(r);
	assert_int_equal(r->resets, 0);
	assert_int_equal(push_seq(r, 8, 8, &wake), 0);
	assert_int_equal(wake, 1);
	pop_seq(r, 8, 8);
	ring_discard(r);	/* on an empty ring: a no-op */
	assert_empty(r);
}

#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_empty_ring_has_no_front),
		T(test_fifo_order_and_payload),
		T(test_null_key_and_empty_payload),
		T(test_wraparound_varied_sizes),
		T(test_wraparound_push_pop_alternating),
		T(test_pad_record_is_skipped),
		T(test_full_ring_refuses_and_counts_drops),
		T(test_full_ring_exact_fit),
		T(test_record_over_half_refused),
		T(test_huge_payload_len_refused_not_wrapped),
		T(test_wake_only_when_consumer_drained),
		T(test_corrupt_len_not_multiple_of_8),
		T(test_corrupt_len_beyond_tail),
		T(test_corrupt_len_zero_or_huge),
		T(test_corrupt_unknown_kind),
		T(test_corrupt_payload_len_beyond_record),
		T(test_corrupt_short_pad),
		T(test_corrupt_second_record_after_good_one),
		T(test_corrupt_unaligned_tail_near_end),
		T(test_push_refuses_unaligned_tail),
		T(test_discard_empties_ring),
	};

	return cmocka_run_group_tests_name("ring", tests, group_setup, NULL);
}
