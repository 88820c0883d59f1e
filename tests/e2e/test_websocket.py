# SPDX-License-Identifier: BSD-3-Clause
"""DERP over WebSocket (derpserver.AddWebSocketSupport): GET /derp with
Upgrade: websocket and the "derp" subprotocol, then the DERP byte stream in
binary messages.  Clients here are python3-websockets, not derpd's code."""
import asyncio
import base64
import hashlib
import os
import struct

import pytest

from derp_client import (MAGIC, PEER_GONE_DISCONNECTED, PING, SEND_PACKET, SERVER_KEY,
                         DerpClient)
from derp_helpers import exchange
from http_helpers import assert_on_worker, metrics, read_to_eof, request
from ws_client import LoopThread, ws_connect_on_worker

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_MESSAGE = 32768      # coder/websocket's default read limit, which derper keeps


@pytest.fixture
def loop():
    lt = LoopThread()
    yield lt
    lt.stop()


@pytest.fixture
def ws(loop, request):
    """Factory: ws(server, worker) -> a logged-in WsDerpClient on that
    worker, which derpd's /debug/route confirms."""
    clients = []

    def make(srv, worker, **kw):
        c = ws_connect_on_worker(loop, "127.0.0.1", srv.port, worker, srv.workers, **kw)
        clients.append(c)
        assert_on_worker(srv, c, worker)
        return c

    yield make
    for c in clients:
        c.close()


def raw_ws_frame(opcode, payload, mask=True, fin=True):
    """One client WebSocket frame, built by hand (RFC 6455 5.2)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack(">H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack(">Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def ws_upgrade_request(key, extra=""):
    return ("GET /derp HTTP/1.1\r\nHost: derp.test\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Protocol: derp\r\n"
            f"Origin: https://login.tailscale.com\r\n{extra}\r\n").encode()


def test_upgrade_on_the_wire(derp_server, server_pub):
    """The 101 carries Upgrade: websocket, Connection: Upgrade, the RFC 6455
    accept value and the derp subprotocol; the first message is an unmasked
    binary frame holding the ServerKey frame (no Derp-Public-Key header here)."""
    srv = derp_server(workers=2)
    key = base64.b64encode(os.urandom(16)).decode()
    c = DerpClient("127.0.0.1", srv.port).connect(upgrade=False)
    try:
        c.send_raw(ws_upgrade_request(key))
        status, headers = c.read_http_head()
        assert status == "HTTP/1.1 101 Switching Protocols"
        assert headers["upgrade"].lower() == "websocket"
        assert headers["connection"].lower() == "upgrade"
        accept = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()
        assert headers["sec-websocket-accept"] == accept
        assert headers["sec-websocket-protocol"] == "derp"
        assert "derp-public-key" not in headers
        first = c.peek(2)
        assert first[0] == 0x82, "FIN + binary opcode"
        assert first[1] & 0x80 == 0, "server frames are not masked"
        n = first[1] & 0x7F
        assert n >= 45
        msg = c.peek(2 + n)[2:]
        assert msg[:5] == struct.pack(">BI", SERVER_KEY, 40)
        assert msg[5:45] == MAGIC + server_pub
    finally:
        c.close()


@pytest.mark.parametrize("wa,wb", [(0, 0), (0, 1)], ids=["same-worker", "cross-worker"])
def test_login_and_relay_with_plain_client(derp_server, connect, ws, wa, wb, server_pub):
    """A WebSocket client logs in (ServerKey, ClientInfo, ServerInfo boxed to it)
    and exchanges packets both ways with a plain DERP client and another
    WebSocket client, on one worker and across workers."""
    srv = derp_server(workers=2)
    w = ws(srv, wa)
    assert w.headers["sec-websocket-protocol"] == "derp"
    assert w.server_key == server_pub
    assert w.server_info["version"] == 2
    p = connect(srv, worker=wb)
    for size in (1, 100, 1400, MAX_MESSAGE - 5 - 32):
        for src, dst in ((w, p), (p, w)):
            data = os.urandom(size)
            src.send_packet(dst.pub, data)
            assert dst.recv_packet() == (src.pub, data), size
    w2 = ws(srv, wb)
    exchange(w, w2)
    exchange(w2, p)
    assert w.ping(b"wsping!!") == b"wsping!!"


def test_websocket_over_tls(tls_server, connect, ws, server_pub):
    """Browsers use wss://: the same WebSocket DERP inside TLS."""
    srv, cafile = tls_server
    tls = dict(tls=True, cafile=cafile, server_hostname="derp.test")
    w = ws(srv, 0, **tls)
    assert w.server_key == server_pub
    p = connect(srv, worker=1, **tls)
    exchange(w, p)
    w.send_text("not binary")
    assert w.is_closed_by_server(timeout=10)
    assert w.close_code == 1003
    assert p.recv_peer_gone() == (w.pub, PEER_GONE_DISCONNECTED)
    exchange(p, ws(srv, 1, **tls))


@pytest.mark.parametrize("size", [8 * 1024, 30 * 1024], ids=["8KiB", "30KiB"])
@pytest.mark.parametrize("wa,wb", [(0, 0), (0, 1)], ids=["same-worker", "cross-worker"])
def test_one_derp_frame_per_message(derp_server, connect, ws, size, wa, wb):
    """derper sends each DERP frame as its own binary message, and Tailscale's
    Go client reads messages of at most 32 KiB: 16 packets sent in one burst,
    so that the server has many frames queued at once, reach a reader that
    refuses larger messages intact and in order, one frame per message.
    The other way, 16 packets of one frame per message each go through."""
    srv = derp_server(workers=2)
    w = ws(srv, wa, max_size=MAX_MESSAGE)
    p = connect(srv, worker=wb)
    sent = [os.urandom(size) for _ in range(16)]
    p.send_raw(b"".join(struct.pack(">BI", SEND_PACKET, 32 + len(d)) + w.pub + d
                        for d in sent))
    for i, d in enumerate(sent):
        assert w.recv_packet(timeout=20) == (p.pub, d), f"packet {i}"
    assert w.not_one_frame == 0, f"{w.not_one_frame} messages of {w.messages} " \
        "were not one whole DERP frame"
    assert w.close_code is None
    sent = [os.urandom(size) for _ in range(16)]
    for d in sent:
        w.send_packet(p.pub, d)
    for i, d in enumerate(sent):
        assert p.recv_packet(timeout=20) == (w.pub, d), f"packet {i}"
    exchange(w, p)


def test_one_derp_frame_per_message_over_tls(tls_server, connect, ws):
    """The same over wss://, where OpenSSL writes the queue one buffer at a time."""
    srv, cafile = tls_server
    tls = dict(tls=True, cafile=cafile, server_hostname="derp.test")
    w = ws(srv, 0, max_size=MAX_MESSAGE, **tls)
    p = connect(srv, worker=1, **tls)
    sent = [os.urandom(30 * 1024) for _ in range(16)]
    p.send_raw(b"".join(struct.pack(">BI", SEND_PACKET, 32 + len(d)) + w.pub + d
                        for d in sent))
    for i, d in enumerate(sent):
        assert w.recv_packet(timeout=20) == (p.pub, d), f"packet {i}"
    assert w.not_one_frame == 0
    exchange(w, p)


def test_stream_ignores_message_boundaries(derp_server, connect, ws):
    """derper reads the messages as one byte stream: a frame split over three
    messages, and two frames in one message, are both fine."""
    srv = derp_server(workers=2)
    w, p = ws(srv, 0), connect(srv, worker=1)
    data = os.urandom(2000)
    frame = struct.pack(">BI", SEND_PACKET, 32 + len(data)) + p.pub + data
    for part in (frame[:2], frame[2:700], frame[700:]):
        w.send_raw(part)
    assert p.recv_packet() == (w.pub, data)
    ping = struct.pack(">BI", PING, 8) + b"together"
    w.send_raw(frame + ping)
    assert p.recv_packet() == (w.pub, data)
    assert w.recv_until(0x13) == b"together"   # Pong


def test_text_message_closes_only_that_client(derp_server, connect, ws):
    """DERP is binary: a text message closes that client (derper:
    StatusUnsupportedData, 1003); its neighbours on the same worker go on."""
    srv = derp_server(workers=2)
    bad, good = ws(srv, 0), ws(srv, 0)
    p = connect(srv, worker=1)
    exchange(bad, p)
    bad.send_text("hello")
    assert bad.is_closed_by_server(timeout=10), "a text message must close the client"
    assert bad.close_code == 1003
    assert p.recv_peer_gone() == (bad.pub, PEER_GONE_DISCONNECTED)
    exchange(good, p)
    exchange(good, ws(srv, 1))


def test_oversized_message_closes_only_that_client(derp_server, connect, ws):
    """derper's WebSocket reads messages of at most 32768 bytes; a larger one
    closes that client with StatusMessageTooBig (1009)."""
    srv = derp_server(workers=2)
    big, good = ws(srv, 1), ws(srv, 1)
    p = connect(srv, worker=0)
    data = os.urandom(MAX_MESSAGE - 5 - 32)
    frame = struct.pack(">BI", SEND_PACKET, 32 + len(data)) + p.pub + data
    assert len(frame) == MAX_MESSAGE
    big.send_raw(frame)                         # exactly the limit: fine
    assert p.recv_packet() == (big.pub, data)
    data += b"!"
    big.send_raw(struct.pack(">BI", SEND_PACKET, 32 + len(data)) + p.pub + data)
    assert big.is_closed_by_server(timeout=10), "an oversized message must close it"
    assert big.close_code == 1009
    assert p.recv_peer_gone() == (big.pub, PEER_GONE_DISCONNECTED)
    exchange(good, p)


def test_fragmented_message_limit_counts_the_whole_message(derp_server, connect, ws):
    """The 32768-byte limit is per message, not per frame: fragments that
    fit are joined; fragments adding up to more close the client (1009)."""
    srv = derp_server(workers=2)
    w, p = ws(srv, 0), connect(srv, worker=1)
    data = os.urandom(20000)
    frame = struct.pack(">BI", SEND_PACKET, 32 + len(data)) + p.pub + data
    w.send_fragmented([frame[:7], frame[7:10000], frame[10000:]])
    assert p.recv_packet() == (w.pub, data)
    # 2 x 20037 bytes in one message: like derper's streaming reader, the
    # first frame (within the limit) is relayed, then the client is closed.
    w.send_fragmented([frame, frame])
    assert w.is_closed_by_server(timeout=10)
    assert w.close_code == 1009
    assert p.recv_packet() == (w.pub, data)
    assert p.recv_peer_gone() == (w.pub, PEER_GONE_DISCONNECTED)


def test_ping_payload_is_not_derp_input(derp_server, connect, ws, loop):
    """A client's WebSocket pings are answered and their payload is not
    part of the DERP stream, even a payload that looks like a frame header
    (wslay hands control frames' payloads to the same callback)."""
    srv = derp_server(workers=2)
    w, p = ws(srv, 0), connect(srv, worker=1)
    for i in range(3):
        data = os.urandom(100 + i)
        w.send_packet(p.pub, data)
        pong = loop.run(w.ws.ping(struct.pack(">BI", SEND_PACKET, 40) + bytes(3)), 5)
        loop.run(asyncio.wait_for(pong, 5), 6)
        assert p.recv_packet() == (w.pub, data)
    exchange(w, p)
    assert not w.is_closed_by_server(timeout=0.5)


def test_protocol_error_closes_only_that_client(derp_server, connect):
    """An unmasked client frame breaks RFC 6455: that connection is closed
    promptly (with a close frame), not left spinning."""
    srv = derp_server(workers=1)
    p, q = connect(srv), connect(srv)
    c = DerpClient("127.0.0.1", srv.port).connect(upgrade=False)
    try:
        c.send_raw(ws_upgrade_request(base64.b64encode(os.urandom(16)).decode()))
        c.read_http_head()
        c.send_raw(raw_ws_frame(0x2, b"\x06\x00\x00\x00\x00", mask=False))
        raw = read_to_eof(c, timeout=10)
    finally:
        c.close()
    close = bytes([0x88, 2]) + struct.pack(">H", 1002)
    assert raw.endswith(close), f"no close frame (1002) at the end of {raw[-16:].hex()}"
    exchange(p, q)


def test_client_close_is_peer_gone(derp_server, connect, ws):
    """A WebSocket client that closes normally is gone for its peers."""
    srv = derp_server(workers=2)
    w, p = ws(srv, 0), connect(srv, worker=1)
    exchange(w, p)
    w.close()
    assert p.recv_peer_gone() == (w.pub, PEER_GONE_DISCONNECTED)


def test_upgrade_websocket_without_subprotocol_is_plain_derp(derp_server, server_pub):
    """Very old clients sent "Upgrade: WebSocket" but spoke plain DERP: without
    the derp subprotocol the answer is derper's plain DERP 101."""
    srv = derp_server(workers=1)
    c = DerpClient("127.0.0.1", srv.port).connect(upgrade=False)
    try:
        c.send_raw(b"GET /derp HTTP/1.1\r\nHost: derp.test\r\nUpgrade: WebSocket\r\n"
                   b"Connection: Upgrade\r\n\r\n")
        c.status_line, c.headers = c.read_http_head()
        assert c.status_line == "HTTP/1.1 101 Switching Protocols"
        assert c.headers["upgrade"] == "DERP"
        assert c.headers["derp-public-key"] == server_pub.hex()
        c.handshake()
        assert c.server_info["version"] == 2
    finally:
        c.close()


@pytest.mark.parametrize("drop,extra", [
    ("Sec-WebSocket-Version: 13\r\n", "Sec-WebSocket-Version: 8\r\n"),
    ("Sec-WebSocket-Key: ", "X-No-Key: "),
], ids=["version-8", "no-key"])
def test_bad_websocket_upgrade_is_400(derp_server, drop, extra):
    srv = derp_server(workers=1)
    req = ws_upgrade_request(base64.b64encode(os.urandom(16)).decode())
    req = req.replace(drop.encode(), extra.encode())
    r = request(srv.port, "", raw=req)
    assert r.status == 400, r.status_line
    assert metrics(srv)("derp_websocket_accepts") == 0


@pytest.mark.parametrize("key", [
    base64.b64encode(os.urandom(15)).decode(),
    base64.b64encode(os.urandom(17)).decode(),
    base64.b64encode(os.urandom(16)).decode().rstrip("="),     # 22 characters
    base64.b64encode(os.urandom(16)).decode() + "AAAA",        # 28 characters
    "!!!!" + base64.b64encode(os.urandom(16)).decode()[4:],    # not base64
    "dGhlIHNhbXBsZSBub25jZQ==".replace("Z", "_"),              # base64url, not base64
    "x",
], ids=["15-bytes", "17-bytes", "unpadded", "too-long", "not-base64", "base64url", "one-char"])
def test_websocket_key_not_16_bytes_is_400(derp_server, key):
    """RFC 6455 4.2.1: Sec-WebSocket-Key must be the base64 of 16 bytes;
    anything else is refused with 400, and no WebSocket is accepted."""
    srv = derp_server(workers=1)
    r = request(srv.port, "", raw=ws_upgrade_request(key))
    assert r.status == 400, r.status_line
    assert metrics(srv)("derp_websocket_accepts") == 0
    c = DerpClient("127.0.0.1", srv.port).connect(upgrade=False)
    try:        # the same request with a good key
        c.send_raw(ws_upgrade_request(base64.b64encode(os.urandom(16)).decode()))
        assert c.read_http_head()[0] == "HTTP/1.1 101 Switching Protocols"
    finally:
        c.close()


def test_largest_packet_to_websocket_client(derp_server, connect, ws):
    """A 64 KiB packet makes a message of more than 65535 bytes (the 64-bit
    length form) for a reader without a limit; it arrives whole."""
    srv = derp_server(workers=2)
    w, p = ws(srv, 0), connect(srv, worker=1)
    for size in (65536, 65535 - 37, 65536 - 37, 125 - 37, 126 - 37, 1):
        data = os.urandom(size)
        p.send_packet(w.pub, data)
        assert w.recv_packet() == (p.pub, data), size
    assert w.not_one_frame == 0


def test_websocket_accepts_metric(derp_server, ws):
    """derp_websocket_accepts counts WebSocket logins over all workers."""
    srv = derp_server(workers=2)
    clients = [ws(srv, i % 2) for i in range(3)]
    exchange(clients[0], clients[1])
    m = metrics(srv)
    assert m("derp_websocket_accepts") == 3
    assert m("derp_accepts") == 3
    assert m("derp_current_connections") == 3
