/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for client/streamfmt.c and client/chatmsg.c: the
 * messages derpd-client send/recv and chat decode once a peer's envelope
 * has opened (a peer is anyone who knows our key, so this is hostile
 * input too).
 *
 * The input goes through both decoders. Invariants: what a decoder accepts
 * encodes back to exactly the input (nothing ignored, nothing invented);
 * DATA carries 1..STREAM_CHUNK bytes; chat names are valid and text has no
 * line break; and chatmsg_printable's output of the input, at any buffer
 * size, is NUL-terminated, fits, and has no control characters.
 */
#include <string.h>

#include "chatmsg.h"
#include "fuzz.h"
#include "streamfmt.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void
stream(const uint8_t *data, size_t size)
{
	static uint8_t out[STREAM_MSG_MAX];
	struct smsg m;

	if (smsg_decode(data, size, &m) != 0)
		return;
	CHECK(m.kind != SMSG_DATA || (m.len >= 1 && m.len <= STREAM_CHUNK &&
	    m.data == data + STREAM_HDR_LEN));
	CHECK(smsg_encode(out, &m) == size && memcmp(out, data, size) == 0);
}

static void
chat(const uint8_t *data, size_t size)
{
	static uint8_t out[CHAT_MSG_MAX];
	struct cmsg m;

	if (chatmsg_decode(data, size, &m) != 0)
		return;
	CHECK(chatmsg_name_ok(m.name, strlen(m.name)));
	CHECK(m.kind != CMSG_TEXT || (m.len >= 1 && m.len <= CHAT_TEXT_MAX &&
	    memchr(m.text, '\n', m.len) == NULL));
	CHECK(chatmsg_encode(out, &m) == size && memcmp(out, data, size) == 0);
}

static void
printable(const uint8_t *data, size_t size)
{
	static char out[4 * CHAT_TEXT_MAX + 1];
	size_t caps[] = { 1, 2, 5, 64, sizeof(out) }, i, j, n;

	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		memset(out, 0x7f, sizeof(out));
		chatmsg_printable(out, caps[i], data, size);
		n = strnlen(out, caps[i]);
		CHECK(n < caps[i] && n <= size);
		for (j = 0; j < n; j++) {
			unsigned char c = (unsigned char)out[j];

			CHECK(c >= 0x20 && c != 0x7f);
			/* a C1 control in UTF-8 is C2 80..C2 9F */
			CHECK(!(c == 0xc2 && j + 1 < n &&
			    (unsigned char)out[j + 1] <= 0x9f));
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	stream(data, size);
	chat(data, size);
	printable(data, size);
	return 0;
}
