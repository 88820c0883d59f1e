/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for common/frame.c: the DERP frame codec. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "frame.h"

/* ---- header encode / decode ---- */

static void
check_header_round_trip(uint8_t type, uint32_t len)
{
	uint8_t buf[DERP_FRAME_HDR_LEN + 1];
	uint8_t got_type = 0;
	uint32_t got_len = 0;

	memset(buf, 0xee, sizeof(buf));
	frame_put_header(buf, type, len);
	/* Writes exactly 5 bytes, big-endian length. */
	assert_int_equal(buf[0], type);
	assert_int_equal(buf[1], (len >> 24) & 0xff);
	assert_int_equal(buf[2], (len >> 16) & 0xff);
	assert_int_equal(buf[3], (len >> 8) & 0xff);
	assert_int_equal(buf[4], len & 0xff);
	assert_int_equal(buf[5], 0xee);
	assert_int_equal(frame_get_header(buf, DERP_FRAME_HDR_LEN, &got_type,
	    &got_len), 1);
	assert_int_equal(got_type, type);
	assert_int_equal(got_len, len);
}

static void
test_header_round_trip_lengths(void **state)
{
	(void)state;
	check_header_round_trip(FRAME_SEND_PACKET, 0);
	check_header_round_trip(FRAME_SEND_PACKET, 1);
	check_header_round_trip(FRAME_RECV_PACKET, 255);
	check_header_round_trip(FRAME_RECV_PACKET, 256);
	check_header_round_trip(FRAME_FORWARD_PACKET, 65536 + 64);
	check_header_round_trip(0xff, 0x01020304);
	check_header_round_trip(0x00, 0xffffffffu);
}

static void
test_header_big_endian_bytes(void **state)
{
	static const uint8_t want[] = { 0x04, 0x00, 0x01, 0x00, 0x40 };
	uint8_t buf[DERP_FRAME_HDR_LEN];

	(void)state;
	frame_put_header(buf, FRAME_SEND_PACKET, 65536 + 64);
	assert_memory_equal(buf, want, sizeof(want));
}

static void
test_header_incomplete_returns_0(void **state)
{
	uint8_t buf[DERP_FRAME_HDR_LEN];
	uint8_t type = 0x77;
	uint32_t len = 0x12345678;
	size_t avail;

	(void)state;
	frame_put_header(buf, FRAME_PING, 8);
	for (avail = 0; avail < DERP_FRAME_HDR_LEN; avail++) {
		assert_int_equal(frame_get_header(buf, avail, &type, &len), 0);
		/* Outputs untouched while incomplete. */
		assert_int_equal(type, 0x77);
		assert_int_equal(len, 0x12345678);
	}
	assert_int_equal(frame_get_header(buf, 100, &type, &len), 1);
	assert_int_equal(type, FRAME_PING);
	assert_int_equal(len, 8);
}

/* ---- frame_check_client ---- */

static void
expect_verdict(uint8_t type, uint32_t len, enum frame_verdict want)
{
	const char *why = NULL;
	enum frame_verdict got = frame_check_client(type, len, &why);

	if (got != want)
		print_error("type 0x%02x len %u: verdict %d, want %d\n",
		    type, len, (int)got, (int)want);
	assert_int_equal(got, want);
	if (want == FRAME_REJECT) {
		assert_non_null(why);
		assert_true(why[0] != '\0');
	}
}

static void
test_check_send_packet_bounds(void **state)
{
	(void)state;
	expect_verdict(FRAME_SEND_PACKET, 0, FRAME_REJECT);
	expect_verdict(FRAME_SEND_PACKET, 31, FRAME_REJECT);
	expect_verdict(FRAME_SEND_PACKET, 32, FRAME_ACCEPT);
	expect_verdict(FRAME_SEND_PACKET, 33, FRAME_ACCEPT);
	expect_verdict(FRAME_SEND_PACKET, 32 + 65536, FRAME_ACCEPT);
	expect_verdict(FRAME_SEND_PACKET, 32 + 65537, FRAME_REJECT);
	expect_verdict(FRAME_SEND_PACKET, 0xffffffffu, FRAME_REJECT);
}

static void
test_check_forward_packet_bounds(void **state)
{
	(void)state;
	expect_verdict(FRAME_FORWARD_PACKET, 0, FRAME_REJECT);
	expect_verdict(FRAME_FORWARD_PACKET, 32, FRAME_REJECT);
	expect_verdict(FRAME_FORWARD_PACKET, 63, FRAME_REJECT);
	expect_verdict(FRAME_FORWARD_PACKET, 64, FRAME_ACCEPT);
	expect_verdict(FRAME_FORWARD_PACKET, 64 + 65536, FRAME_ACCEPT);
	expect_verdict(FRAME_FORWARD_PACKET, 64 + 65537, FRAME_REJECT);
	expect_verdict(FRAME_FORWARD_PACKET, 0xffffffffu, FRAME_REJECT);
}

static void
test_check_note_preferred_exactly_1(void **state)
{
	(void)state;
	expect_verdict(FRAME_NOTE_PREFERRED, 0, FRAME_REJECT);
	expect_verdict(FRAME_NOTE_PREFERRED, 1, FRAME_ACCEPT);
	expect_verdict(FRAME_NOTE_PREFERRED, 2, FRAME_REJECT);
}

static void
test_check_watch_conns_exactly_0(void **state)
{
	(void)state;
	expect_verdict(FRAME_WATCH_CONNS, 0, FRAME_ACCEPT);
	expect_verdict(FRAME_WATCH_CONNS, 1, FRAME_REJECT);
}

static void
test_check_close_peer_exactly_32(void **state)
{
	(void)state;
	expect_verdict(FRAME_CLOSE_PEER, 0, FRAME_REJECT);
	expect_verdict(FRAME_CLOSE_PEER, 31, FRAME_REJECT);
	expect_verdict(FRAME_CLOSE_PEER, 32, FRAME_ACCEPT);
	expect_verdict(FRAME_CLOSE_PEER, 33, FRAME_REJECT);
}

static void
test_check_ping_8_to_1000(void **state)
{
	(void)state;
	expect_verdict(FRAME_PING, 0, FRAME_REJECT);
	expect_verdict(FRAME_PING, 7, FRAME_REJECT);
	expect_verdict(FRAME_PING, 8, FRAME_ACCEPT);
	expect_verdict(FRAME_PING, 1000, FRAME_ACCEPT);
	expect_verdict(FRAME_PING, 1001, FRAME_REJECT);
}

static void
test_check_pong_accept_8_else_skip(void **state)
{
	(void)state;
	expect_verdict(FRAME_PONG, 8, FRAME_ACCEPT);
	expect_verdict(FRAME_PONG, 0, FRAME_SKIP);
	expect_verdict(FRAME_PONG, 7, FRAME_SKIP);
	expect_verdict(FRAME_PONG, 9, FRAME_SKIP);
}

static void
test_check_unknown_and_server_types_skip(void **state)
{
	static const uint8_t types[] = {
		0x00, 0x7f, 0xff, FRAME_SERVER_KEY, FRAME_CLIENT_INFO,
		FRAME_SERVER_INFO, FRAME_RECV_PACKET, FRAME_KEEP_ALIVE,
		FRAME_PEER_GONE, FRAME_PEER_PRESENT, FRAME_HEALTH,
		FRAME_RESTARTING,
	};
	static const uint32_t lens[] = { 0, 1, 32, 65536 + 64, 0xffffffffu };
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(types); i++)
		for (j = 0; j < sizeof(lens) / sizeof(lens[0]); j++)
			expect_verdict(types[i], lens[j], FRAME_SKIP);
}

/* ---- frame_check_client_info ---- */

static void
test_check_client_info_type_and_bounds(void **state)
{
	const uint32_t min = 32 + 24 + 16;
	const char *why = NULL;

	(void)state;
	assert_int_equal(frame_check_client_info(FRAME_CLIENT_INFO, min - 1,
	    &why), FRAME_REJECT);
	assert_non_null(why);
	assert_int_equal(frame_check_client_info(FRAME_CLIENT_INFO, min, &why),
	    FRAME_ACCEPT);
	assert_int_equal(frame_check_client_info(FRAME_CLIENT_INFO, 256 * 1024,
	    &why), FRAME_ACCEPT);
	why = NULL;
	assert_int_equal(frame_check_client_info(FRAME_CLIENT_INFO,
	    256 * 1024 + 1, &why), FRAME_REJECT);
	assert_non_null(why);
	assert_int_equal(frame_check_client_info(FRAME_CLIENT_INFO, 0xffffffffu,
	    &why), FRAME_REJECT);
	assert_int_equal(frame_check_client_info(FRAME_CLIENT_INFO, 0, &why),
	    FRAME_REJECT);
}

static void
test_check_client_info_wrong_type_rejected(void **state)
{
	static const uint8_t types[] = {
		0x00, FRAME_SERVER_KEY, FRAME_SEND_PACKET, FRAME_PING, 0xff,
	};
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(types); i++) {
		why = NULL;
		assert_int_equal(frame_check_client_info(types[i], 100, &why),
		    FRAME_REJECT);
		assert_non_null(why);
	}
}

/* ---- builders ---- */

static void
fill(uint8_t *p, size_t n, uint8_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static void
test_build_server_key_bytes(void **state)
{
	uint8_t pub[32], out[64], want[5 + 8 + 32];

	(void)state;
	fill(pub, sizeof(pub), 3);
	memcpy(want, "\x01\x00\x00\x00\x28", 5);
	memcpy(want + 5, "DERP\xf0\x9f\x94\x91", 8);
	memcpy(want + 13, pub, 32);
	memset(out, 0xaa, sizeof(out));
	assert_int_equal(frame_server_key(out, pub), sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(out[sizeof(want)], 0xaa);
}

static void
test_build_peer_gone_bytes(void **state)
{
	uint8_t key[32], out[64], want[5 + 33];

	(void)state;
	fill(key, sizeof(key), 9);
	memcpy(want, "\x08\x00\x00\x00\x21", 5);
	memcpy(want + 5, key, 32);
	want[37] = PEER_GONE_NOT_HERE;
	memset(out, 0xaa, sizeof(out));
	assert_int_equal(frame_peer_gone(out, key, PEER_GONE_NOT_HERE),
	    sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(out[sizeof(want)], 0xaa);

	assert_int_equal(frame_peer_gone(out, key, PEER_GONE_DISCONNECTED),
	    sizeof(want));
	assert_int_equal(out[37], 0x00);
}

static void
test_build_pong_bytes(void **state)
{
	static const uint8_t data[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	static const uint8_t want[] = {
		0x13, 0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8,
	};
	uint8_t out[32];

	(void)state;
	memset(out, 0xaa, sizeof(out));
	assert_int_equal(frame_pong(out, data), sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(out[sizeof(want)], 0xaa);
}

static void
test_build_keep_alive_bytes(void **state)
{
	static const uint8_t want[] = { 0x06, 0, 0, 0, 0 };
	uint8_t out[8];

	(void)state;
	memset(out, 0xaa, sizeof(out));
	assert_int_equal(frame_keep_alive(out), sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(out[sizeof(want)], 0xaa);
}

static void
test_build_recv_packet_header_bytes(void **state)
{
	uint8_t src[32], out[DERP_RECV_HDR_LEN + 1], want[DERP_RECV_HDR_LEN];

	(void)state;
	assert_int_equal(DERP_RECV_HDR_LEN, 37);
	fill(src, sizeof(src), 0x40);
	/* payload = 32-byte key + 1000-byte packet = 1032 = 0x408 */
	memcpy(want, "\x05\x00\x00\x04\x08", 5);
	memcpy(want + 5, src, 32);
	memset(out, 0xaa, sizeof(out));
	frame_recv_packet_header(out, src, 1000);
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(out[DERP_RECV_HDR_LEN], 0xaa);

	/* Largest packet: 32 + 65536 = 0x10020. */
	frame_recv_packet_header(out, src, 65536);
	assert_memory_equal(out, "\x05\x00\x01\x00\x20", 5);
}

static void
test_build_ping_restarting_health_bytes(void **state)
{
	static const uint8_t data[8] = { 8, 7, 6, 5, 4, 3, 2, 1 };
	static const uint8_t want_ping[] = {
		0x12, 0, 0, 0, 8, 8, 7, 6, 5, 4, 3, 2, 1,
	};
	static const uint8_t want_restart[] = {
		0x15, 0, 0, 0, 8, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x75, 0x30,
	};
	uint8_t out[64];

	(void)state;
	assert_int_equal(frame_ping(out, data), sizeof(want_ping));
	assert_memory_equal(out, want_ping, sizeof(want_ping));
	assert_int_equal(frame_restarting(out, 1000, 30000),
	    sizeof(want_restart));
	assert_memory_equal(out, want_restart, sizeof(want_restart));
	assert_int_equal(frame_health(out, "bad", 3), 8);
	assert_memory_equal(out, "\x14\x00\x00\x00\x03" "bad", 8);
	assert_int_equal(frame_health(out, "", 0), 5);
	assert_memory_equal(out, "\x14\x00\x00\x00\x00", 5);
}

static void
test_build_peer_present_bytes(void **state)
{
	uint8_t key[32], ip[16], out[80], want[5 + DERP_PEER_PRESENT_LEN];

	(void)state;
	assert_int_equal(DERP_PEER_PRESENT_LEN, 51);
	fill(key, sizeof(key), 1);
	memset(ip, 0, sizeof(ip));
	ip[10] = ip[11] = 0xff;
	ip[12] = 192, ip[13] = 0, ip[14] = 2, ip[15] = 1;
	memcpy(want, "\x09\x00\x00\x00\x33", 5);
	memcpy(want + 5, key, 32);
	memcpy(want + 37, ip, 16);
	want[53] = 0x12;
	want[54] = 0x34;
	want[55] = PEER_PRESENT_REGULAR | PEER_PRESENT_PROBER;
	assert_int_equal(frame_peer_present(out, key, ip, 0x1234,
	    PEER_PRESENT_REGULAR | PEER_PRESENT_PROBER), sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
}

/* ---- packet_looks_like_disco ---- */

static void
test_disco_needs_magic_and_62_bytes(void **state)
{
	uint8_t pkt[100];

	(void)state;
	memset(pkt, 0x5a, sizeof(pkt));
	memcpy(pkt, "TS\xf0\x9f\x92\xac", 6);
	assert_false(packet_looks_like_disco(pkt, 0));
	assert_false(packet_looks_like_disco(pkt, 6));
	assert_false(packet_looks_like_disco(pkt, 61));
	assert_true(packet_looks_like_disco(pkt, 62));
	assert_true(packet_looks_like_disco(pkt, sizeof(pkt)));

	pkt[5] ^= 1;	/* last magic byte wrong */
	assert_false(packet_looks_like_disco(pkt, 62));
	pkt[5] ^= 1;
	pkt[0] = 't';	/* first magic byte wrong */
	assert_false(packet_looks_like_disco(pkt, sizeof(pkt)));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_round_trip_lengths),
		cmocka_unit_test(test_header_big_endian_bytes),
		cmocka_unit_test(test_header_incomplete_returns_0),
		cmocka_unit_test(test_check_send_packet_bounds),
		cmocka_unit_test(test_check_forward_packet_bounds),
		cmocka_unit_test(test_check_note_preferred_exactly_1),
		cmocka_unit_test(test_check_watch_conns_exactly_0),
		cmocka_unit_test(test_check_close_peer_exactly_32),
		cmocka_unit_test(test_check_ping_8_to_1000),
		cmocka_unit_test(test_check_pong_accept_8_else_skip),
		cmocka_unit_test(test_check_unknown_and_server_types_skip),
		cmocka_unit_test(test_check_client_info_type_and_bounds),
		cmocka_unit_test(test_check_client_info_wrong_type_rejected),
		cmocka_unit_test(test_build_server_key_bytes),
		cmocka_unit_test(test_build_peer_gone_bytes),
		cmocka_unit_test(test_build_pong_bytes),
		cmocka_unit_test(test_build_keep_alive_bytes),
		cmocka_unit_test(test_build_recv_packet_header_bytes),
		cmocka_unit_test(test_build_ping_restarting_health_bytes),
		cmocka_unit_test(test_build_peer_present_bytes),
		cmocka_unit_test(test_disco_needs_magic_and_62_bytes),
	};

	return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
