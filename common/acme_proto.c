/* SPDX-License-Identifier: BSD-3-Clause */
/* The master's check of the ACME child's messages (acme_proto.h). */
#include "acme_proto.h"

#include <string.h>

/* Printable ASCII ending within cap; nonempty if need. */
static int
field(const char *s, size_t cap, int need)
{
	size_t i;

	for (i = 0; i < cap && s[i] != '\0'; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return 0;
	return i < cap && (!need || i > 0);
}

static int
blob(const char *p, uint32_t len)
{
	return memchr(p, '\0', len) == NULL;
}

static int
check_alpn(const struct acme_msg *m, const char **why)
{
	if (m->len == 0 || m->len >= CERTSHM_ALPN_CERT_MAX || m->len2 == 0 ||
	    m->len2 >= CERTSHM_ALPN_KEY_MAX)
		return (*why = "challenge certificate or key size", -1);
	if (!blob(m->data, m->len + m->len2))
		return (*why = "NUL in the challenge certificate", -1);
	return 0;
}

int
acme_msg_check(const struct acme_msg *m, const char **why)
{
	int need_name = m->op != ACME_MSG_ACK;

	*why = NULL;
	if (!field(m->name, sizeof(m->name), need_name) ||
	    !field(m->text, sizeof(m->text), 0))
		return (*why = "name or text not printable and terminated", -1);
	switch (m->op) {
	case ACME_MSG_CERT:
		if (m->len >= CERTSHM_CHAIN_MAX || !blob(m->data, m->len))
			return (*why = "chain size or NUL", -1);
		return 0;
	case ACME_MSG_ALPN_PUT:
		return check_alpn(m, why);
	case ACME_MSG_HTTP_PUT:
		if (m->text[0] == '\0' || strlen(m->name) >= CERTSHM_TOKEN_MAX)
			return (*why = "HTTP-01 token or key authorization", -1);
		return 0;
	case ACME_MSG_STATUS:
	case ACME_MSG_ALPN_DEL:
	case ACME_MSG_HTTP_DEL:
	case ACME_MSG_WANT_IP:
	case ACME_MSG_ACK:
		return 0;
	default:
		return (*why = "unknown operation", -1);
	}
}
