/* SPDX-License-Identifier: BSD-3-Clause */
#include "meshpeers.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct span {
	const char	*p;
	size_t		 len;
};

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Copies s into a buffer of cap bytes; -1 if it does not fit. */
static int
copy(char *dst, size_t cap, struct span s)
{
	if (s.len >= cap)
		return -1;
	memcpy(dst, s.p, s.len);
	dst[s.len] = '\0';
	return 0;
}

static int
is_v4(const char *s)
{
	struct in_addr a;

	return inet_pton(AF_INET, s, &a) == 1;
}

static int
is_v6(const char *s)
{
	struct in6_addr a;

	return inet_pton(AF_INET6, s, &a) == 1;
}

/* Letters, digits, '-' and '_' in dot-separated labels of 1..63 bytes. */
static int
is_name(const char *s)
{
	size_t label = 0, len = strlen(s);

	if (len == 0 || len > MESH_HOST_MAX)
		return 0;
	for (; *s != '\0'; s++) {
		if (*s == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_') {
			if (++label > 63)
				return 0;
		} else
			return 0;
	}
	return label > 0;
}

/* Decimal 1..65535, as in a URL. */
static int
parse_port(struct span s, uint16_t *port)
{
	uint32_t v = 0;
	size_t i;

	if (s.len == 0 || s.len > 5)
		return -1;
	for (i = 0; i < s.len; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return -1;
		v = v * 10 + (uint32_t)(s.p[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* host[:port] or [v6][:port]. */
static int
parse_hostport(struct span hp, struct mesh_peer *p, char *err, size_t errlen)
{
	struct span host = hp, port = { NULL, 0 };
	const char *colon, *close;
	int bracket = hp.len > 0 && hp.p[0] == '[';

	p->port = 443;
	if (bracket) {
		if ((close = memchr(hp.p, ']', hp.len)) == NULL)
			return fail(err, errlen, "missing ']'");
		host.p = hp.p + 1;
		host.len = (size_t)(close - host.p);
		if (close + 1 < hp.p + hp.len) {
			if (close[1] != ':')
				return fail(err, errlen, "junk after ']'");
			port.p = close + 2;
			port.len = hp.len - (size_t)(port.p - hp.p);
		}
	} else if ((colon = memchr(hp.p, ':', hp.len)) != NULL) {
		host.len = (size_t)(colon - hp.p);
		port.p = colon + 1;
		port.len = hp.len - host.len - 1;
	}
	if (port.p != NULL && parse_port(port, &p->port) != 0)
		return fail(err, errlen, "bad port");
	if (copy(p->authority, sizeof(p->authority), hp) != 0 ||
	    copy(p->host, sizeof(p->host), host) != 0)
		return fail(err, errlen, "host name too long");
	p->host_is_ip = bracket ? is_v6(p->host) : is_v4(p->host);
	if (bracket && !p->host_is_ip)
		return fail(err, errlen, "not an IPv6 address in brackets");
	if (!p->host_is_ip && !is_name(p->host))
		return fail(err, errlen, "not a host name or an address");
	return 0;
}

/* name, IPv4, IPv6 or [IPv6]. */
static int
parse_dial(struct span d, struct mesh_peer *p, char *err, size_t errlen)
{
	if (d.len >= 2 && d.p[0] == '[' && d.p[d.len - 1] == ']') {
		d.p++;
		d.len -= 2;
		if (copy(p->dial, sizeof(p->dial), d) != 0 || !is_v6(p->dial))
			return fail(err, errlen, "bad dial address");
		return 0;
	}
	if (copy(p->dial, sizeof(p->dial), d) != 0)
		return fail(err, errlen, "dial host too long");
	if (!is_name(p->dial) && !is_v4(p->dial) && !is_v6(p->dial))
		return fail(err, errlen, "bad dial host");
	return 0;
}

static int
parse_entry(struct span e, struct mesh_peer *p, char *err, size_t errlen)
{
	const char *slash = memchr(e.p, '/', e.len);
	struct span hp = e, d;

	memset(p, 0, sizeof(*p));
	if (e.len == 0)
		return fail(err, errlen, "empty entry");
	if (slash != NULL) {
		hp.len = (size_t)(slash - e.p);
		d.p = slash + 1;
		d.len = e.len - hp.len - 1;
		if (memchr(d.p, '/', d.len) != NULL)
			return fail(err, errlen, "too many components");
	}
	if (parse_hostport(hp, p, err, errlen) != 0)
		return -1;
	if (slash == NULL)
		return copy(p->dial, sizeof(p->dial), (struct span){ p->host,
		    strlen(p->host) });
	return parse_dial(d, p, err, errlen);
}

int
mesh_peers_parse(const char *list, struct mesh_peer *peers, int *n, char *err,
    size_t errlen)
{
	const char *p = list, *comma;
	char why[128];
	struct span e;

	*n = 0;
	if (*list == '\0')
		return 0;
	for (;;) {
		comma = strchr(p, ',');
		e.p = p;
		e.len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (*n == MESH_MAX_PEERS)
			return fail(err, errlen, "more than %d peers", MESH_MAX_PEERS);
		if (parse_entry(e, &peers[*n], why, sizeof(why)) != 0)
			return fail(err, errlen, "entry %d \"%.*s\": %s", *n + 1,
			    (int)(e.len > 300 ? 300 : e.len), e.p, why);
		(*n)++;
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}
