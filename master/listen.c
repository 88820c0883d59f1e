/* SPDX-License-Identifier: BSD-3-Clause */
#include "listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "steer.h"

#define BACKLOG	4096

static socklen_t
resolve(const struct config *cfg, struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct addrinfo hints, *res;
	socklen_t len;
	int rc;

	memset(ss, 0, sizeof(*ss));
	if (cfg->listen_host[0] == '\0') {
		s6->sin6_family = AF_INET6;	/* dual stack: "::" with V6ONLY off */
		s6->sin6_addr = in6addr_any;
		s6->sin6_port = htons(cfg->listen_port);
		return sizeof(*s6);
	}
	if (inet_pton(AF_INET, cfg->listen_host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(cfg->listen_port);
		return sizeof(*s4);
	}
	if (inet_pton(AF_INET6, cfg->listen_host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(cfg->listen_port);
		return sizeof(*s6);
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if ((rc = getaddrinfo(cfg->listen_host, NULL, &hints, &res)) != 0)
		fatalx("cannot resolve listen host %s: %s", cfg->listen_host,
		    gai_strerror(rc));
	len = res->ai_addrlen;
	memcpy(ss, res->ai_addr, len);
	freeaddrinfo(res);
	if (ss->ss_family == AF_INET)
		s4->sin_port = htons(cfg->listen_port);
	else
		s6->sin6_port = htons(cfg->listen_port);
	return len;
}

static void
set_port(struct sockaddr_storage *ss, int port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static socklen_t
ss_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6);
}

int
listen_udp(const struct config *cfg, int port)
{
	struct sockaddr_storage ss;
	int fd, zero = 0;

	resolve(cfg, &ss);
	set_port(&ss, port);
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 && ss.ss_family == AF_INET6 && cfg->listen_host[0] == '\0') {
		memset(&ss, 0, sizeof(ss));	/* no IPv6 here: 0.0.0.0 */
		ss.ss_family = AF_INET;
		set_port(&ss, port);
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	}
	if (fd < 0)
		fatal("socket (UDP)");
	if (ss.ss_family == AF_INET6 && cfg->listen_host[0] == '\0')
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&ss, ss_len(&ss)) != 0)
		fatal("cannot bind UDP port %d for STUN", port);
	return fd;
}

static int
open_one(const struct config *cfg, struct sockaddr_storage *ss, socklen_t len)
{
	int fd, one = 1, zero = 0;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 && ss->ss_family == AF_INET6 && cfg->listen_host[0] == '\0' &&
	    errno == EAFNOSUPPORT) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		memset(ss, 0, sizeof(*ss));	/* no IPv6 here: 0.0.0.0 */
		s4->sin_family = AF_INET;
		s4->sin_port = htons(cfg->listen_port);
		return open_one(cfg, ss, sizeof(*s4));
	}
	if (fd < 0)
		fatal("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
		fatal("setsockopt SO_REUSEPORT");
	if (ss->ss_family == AF_INET6 && cfg->listen_host[0] == '\0')
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)ss, ss->ss_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) != 0)
		fatal("cannot listen on port %d of \"%s\"", ntohs(ss->ss_family ==
		    AF_INET ? ((struct sockaddr_in *)ss)->sin_port :
		    ((struct sockaddr_in6 *)ss)->sin6_port), cfg->listen_host);
	(void)len;
	if (listen(fd, BACKLOG) != 0)
		fatal("listen");
	return fd;
}

enum steer_mode
listen_placement(const struct config *cfg)
{
	return strcmp(cfg->placement, "source-port") == 0 ? STEER_SOURCE_PORT :
	    STEER_HASH;
}

/*
 * Every worker serving at first. Asked for and impossible, source-port
 * placement is fatal (clients would land where nobody expects them); the
 * hash falls back to the kernel's own, which cannot avoid a dead worker.
 */
static void
steer_all(const struct config *cfg, int fd, uint32_t n)
{
	uint8_t alive[64];

	memset(alive, 1, sizeof(alive));
	if (steer_apply(fd, listen_placement(cfg), n, alive) == 0)
		return;
	if (listen_placement(cfg) == STEER_SOURCE_PORT)
		fatal("cannot place connections by source port "
		    "(-placement source-port); -placement hash can do without");
	log_warn("cannot steer connections; the kernel spreads them by its "
	    "own hash, dead workers included");
}

void
listen_open(const struct config *cfg, int port, int *fds, uint32_t n)
{
	struct sockaddr_storage ss;
	socklen_t len = resolve(cfg, &ss);
	uint32_t i;

	set_port(&ss, port);
	for (i = 0; i < n; i++)
		fds[i] = open_one(cfg, &ss, len);
	if (n > 1)
		steer_all(cfg, fds[0], n);
}
