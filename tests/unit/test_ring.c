/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for common/ring.c: the SPSC record ring. Each test holds the
 * two private views two processes would have (struct ring_tx, struct
 * ring_rx) over one struct ring (the producer's region) and one head word
 * (the consumer's region). A hostile producer is simulated by writing the
 * struct ring and its data directly; a hostile consumer by writing the head
 * word.
 */
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

#include "ring.h"

#define SIZE	RING_MIN_SIZE
#define HDR	sizeof(struct ring_rec)

struct fix {
	struct ring	*r;		/* the producer's region */
	uint64_t	*head;		/* the consumer's region */
	struct ring_tx	 tx;
	struct ring_rx	 rx;
};

static uint8_t payload_buf[SIZE];

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	/* Exactly ring_size(): ASan sees a byte written past the data area. */
	f->r = malloc(ring_size(SIZE));
	f->head = malloc(sizeof(*f->head));
	if (f->r == NULL || f->head == NULL)
		return -1;
	memset(f->r, 0x5c, ring_size(SIZE));	/* no reliance on zeroes */
	*f->head = 0;				/* a fresh memfd */
	ring_tx_start(&f->tx, f->r, f->head, SIZE);
	ring_rx_start(&f->rx, f->r, f->head, SIZE);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	free(f->r);
	free(f->head);
	free(f);
	return 0;
}

/* Bytes produced and not yet consumed, as the consumer sees it. */
static uint64_t
used(const struct fix *f)
{
	return f->r->tail - f->rx.head;
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

static uint32_t
epoch_of(uint32_t seq)
{
	return seq * 2246822519u + 3;
}

static int
push_seq(struct fix *f, uint32_t seq, uint32_t len, int *wake)
{
	uint8_t key[KEY_LEN];

	make_key(key, seq);
	fill_payload(seq, len);
	return ring_push(&f->tx, RING_PACKET, seq ^ 0xabcd, seq + 1,
	    epoch_of(seq), key, payload_buf, len, wake);
}

/* Pops the front record, checking it is seq with len payload bytes. */
static void
pop_seq(struct fix *f, uint32_t seq, uint32_t len)
{
	struct ring_rec hdr;
	const uint8_t *p = NULL;
	uint8_t key[KEY_LEN];
	uint32_t i;

	assert_int_equal(ring_front(&f->rx, &hdr, &p), 1);
	assert_int_equal(hdr.kind, RING_PACKET);
	assert_int_equal(hdr.slot, seq ^ 0xabcd);
	assert_int_equal(hdr.gen, seq + 1);
	assert_int_equal(hdr.epoch, epoch_of(seq));
	assert_int_equal(hdr.payload_len, len);
	assert_int_equal(hdr.len % 8, 0);
	assert_true(hdr.len >= HDR + len);
	make_key(key, seq);
	assert_memory_equal(hdr.key, key, KEY_LEN);
	assert_non_null(p);
	assert_ptr_equal(p, f->r->data + (f->rx.head % SIZE) + HDR);
	for (i = 0; i < len; i++)
		if (p[i] != pbyte(seq, i))
			fail_msg("record %u byte %u: %#x, want %#x", seq, i, p[i],
			    pbyte(seq, i));
	ring_pop(&f->rx, &hdr);
	assert_int_equal(*f->head, f->rx.head);	/* published at once */
}

static void
assert_empty(struct fix *f)
{
	struct ring_rec hdr;
	const uint8_t *p;

	assert_int_equal(used(f), 0);
	assert_int_equal(ring_front(&f->rx, &hdr, &p), 0);
}

/* ---- basics ---- */

static void
test_empty_ring_has_no_front(void **state)
{
	struct fix *f = *state;

	assert_int_equal(f->r->tail, 0);
	assert_int_equal(f->tx.tail, 0);
	assert_int_equal(f->r->drops, 0);
	assert_int_equal(*f->head, 0);
	assert_empty(f);
}

static void
test_fifo_order_and_payload(void **state)
{
	struct fix *f = *state;
	int wake;
	uint32_t seq;

	for (seq = 0; seq < 20; seq++)
		assert_int_equal(push_seq(f, seq, seq * 13, &wake), 0);
	assert_int_equal(f->r->tail, f->tx.tail);
	for (seq = 0; seq < 20; seq++)
		pop_seq(f, seq, seq * 13);
	assert_empty(f);
	assert_int_equal(f->r->drops, 0);
}

static void
test_null_key_and_empty_payload(void **state)
{
	struct fix *f = *state;
	struct ring_rec hdr;
	const uint8_t *p;
	uint8_t zero[KEY_LEN];
	int wake;

	memset(zero, 0, sizeof(zero));
	assert_int_equal(ring_push(&f->tx, RING_PEER_GONE, 3, 4, 77, NULL, NULL,
	    0, &wake), 0);
	assert_int_equal(ring_front(&f->rx, &hdr, &p), 1);
	assert_int_equal(hdr.kind, RING_PEER_GONE);
	assert_int_equal(hdr.slot, 3);
	assert_int_equal(hdr.gen, 4);
	assert_int_equal(hdr.epoch, 77);
	assert_int_equal(hdr.payload_len, 0);
	assert_int_equal(hdr.len, HDR);
	assert_memory_equal(hdr.key, zero, KEY_LEN);
	ring_pop(&f->rx, &hdr);
	assert_empty(f);
}

/* The destination's epoch travels with every kind of record, untouched. */
static void
test_records_carry_epoch(void **state)
{
	struct fix *f = *state;
	static const uint32_t epochs[] = { 0, 1, 0x7fffffff, 0xffffffff };
	struct ring_rec hdr;
	const uint8_t *p;
	uint16_t kind;
	uint32_t i;
	int wake;

	for (i = 0; i < 4; i++)
		for (kind = RING_PACKET; kind < RING_KIND_MAX; kind++)
			assert_int_equal(ring_push(&f->tx, kind, i, kind,
			    epochs[i], NULL, NULL, 0, &wake), 0);
	for (i = 0; i < 4; i++) {
		for (kind = RING_PACKET; kind < RING_KIND_MAX; kind++) {
			assert_int_equal(ring_front(&f->rx, &hdr, &p), 1);
			assert_int_equal(hdr.kind, kind);
			assert_int_equal(hdr.slot, i);
			assert_int_equal(hdr.gen, kind);
			assert_int_equal(hdr.epoch, epochs[i]);
			ring_pop(&f->rx, &hdr);
		}
	}
	assert_empty(f);
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
	struct fix *f = *state;
	uint32_t qseq[256], qlen[256], qhead = 0, qtail = 0;
	uint32_t seq = 0, len, pos, to_end, need, pushes = 0, refusals = 0;
	uint32_t step = 0, k;
	uint64_t drops = 0, u, x = 0x9e3779b97f4a7c15ull;
	int wake;

	while (f->tx.tail < (uint64_t)SIZE * 40) {
		len = 1 + (uint32_t)(((uint64_t)(seq + 1) * 2654435761u) % 65536);
		if (seq % 11 == 0)
			len = 65536;
		if (seq % 13 == 0)
			len = 1;
		u = used(f);
		pos = (uint32_t)(f->tx.tail % SIZE);
		to_end = SIZE - pos;
		need = rec_len(len) <= to_end ? rec_len(len) : to_end + rec_len(len);
		if (push_seq(f, seq, len, &wake) == 0) {
			assert_true(u + need <= SIZE);
			assert_int_equal(used(f), u + need);
			assert_int_equal(wake, qhead == qtail);
			qseq[qtail % 256] = seq;
			qlen[qtail % 256] = len;
			qtail++;
			seq++;
			pushes++;
		} else {
			assert_true(u + need > SIZE);
			assert_int_equal(f->r->drops, ++drops);
			assert_int_equal(used(f), u);
			refusals++;
			assert_true(qhead != qtail);
			pop_seq(f, qseq[qhead % 256], qlen[qhead % 256]);
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
			pop_seq(f, qseq[qhead % 256], qlen[qhead % 256]);
			qhead++;
		}
		assert_true(qtail - qhead < 256);
	}
	while (qhead != qtail) {
		pop_seq(f, qseq[qhead % 256], qlen[qhead % 256]);
		qhead++;
	}
	assert_empty(f);
	assert_true(pushes > 100);
	assert_true(refusals > 0);
}

/* Strictly alternating push/pop: every record alone in the ring. */
static void
test_wraparound_push_pop_alternating(void **state)
{
	struct fix *f = *state;
	uint32_t seq, len;
	int wake;

	for (seq = 0; f->tx.tail < (uint64_t)SIZE * 20; seq++) {
		len = 1 + (seq * 40503u) % 65536;
		assert_int_equal(push_seq(f, seq, len, &wake), 0);
		assert_int_equal(wake, 1);
		pop_seq(f, seq, len);
		assert_empty(f);
	}
	assert_int_equal(f->r->drops, 0);
}

/* A record that would straddle the end is put at the start, after a PAD. */
static void
test_pad_record_is_skipped(void **state)
{
	struct fix *f = *state;
	uint32_t big = SIZE / 2 - HDR;	/* record of exactly SIZE/2 */
	uint32_t near_end = SIZE / 2 - 2 * HDR - 64;
	const struct ring_rec *pad;
	int wake;

	/* Leave tail a little before the end. */
	assert_int_equal(push_seq(f, 1, big, &wake), 0);
	pop_seq(f, 1, big);
	assert_int_equal(push_seq(f, 2, near_end, &wake), 0);
	pop_seq(f, 2, near_end);
	assert_true(f->tx.tail % SIZE > SIZE - 256);
	pad = (const struct ring_rec *)(f->r->data + f->tx.tail % SIZE);
	/* This one does not fit before the end: a PAD fills the gap. */
	assert_int_equal(push_seq(f, 3, 1000, &wake), 0);
	assert_int_equal(pad->kind, RING_PAD);
	assert_int_equal(pad->len, SIZE - (uint32_t)(f->rx.head % SIZE));
	assert_true(f->tx.tail > SIZE);
	assert_true(f->tx.tail % SIZE < 2048);
	pop_seq(f, 3, 1000);
	assert_empty(f);
}

/* ---- full ring ---- */

static void
test_full_ring_refuses_and_counts_drops(void **state)
{
	struct fix *f = *state;
	uint32_t n = 0, i, len = 4000 - HDR;
	int wake;

	while (push_seq(f, n, len, &wake) == 0)
		n++;
	assert_int_equal(n, SIZE / 4000);
	assert_int_equal(f->r->drops, 1);
	assert_int_equal(push_seq(f, 9999, len, &wake), -1);
	assert_int_equal(wake, 0);
	assert_int_equal(f->r->drops, 2);
	/* The 2144 bytes left before the end still take a small record. */
	assert_int_equal(push_seq(f, n, 8, &wake), 0);
	assert_int_equal(f->r->drops, 2);
	assert_true(used(f) <= SIZE);
	/* Nothing queued was harmed by the refusals. */
	for (i = 0; i < n; i++)
		pop_seq(f, i, len);
	pop_seq(f, n, 8);
	assert_empty(f);
	/* And it takes records again. */
	assert_int_equal(push_seq(f, 77, len, &wake), 0);
	pop_seq(f, 77, len);
	assert_int_equal(f->r->drops, 2);
}

static void
test_full_ring_exact_fit(void **state)
{
	struct fix *f = *state;
	uint32_t len = 1024 - HDR, i, n = SIZE / 1024;
	int wake;

	for (i = 0; i < n; i++)
		assert_int_equal(push_seq(f, i, len, &wake), 0);
	assert_int_equal(used(f), SIZE);
	assert_int_equal(push_seq(f, n, 0, &wake), -1);
	assert_int_equal(f->r->drops, 1);
	pop_seq(f, 0, len);
	assert_int_equal(push_seq(f, n, len, &wake), 0);
	for (i = 1; i <= n; i++)
		pop_seq(f, i, len);
	assert_empty(f);
}

static void
test_record_over_half_refused(void **state)
{
	struct fix *f = *state;
	int wake = 7;

	assert_int_equal(push_seq(f, 1, SIZE / 2 - HDR + 1, &wake), -1);
	assert_int_equal(wake, 0);
	assert_int_equal(f->r->drops, 1);
	assert_empty(f);
	assert_int_equal(push_seq(f, 2, SIZE / 2, &wake), -1);
	assert_int_equal(f->r->drops, 2);
	assert_int_equal(push_seq(f, 3, SIZE / 2 - HDR, &wake), 0);
	pop_seq(f, 3, SIZE / 2 - HDR);
	assert_int_equal(f->r->drops, 2);
}

/*
 * A payload_len near 2^32 must be refused (and counted), not wrap the
 * record length to something small. Callers bound it to 64 KiB today; this is
 * defence in depth. Run in a child so a crash does not take the runner down.
 */
static void
test_huge_payload_len_refused_not_wrapped(void **state)
{
	struct fix *f = *state;
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
		rc = ring_push(&f->tx, RING_PACKET, 0, 0, 0, NULL, payload_buf,
		    0xfffffff0u, &wake);
		_exit(rc == -1 && f->r->drops == 1 && f->tx.tail == 0 ? 0 : 1);
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
	struct fix *f = *state;
	struct ring_rec hdr;
	const uint8_t *p;
	int wake = -1;

	assert_int_equal(push_seq(f, 1, 10, &wake), 0);
	assert_int_equal(wake, 1);
	assert_int_equal(push_seq(f, 2, 10, &wake), 0);
	assert_int_equal(wake, 0);
	/* Consumer takes one: not drained yet, so no wake. */
	pop_seq(f, 1, 10);
	assert_int_equal(push_seq(f, 3, 10, &wake), 0);
	assert_int_equal(wake, 0);
	/* Seen the record but not popped it: not drained either. */
	assert_int_equal(ring_front(&f->rx, &hdr, &p), 1);
	assert_int_equal(push_seq(f, 4, 10, &wake), 0);
	assert_int_equal(wake, 0);
	pop_seq(f, 2, 10);
	pop_seq(f, 3, 10);
	pop_seq(f, 4, 10);
	assert_int_equal(ring_front(&f->rx, &hdr, &p), 0);
	assert_int_equal(push_seq(f, 5, 10, &wake), 0);
	assert_int_equal(wake, 1);
	assert_int_equal(push_seq(f, 6, 10, &wake), 0);
	assert_int_equal(wake, 0);
	/* A refused push wakes nobody, drained or not. */
	pop_seq(f, 5, 10);
	pop_seq(f, 6, 10);
	assert_int_equal(push_seq(f, 7, SIZE, &wake), -1);
	assert_int_equal(wake, 0);
}

/* ---- a hostile producer: writes struct ring and its data directly ---- */

static struct ring_rec *
front_rec(struct fix *f)
{
	return (struct ring_rec *)(f->r->data + (f->rx.head & (SIZE - 1)));
}

/*
 * The consumer reports the bad ring once (-1), skips everything produced so
 * far, publishes that, and the ring works again.
 */
static void
expect_reset(struct fix *f)
{
	struct ring_rec hdr;
	const uint8_t *p;
	int wake;

	assert_int_equal(ring_front(&f->rx, &hdr, &p), -1);
	assert_int_equal(f->rx.head, f->r->tail & ~(uint64_t)7);
	assert_int_equal(*f->head, f->rx.head);
	assert_int_equal(used(f), 0);
	assert_int_equal(ring_front(&f->rx, &hdr, &p), 0);
	/* Usable afterwards. */
	assert_int_equal(push_seq(f, 42, 100, &wake), 0);
	pop_seq(f, 42, 100);
	assert_empty(f);
}

static void
push_three(struct fix *f)
{
	int wake;

	assert_int_equal(push_seq(f, 1, 100, &wake), 0);
	assert_int_equal(push_seq(f, 2, 100, &wake), 0);
	assert_int_equal(push_seq(f, 3, 100, &wake), 0);
}

static void
test_corrupt_len_not_multiple_of_8(void **state)
{
	struct fix *f = *state;

	push_three(f);
	front_rec(f)->len += 3;
	expect_reset(f);
}

static void
test_corrupt_len_beyond_tail(void **state)
{
	struct fix *f = *state;

	push_three(f);
	front_rec(f)->len = (uint32_t)used(f) + 8;
	expect_reset(f);
}

static void
test_corrupt_len_zero_or_huge(void **state)
{
	struct fix *f = *state;

	push_three(f);
	front_rec(f)->len = 0;
	expect_reset(f);
	push_three(f);
	front_rec(f)->len = 0xfffffff8u;
	expect_reset(f);
}

static void
test_corrupt_unknown_kind(void **state)
{
	struct fix *f = *state;

	push_three(f);
	front_rec(f)->kind = RING_KIND_MAX;
	expect_reset(f);
	push_three(f);
	front_rec(f)->kind = 0xffff;
	expect_reset(f);
}

static void
test_corrupt_payload_len_beyond_record(void **state)
{
	struct fix *f = *state;

	push_three(f);
	front_rec(f)->payload_len = front_rec(f)->len - HDR + 1;
	expect_reset(f);
}

static void
test_corrupt_short_pad(void **state)
{
	struct fix *f = *state;

	/* A PAD must reach exactly the end of the buffer. */
	push_three(f);
	front_rec(f)->kind = RING_PAD;
	expect_reset(f);
}

static void
test_corrupt_second_record_after_good_one(void **state)
{
	struct fix *f = *state;
	struct ring_rec *second;

	push_three(f);
	second = (struct ring_rec *)((uint8_t *)front_rec(f) + front_rec(f)->len);
	second->len = 12;
	pop_seq(f, 1, 100);	/* the first is still fine */
	expect_reset(f);
}

/* The header is copied out: changing it after ring_front changes nothing. */
static void
test_header_changed_after_front_is_not_seen(void **state)
{
	struct fix *f = *state;
	struct ring_rec hdr;
	const uint8_t *p;

	push_three(f);
	assert_int_equal(ring_front(&f->rx, &hdr, &p), 1);
	front_rec(f)->len = 0xfffffff8u;
	front_rec(f)->payload_len = 0xffffffffu;
	assert_int_equal(hdr.len, rec_len(100));
	assert_int_equal(hdr.payload_len, 100);
	ring_pop(&f->rx, &hdr);
	pop_seq(f, 2, 100);
	pop_seq(f, 3, 100);
	assert_empty(f);
}

/*
 * A producer that publishes an unaligned tail: the consumer resets to it,
 * and must then never read a header that straddles the end of the buffer
 * (the fuzzer's crashes/ring_front-oob-read-unaligned-head).
 */
static void
test_corrupt_unaligned_tail_near_end(void **state)
{
	struct fix *f = *state;
	struct ring_rec hdr;
	const uint8_t *p;

	f->r->tail = SIZE - 4;		/* 4 bytes before the end */
	assert_int_equal(ring_front(&f->rx, &hdr, &p), -1);
	assert_int_equal(f->rx.head, SIZE - 8);
	/* The producer carries on from there, over 0x5c bytes: no record. */
	f->r->tail = SIZE + 16;
	assert_int_equal(ring_front(&f->rx, &hdr, &p), -1);
	assert_int_equal(f->rx.head, SIZE + 16);
	assert_int_equal(used(f), 0);
	/* A well-formed PAD in the last 8 bytes is read as 8 bytes only. */
	f->r->tail = 2 * SIZE - 8 + 24;
	f->rx.head = 2 * SIZE - 8;
	memcpy(f->r->data + SIZE - 8, &(uint32_t){ 8 }, 4);
	memset(f->r->data + SIZE - 4, 0, 4);
	memset(f->r->data, 0, 24);
	assert_int_equal(ring_front(&f->rx, &hdr, &p), -1);	/* len 0 at 0 */
	assert_int_equal(f->rx.head, 2 * SIZE + 16);
}

/*
 * A record must end by the end of the buffer: one that claims to run past
 * it (by 8 bytes, or by 64) is a reset, not a payload read off the end.
 * (make mutate's ring-record-past-end: nothing else noticed.)
 */
static void
test_corrupt_len_past_buffer_end(void **state)
{
	struct fix *f = *state;
	struct ring_rec rec, hdr;
	const uint8_t *p;
	uint32_t over;

	for (over = 8; over <= 64; over += 56) {
		memset(&rec, 0, sizeof(rec));
		rec.len = 64 + over;
		rec.kind = RING_PACKET;
		rec.payload_len = rec.len - HDR;
		f->rx.head = SIZE - 64;		/* 64 bytes before the end */
		f->r->tail = f->rx.head + 256;
		memcpy(f->r->data + SIZE - 64, &rec, sizeof(rec));
		assert_int_equal(ring_front(&f->rx, &hdr, &p), -1);
		assert_int_equal(f->rx.head, f->r->tail);
	}
}

/* A tail more than a ring ahead, or behind the consumer, is a reset. */
static void
test_corrupt_tail_jumps(void **state)
{
	struct fix *f = *state;
	struct ring_rec hdr;
	const uint8_t *p;

	push_three(f);
	f->r->tail = f->rx.head + SIZE + 8;
	assert_int_equal(ring_front(&f->rx, &hdr, &p), -1);
	assert_int_equal(f->rx.head, f->r->tail);
	f->r->tail = f->rx.head - 8;
	assert_int_equal(ring_front(&f->rx, &hdr, &p), -1);
	assert_int_equal(f->rx.head, f->r->tail);
	assert_int_equal(ring_front(&f->rx, &hdr, &p), 0);
}

/* ---- a hostile consumer: writes the head word the producer reads ---- */

/* Fills the ring with 1 KiB records; returns how many went in. */
static uint32_t
fill(struct fix *f, uint32_t first)
{
	uint32_t n = 0;
	int wake;

	while (push_seq(f, first + n, 1024 - HDR, &wake) == 0)
		n++;
	return n;
}

/*
 * How many 1 KiB records an empty ring takes from the producer's position:
 * all of them, less one when the end is not 1 KiB-aligned (a PAD).
 */
static uint32_t
fill_count(const struct fix *f)
{
	return SIZE / 1024 - (f->tx.tail % 1024 != 0);
}

/*
 * Head words that go backwards, past the tail, are unaligned or absurd:
 * the producer believes none of them, keeps refusing a full ring by its own
 * count, and so never overwrites a record the consumer has not read.
 */
static void
test_hostile_head_not_believed(void **state)
{
	struct fix *f = *state;
	uint32_t n, i, k;
	uint64_t bad[6];
	uint64_t drops;
	int wake;

	n = fill(f, 0);
	assert_int_equal(n, SIZE / 1024);
	pop_seq(f, 0, 1024 - HDR);
	pop_seq(f, 1, 1024 - HDR);
	assert_int_equal(fill(f, n), 2);	/* exactly the two freed */
	drops = f->r->drops;
	bad[0] = f->rx.head - 1024;		/* backwards */
	bad[1] = 0;				/* far backwards */
	bad[2] = f->tx.tail + 1024;		/* beyond the tail */
	bad[3] = f->rx.head + 1028;		/* unaligned, in range */
	bad[4] = UINT64_MAX & ~(uint64_t)7;	/* absurd */
	bad[5] = f->tx.tail + SIZE;		/* "a whole ring free" */
	for (k = 0; k < 6; k++) {
		*f->head = bad[k];
		assert_int_equal(push_seq(f, 1000 + k, 1024 - HDR, &wake), -1);
		assert_int_equal(push_seq(f, 2000 + k, 0, &wake), -1);
		assert_int_equal(f->r->drops, drops += 2);
		assert_int_equal(f->tx.tail - f->tx.head_seen, SIZE);
	}
	/* Every record the consumer had not read is intact and in order. */
	for (i = 2; i < n + 2; i++)
		pop_seq(f, i, 1024 - HDR);
	assert_empty(f);
	/* The honest head is believed again: a whole ring of space. */
	assert_int_equal(fill(f, 5000), SIZE / 1024);
}

/* A head that steps back and returns is harmless; the producer never
 * steps back with it. */
static void
test_hostile_head_backwards_then_honest(void **state)
{
	struct fix *f = *state;
	uint32_t i;
	int wake;

	for (i = 0; i < 8; i++)
		assert_int_equal(push_seq(f, i, 1024 - HDR, &wake), 0);
	for (i = 0; i < 4; i++)
		pop_seq(f, i, 1024 - HDR);
	assert_int_equal(push_seq(f, 8, 1024 - HDR, &wake), 0);
	assert_int_equal(f->tx.head_seen, 4 * 1024);
	*f->head = 1024;
	assert_int_equal(push_seq(f, 9, 1024 - HDR, &wake), 0);
	assert_int_equal(f->tx.head_seen, 4 * 1024);
	/* Room for exactly what the believed head allows. */
	assert_int_equal(fill(f, 10), SIZE / 1024 - 6);
	*f->head = f->rx.head;
	for (i = 4; i < 10 + SIZE / 1024 - 6; i++)
		pop_seq(f, i, 1024 - HDR);
	assert_empty(f);
}

/*
 * A producer restarted by its new incarnation resumes at the consumer's
 * published head: the consumer sees an empty ring, not a reset, and then
 * the new producer's records in order.
 */
static void
test_producer_restart_resumes_at_head(void **state)
{
	struct fix *f = *state;
	struct ring_rec hdr;
	const uint8_t *p;
	uint32_t i, n;
	int wake;

	for (i = 0; i < 10; i++)
		assert_int_equal(push_seq(f, i, 3000, &wake), 0);
	for (i = 0; i < 4; i++)
		pop_seq(f, i, 3000);
	assert_int_equal(push_seq(f, 99, SIZE, &wake), -1);
	assert_int_equal(f->r->drops, 1);
	/* The old producer's last records are lost, as with any death. */
	ring_tx_start(&f->tx, f->r, f->head, SIZE);
	assert_int_equal(f->tx.tail, f->rx.head);
	assert_int_equal(f->r->tail, f->rx.head);
	assert_int_equal(f->r->drops, 0);
	assert_int_equal(ring_front(&f->rx, &hdr, &p), 0);	/* not -1 */
	assert_int_equal(push_seq(f, 100, 50, &wake), 0);
	assert_int_equal(wake, 1);
	assert_int_equal(push_seq(f, 101, 60, &wake), 0);
	pop_seq(f, 100, 50);
	pop_seq(f, 101, 60);
	assert_empty(f);
	/* A whole ring of space, from where the consumer is. */
	n = fill_count(f);
	assert_int_equal(fill(f, 200), n);
}

/* A restarted producer aligns an unaligned published head before writing. */
static void
test_producer_restart_aligns_head(void **state)
{
	struct fix *f = *state;
	int wake;

	*f->head = SIZE - 4;
	ring_tx_start(&f->tx, f->r, f->head, SIZE);
	assert_int_equal(f->tx.tail, SIZE - 8);
	assert_int_equal(f->r->tail, SIZE - 8);
	/* A legitimate consumer starting now takes it from there. */
	ring_rx_start(&f->rx, f->r, f->head, SIZE);
	assert_int_equal(f->rx.head, SIZE - 8);
	/* 8 bytes to the end: a PAD of 8 (ASan: no more), then the record. */
	assert_int_equal(push_seq(f, 1, 100, &wake), 0);
	assert_int_equal(f->tx.tail, SIZE + rec_len(100));
	pop_seq(f, 1, 100);
	assert_empty(f);
}

/*
 * A consumer restarted by its new incarnation resumes at the producer's
 * tail: nothing old is read, and the producer gets all the space back.
 */
static void
test_consumer_restart_reads_nothing_old(void **state)
{
	struct fix *f = *state;
	struct ring_rec hdr;
	const uint8_t *p;
	uint32_t n;
	int wake;

	n = fill(f, 0);
	pop_seq(f, 0, 1024 - HDR);
	ring_rx_start(&f->rx, f->r, f->head, SIZE);
	assert_int_equal(f->rx.head, f->tx.tail);
	assert_int_equal(*f->head, f->tx.tail);
	assert_int_equal(ring_front(&f->rx, &hdr, &p), 0);
	assert_int_equal(push_seq(f, n, 10, &wake), 0);
	assert_int_equal(wake, 1);
	pop_seq(f, n, 10);
	assert_empty(f);
	n = fill_count(f);
	assert_int_equal(fill(f, 1000), n);
}

/*
 * Positions are 64-bit byte counts that both sides inherit across restarts;
 * one that passes 2^64 is no different from any other (modular, like the
 * consumer's checks). A pair restarted at a head near 2^64 (which only a
 * lying consumer can publish) must keep working once the tail wraps.
 */
static void
test_positions_wrap_past_2_64(void **state)
{
	struct fix *f = *state;
	uint32_t seq, len = 3000;
	int wake;

	*f->head = UINT64_MAX - 4 * 1024 + 1;	/* aligned down: 2^64 - 4 KiB */
	ring_tx_start(&f->tx, f->r, f->head, SIZE);
	ring_rx_start(&f->rx, f->r, f->head, SIZE);
	assert_int_equal(f->tx.tail, (uint64_t)0 - 4096);
	/* Across the wrap and twice around the ring, one record at a time. */
	for (seq = 0; seq < 2 * SIZE / rec_len(len) + 1; seq++) {
		if (push_seq(f, seq, len, &wake) != 0)
			fail_msg("push %u refused at tail %#jx, head %#jx: the "
			    "producer stopped believing the consumer after "
			    "2^64", seq, (uintmax_t)f->tx.tail,
			    (uintmax_t)*f->head);
		assert_int_equal(wake, 1);
		pop_seq(f, seq, len);
	}
	assert_true(f->tx.tail < SIZE * 3);	/* it did wrap */
	assert_int_equal(f->r->drops, 0);
	/* And a full ring's worth after the wrap. */
	seq = fill_count(f);
	assert_int_equal(fill(f, 100), seq);
}

#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_empty_ring_has_no_front),
		T(test_fifo_order_and_payload),
		T(test_null_key_and_empty_payload),
		T(test_records_carry_epoch),
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
		T(test_header_changed_after_front_is_not_seen),
		T(test_corrupt_unaligned_tail_near_end),
		T(test_corrupt_len_past_buffer_end),
		T(test_corrupt_tail_jumps),
		T(test_hostile_head_not_believed),
		T(test_hostile_head_backwards_then_honest),
		T(test_producer_restart_resumes_at_head),
		T(test_producer_restart_aligns_head),
		T(test_consumer_restart_reads_nothing_old),
		T(test_positions_wrap_past_2_64),
	};

	return cmocka_run_group_tests_name("ring", tests, NULL, NULL);
}
