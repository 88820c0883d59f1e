/* SPDX-License-Identifier: BSD-3-Clause */
/* The probe's STUN check: a binding request to the relay's -stun-port and a
 * valid XOR-MAPPED-ADDRESS answer; resent every half second (UDP). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "errfmt.h"
#include "probe.h"
#include "stunc.h"

#define STUN_RESEND_MS	500

static int
udp_socket(struct probe *p, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res;
	char host[URL_HOST_MAX + 1], port[URL_PORT_MAX];
	const char *why;
	int fd, r;

	snprintf(host, sizeof(host), "%s", p->o->url.host);
	if (p->o->dial != NULL &&
	    url_parse_hostport(p->o->dial, host, sizeof(host), port, &why) != 0)
		return errfmt(err, errlen, "-dial: %s", why), -1;
	snprintf(port, sizeof(port), "%lld", (long long)p->o->stun_port);
	if ((r = getaddrinfo(host, port, &hints, &res)) != 0)
		return errfmt(err, errlen, "%s: %s", host, gai_strerror(r)), -1;
	fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		errfmt(err, errlen, "UDP to %s port %s: %s", host, port,
		    strerror(errno));
	freeaddrinfo(res);
	return fd;
}

static void
describe(const struct sockaddr_storage *a, char *out, size_t cap)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)a;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)a;
	char ip[INET6_ADDRSTRLEN] = "?";

	if (a->ss_family == AF_INET) {
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		errfmt(out, cap, "%s:%u", ip, ntohs(s4->sin_port));
	} else {
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		errfmt(out, cap, "[%s]:%u", ip, ntohs(s6->sin6_port));
	}
}

/* Sends and resends until an answer for txid parses; 0, or -1 with why. */
static int
exchange(int fd, int64_t deadline, struct sockaddr_storage *mapped,
    const char **why)
{
	uint8_t txid[STUN_TXID_LEN], req[STUNC_REQ_LEN], buf[1500];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int64_t resend = 0;
	ssize_t n;

	randombytes_buf(txid, sizeof(txid));
	stunc_request(req, txid);
	*why = "no answer";
	while (now_ms() < deadline) {
		if (now_ms() >= resend) {
			(void)!send(fd, req, sizeof(req), 0);
			resend = now_ms() + STUN_RESEND_MS;
		}
		if (poll(&pfd, 1, ms_left(resend < deadline ? resend : deadline)) <= 0)
			continue;
		if ((n = recv(fd, buf, sizeof(buf), 0)) < 0) {
			*why = errno == ECONNREFUSED ? "port closed (ICMP refused)" :
			    strerror(errno);
			continue;
		}
		if (stunc_parse_response(buf, (size_t)n, txid, mapped, why) == 0)
			return 0;
	}
	return -1;
}

void
probe_stun(struct probe *p, struct check *c)
{
	struct sockaddr_storage mapped;
	char err[300], addr[64];
	const char *why;
	double t0 = now_msf(), ms;
	int fd;

	if (p->o->stun_port == 0) {
		check_set(c, CHECK_SKIPPED, "-stun-port 0");
		return;
	}
	if ((fd = udp_socket(p, err, sizeof(err))) < 0) {
		check_set(c, CHECK_CRITICAL, "%s", err);
		return;
	}
	if (exchange(fd, now_ms() + p->o->timeout_ms, &mapped, &why) != 0)
		check_set(c, CHECK_CRITICAL, "port %lld: %s",
		    (long long)p->o->stun_port, why);
	else {
		ms = now_msf() - t0;
		describe(&mapped, addr, sizeof(addr));
		check_set(c, CHECK_OK, "port %lld: mapped address %s in %.1f ms",
		    (long long)p->o->stun_port, addr, ms);
		check_value(c, ms, "ms");
	}
	close(fd);
}
