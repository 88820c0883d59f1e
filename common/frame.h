/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DERP v2 frame codec: 1-byte type, 4-byte big-endian payload length, payload.
 * Layouts and limits follow tailscale.com/derp and derp/derpserver.
 */
#ifndef DERPD_FRAME_H
#define DERPD_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "key.h"

#define DERP_MAGIC		"DERP\xf0\x9f\x94\x91"
#define DERP_MAGIC_LEN		8
#define DERP_NONCE_LEN		24
#define DERP_FRAME_HDR_LEN	5
#define DERP_MAX_PACKET		(64 * 1024)
#define DERP_MAX_CLIENTINFO	(256 * 1024)
#define DERP_MAX_PING		1000
#define DERP_PING_LEN		8
#define DERP_PROTOCOL_VERSION	2
#define DERP_BOX_OVERHEAD	16	/* crypto_box_MACBYTES */

/* Largest frame the server ever writes or forwards. */
#define DERP_MAX_FRAME_LEN	(DERP_FRAME_HDR_LEN + 2 * KEY_LEN + DERP_MAX_PACKET)

enum frame_type {
	FRAME_SERVER_KEY	= 0x01,
	FRAME_CLIENT_INFO	= 0x02,
	FRAME_SERVER_INFO	= 0x03,
	FRAME_SEND_PACKET	= 0x04,
	FRAME_RECV_PACKET	= 0x05,
	FRAME_KEEP_ALIVE	= 0x06,
	FRAME_NOTE_PREFERRED	= 0x07,
	FRAME_PEER_GONE		= 0x08,
	FRAME_PEER_PRESENT	= 0x09,
	FRAME_FORWARD_PACKET	= 0x0a,
	FRAME_WATCH_CONNS	= 0x10,
	FRAME_CLOSE_PEER	= 0x11,
	FRAME_PING		= 0x12,
	FRAME_PONG		= 0x13,
	FRAME_HEALTH		= 0x14,
	FRAME_RESTARTING	= 0x15,
};

enum peer_present_flags {
	PEER_PRESENT_REGULAR	= 1 << 0,
	PEER_PRESENT_MESH_PEER	= 1 << 1,
	PEER_PRESENT_PROBER	= 1 << 2,
	PEER_PRESENT_NOT_IDEAL	= 1 << 3,
};

enum peer_gone_reason {
	PEER_GONE_DISCONNECTED	= 0x00,
	PEER_GONE_NOT_HERE	= 0x01,
};

/* What the server does with a client frame, decided from its header alone. */
enum frame_verdict {
	FRAME_ACCEPT,	/* read the payload and handle it */
	FRAME_SKIP,	/* unknown type: discard the payload, keep the client */
	FRAME_REJECT,	/* malformed: close this client */
};

void	frame_put_header(uint8_t *p, uint8_t type, uint32_t len);
/* Returns 1 and fills type/len once DERP_FRAME_HDR_LEN bytes are available. */
int	frame_get_header(const uint8_t *p, size_t avail, uint8_t *type,
	    uint32_t *len);
/* Verdict for a frame from a logged-in client; *why explains a reject. */
enum frame_verdict frame_check_client(uint8_t type, uint32_t len,
	    const char **why);
/* Verdict for the first frame of a connection, which must be ClientInfo. */
enum frame_verdict frame_check_client_info(uint8_t type, uint32_t len,
	    const char **why);

/* Builders write a whole frame into out and return its length. */
size_t	frame_server_key(uint8_t *out, const uint8_t pub[KEY_LEN]);
size_t	frame_peer_gone(uint8_t *out, const uint8_t key[KEY_LEN],
	    uint8_t reason);
size_t	frame_pong(uint8_t *out, const uint8_t data[DERP_PING_LEN]);
size_t	frame_keep_alive(uint8_t *out);
size_t	frame_ping(uint8_t *out, const uint8_t data[DERP_PING_LEN]);
/* Restarting: reconnect in, and keep trying for, this many milliseconds. */
size_t	frame_restarting(uint8_t *out, uint32_t reconnect_in_ms, uint32_t try_for_ms);
/* Health: a problem for the client to show its user; empty means healthy. */
size_t	frame_health(uint8_t *out, const char *text, size_t len);
/* PeerPresent: key, 16-byte IP (IPv4 mapped), big-endian port, flags. */
#define DERP_PEER_PRESENT_LEN	(KEY_LEN + 16 + 2 + 1)
size_t	frame_peer_present(uint8_t *out, const uint8_t key[KEY_LEN],
	    const uint8_t ip[16], uint16_t port, uint8_t flags);
/* RecvPacket header (type, length, source key); the packet follows it. */
#define DERP_RECV_HDR_LEN	(DERP_FRAME_HDR_LEN + KEY_LEN)
void	frame_recv_packet_header(uint8_t *out, const uint8_t src[KEY_LEN],
	    uint32_t packet_len);

/* Tailscale disco messages start with "TS" U+1F4AC, a key and a nonce. */
int	packet_looks_like_disco(const uint8_t *p, size_t len);

#endif
