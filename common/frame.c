/* SPDX-License-Identifier: BSD-3-Clause */
#include "frame.h"

#include <string.h>

#define DISCO_MAGIC	"TS\xf0\x9f\x92\xac"
#define DISCO_MAGIC_LEN	6

void
frame_put_header(uint8_t *p, uint8_t type, uint32_t len)
{
	p[0] = type;
	p[1] = len >> 24;
	p[2] = len >> 16;
	p[3] = len >> 8;
	p[4] = len;
}

int
frame_get_header(const uint8_t *p, size_t avail, uint8_t *type, uint32_t *len)
{
	if (avail < DERP_FRAME_HDR_LEN)
		return 0;
	*type = p[0];
	*len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 8 | p[4];
	return 1;
}

static enum frame_verdict
reject(const char **why, const char *reason)
{
	*why = reason;
	return FRAME_REJECT;
}

enum frame_verdict
frame_check_client(uint8_t type, uint32_t len, const char **why)
{
	switch (type) {
	case FRAME_SEND_PACKET:
		if (len < KEY_LEN)
			return reject(why, "short SendPacket");
		if (len - KEY_LEN > DERP_MAX_PACKET)
			return reject(why, "SendPacket longer than 64 KiB");
		return FRAME_ACCEPT;
	case FRAME_FORWARD_PACKET:
		if (len < 2 * KEY_LEN)
			return reject(why, "short ForwardPacket");
		if (len - 2 * KEY_LEN > DERP_MAX_PACKET)
			return reject(why, "ForwardPacket longer than 64 KiB");
		return FRAME_ACCEPT;
	case FRAME_NOTE_PREFERRED:
		return len == 1 ? FRAME_ACCEPT :
		    reject(why, "NotePreferred of wrong size");
	case FRAME_WATCH_CONNS:
		return len == 0 ? FRAME_ACCEPT :
		    reject(why, "WatchConns of wrong size");
	case FRAME_CLOSE_PEER:
		return len == KEY_LEN ? FRAME_ACCEPT :
		    reject(why, "ClosePeer of wrong size");
	case FRAME_PING:
		if (len < DERP_PING_LEN)
			return reject(why, "short Ping");
		if (len > DERP_MAX_PING)
			return reject(why, "Ping longer than 1000 bytes");
		return FRAME_ACCEPT;
	case FRAME_PONG:
		/* An answer to our Ping; derper skips these, so be as lenient. */
		return len == DERP_PING_LEN ? FRAME_ACCEPT : FRAME_SKIP;
	default:
		return FRAME_SKIP;
	}
}

enum frame_verdict
frame_check_client_info(uint8_t type, uint32_t len, const char **why)
{
	if (type != FRAME_CLIENT_INFO)
		return reject(why, "first frame is not ClientInfo");
	if (len < KEY_LEN + DERP_NONCE_LEN + DERP_BOX_OVERHEAD)
		return reject(why, "short ClientInfo");
	if (len > DERP_MAX_CLIENTINFO)
		return reject(why, "ClientInfo longer than 256 KiB");
	return FRAME_ACCEPT;
}

size_t
frame_server_key(uint8_t *out, const uint8_t pub[KEY_LEN])
{
	frame_put_header(out, FRAME_SERVER_KEY, DERP_MAGIC_LEN + KEY_LEN);
	memcpy(out + DERP_FRAME_HDR_LEN, DERP_MAGIC, DERP_MAGIC_LEN);
	memcpy(out + DERP_FRAME_HDR_LEN + DERP_MAGIC_LEN, pub, KEY_LEN);
	return DERP_FRAME_HDR_LEN + DERP_MAGIC_LEN + KEY_LEN;
}

size_t
frame_peer_gone(uint8_t *out, const uint8_t key[KEY_LEN], uint8_t reason)
{
	frame_put_header(out, FRAME_PEER_GONE, KEY_LEN + 1);
	memcpy(out + DERP_FRAME_HDR_LEN, key, KEY_LEN);
	out[DERP_FRAME_HDR_LEN + KEY_LEN] = reason;
	return DERP_FRAME_HDR_LEN + KEY_LEN + 1;
}

size_t
frame_pong(uint8_t *out, const uint8_t data[DERP_PING_LEN])
{
	frame_put_header(out, FRAME_PONG, DERP_PING_LEN);
	memcpy(out + DERP_FRAME_HDR_LEN, data, DERP_PING_LEN);
	return DERP_FRAME_HDR_LEN + DERP_PING_LEN;
}

size_t
frame_peer_present(uint8_t *out, const uint8_t key[KEY_LEN],
    const uint8_t ip[16], uint16_t port, uint8_t flags)
{
	uint8_t *p = out + DERP_FRAME_HDR_LEN;

	frame_put_header(out, FRAME_PEER_PRESENT, DERP_PEER_PRESENT_LEN);
	memcpy(p, key, KEY_LEN);
	memcpy(p + KEY_LEN, ip, 16);
	p[KEY_LEN + 16] = port >> 8;
	p[KEY_LEN + 17] = port;
	p[KEY_LEN + 18] = flags;
	return DERP_FRAME_HDR_LEN + DERP_PEER_PRESENT_LEN;
}

size_t
frame_ping(uint8_t *out, const uint8_t data[DERP_PING_LEN])
{
	frame_put_header(out, FRAME_PING, DERP_PING_LEN);
	memcpy(out + DERP_FRAME_HDR_LEN, data, DERP_PING_LEN);
	return DERP_FRAME_HDR_LEN + DERP_PING_LEN;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

size_t
frame_restarting(uint8_t *out, uint32_t reconnect_in_ms, uint32_t try_for_ms)
{
	frame_put_header(out, FRAME_RESTARTING, 8);
	put32(out + DERP_FRAME_HDR_LEN, reconnect_in_ms);
	put32(out + DERP_FRAME_HDR_LEN + 4, try_for_ms);
	return DERP_FRAME_HDR_LEN + 8;
}

size_t
frame_health(uint8_t *out, const char *text, size_t len)
{
	frame_put_header(out, FRAME_HEALTH, (uint32_t)len);
	memcpy(out + DERP_FRAME_HDR_LEN, text, len);
	return DERP_FRAME_HDR_LEN + len;
}

size_t
frame_keep_alive(uint8_t *out)
{
	frame_put_header(out, FRAME_KEEP_ALIVE, 0);
	return DERP_FRAME_HDR_LEN;
}

void
frame_recv_packet_header(uint8_t *out, const uint8_t src[KEY_LEN],
    uint32_t packet_len)
{
	frame_put_header(out, FRAME_RECV_PACKET, KEY_LEN + packet_len);
	memcpy(out + DERP_FRAME_HDR_LEN, src, KEY_LEN);
}

int
packet_looks_like_disco(const uint8_t *p, size_t len)
{
	return len >= DISCO_MAGIC_LEN + KEY_LEN + DERP_NONCE_LEN &&
	    memcmp(p, DISCO_MAGIC, DISCO_MAGIC_LEN) == 0;
}
