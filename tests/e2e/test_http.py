# SPDX-License-Identifier: BSD-3-Clause
"""derper's small HTTP endpoints (cmd/derper/derper.go, derpserver/handler.go,
cmd/derper/bootstrap_dns.go, tsweb), checked byte for byte on raw sockets."""
import json
import os
import signal
import socket
import time

import pytest

from conftest import free_port
from derp_client import DerpClient
from derp_helpers import exchange
from http_helpers import Response, get, metrics, read_to_eof, request, served_by

# tsweb.AddBrowserHeaders
BROWSER_HEADERS = {
    "strict-transport-security": "max-age=63072000; includeSubDomains",
    "content-security-policy": "default-src 'self'; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'self'; "
                               "block-all-mixed-content; object-src 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
}
NO_CACHE = "no-cache, no-store, must-revalidate, no-transform, max-age=0"


def assert_browser_headers(r):
    for name, value in BROWSER_HEADERS.items():
        assert r.headers.get(name) == value, f"{name}: {r.headers.get(name)!r}"


def assert_go_http_error(r, status, text):
    """Go's http.Error: the text plus a newline, as plain text, nosniff."""
    assert r.status == status, r.status_line
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.body == (text + "\n").encode()


@pytest.fixture
def srv(derp_server):
    return derp_server(workers=2)


# --- probes -------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/derp/probe", "/derp/latency-check"])
def test_probe(srv, path):
    """ProbeHandler: GET and HEAD are 200 with Access-Control-Allow-Origin: *
    and no body; any other method is 405 "bogus probe method"."""
    for worker in (0, 1):
        r = get(srv, path, worker=worker)
        assert r.status == 200, r.status_line
        assert r.headers["access-control-allow-origin"] == "*"
        assert r.body == b""
    r = get(srv, path, method="HEAD")
    assert r.status == 200 and r.headers["access-control-allow-origin"] == "*"
    assert r.body == b""
    for method in ("POST", "PUT", "DELETE"):
        r = get(srv, path, method=method, headers=[("Content-Length", "0")])
        assert_go_http_error(r, 405, "bogus probe method")
        assert "access-control-allow-origin" not in r.headers


def test_probe_with_query(srv):
    """The mux routes on the path alone: a query string does not matter."""
    r = get(srv, "/derp/probe?t=12345")
    assert r.status == 200 and r.headers["access-control-allow-origin"] == "*"


# --- captive-portal check -------------------------------------------------------

def test_generate_204_without_challenge(srv):
    """ServeNoContent: 204, the no-cache Cache-Control, no body, no response header."""
    r = get(srv, "/generate_204")
    assert r.status_line == "HTTP/1.1 204 No Content"
    assert r.headers["cache-control"] == NO_CACHE
    assert "x-tailscale-response" not in r.headers
    assert "content-length" not in r.headers, "RFC 9110: a 204 has no Content-Length"
    assert r.body == b""


VALID_CHALLENGES = [
    "input",
    "ts_derp99b.tailscale.com",
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01234567.-_:",
    "x" * 64,
]
INVALID_CHALLENGES = [
    "foo bar",             # space
    "x" * 65,              # longer than 64
    "a/b", "a+b", "a=b", "a,b", "a;b", "a\"b", "a'b", "<script>", "a\tb", "~", "%41",
]


@pytest.mark.parametrize("challenge", VALID_CHALLENGES)
def test_generate_204_echoes_valid_challenge(srv, challenge):
    """A challenge of at most 64 characters from [a-zA-Z0-9.-_:] comes back as
    X-Tailscale-Response: response <challenge>."""
    r = get(srv, "/generate_204", headers=[("X-Tailscale-Challenge", challenge)])
    assert r.status == 204
    assert r.headers["x-tailscale-response"] == "response " + challenge
    assert r.headers["cache-control"] == NO_CACHE


@pytest.mark.parametrize("challenge", INVALID_CHALLENGES)
def test_generate_204_ignores_invalid_challenge(srv, challenge):
    """Anything else is not echoed (but the answer is still a 204)."""
    r = get(srv, "/generate_204", headers=[("X-Tailscale-Challenge", challenge)])
    assert r.status == 204
    assert "x-tailscale-response" not in r.headers, r.headers


def test_generate_204_non_ascii_and_nul_not_echoed(srv):
    """derper's test cases: "foo\\x00bar" is invalid; so is any non-ASCII byte.
    (A NUL is not even a valid header byte: derpd refuses that request.)"""
    for value in (b"caf\xc3\xa9", b"\xff\xfe"):
        raw = (b"GET /generate_204 HTTP/1.1\r\nHost: derp.test\r\n"
               b"X-Tailscale-Challenge: " + value + b"\r\n\r\n")
        r = request(srv.port, "", raw=raw)
        assert r.status == 204
        assert "x-tailscale-response" not in r.headers
    raw = (b"GET /generate_204 HTTP/1.1\r\nHost: derp.test\r\n"
           b"X-Tailscale-Challenge: foo\x00bar\r\n\r\n")
    r = request(srv.port, "", raw=raw)
    assert "x-tailscale-response" not in r.headers
    assert r.status == 400, r.status_line


def test_generate_204_header_name_case_and_empty(srv):
    """Header names are case-insensitive; an empty challenge is no challenge;
    of two challenge headers the first counts (Header.Get)."""
    r = get(srv, "/generate_204", headers=[("x-TAILSCALE-challenge", "Mixed.Case")])
    assert r.headers["x-tailscale-response"] == "response Mixed.Case"
    r = get(srv, "/generate_204", headers=[("X-Tailscale-Challenge", "")])
    assert r.status == 204 and "x-tailscale-response" not in r.headers
    r = get(srv, "/generate_204", headers=[("X-Tailscale-Challenge", "first"),
                                           ("X-Tailscale-Challenge", "second")])
    assert r.headers["x-tailscale-response"] == "response first"


# --- robots.txt and the home page ---------------------------------------------------

def test_robots_txt(srv):
    r = get(srv, "/robots.txt")
    assert r.status == 200
    assert r.body == b"User-agent: *\nDisallow: /\n"
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert_browser_headers(r)


@pytest.mark.parametrize("path", ["/", "/index.html", "/some/unknown/page?x=1"])
def test_default_home_page(srv, path):
    """Without -home, "/" and every path the mux does not know is an HTML page
    about DERP, with the browser security headers."""
    r = get(srv, path)
    assert r.status == 200, r.status_line
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert_browser_headers(r)
    page = r.text()
    assert "<h1>DERP</h1>" in page
    assert "https://tailscale.com/" in page


def test_home_blank(derp_server):
    """-home blank: 200, text/html, no body."""
    srv = derp_server(workers=1, extra_args=["-home", "blank"])
    r = get(srv, "/")
    assert r.status == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert_browser_headers(r)
    assert r.body == b""


def test_home_redirect(derp_server):
    """-home URL: http.RedirectHandler(URL, 302) for "/" and unknown paths."""
    url = "https://example.com/derp-home?from=relay"
    srv = derp_server(workers=1, extra_args=["-home", url])
    for path in ("/", "/elsewhere"):
        r = get(srv, path)
        assert r.status_line == "HTTP/1.1 302 Found"
        assert r.headers["location"] == url
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        assert r.body == f'<a href="{url}">Found</a>.\n\n'.encode()
        assert_browser_headers(r)
    # The other endpoints are unaffected.
    assert get(srv, "/derp/probe").status == 200
    assert get(srv, "/robots.txt").status == 200


def test_bad_request_is_400(srv):
    """A malformed request head is refused (400) without taking the worker down."""
    for raw in (b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"):
        r = request(srv.port, "", raw=raw)
        assert r.status == 400, (raw, r.status_line)
    assert get(srv, "/derp/probe").status == 200


def test_derp_disabled(derp_server, connect):
    """-derp=false: /derp is 404 "derp server disabled"; the rest still works."""
    srv = derp_server(workers=1, extra_args=["-derp=false"])
    r = get(srv, "/derp", headers=[("Upgrade", "DERP"), ("Connection", "Upgrade")])
    assert_go_http_error(r, 404, "derp server disabled")
    assert get(srv, "/derp/probe").status == 200
    assert get(srv, "/generate_204").status == 204


# --- debug access ------------------------------------------------------------------

def test_debug_route_names_the_serving_worker(srv, connect):
    """/debug/route?key=nodekey:<hex> says which worker serves a key: the
    placement check of tests and derpd-client probe."""
    a, b = connect(srv, worker=0), connect(srv, worker=1)
    assert served_by(srv, a.pub) == 0 and served_by(srv, b.pub) == 1
    r = get(srv, f"/debug/route?key=nodekey:{a.pub.hex()}")
    assert r.headers["content-type"] == "application/json"
    assert json.loads(r.body) == {"key": f"nodekey:{a.pub.hex()}", "worker": 0,
                                  "connections": 1}
    a.close()
    deadline = time.monotonic() + 5
    while served_by(srv, a.pub) is not None:
        assert time.monotonic() < deadline, "a closed client is still routed"
        time.sleep(0.05)
    for bad in ("", "?key=", f"?key={a.pub.hex()}", "?key=nodekey:zz" + "0" * 62):
        r = get(srv, "/debug/route" + bad)
        assert r.status == 400 and b"nodekey" in r.body, (bad, r.status_line)
    r = get(srv, f"/debug/route?key=nodekey:{b.pub.hex()}",
            headers=[("X-Forwarded-For", "192.0.2.1")])
    assert_go_http_error(r, 403, "debug access denied")



def test_debug_index_and_forwarded(srv):
    """/debug/ is for loopback (and Tailscale) clients; a proxied request
    (X-Forwarded-For) is refused: tsweb.AllowDebugAccess."""
    r = get(srv, "/debug/")
    assert r.status == 200 and "/debug/varz" in r.text()
    for path in ("/debug/", "/debug/varz", "/metrics"):
        r = get(srv, path, headers=[("X-Forwarded-For", "192.0.2.1")])
        assert_go_http_error(r, 403, "debug access denied")


# --- bootstrap DNS -----------------------------------------------------------------

def local_addresses(name):
    """What the system resolver (here: /etc/hosts or a literal) says about name."""
    return {ai[4][0] for ai in socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)}


def bootstrap(srv, query=None, worker=None):
    path = "/bootstrap-dns" + (f"?q={query}" if query is not None else "")
    r = get(srv, path, worker=worker)
    assert r.status == 200, r.status_line
    assert r.headers["content-type"] == "application/json"
    assert r.headers["connection"] == "close"
    assert_browser_headers(r)
    return r


def wait_published(srv, timeout=15.0):
    """The resolver process publishes shortly after start-up."""
    deadline = time.monotonic() + timeout
    while True:
        r = bootstrap(srv)
        if r.body:
            return r
        assert time.monotonic() < deadline, "bootstrap DNS answer never published"
        time.sleep(0.1)


def test_bootstrap_dns(derp_server):
    """-bootstrap-dns-names: /bootstrap-dns is json.MarshalIndent(map name ->
    []net.IP, "", "\\t") of every name that resolved, keys sorted; ?q= of an
    unpublished name answers that name alone, any other ?q= the published map.
    The names are resolved by the DNS helper process, not by the workers."""
    names = ["localhost", "127.0.0.3", "::1", "localhost"]   # a duplicate, too
    srv = derp_server(workers=2, extra_args=[
        "-bootstrap-dns-names", ",".join(names),
        "-unpublished-bootstrap-dns-names", "127.0.0.9,unpublished.invalid"])
    srv.wait_log(r"bootstrap DNS resolver started, pid \d+")
    r = wait_published(srv)
    doc = json.loads(r.body)
    want = {n: local_addresses(n) for n in set(names)}
    assert set(doc) == set(want)
    for name, ips in doc.items():
        assert sorted(ips) == sorted(want[name]), name
        assert len(ips) == len(set(ips))
    # Go's MarshalIndent layout, byte for byte (the IP order is shuffled).
    expect = json.dumps({n: doc[n] for n in sorted(doc)}, indent="\t",
                        separators=(",", ": "))
    assert r.body.decode() == expect

    for worker in (0, 1):
        assert json.loads(bootstrap(srv, worker=worker).body) == doc
    r = bootstrap(srv, "127.0.0.9")
    assert r.body.decode() == '{\n\t"127.0.0.9": [\n\t\t"127.0.0.9"\n\t]\n}'
    assert json.loads(bootstrap(srv, "localhost").body) == doc
    assert json.loads(bootstrap(srv, "not-a-name.example").body) == doc
    assert json.loads(bootstrap(srv, "").body) == doc
    # An unpublished name that did not resolve falls back to the published map.
    assert json.loads(bootstrap(srv, "unpublished.invalid").body) == doc
    m = metrics(srv)
    assert m("bootstrap_dns_requests") >= 8


def test_bootstrap_dns_without_names(srv):
    """Without -bootstrap-dns-names derper has nothing cached: 200, empty body."""
    r = bootstrap(srv)
    assert r.body == b""
    assert "bootstrap DNS resolver started" not in srv.log_text()


def test_bootstrap_dns_only_unpublished(derp_server):
    """Only unpublished names: the plain answer stays empty; ?q= finds them."""
    srv = derp_server(workers=1, extra_args=["-unpublished-bootstrap-dns-names",
                                             "127.0.0.7"])
    deadline = time.monotonic() + 15
    while not bootstrap(srv, "127.0.0.7").body:
        assert time.monotonic() < deadline, "never published"
        time.sleep(0.1)
    assert json.loads(bootstrap(srv, "127.0.0.7").body) == {"127.0.0.7": ["127.0.0.7"]}
    assert bootstrap(srv).body == b""


def test_bootstrap_dns_process_survives_kill(derp_server):
    """The resolver is its own process: killed, it is restarted, and the
    workers keep answering with what was published meanwhile."""
    srv = derp_server(workers=1, extra_args=["-bootstrap-dns-names", "127.0.0.4"])
    before = json.loads(wait_published(srv).body)
    pid = int(srv.wait_log(r"bootstrap DNS resolver started, pid (\d+)").group(1))
    mark = srv.log_mark()
    os.kill(pid, signal.SIGKILL)
    srv.wait_log(r"bootstrap DNS resolver \(pid \d+\) killed by signal 9", since=mark)
    assert json.loads(bootstrap(srv).body) == before == {"127.0.0.4": ["127.0.0.4"]}
    srv.wait_log(r"bootstrap DNS resolver started, pid \d+", since=mark, timeout=15)
    assert json.loads(bootstrap(srv).body) == before


# --- plain HTTP beside TLS (derper's port 80) -----------------------------------------

@pytest.fixture
def tls_with_http(derp_server, tls_certdir):
    certdir, crt = tls_certdir
    http_port = free_port()
    srv = derp_server(workers=2, extra_args=[
        "-certmode", "manual", "-certdir", certdir, "-hostname", "derp.test",
        "-http-port", str(http_port)])
    return srv, http_port, str(crt)


def test_port80_redirects_to_https(tls_with_http):
    """tsweb.Port80Handler: GET/HEAD go to https://<Host><request URI> with a
    302 (http.Redirect: a small HTML body for GET); "/" from a debug-allowed
    client (we are on loopback) goes to https://<Host>/debug/."""
    srv, port, _ = tls_with_http
    for worker in (0, 1):
        r = request(port, "/derp/probe?x=1", worker=worker, nworkers=2,
                    host_header="derp.test", srv=srv)
        assert r.status_line == "HTTP/1.1 302 Found"
        assert r.headers["location"] == "https://derp.test/derp/probe?x=1"
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        assert r.body == b'<a href="https://derp.test/derp/probe?x=1">Found</a>.\n\n'
    r = request(port, "/derp", host_header="relay.example:8080",
                headers=[("Upgrade", "DERP"), ("Connection", "Upgrade")])
    assert r.status == 302
    assert r.headers["location"] == "https://relay.example:8080/derp"
    r = request(port, "/robots.txt", method="HEAD")
    assert r.status == 302 and r.headers["location"] == "https://derp.test/robots.txt"
    assert r.body == b""
    r = request(port, "/")
    assert r.status == 302 and r.headers["location"] == "https://derp.test/debug/"
    r = request(port, "/", headers=[("X-Forwarded-For", "192.0.2.1")])
    assert r.status == 302 and r.headers["location"] == "https://derp.test/"


def test_port80_redirect_escapes_html(tls_with_http):
    """The redirect body is HTML: the URL in it is escaped (http.Redirect's htmlEscape)."""
    srv, port, _ = tls_with_http
    r = request(port, "/a\"><script>x</script>&'")
    assert r.status == 302
    assert b"<script>" not in r.body
    assert r.body == (b'<a href="https://derp.test/a&#34;&gt;&lt;script&gt;x&lt;/script'
                      b'&gt;&amp;&#39;">Found</a>.\n\n')


def test_port80_long_and_non_ascii_targets(tls_with_http):
    """A long request URI is redirected whole; non-ASCII bytes are %-escaped
    in Location (Go's hexEscapeNonASCII); beyond 2048 bytes derpd says 414."""
    srv, port, _ = tls_with_http
    path = "/" + "a" * 2000
    r = request(port, path)
    assert r.status == 302 and r.headers["location"] == "https://derp.test" + path
    raw = b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: derp.test\r\n\r\n"
    r = request(port, "", raw=raw)
    assert r.status == 302 and r.headers["location"] == "https://derp.test/caf%C3%A9"
    r = request(port, "/" + "b" * 3000)
    assert r.status == 414


def test_port80_refuses_other_methods(tls_with_http):
    srv, port, _ = tls_with_http
    for method in ("POST", "PUT", "CONNECT"):
        r = request(port, "/derp", method=method, headers=[("Content-Length", "0")])
        assert_go_http_error(r, 400, "Use HTTPS")


def test_port80_serves_generate_204_and_debug(tls_with_http):
    """Port 80 answers captive-portal checks itself, and /debug pages (for
    debug-allowed clients) from the main mux; derpd's /metrics likewise."""
    srv, port, _ = tls_with_http
    r = request(port, "/generate_204", headers=[("X-Tailscale-Challenge", "abc")])
    assert r.status == 204 and r.headers["x-tailscale-response"] == "response abc"
    r = request(port, "/debug/varz")
    assert r.status == 200 and "derp_accepts" in r.text()
    r = request(port, "/debug/varz", headers=[("X-Forwarded-For", "192.0.2.1")])
    assert r.status == 403


def test_tls_serves_the_endpoints_too(tls_with_http, connect):
    """The TLS port serves the same mux as plain HTTP mode."""
    srv, port, cafile = tls_with_http
    tls = dict(tls=True, cafile=cafile, server_hostname="derp.test")
    r = get(srv, "/derp/probe", **tls)
    assert r.status == 200 and r.headers["access-control-allow-origin"] == "*"
    r = get(srv, "/generate_204", headers=[("X-Tailscale-Challenge", "tls")], **tls)
    assert r.headers["x-tailscale-response"] == "response tls"
    assert get(srv, "/robots.txt", **tls).body == b"User-agent: *\nDisallow: /\n"
    a = connect(srv, worker=0, **tls)
    b = connect(srv, worker=1, **tls)
    exchange(a, b)


def test_http_port_disabled_with_minus_one(derp_server, tls_certdir):
    """-http-port -1: no plain listener beside TLS (the port stays free)."""
    certdir, _ = tls_certdir
    http_port = free_port()
    derp_server(workers=1, extra_args=["-certmode", "manual", "-certdir", certdir,
                                       "-hostname", "derp.test", "-http-port", "-1"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", http_port))     # would fail if derpd listened there


def test_request_split_across_segments(srv):
    """A request head arriving a byte at a time is still served."""
    c = DerpClient("127.0.0.1", srv.port).connect(upgrade=False)
    try:
        for b in b"GET /derp/probe HTTP/1.1\r\nHost: x\r\n\r\n":
            c.send_raw(bytes([b]))
        r = Response(read_to_eof(c))
        assert r.status == 200
    finally:
        c.close()
