/* SPDX-License-Identifier: BSD-3-Clause */
#include "url.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int
url_host_is_ip(const char *host)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, host, buf) == 1 ||
	    inet_pton(AF_INET6, host, buf) == 1;
}

static int
host_ok(const char *h)
{
	if (*h == '\0')
		return 0;
	for (; *h != '\0'; h++)
		if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') ||
		    (*h >= '0' && *h <= '9') || *h == '-' || *h == '.' ||
		    *h == ':' || *h == '_'))
			return 0;
	return 1;
}

static int
port_ok(const char *p)
{
	char *end;
	long n = strtol(p, &end, 10);

	return *p >= '0' && *p <= '9' && *end == '\0' && n >= 1 && n <= 65535;
}

int
url_parse_hostport(const char *s, char *host, size_t hostcap,
    char port[URL_PORT_MAX], const char **why)
{
	const char *end, *colon;
	size_t n;

	if (*s == '[') {
		if ((end = strchr(s, ']')) == NULL)
			return *why = "unclosed '[' in the host", -1;
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] != '\0' && colon == NULL)
			return *why = "junk after ']'", -1;
		s++;
	} else {
		colon = strrchr(s, ':');
		if (colon != NULL && strchr(s, ':') != colon)
			return *why = "an IPv6 address needs brackets", -1;
		end = colon != NULL ? colon : s + strlen(s);
	}
	if ((n = (size_t)(end - s)) == 0 || n >= hostcap)
		return *why = "empty or overlong host", -1;
	memcpy(host, s, n);
	host[n] = '\0';
	if (!host_ok(host))
		return *why = "bad character in the host", -1;
	if (colon != NULL) {
		if (strlen(colon + 1) >= URL_PORT_MAX || !port_ok(colon + 1))
			return *why = "bad port", -1;
		strcpy(port, colon + 1);
	}
	return 0;
}

int
url_parse(const char *s, struct url *u, const char **why)
{
	char hostport[URL_HOST_MAX + 16];
	const char *rest, *path;
	size_t n;

	memset(u, 0, sizeof(*u));
	if (strncasecmp(s, "https://", 8) == 0)
		u->tls = 1, rest = s + 8;
	else if (strncasecmp(s, "http://", 7) == 0)
		rest = s + 7;
	else
		return *why = "not an http:// or https:// URL", -1;
	path = strchr(rest, '/');
	n = path != NULL ? (size_t)(path - rest) : strlen(rest);
	if (path != NULL && strcmp(path, "/") != 0 && strcmp(path, "/derp") != 0)
		return *why = "the path must be empty, / or /derp", -1;
	if (n == 0 || n >= sizeof(hostport))
		return *why = "empty or overlong host", -1;
	memcpy(hostport, rest, n);
	hostport[n] = '\0';
	if (strchr(hostport, '@') != NULL)
		return *why = "user information in the URL", -1;
	strcpy(u->port, u->tls ? "443" : "80");
	if (url_parse_hostport(hostport, u->host, sizeof(u->host), u->port,
	    why) != 0)
		return -1;
	snprintf(u->text, sizeof(u->text), "%s://%s%s%s:%s",
	    u->tls ? "https" : "http", strchr(u->host, ':') ? "[" : "",
	    u->host, strchr(u->host, ':') ? "]" : "", u->port);
	return 0;
}
