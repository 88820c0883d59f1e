/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * derpd-client chat messages. Each DERP packet between two chat clients is
 * an end-to-end envelope (crypto.h) around one of:
 *
 *	HELLO	'H' | flags (1) | name length (1) | name
 *		flags bit 0: answer with a HELLO of yours
 *	TEXT	'T' | id (4, big-endian) | flags (1) | name length (1) | name | text
 *		flags bit 0: one copy of a message to ALL
 *	ACK	'K' | id (4)	that TEXT arrived
 *
 * A name is the sender's /register name: 0..CHAT_NAME_MAX of
 * [A-Za-z0-9_.-]. Text is 1..CHAT_TEXT_MAX bytes without line breaks.
 * The decoder (fuzzed: tests/fuzz/fuzz_client_msg.c) accepts nothing else,
 * and chatmsg_printable makes received text safe for a terminal.
 */
#ifndef CLIENT_CHATMSG_H
#define CLIENT_CHATMSG_H

#include <stddef.h>
#include <stdint.h>

#define CHAT_NAME_MAX	32
#define CHAT_TEXT_MAX	2000
#define CHAT_MSG_MAX	(1 + 4 + 1 + 1 + CHAT_NAME_MAX + CHAT_TEXT_MAX)

#define CHAT_HELLO_ASK	0x01
#define CHAT_TEXT_ALL	0x01

enum cmsg_kind {
	CMSG_HELLO = 'H',
	CMSG_TEXT = 'T',
	CMSG_ACK = 'K',
};

struct cmsg {
	uint8_t		 kind;
	uint8_t		 flags;
	uint32_t	 id;
	char		 name[CHAT_NAME_MAX + 1];
	const uint8_t	*text;
	size_t		 len;
};

/* 1 if name is a valid (possibly empty) chat name. */
int	chatmsg_name_ok(const char *name, size_t len);
/* Writes m into out[CHAT_MSG_MAX]; returns its length, 0 if m is invalid. */
size_t	chatmsg_encode(uint8_t *out, const struct cmsg *m);
/* Parses a decrypted message; -1 unless it is exactly one of the above. */
int	chatmsg_decode(const uint8_t *p, size_t len, struct cmsg *m);
/*
 * Copies text into out (NUL-terminated, at most cap - 1 bytes), keeping
 * printable ASCII and well-formed UTF-8 and replacing control characters
 * (C0, DEL, C1) and malformed bytes with '?'.
 */
void	chatmsg_printable(char *out, size_t cap, const uint8_t *text, size_t len);

#endif
