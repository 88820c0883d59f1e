# SPDX-License-Identifier: BSD-3-Clause
"""The HTTP upgrade and the DERP login (derphttp.Handler, derp.Server.accept)."""
import re

from derp_client import MAGIC, SERVER_KEY, http_get
from derp_helpers import exchange


def test_upgrade_response_and_login(derp_server, connect, server_pub):
    """derper answers `GET /derp` + `Upgrade: DERP` with a 101 carrying exactly
    Upgrade, Connection, Derp-Version and Derp-Public-Key (the key file's public
    key as 64 lower-case hex digits); then sends ServerKey (magic + the same key)
    and, after a good ClientInfo, a ServerInfo boxed to the client: {"version": 2}."""
    srv = derp_server()
    c = connect(srv, handshake=False)
    assert c.status_line == "HTTP/1.1 101 Switching Protocols"
    assert set(c.headers) == {"upgrade", "connection", "derp-version", "derp-public-key"}
    assert c.headers["upgrade"] == "DERP"
    assert c.headers["connection"] == "Upgrade"
    assert c.headers["derp-version"] == "2"
    assert re.fullmatch("[0-9a-f]{64}", c.headers["derp-public-key"])
    assert c.headers["derp-public-key"] == server_pub.hex()

    ftype, payload = c.recv_frame()
    assert ftype == SERVER_KEY
    assert payload == MAGIC + server_pub, "ServerKey is exactly magic + server key"
    c.server_key = server_pub

    c.send_client_info()
    info = c.read_server_info()        # decrypts with box(client priv, server pub)
    assert info["version"] == 2


def test_fast_start_skips_http_response(derp_server, connect, server_pub):
    """With `Derp-Fast-Start: 1` derper writes no HTTP response: the first bytes
    on the wire are the ServerKey frame (type 1, length 40)."""
    srv = derp_server()
    c = connect(srv, handshake=False, fast_start=True)
    first = c.peek(5)
    assert not first.startswith(b"HTTP"), "fast start must not send an HTTP response"
    assert first == b"\x01\x00\x00\x00\x28"
    assert c.read_server_key() == server_pub
    c.send_client_info()
    assert c.read_server_info()["version"] == 2
    exchange(c, connect(srv))          # the fast-started connection relays


def test_derp_without_upgrade_is_426(derp_server):
    """derphttp.Handler: /derp without `Upgrade: DERP` (or websocket) is
    426 Upgrade Required."""
    srv = derp_server()
    status, _, _ = http_get("127.0.0.1", srv.port, "/derp")
    assert status.startswith("HTTP/1.1 426"), status


def test_unknown_path_is_404(derp_server):
    """An unknown page is 404.  derper's mux serves the home page for every path
    it does not know, except under /debug/ (tsweb's debug handler, open to
    loopback clients), where an unknown page is http.NotFound."""
    srv = derp_server()
    status, _, _ = http_get("127.0.0.1", srv.port, "/debug/no-such-page")
    assert status.startswith("HTTP/1.1 404"), status


def test_tls_login_and_relay(tls_server, connect, server_pub):
    """With -certmode manual derper serves TLS with <certdir>/<hostname>.crt/.key;
    a client verifying that certificate for SNI derp.test logs in and relays."""
    srv, cafile = tls_server
    tls = dict(tls=True, cafile=cafile, server_hostname="derp.test")
    a = connect(srv, worker=0, **tls)
    b = connect(srv, worker=1, **tls)
    assert a.server_key == server_pub
    assert a.headers["derp-public-key"] == server_pub.hex()
    exchange(a, b)
