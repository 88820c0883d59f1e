/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for the DERP login (worker/handshake.c and what it
 * leads to), through a whole worker (tests/fuzz/fuzz_worker.c), with the
 * key process's answers faked as asked.
 *
 * The input is a mode byte (bits 0-1: the key process answers, refuses the
 * key as a low-order point, or answers for another connection; bit 2:
 * Derp-Fast-Start; bit 3: the relay has a mesh key; bit 4: sealed), then:
 *   - sealed: the client's private key (32 bytes), a 2-byte length and
 *     that much ClientInfo JSON, which the harness boxes to the server's
 *     key (a fuzzer cannot forge a box), then frames sent once logged in;
 *   - raw: the bytes the client sends after the upgrade.
 *
 * Checks: the worker answers the upgrade (101 unless fast start) and sends
 * ServerKey with its public key; a ServerInfo comes exactly when the JSON
 * is one worker/clientinfo.c accepts and the key process gave the shared
 * key, and it opens with the client's key as {"version":2,...}; raw bytes
 * never log anyone in; and when the client goes, nothing of it is left
 * (connection, slot, counters, table entry).
 */
#include <jansson.h>
#include <sodium.h>
#include <string.h>

#include "clientinfo.h"
#include "frame.h"
#include "fuzz.h"
#include "fuzz_worker.h"

#define OUT_MAX		(256 * 1024)

static uint8_t out[OUT_MAX];
static uint8_t frame_buf[DERP_FRAME_HDR_LEN + KEY_LEN + DERP_NONCE_LEN +
    DERP_BOX_OVERHEAD + 65536];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fw_init();
	return 0;
}

/* The ClientInfo frame a real client sends: its key, a nonce, the box. */
static size_t
client_info_frame(const uint8_t priv[KEY_LEN], const uint8_t *json, size_t len)
{
	uint8_t *p = frame_buf + DERP_FRAME_HDR_LEN;
	uint8_t nonce[DERP_NONCE_LEN] = { 1 };

	crypto_scalarmult_base(p, priv);
	memcpy(p + KEY_LEN, nonce, sizeof(nonce));
	CHECK(crypto_box_easy(p + KEY_LEN + DERP_NONCE_LEN, json, len, nonce,
	    fw.w.server_pub, priv) == 0);
	len += KEY_LEN + DERP_NONCE_LEN + DERP_BOX_OVERHEAD;
	frame_put_header(frame_buf, FRAME_CLIENT_INFO, (uint32_t)len);
	return DERP_FRAME_HDR_LEN + len;
}

/* Skips the 101 head unless fast start; returns where frames begin. */
static size_t
skip_upgrade(const uint8_t *o, size_t len, int fast)
{
	const uint8_t *end;

	if (fast)
		return 0;
	if (len == 0)
		return 0;
	CHECK(len >= 13 && memcmp(o, "HTTP/1.1 101 ", 13) == 0);
	end = memmem(o, len, "\r\n\r\n", 4);
	CHECK(end != NULL);
	return (size_t)(end + 4 - o);
}

/* Walks the frames the worker sent: ServerKey first; returns ServerInfo's payload offset or 0. */
static size_t
walk(const uint8_t *o, size_t off, size_t len, uint32_t *info_len)
{
	uint32_t flen;
	uint8_t type;
	size_t info = 0;
	int first = 1;

	while (frame_get_header(o + off, len - off, &type, &flen) &&
	    len - off - DERP_FRAME_HDR_LEN >= flen) {
		if (first) {
			CHECK(type == FRAME_SERVER_KEY && flen == 40);
			CHECK(memcmp(o + off + 5, DERP_MAGIC, DERP_MAGIC_LEN) == 0);
			CHECK(memcmp(o + off + 13, fw.w.server_pub, KEY_LEN) == 0);
		}
		CHECK(!first || type == FRAME_SERVER_KEY);
		if (type == FRAME_SERVER_INFO) {
			CHECK(info == 0);
			info = off + DERP_FRAME_HDR_LEN;
			*info_len = flen;
		}
		first = 0;
		off += DERP_FRAME_HDR_LEN + flen;
	}
	return info;
}

static void
check_server_info(const uint8_t *p, uint32_t len, const uint8_t priv[KEY_LEN])
{
	uint8_t plain[256];
	json_t *root;

	CHECK(len > DERP_NONCE_LEN + DERP_BOX_OVERHEAD &&
	    len - DERP_NONCE_LEN - DERP_BOX_OVERHEAD < sizeof(plain));
	CHECK(crypto_box_open_easy(plain, p + DERP_NONCE_LEN, len - DERP_NONCE_LEN,
	    p, fw.w.server_pub, priv) == 0);
	root = json_loadb((const char *)plain, len - DERP_NONCE_LEN -
	    DERP_BOX_OVERHEAD, 0, NULL);
	CHECK(root != NULL && json_integer_value(json_object_get(root,
	    "version")) == 2);
	json_decref(root);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char upgrade[] = "GET /derp HTTP/1.1\r\nHost: derp.test\r\n"
	    "Connection: Upgrade\r\nUpgrade: DERP\r\n";
	uint8_t mode, priv[KEY_LEN], pub[KEY_LEN], shared[KEY_LEN];
	struct client_info ci;
	const char *why;
	size_t len, jlen, off, info;
	uint32_t info_len = 0;
	int fd, eof, fast, sealed, want;

	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;
	fw_reset();
	fw.keyd_mode = (mode & 3) == 3 ? FW_KEYD_ANSWER : (enum fw_keyd_mode)(mode & 3);
	fast = mode >> 2 & 1;
	fw.cfg.has_mesh_key = mode >> 3 & 1;
	memset(fw.cfg.mesh_key, 0x4d, KEY_LEN);
	sealed = mode >> 4 & 1;
	if (sealed && size < KEY_LEN + 2)
		return 0;

	if ((fd = fw_connect(0, NULL)) < 0)
		return 0;
	fw_send(fd, upgrade, sizeof(upgrade) - 1);
	fw_send(fd, fast ? "Derp-Fast-Start: 1\r\n\r\n" : "\r\n", fast ? 22 : 2);
	if (!sealed) {
		fw_send(fd, data, size);
		len = fw_recv(fd, out, sizeof(out), &eof);
		off = skip_upgrade(out, len, fast);
		CHECK(walk(out, off, len, &info_len) == 0);	/* nobody logged in */
		fw_close(fd);
		return 0;
	}

	memcpy(priv, data, KEY_LEN);
	jlen = (size_t)data[KEY_LEN] << 8 | data[KEY_LEN + 1];
	data += KEY_LEN + 2;
	size -= KEY_LEN + 2;
	if (jlen > size)
		jlen = size;
	crypto_scalarmult_base(pub, priv);
	want = fw.keyd_mode == FW_KEYD_ANSWER &&
	    crypto_box_beforenm(shared, pub, fw.priv) == 0 &&
	    clientinfo_parse(data, jlen, &ci, &why) == 0;
	fw_send(fd, frame_buf, client_info_frame(priv, data, jlen));
	len = fw_recv(fd, out, sizeof(out), &eof);
	off = skip_upgrade(out, len, fast);
	CHECK(len > off);	/* at least ServerKey */
	info = walk(out, off, len, &info_len);
	CHECK((info != 0) == want);
	if (info != 0) {
		check_server_info(out + info, info_len, priv);
		CHECK(!eof);
		/* The rest: frames of a logged-in client. */
		fw_send(fd, data + jlen, size - jlen);
		(void)fw_recv(fd, out, sizeof(out), &eof);
	} else if (fw.keyd_mode != FW_KEYD_OTHER_CONN)
		CHECK(eof);		/* a failed login is closed */
	fw_close(fd);
	return 0;
}
