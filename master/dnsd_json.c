/* SPDX-License-Identifier: BSD-3-Clause */
#include "dnsd_json.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct out {
	char	*p;
	size_t	 cap;
	size_t	 len;
	int	 overflow;
};

static void
put(struct out *o, const char *s, size_t n)
{
	if (o->len + n > o->cap) {
		o->overflow = 1;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void
out_puts(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
dns_names_split(const char *list, struct dns_names *nm)
{
	char *tok, *save = NULL;
	int i, j;

	nm->n = 0;
	if ((nm->copy = strdup(list)) == NULL)
		fatal("strdup");
	for (tok = strtok_r(nm->copy, ",", &save); tok != NULL &&
	    nm->n < DNS_MAX_NAMES; tok = strtok_r(NULL, ",", &save))
		if (*tok != '\0')
			nm->v[nm->n++] = tok;
	qsort(nm->v, nm->n, sizeof(nm->v[0]), cmp_str);	/* Go sorts map keys */
	for (i = j = 0; i < nm->n; i++)		/* and a map has each key once */
		if (j == 0 || strcmp(nm->v[j - 1], nm->v[i]) != 0)
			nm->v[j++] = nm->v[i];
	nm->n = j;
}

int
dns_addrs(const struct addrinfo *res, dns_ips ips)
{
	const struct addrinfo *ai;
	char tmp[INET6_ADDRSTRLEN];
	int n = 0, i, j;
	const void *a;

	for (ai = res; ai != NULL && n < DNS_MAX_IPS; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET)
			a = &((const struct sockaddr_in *)ai->ai_addr)->sin_addr;
		else if (ai->ai_family == AF_INET6)
			a = &((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
		else
			continue;
		if (inet_ntop(ai->ai_family, a, tmp, sizeof(tmp)) == NULL)
			continue;
		for (j = 0; j < n && strcmp(ips[j], tmp) != 0; j++)
			;
		if (j == n)
			memcpy(ips[n++], tmp, sizeof(tmp));
	}
	for (i = n - 1; i > 0; i--) {	/* do not bias clients to one family */
		j = (int)randombytes_uniform((uint32_t)i + 1);
		memcpy(tmp, ips[i], sizeof(tmp));
		memcpy(ips[i], ips[j], sizeof(tmp));
		memcpy(ips[j], tmp, sizeof(tmp));
	}
	return n;
}

/* Length of the valid UTF-8 sequence at p (RFC 3629), or 0. */
static size_t
utf8_len(const unsigned char *p)
{
	unsigned int c = p[0];
	size_t n, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* A JSON string, escaped as Go does what JSON requires (bad UTF-8: U+FFFD). */
static void
put_string(struct out *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char esc[8];
	size_t n;

	put(o, "\"", 1);
	while (*p != '\0') {
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p++;
			put(o, esc, 2);
		} else if (*p < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p++);
			put(o, esc, 6);
		} else if ((n = utf8_len(p)) == 0) {
			out_puts(o, "\\ufffd");
			p++;
		} else {
			put(o, (const char *)p, n);
			p += n;
		}
	}
	put(o, "\"", 1);
}

/* One name's entry, in Go's json.MarshalIndent(..., "", "\t") layout. */
static void
entry(struct out *o, const char *name, dns_ips ips, int n)
{
	int i;

	out_puts(o, "\t");
	put_string(o, name);
	out_puts(o, ": [\n");
	for (i = 0; i < n; i++) {
		out_puts(o, "\t\t\"");
		out_puts(o, ips[i]);
		out_puts(o, i + 1 < n ? "\",\n" : "\"\n");
	}
	out_puts(o, "\t]");
}

size_t
dns_published_json(const struct dns_names *nm, dns_resolve_fn resolve,
    void *arg, char *buf, size_t cap)
{
	static dns_ips ips;
	struct out o = { buf, cap, 0, 0 };
	int i, n, first = 1;

	if (nm->n == 0)		/* derper publishes nothing at all */
		return 0;
	out_puts(&o, "{\n");
	for (i = 0; i < nm->n; i++) {
		if ((n = resolve(nm->v[i], ips, arg)) == 0)
			continue;
		if (!first)
			out_puts(&o, ",\n");
		first = 0;
		entry(&o, nm->v[i], ips, n);
	}
	if (first) {		/* no name resolved: Go marshals a nil map */
		o.len = 0;
		out_puts(&o, "null");
	} else
		out_puts(&o, "\n}");
	return o.overflow ? 0 : o.len;
}

size_t
dns_unpublished_records(const struct dns_names *nm, dns_resolve_fn resolve,
    void *arg, char *buf, size_t cap)
{
	static dns_ips ips;
	struct out o = { buf, cap, 0, 0 };
	int i, n;

	for (i = 0; i < nm->n; i++) {
		if ((n = resolve(nm->v[i], ips, arg)) == 0)
			continue;
		put(&o, nm->v[i], strlen(nm->v[i]) + 1);
		out_puts(&o, "{\n");
		entry(&o, nm->v[i], ips, n);
		out_puts(&o, "\n}");
		put(&o, "", 1);
	}
	return o.overflow ? 0 : o.len;
}
