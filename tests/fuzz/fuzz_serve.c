/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for worker/http_serve.c: what the worker answers to
 * any request, from any address, on the DERP port or on port 80 beside
 * TLS, through the real worker (tests/fuzz/fuzz_worker.c).
 *
 * The input is a flags byte (bit 0: port 80; bits 1-2: -home; bits 3-4:
 * where the request is cut in two), a family byte (odd: IPv6) and 16
 * address bytes for the client's address, then the request.
 *
 * Checks, from the request as worker/http.c parses it: an incomplete
 * request gets nothing yet; a malformed one 400; /debug/ and /metrics
 * answer only loopback and Tailscale addresses (100.64.0.0/10,
 * fd7a:115c:a1e0::/48, IPv4-mapped too) and never a request with
 * X-Forwarded-For (403 otherwise); every other path gets the status
 * derper's mux gives it; every answer is a well-formed HTTP/1.1 response
 * (status line, header lines without control characters, Content-Length
 * equal to the body, Connection: close) and the worker closes after it,
 * except a DERP upgrade, which goes on with ServerKey.
 */
#include <arpa/inet.h>
#include <string.h>

#include "http.h"
#include "keyfmt.h"
#include "fuzz.h"
#include "fuzz_worker.h"

#define RESP_MAX	(128 * 1024)

static const char *const homes[] = {
	"", "blank", "https://home.example/a?b=<c>&d='e'", "http://h",
};

static uint8_t resp[RESP_MAX];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fw_init();
	return 0;
}

/* tsweb.AllowDebugAccess, written from its description. */
static int
debug_allowed(const struct sockaddr_storage *ss, const struct http_request *req)
{
	static const uint8_t ts6[6] = { 0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0 };
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };
	static const uint8_t loop6[16] = { [15] = 1 };
	const uint8_t *a;

	if (http_header(req, "X-Forwarded-For") != NULL)
		return 0;
	if (ss->ss_family == AF_INET6) {
		a = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
		if (memcmp(a, loop6, 16) == 0 || memcmp(a, ts6, 6) == 0)
			return 1;
		if (memcmp(a, mapped, 12) != 0)
			return 0;
		a += 12;
	} else
		a = (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr;
	return a[0] == 127 || (a[0] == 100 && (a[1] & 0xc0) == 64);
}

static int
is(const struct http_str *s, const char *lit)
{
	return s->len == strlen(lit) && memcmp(s->p, lit, s->len) == 0;
}

static int
has_prefix(const struct http_str *s, const char *lit)
{
	return s->len >= strlen(lit) && memcmp(s->p, lit, strlen(lit)) == 0;
}

/* Whether the request is for a debug page (metrics included). */
static int
is_debug(const struct http_request *req, int port80)
{
	const struct http_str *p = &req->path;

	return is(p, "/metrics") || has_prefix(p, port80 ? "/debug" : "/debug/") ||
	    is(p, "/debug/varz");
}

/* The status of a well-formed response; its head and body checked. */
static int
check_response(const uint8_t *r, size_t len, int head_only)
{
	const uint8_t *end = memmem(r, len, "\r\n\r\n", 4), *line, *eol;
	size_t body, clen = (size_t)-1;
	int status, close_seen = 0;

	CHECK(end != NULL);
	CHECK(len >= 13 && memcmp(r, "HTTP/1.1 ", 9) == 0);
	CHECK(r[9] >= '1' && r[9] <= '5' && r[10] >= '0' && r[10] <= '9' &&
	    r[11] >= '0' && r[11] <= '9' && r[12] == ' ');
	status = (r[9] - '0') * 100 + (r[10] - '0') * 10 + (r[11] - '0');
	line = memmem(r, len, "\r\n", 2) + 2;
	for (; line < end + 2; line = eol + 2) {
		const uint8_t *p, *colon;

		eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
		CHECK(eol != NULL);
		colon = memchr(line, ':', (size_t)(eol - line));
		CHECK(colon != NULL && colon > line && colon[1] == ' ');
		for (p = line; p < eol; p++)
			CHECK((*p >= 0x20 && *p != 0x7f) || *p == '\t');
		if (eol - line > 16 && memcmp(line, "Content-Length: ", 16) == 0)
			clen = strtoul((const char *)line + 16, NULL, 10);
		if (eol - line == 17 && memcmp(line, "Connection: close", 17) == 0)
			close_seen = 1;
	}
	body = len - (size_t)(end + 4 - r);
	if (status == 101)
		return status;
	CHECK(close_seen);
	if (status == 204)
		CHECK(clen == (size_t)-1 && body == 0);
	else
		CHECK(clen != (size_t)-1 && body == (head_only ? 0 : clen));
	return status;
}

/* The status derper's mux (or its port-80 handler) gives the request. */
static int
expected_status(const struct http_request *req, int port80, int allowed,
    const char *home)
{
	const struct http_str *p = &req->path, *up;
	int get = is(&req->method, "GET") || is(&req->method, "HEAD");

	if (port80) {
		if (is(p, "/generate_204"))
			return 204;
		if (has_prefix(p, "/debug") || is(p, "/metrics"))
			return !allowed ? 403 : 0;	/* 0: 200, 400 or 404 */
		if (!get)
			return 400;
		return req->target.len > 2048 ? 414 : 302;
	}
	if (is(p, "/derp")) {
		up = http_header(req, "Upgrade");
		if (up == NULL || (!http_str_caseeq(up, "derp") &&
		    !http_str_caseeq(up, "websocket")))
			return 426;
		return 0;	/* 101, ServerKey at once, or 400 for WebSocket */
	}
	if (is(p, "/derp/probe") || is(p, "/derp/latency-check"))
		return get ? 200 : 405;
	if (is(p, "/generate_204"))
		return 204;
	if (is(p, "/robots.txt") || is(p, "/bootstrap-dns"))
		return 200;
	if (is(p, "/metrics") || is(p, "/debug/varz"))
		return allowed ? 200 : 403;
	if (has_prefix(p, "/debug/"))
		return !allowed ? 403 : 0;
	return *home != '\0' && strcmp(home, "blank") != 0 ? 302 : 200;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage peer;
	struct http_request req;
	const char *home;
	size_t len, cut, n;
	int fd, eof, port80, rc, status, want, allowed;

	if (size < 18)
		return 0;
	fw_reset();
	port80 = data[0] & 1;
	home = homes[(data[0] >> 1) & 3];
	fw.cfg.home = home;
	memset(&peer, 0, sizeof(peer));
	if (data[1] & 1) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&peer;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, data + 2, 16);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&peer;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, data + 2, 4);
	}
	data += 18;
	size -= 18;
	cut = size * ((data[-18] >> 3) & 3) / 4;

	if ((fd = fw_connect(port80, &peer)) < 0)
		return 0;
	fw_send(fd, data, cut);
	fw_send(fd, data + cut, size - cut);
	len = fw_recv(fd, resp, sizeof(resp), &eof);

	rc = http_parse_request((const char *)data, size, &req);
	if (rc == HTTP_INCOMPLETE) {
		CHECK(len == 0 && !eof);
		fw_close(fd);
		return 0;
	}
	if (rc == HTTP_BAD) {
		CHECK(eof && check_response(resp, len, 0) == 400);
		fw_close(fd);
		return 0;
	}
	allowed = debug_allowed(&peer, &req);
	want = expected_status(&req, port80, allowed, home);
	if (!port80 && is(&req.path, "/derp") && len == 0 && eof &&
	    (size_t)rc < size) {
		/* A bad first frame right behind the upgrade: closed at once. */
		fw_close(fd);
		return 0;
	}
	if (!port80 && is(&req.path, "/derp") && want == 0 &&
	    len >= 5 && resp[0] == 0x01) {
		/* Fast start: ServerKey at once, magic and our key. */
		CHECK(len >= 45 && memcmp(resp + 5, "DERP\xf0\x9f\x94\x91", 8) == 0);
		CHECK(memcmp(resp + 13, fw.w.server_pub, KEY_LEN) == 0);
		fw_close(fd);
		return 0;
	}
	status = check_response(resp, len, is(&req.method, "HEAD"));
	if (want != 0)
		CHECK(status == want);
	if (status == 101) {
		char hex[KEY_HEX_LEN + 1];

		CHECK(!port80 && is(&req.path, "/derp"));
		key_format_hex(hex, fw.w.server_pub);
		n = (size_t)((uint8_t *)memmem(resp, len, "\r\n\r\n", 4) - resp);
		CHECK(memmem(resp, n, hex, KEY_HEX_LEN) != NULL ||
		    memmem(resp, n, "Sec-WebSocket-Accept: ", 22) != NULL);
		CHECK(!eof || (size_t)rc < size);	/* or a bad first frame */
	} else {
		CHECK(eof);
		/* The security property itself: debug pages for the allowed only. */
		if (is_debug(&req, port80))
			CHECK(status == (allowed ? status : 403) && (status != 200 ||
			    allowed));
	}
	fw_close(fd);
	return 0;
}
