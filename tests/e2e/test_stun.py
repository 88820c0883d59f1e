# SPDX-License-Identifier: BSD-3-Clause
"""STUN on UDP -stun-port (derper's net/stunserver): RFC 5389 binding
requests, built and parsed by an independent implementation (aioice), are
answered with XOR-MAPPED-ADDRESS; anything else is ignored."""
import os
import signal
import socket
import struct
import time
import zlib

import pytest
from aioice import stun

from conftest import free_port
from procfs import wait_sandboxed
from http_helpers import Metrics, Response, metrics, udp_port

COOKIE = 0x2112A442


def binding_request(attrs=(), fingerprint=False, integrity_key=None):
    msg = stun.Message(message_method=stun.Method.BINDING,
                       message_class=stun.Class.REQUEST)
    for name, value in attrs:
        msg.attributes[name] = value
    if integrity_key is not None:
        msg.add_message_integrity(integrity_key)      # adds FINGERPRINT too
    elif fingerprint:
        msg.attributes["FINGERPRINT"] = stun.message_fingerprint(bytes(msg))
    return msg


def exchange(sock, server, msg, timeout=10.0):
    """Sends msg, returns the parsed answer (checked against msg's transaction)."""
    sock.settimeout(timeout)
    sock.sendto(bytes(msg), server)
    data, src = sock.recvfrom(4096)
    assert src[:2] == server[:2], f"answer from {src}, not {server}"
    resp = stun.parse_message(data)
    assert resp.message_method == stun.Method.BINDING
    assert resp.message_class == stun.Class.RESPONSE
    assert resp.transaction_id == msg.transaction_id
    return resp, data


def check_mapped(resp, data, sock):
    """XOR-MAPPED-ADDRESS is our socket's address; derper sends nothing else."""
    host, port = sock.getsockname()[:2]
    assert resp.attributes["XOR-MAPPED-ADDRESS"] == (host, port)
    assert list(resp.attributes) == ["XOR-MAPPED-ADDRESS"]
    iplen = 4 if sock.family == socket.AF_INET else 16
    assert len(data) == 20 + 4 + 4 + iplen
    assert data[20:24] == struct.pack(">HH", 0x0020, 4 + iplen)
    assert data[25] == (1 if iplen == 4 else 2)


@pytest.fixture
def stun_server(derp_server):
    """derp_server(...) with STUN on a free UDP port: (server, stun port)."""
    def start(workers=1, extra_args=()):
        port = udp_port()
        srv = derp_server(workers=workers, extra_args=[
            "-stun=true", "-stun-port", str(port), *extra_args])
        srv.wait_log(r"STUN server started, pid \d+")
        return srv, port
    return start


@pytest.fixture
def udp4():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    yield s
    s.close()


@pytest.fixture
def udp6():
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind(("::1", 0))
    yield s
    s.close()


REQUESTS = {
    "bare": lambda: binding_request(),
    "tailscale": lambda: binding_request([("SOFTWARE", "tailnode")], fingerprint=True),
    "fingerprint": lambda: binding_request(fingerprint=True),
    "integrity": lambda: binding_request([("USERNAME", "a:b"), ("PRIORITY", 1234)],
                                         integrity_key=b"secret"),
}


@pytest.mark.parametrize("kind", sorted(REQUESTS))
def test_binding_ipv4(stun_server, udp4, kind):
    srv, port = stun_server()
    msg = REQUESTS[kind]()
    resp, data = exchange(udp4, ("127.0.0.1", port), msg)
    check_mapped(resp, data, udp4)


def test_binding_ipv6(stun_server, udp6):
    """With -a [::1]:port the STUN socket is on ::1 too; the answer carries
    an IPv6 XOR-MAPPED-ADDRESS (the address XORed with cookie + transaction)."""
    tcp_port = free_port()
    srv, port = stun_server(extra_args=["-a", f"[::1]:{tcp_port}"])
    msg = binding_request([("SOFTWARE", "tailnode")], fingerprint=True)
    resp, data = exchange(udp6, ("::1", port), msg)
    check_mapped(resp, data, udp6)
    assert resp.attributes["XOR-MAPPED-ADDRESS"][0] == "::1"
    m = metrics_at("::1", tcp_port)
    assert m("stun_addrfamily", family="ipv6") == 1
    assert m("stun_requests", disposition="success") == 1


def metrics_at(host, port):
    """The metrics page of a server not on 127.0.0.1."""
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    r = Response(raw)
    assert r.status == 200, r.status_line
    return Metrics(r.text())


def test_dual_stack(stun_server, udp4, udp6):
    """derper's default -a ":443" listens on every address: one dual-stack
    socket answers both families, an IPv4 client with its IPv4 address (not
    the IPv4-mapped IPv6 form the socket reports)."""
    srv, port = stun_server(extra_args=["-a", f":{free_port()}"])
    for sock, host in ((udp4, "127.0.0.1"), (udp6, "::1")):
        msg = binding_request([("SOFTWARE", "tailnode")])
        resp, data = exchange(sock, (host, port), msg)
        check_mapped(resp, data, sock)


def malformed(valid):
    """Packets a STUN server must ignore, each a variant of a valid request."""
    v = bytes(valid)
    fp = bytes(binding_request(fingerprint=True))
    return {
        "empty": b"",
        "one byte": b"\x00",
        "short header": v[:19],
        "wrong cookie": v[:4] + struct.pack(">I", COOKIE ^ 1) + v[8:],
        "binding response": b"\x01\x01" + v[2:],
        "allocate request": b"\x00\x03" + v[2:],
        "indication": b"\x00\x11" + v[2:],
        "length too long": v[:2] + struct.pack(">H", len(v) - 20 + 4) + v[4:],
        "length too short": v[:2] + struct.pack(">H", len(v) - 20 - 4) + v[4:],
        "odd length": v[:2] + struct.pack(">H", len(v) - 20 + 1) + v[4:] + b"\x00",
        "attribute overruns": v[:2] + struct.pack(">H", 8) + v[4:20] +
                              struct.pack(">HH", 0x8022, 200) + b"abcd",
        "bad fingerprint": fp[:-1] + bytes([fp[-1] ^ 0xFF]),
        "fingerprint not last": fp[:2] + struct.pack(">H", len(fp) - 20 + 8) + fp[4:] +
                                struct.pack(">HH", 0x8022, 4) + b"abcd",
        "garbage": os.urandom(100),
        "http": b"GET / HTTP/1.1\r\n\r\n",
    }


def test_malformed_packets_ignored(stun_server, udp4):
    """Nothing malformed is answered, and the server keeps answering: after
    each bad packet the next datagram we receive answers the good request
    sent right after it (UDP on loopback keeps order)."""
    srv, port = stun_server()
    server = ("127.0.0.1", port)
    bad = malformed(binding_request([("SOFTWARE", "tailnode")]))
    for name, pkt in bad.items():
        udp4.sendto(pkt, server)
        msg = binding_request()
        resp, data = exchange(udp4, server, msg)     # checks the transaction id
        check_mapped(resp, data, udp4)
    m = metrics(srv)
    assert m("stun_requests", disposition="not_stun") == len(bad)
    assert m("stun_requests", disposition="success") == len(bad)
    assert m("stun_addrfamily", family="ipv4") == len(bad)


def test_fingerprint_checked_with_crc32(stun_server, udp4):
    """The FINGERPRINT is CRC-32 of the message up to it, XOR 0x5354554e
    (computed here with zlib, not aioice): right is answered, wrong is not."""
    srv, port = stun_server()
    msg = binding_request([("SOFTWARE", "x")])
    body = bytes(msg)
    head = body[:2] + struct.pack(">H", len(body) - 20 + 8) + body[4:]
    good = head + struct.pack(">HHI", 0x8028, 4, zlib.crc32(head) ^ 0x5354554E)
    udp4.sendto(head + struct.pack(">HHI", 0x8028, 4, zlib.crc32(head)), ("127.0.0.1", port))
    udp4.settimeout(10)
    udp4.sendto(good, ("127.0.0.1", port))
    data, _ = udp4.recvfrom(4096)
    assert stun.parse_message(data).transaction_id == msg.transaction_id


def test_served_by_sandboxed_process(stun_server, udp4):
    """STUN runs in its own process, under seccomp, with no privileges; killed,
    it is restarted and answers again."""
    srv, port = stun_server()
    pid = int(srv.wait_log(r"STUN server started, pid (\d+)").group(1))
    assert pid != srv.pid and pid not in srv.worker_pids().values()
    status = wait_sandboxed(pid)    # an exec'd child sets itself up first
    assert status["Seccomp"].strip() == "2", "STUN process is not in a seccomp filter"
    assert status["NoNewPrivs"].strip() == "1"
    assert int(status["CapEff"], 16) == 0
    if os.geteuid() == 0:
        assert {int(u) for u in status["Uid"].split()} != {0}, "STUN runs as root"
    exchange(udp4, ("127.0.0.1", port), binding_request())

    mark = srv.log_mark()
    os.kill(pid, signal.SIGKILL)
    srv.wait_log(r"STUN server \(pid \d+\) killed by signal 9", since=mark)
    new = int(srv.wait_log(r"STUN server started, pid (\d+)", since=mark,
                           timeout=15).group(1))
    assert new != pid
    deadline = time.monotonic() + 15
    while True:
        try:
            resp, data = exchange(udp4, ("127.0.0.1", port), binding_request(),
                                  timeout=0.5)
            break
        except socket.timeout:
            assert time.monotonic() < deadline, "restarted STUN server never answered"
    check_mapped(resp, data, udp4)


def test_stun_false_disables(derp_server):
    """-stun=false: no STUN process and the UDP port stays unbound."""
    port = udp_port()
    srv = derp_server(workers=1, extra_args=["-stun=false", "-stun-port", str(port)])
    assert "STUN server" not in srv.log_text()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", port))        # fails if derpd had bound it
    m = metrics(srv)
    assert m("stun_requests", disposition="success") == 0
