/* SPDX-License-Identifier: BSD-3-Clause */
#include "chatmsg.h"

#include <string.h>

int
chatmsg_name_ok(const char *name, size_t len)
{
	size_t i;

	if (len > CHAT_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9') ||
		    name[i] == '_' || name[i] == '.' || name[i] == '-'))
			return 0;
	return 1;
}

static int
text_ok(const uint8_t *t, size_t len)
{
	return len > 0 && len <= CHAT_TEXT_MAX && memchr(t, '\n', len) == NULL &&
	    memchr(t, '\r', len) == NULL;
}

size_t
chatmsg_encode(uint8_t *out, const struct cmsg *m)
{
	size_t nlen = strlen(m->name), n = 0;

	if (!chatmsg_name_ok(m->name, nlen))
		return 0;
	out[n++] = m->kind;
	if (m->kind == CMSG_TEXT || m->kind == CMSG_ACK) {
		out[n++] = m->id >> 24;
		out[n++] = m->id >> 16;
		out[n++] = m->id >> 8;
		out[n++] = m->id;
	}
	if (m->kind == CMSG_ACK)
		return n;
	if (m->kind == CMSG_TEXT && !text_ok(m->text, m->len))
		return 0;
	out[n++] = m->flags;
	out[n++] = (uint8_t)nlen;
	memcpy(out + n, m->name, nlen);
	n += nlen;
	if (m->kind == CMSG_HELLO)
		return n;
	memcpy(out + n, m->text, m->len);
	return n + m->len;
}

/* flags, name length, name: the part HELLO and TEXT share. */
static int
decode_name(const uint8_t *p, size_t len, struct cmsg *m, size_t *used)
{
	if (len < 2 || p[1] > len - 2 ||
	    !chatmsg_name_ok((const char *)p + 2, p[1]))
		return -1;
	m->flags = p[0];
	memcpy(m->name, p + 2, p[1]);
	m->name[p[1]] = '\0';
	*used = 2 + (size_t)p[1];
	return 0;
}

int
chatmsg_decode(const uint8_t *p, size_t len, struct cmsg *m)
{
	size_t used;

	memset(m, 0, sizeof(*m));
	if (len < 1)
		return -1;
	m->kind = p[0];
	if (m->kind == CMSG_HELLO)
		return decode_name(p + 1, len - 1, m, &used) == 0 &&
		    used == len - 1 ? 0 : -1;
	if ((m->kind != CMSG_TEXT && m->kind != CMSG_ACK) || len < 5)
		return -1;
	m->id = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 8 | p[4];
	if (m->kind == CMSG_ACK)
		return len == 5 ? 0 : -1;
	if (decode_name(p + 5, len - 5, m, &used) != 0)
		return -1;
	m->text = p + 5 + used;
	m->len = len - 5 - used;
	return text_ok(m->text, m->len) ? 0 : -1;
}

/* The length of a well-formed, non-control UTF-8 sequence at p, or 0. */
static size_t
utf8_len(const uint8_t *p, size_t len)
{
	size_t n, i;
	uint32_t cp;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n > len)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF, and C1 controls */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ||
	    (cp >= 0x80 && cp <= 0x9f))
		return 0;
	return n;
}

void
chatmsg_printable(char *out, size_t cap, const uint8_t *text, size_t len)
{
	size_t i = 0, o = 0, n;

	while (i < len && o + 1 < cap) {
		if (text[i] >= 0x20 && text[i] < 0x7f) {
			out[o++] = (char)text[i++];
			continue;
		}
		if ((n = utf8_len(text + i, len - i)) == 0 || o + n >= cap) {
			out[o++] = '?';
			i++;
			continue;
		}
		memcpy(out + o, text + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
}
