/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Relay URLs as DERP maps and derper write them: https://host[:port] (TLS,
 * default port 443) or http://host[:port] (default 80), an IPv6 host in
 * brackets, and an optional path of "/" or "/derp".
 */
#ifndef CLIENT_URL_H
#define CLIENT_URL_H

#include <stddef.h>

#define URL_HOST_MAX	254
#define URL_PORT_MAX	6

struct url {
	int	tls;
	char	host[URL_HOST_MAX + 1];		/* without brackets */
	char	port[URL_PORT_MAX];
	char	text[URL_HOST_MAX + 32];	/* normalised, for messages */
};

/* Returns 0, or -1 with *why saying what is wrong. */
int	url_parse(const char *s, struct url *u, const char **why);
/* Splits "host[:port]" or "[v6][:port]" for -dial; port stays if absent. */
int	url_parse_hostport(const char *s, char *host, size_t hostcap,
	    char port[URL_PORT_MAX], const char **why);
int	url_host_is_ip(const char *host);

#endif
