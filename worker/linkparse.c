/* SPDX-License-Identifier: BSD-3-Clause */
#include "linkparse.h"

#include <string.h>

int
linkparse_head(const uint8_t *p, size_t len, int *status)
{
	static const char end[] = "\r\n\r\n";
	size_t i, n = len < LINK_HEAD_MAX ? len : LINK_HEAD_MAX;

	/* "HTTP/1.x NNN" then a space or the end of the line. */
	if (len >= 1 && memcmp(p, "HTTP/1.", len < 7 ? len : 7) != 0)
		return -1;
	for (i = 0; i + 4 <= n; i++)
		if (memcmp(p + i, end, 4) == 0)
			break;
	if (i + 4 > n)
		return len >= LINK_HEAD_MAX ? -1 : 0;
	if (i < 12 || (p[7] != '0' && p[7] != '1') || p[8] != ' ' ||
	    p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' ||
	    p[11] < '0' || p[11] > '9' || (p[12] != ' ' && p[12] != '\r'))
		return -1;
	*status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	return (int)(i + 4);
}

enum frame_verdict
linkparse_frame(uint8_t type, uint32_t len)
{
	uint32_t min = 0;

	if (len > LINK_FRAME_MAX)
		return FRAME_REJECT;
	switch (type) {
	case FRAME_SERVER_KEY:
		min = DERP_MAGIC_LEN + KEY_LEN;
		break;
	case FRAME_SERVER_INFO:
		min = DERP_NONCE_LEN + DERP_BOX_OVERHEAD;
		break;
	case FRAME_RECV_PACKET:
	case FRAME_PEER_GONE:
	case FRAME_PEER_PRESENT:
		min = KEY_LEN;
		break;
	case FRAME_PING:
	case FRAME_PONG:
	case FRAME_RESTARTING:
		min = 8;
		break;
	case FRAME_KEEP_ALIVE:
	case FRAME_HEALTH:
		break;
	default:
		return FRAME_SKIP;
	}
	if (len > DERP_MAX_PACKET + KEY_LEN)
		return FRAME_REJECT;
	return len < min ? FRAME_SKIP : FRAME_ACCEPT;
}

int
linkparse_server_key(const uint8_t *p, uint32_t len, uint8_t pub[KEY_LEN])
{
	if (len < DERP_MAGIC_LEN + KEY_LEN ||
	    memcmp(p, DERP_MAGIC, DERP_MAGIC_LEN) != 0)
		return -1;
	memcpy(pub, p + DERP_MAGIC_LEN, KEY_LEN);
	return 0;
}
