/* SPDX-License-Identifier: BSD-3-Clause */
#include "streamfmt.h"

#include <string.h>

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

size_t
smsg_encode(uint8_t *out, const struct smsg *m)
{
	out[0] = m->kind;
	put32(out + 1, m->stream);
	if (m->kind == SMSG_DONE)
		return 5;
	put32(out + 5, m->seq);
	if (m->kind != SMSG_DATA)
		return STREAM_HDR_LEN;
	memcpy(out + STREAM_HDR_LEN, m->data, m->len);
	return STREAM_HDR_LEN + m->len;
}

int
smsg_decode(const uint8_t *p, size_t len, struct smsg *m)
{
	memset(m, 0, sizeof(*m));
	if (len < 5)
		return -1;
	m->kind = p[0];
	m->stream = get32(p + 1);
	switch (m->kind) {
	case SMSG_DONE:
		return len == 5 ? 0 : -1;
	case SMSG_FIN:
	case SMSG_ACK:
		if (len != STREAM_HDR_LEN)
			return -1;
		m->seq = get32(p + 5);
		return 0;
	case SMSG_DATA:
		if (len <= STREAM_HDR_LEN || len > STREAM_MSG_MAX)
			return -1;
		m->seq = get32(p + 5);
		m->data = p + STREAM_HDR_LEN;
		m->len = len - STREAM_HDR_LEN;
		return 0;
	default:
		return -1;
	}
}
