# SPDX-License-Identifier: BSD-3-Clause
"""derpd-client (probe, send/recv, chat) against a real derpd, and derpd's
TLS meta certificate.  DERPD_CLIENT names the client binary (default
<repo>/build/derpd-client)."""
import functools
import hashlib
import http.server
import json
import os
import re
import socket
import ssl
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from OpenSSL import SSL

from conftest import REPO, free_port, free_udp_port
from derp_client import DerpClient
from derp_helpers import public_key_of
from derp_proxy import DerpProxy
from http_helpers import served_by


# --- the meta certificate (derper's initMetacert) -----------------------------

def peer_chain(port, server_name="derp.test"):
    """The certificate chain derpd serves, unverified, as pyOpenSSL X509s."""
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        # pyOpenSSL wants a blocking socket; a kernel timeout still bounds it.
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 10, 0))
        conn = SSL.Connection(ctx, sock)
        conn.set_tlsext_host_name(server_name.encode())
        conn.set_connect_state()
        conn.do_handshake()
        chain = conn.get_peer_cert_chain()
        conn.shutdown()
    return chain


def test_meta_certificate_ends_the_chain(tls_server, server_pub):
    """The last certificate names the DERP key (CN derpkey<hex>, serial 2);
    a verifying client still validates the leaf against the test CA; a
    client that read the key from it can log in with Derp-Fast-Start."""
    srv, cafile = tls_server
    chain = peer_chain(srv.port)
    assert len(chain) == 2, [c.get_subject().CN for c in chain]
    leaf, meta = chain
    assert leaf.get_subject().CN == "derp.test"
    assert meta.get_subject().CN == "derpkey" + server_pub.hex()
    assert meta.get_issuer().CN == meta.get_subject().CN
    assert meta.get_serial_number() == 2
    assert isinstance(meta.get_pubkey().to_cryptography_key(), Ed25519PublicKey)
    bc = [meta.get_extension(i) for i in range(meta.get_extension_count())]
    assert [(e.get_short_name(), e.get_critical(), str(e)) for e in bc] == \
        [(b"basicConstraints", 1, "CA:FALSE")]

    ctx = ssl.create_default_context(cafile=cafile)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        with ctx.wrap_socket(sock, server_hostname="derp.test") as tls:
            assert dict(x[0] for x in tls.getpeercert()["subject"])["commonName"] == \
                "derp.test"

    fast = DerpClient("127.0.0.1", srv.port, tls=True, cafile=cafile,
                      server_hostname="derp.test")
    try:
        fast.connect(fast_start=True)
        assert fast.server_key == server_pub
    finally:
        fast.close()


# --- running derpd-client -------------------------------------------------------

CHECKS = ["connect", "certificate", "http-probe", "generate-204", "derp-login",
          "meta-certificate", "round-trip", "ping", "stun"]
KEY_LINE = r"^nodekey:([0-9a-f]{64})$"


@pytest.fixture(scope="session")
def client_bin():
    path = Path(os.environ.get("DERPD_CLIENT") or REPO / "build" / "derpd-client")
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"DERPD_CLIENT: {path} is not an executable file "
                    "(make build/derpd-client)")
    return str(path)


class ClientProc:
    """derpd-client in a subprocess; threads collect its output lines."""

    def __init__(self, args, stdout=subprocess.PIPE):
        self.args = [str(a) for a in args]
        self.proc = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=stdout,
                                     stderr=subprocess.PIPE)
        self.lines = {"stdout": [], "stderr": []}
        self.cond = threading.Condition()
        self.readers = []
        for name in ("stdout", "stderr"):
            stream = getattr(self.proc, name)
            if stream is not None:
                t = threading.Thread(target=self._read, args=(name, stream), daemon=True)
                t.start()
                self.readers.append(t)

    def _read(self, name, stream):
        for raw in stream:
            with self.cond:
                self.lines[name].append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def mark(self, stream="stdout"):
        with self.cond:
            return len(self.lines[stream])

    def output(self):
        with self.cond:
            return "\n".join(f"{k}: {line}" for k in self.lines for line in self.lines[k])

    def wait_line(self, regex, stream="stdout", since=0, timeout=30.0):
        """The first line at index >= since matching regex (re.search)."""
        rx = re.compile(regex)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines[stream][since:]:
                    if m := rx.search(line):
                        return m
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and
                                 not any(t.is_alive() for t in self.readers)):
                    pytest.fail(f"{' '.join(self.args)}: no {stream} line matching "
                                f"{regex!r} (exit {self.proc.poll()}):\n{self.output()}")
                self.cond.wait(min(left, 0.5))

    def key(self):
        return bytes.fromhex(self.wait_line(KEY_LINE, "stderr")[1])

    def send(self, line):
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def finish(self, timeout=60.0):
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        rc = self.proc.wait(timeout)
        for t in self.readers:
            t.join(5)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        for t in self.readers:
            t.join(5)


@pytest.fixture
def spawn(client_bin):
    """Factory: spawn(*args, stdout=PIPE) -> ClientProc; all killed at teardown."""
    procs = []

    def start(*args, stdout=subprocess.PIPE):
        p = ClientProc([client_bin, *args], stdout=stdout)
        procs.append(p)
        return p

    yield start
    for p in procs:
        p.kill()


def run_client(client_bin, *args, timeout=120):
    out = subprocess.run([client_bin, *[str(a) for a in args]], capture_output=True,
                         text=True, timeout=timeout)
    return out.returncode, out.stdout, out.stderr


def parse_report(text):
    """Human probe output -> (summary line, {check: (status, detail)})."""
    lines = text.splitlines()
    checks = {}
    for line in lines[1:]:
        m = re.fullmatch(r"(\S+)\s+(ok|warning|critical|skipped)\s+(.*)", line)
        assert m, f"bad report line {line!r} in:\n{text}"
        checks[m[1]] = (m[2], m[3])
    return lines[0], checks


# --- probe ------------------------------------------------------------------------

@pytest.fixture
def tls_stun_server(derp_server, tls_certdir):
    """derpd over TLS (the derp.test certificate, 2 days left) with STUN on:
    (server, CA file, STUN port)."""
    certdir, crt = tls_certdir
    stun_port = free_udp_port()
    srv = derp_server(workers=2, extra_args=[
        "-certmode", "manual", "-certdir", certdir, "-hostname", "derp.test",
        "-stun=true", "-stun-port", stun_port])
    srv.wait_log(r"STUN server started, pid \d+")
    return srv, str(crt), stun_port


def probe_tls(client_bin, server, *extra):
    srv, cafile, stun_port = server
    return run_client(client_bin, "probe", "-ca", cafile, "-dial", "127.0.0.1",
                      "-stun-port", stun_port, *extra, f"https://derp.test:{srv.port}")


def test_probe_healthy_relay(client_bin, tls_stun_server, server_pub):
    """Every check passes against a healthy derpd over TLS, is named once, in
    order; the round trip crosses workers, as /debug/route confirmed; -j says
    the same in JSON, and -ws logs in over WebSocket."""
    rc, out, err = probe_tls(client_bin, tls_stun_server, "-c", "days=1")
    assert rc == 0, out + err
    summary, checks = parse_report(out)
    assert summary.startswith("DERP OK: https://derp.test:"), summary
    assert list(checks) == CHECKS
    assert all(st == "ok" for st, _ in checks.values()), out
    m = re.search(r"cross-worker \((\d+) to (\d+)\)", checks["round-trip"][1])
    assert m and m[1] != m[2], out
    assert f"derpkey{server_pub.hex()[:16]}" in checks["meta-certificate"][1]
    assert "mapped address 127.0.0.1:" in checks["stun"][1]

    rc, out, err = probe_tls(client_bin, tls_stun_server, "-c", "days=1", "-j", "-ws")
    assert rc == 0, out + err
    report = json.loads(out)
    assert report["status"] == "ok" and report["exit"] == 0
    assert [c["name"] for c in report["checks"]] == CHECKS
    assert all(c["status"] == "ok" for c in report["checks"]), out
    login = report["checks"][CHECKS.index("derp-login")]
    assert "over WebSocket" in login["detail"] and login["unit"] == "ms"
    cert = report["checks"][CHECKS.index("certificate")]
    assert cert["unit"] == "days" and 1 < cert["value"] <= 2


def test_probe_warns_before_the_certificate_expires(client_bin, tls_stun_server):
    """-c days=3 with a certificate that has 2 days left: warning, exit 1."""
    rc, out, err = probe_tls(client_bin, tls_stun_server, "-c", "days=3")
    assert rc == 1, out + err
    summary, checks = parse_report(out)
    assert summary.startswith("DERP WARNING: ") and summary.endswith(": certificate")
    assert checks["certificate"][0] == "warning" and "days=3" in checks["certificate"][1]
    assert [n for n, (st, _) in checks.items() if st != "ok"] == ["certificate"]


def test_probe_untrusted_certificate_is_critical(client_bin, tls_stun_server):
    """Without -ca the self-signed test certificate does not verify."""
    srv, _, stun_port = tls_stun_server
    rc, out, err = run_client(client_bin, "probe", "-dial", "127.0.0.1", "-stun-port",
                              stun_port, f"https://derp.test:{srv.port}")
    assert rc == 2, out + err
    _, checks = parse_report(out)
    assert checks["certificate"][0] == "critical"
    assert "does not verify" in checks["certificate"][1]


def test_probe_closed_port(client_bin):
    rc, out, err = run_client(client_bin, "probe", "-stun-port", "0",
                              f"http://127.0.0.1:{free_port()}")
    assert rc == 2, out + err
    summary, checks = parse_report(out)
    assert summary.endswith(": connect"), summary
    assert checks["connect"] == ("critical", checks["connect"][1])
    assert "refused" in checks["connect"][1]
    assert all(st == "skipped" for n, (st, _) in checks.items() if n != "connect")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def web_server(tmp_path):
    """An ordinary web server on loopback, not a DERP relay."""
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()
    t.join(5)


def test_probe_not_a_relay(client_bin, web_server):
    rc, out, err = run_client(client_bin, "probe", "-stun-port", "0",
                              f"http://127.0.0.1:{web_server}")
    assert rc == 2, out + err
    summary, checks = parse_report(out)
    for name in ("http-probe", "generate-204", "derp-login"):
        assert checks[name][0] == "critical" and name in summary, out
    assert "HTTP 404" in checks["derp-login"][1]
    assert checks["round-trip"][0] == checks["ping"][0] == "skipped"


def test_probe_dropping_relay(client_bin, derp_server):
    """A relay (here a proxy in front of derpd) that loses every SendPacket:
    the round trip is critical, the rest works."""
    srv = derp_server(workers=2)
    proxy = DerpProxy(srv.port, drop=1.0)
    try:
        rc, out, err = run_client(client_bin, "probe", "-stun-port", "0",
                                  "-timeout", "3s", proxy.url)
    finally:
        proxy.stop()
    assert rc == 2, out + err
    summary, checks = parse_report(out)
    assert summary.endswith(": round-trip"), summary
    assert checks["round-trip"][0] == "critical"
    assert "no packet arrived" in checks["round-trip"][1]
    assert checks["derp-login"][0] == checks["ping"][0] == "ok", out
    assert proxy.dropped >= 1 and proxy.forwarded == 0


def garbage_server(reply):
    """A TCP server that answers every connection with `reply` and closes."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)

    def answer(conn):
        with conn:
            conn.settimeout(5)
            try:
                conn.recv(65536)
                conn.sendall(reply)
            except OSError:
                pass

    def serve():
        while True:
            try:
                conn, _ = lsock.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()
    threading.Thread(target=serve, daemon=True).start()
    return lsock


@pytest.mark.parametrize("reply", [
    b"HTTP/1.1 101 Switching Protocols\r\n\r\n\x01\xff\xff\xff\xff" + b"x" * 100,
    b"HTTP/1.1 101 Switching Protocols\r\n\r\n\x01\x00\x00\x00\x28DERP\xf0\x9f\x94\x91"
    + bytes(32) + b"\x03\x00\x00\x00\x30" + bytes(48),
    b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n",
    b"\x00" * 64,
    b"HTTP/1.1 101 \r\n" + b"X: " + b"y" * 20000,
], ids=["huge-frame", "bad-serverinfo", "short-body", "not-http", "endless-head"])
def test_probe_survives_garbage(client_bin, reply):
    """Garbage from the server is a clear critical result, never a crash."""
    lsock = garbage_server(reply)
    try:
        rc, out, err = run_client(client_bin, "probe", "-stun-port", "0", "-timeout", "3s",
                                  f"http://127.0.0.1:{lsock.getsockname()[1]}")
    finally:
        lsock.shutdown(socket.SHUT_RDWR)
        lsock.close()
    assert rc == 2, out + err
    _, checks = parse_report(out)
    assert checks["derp-login"][0] == "critical", out
    assert "Sanitizer" not in err, err


def test_usage_errors(client_bin):
    for args in (["probe"], ["probe", "ftp://x"], ["send", "http://127.0.0.1:1", "nokey"],
                 ["frobnicate", "http://x"], ["probe", "-c", "bogus=1", "http://x"],
                 ["probe", "-timeout", "soon", "http://x"]):
        rc, out, err = run_client(client_bin, *args)
        assert rc == 3 and "derpd-client: " in err and "Sanitizer" not in err, \
            (args, rc, err)
    rc, out, _ = run_client(client_bin, "-h")
    assert rc == 0 and "usage: derpd-client" in out


def test_bad_key_file(client_bin, tmp_path):
    """-k takes derper's key file, with derpd's checks; anything else is a
    clear error before connecting."""
    loose = tmp_path / "loose.key"
    loose.write_text('{"PrivateKey": "privkey:' + "ab" * 32 + '"}')
    loose.chmod(0o644)
    for path, why in ((tmp_path / "missing.key", "no such key file"), (loose, "chmod 600")):
        rc, out, err = run_client(client_bin, "recv", "-k", path, "http://127.0.0.1:1")
        assert rc == 1 and why in err and "Sanitizer" not in err, (rc, err)


# --- send / recv ----------------------------------------------------------------

def on_other_workers(srv, spawn, url, rkey, tries=40):
    """A logged-in `send` to rkey whose key derpd serves on another worker
    than rkey's (derpd-client picks random source ports, so a few tries
    do), with the placement asserted through /debug/route."""
    rworker = served_by(srv, rkey)
    assert rworker is not None, "the receiver is not routed"
    for _ in range(tries):
        sender = spawn("send", url, "nodekey:" + rkey.hex(), stdout=subprocess.DEVNULL)
        sworker = served_by(srv, sender.key())
        if sworker is not None and sworker != rworker:
            return sender, rworker, sworker
        sender.kill()
    pytest.fail(f"no sender landed on a worker other than {rworker} in {tries} tries")


def transfer(srv, spawn, url, tmp_path, size=10 << 20):
    """size random bytes from send to recv across workers; checks SHA-256."""
    data = os.urandom(size)
    out = tmp_path / "received"
    with open(out, "wb") as f:
        receiver = spawn("recv", url, stdout=f)
    sender, rw, sw = on_other_workers(srv, spawn, url, receiver.key())
    feeder = threading.Thread(target=lambda: (sender.proc.stdin.write(data),
                                              sender.proc.stdin.close()), daemon=True)
    feeder.start()
    assert sender.finish(120) == 0, sender.output()
    feeder.join(10)
    assert receiver.finish(30) == 0, receiver.output()
    got = out.read_bytes()
    assert len(got) == len(data) and \
        hashlib.sha256(got).digest() == hashlib.sha256(data).digest(), \
        f"received {len(got)} of {len(data)} bytes, or different ones"
    return rw, sw


def test_send_recv_across_workers(derp_server, spawn, tmp_path):
    srv = derp_server(workers=2)
    transfer(srv, spawn, f"http://127.0.0.1:{srv.port}", tmp_path)


def test_send_recv_through_lossy_relay(derp_server, spawn, tmp_path):
    """1 % of SendPackets lost each way (seeded): retransmission repairs it."""
    srv = derp_server(workers=2)
    proxy = DerpProxy(srv.port, drop=0.01, seed=7)
    try:
        transfer(srv, spawn, proxy.url, tmp_path)
    finally:
        proxy.stop()
    assert proxy.dropped >= 3, (proxy.dropped, proxy.forwarded)


def test_send_recv_over_tls_fast_start_and_websocket(spawn, tls_server, tmp_path):
    """recv logs in with Derp-Fast-Start (the key read from the meta
    certificate), send over WebSocket; both verify the test CA."""
    srv, cafile = tls_server
    url = f"https://derp.test:{srv.port}"
    tls = ("-ca", cafile, "-dial", "127.0.0.1")
    data = os.urandom(300 << 10)
    out = tmp_path / "received"
    with open(out, "wb") as f:
        receiver = spawn("recv", "-v", *tls, url, stdout=f)
    receiver.wait_line(r"logged in to https://derp\.test:\d+ \(fast start\)$", "stderr")
    sender = spawn("send", "-v", "-ws", *tls, url, "nodekey:" + receiver.key().hex(),
                   stdout=subprocess.DEVNULL)
    sender.proc.stdin.write(data)
    assert sender.finish(60) == 0, sender.output()
    assert receiver.finish(30) == 0, receiver.output()
    assert out.read_bytes() == data
    assert not any("fast start" in line for line in sender.lines["stderr"])


# --- chat -----------------------------------------------------------------------

def test_chat_three_clients(derp_server, spawn, keygen_bin, tmp_path, server_pub):
    """alice, bob (stored keys) and carol (a fresh key) chat through a
    recording proxy: ALL, a direct message, /list, /info; the relay's bytes
    never contain what they said."""
    srv = derp_server(workers=2)
    proxy = DerpProxy(srv.port, record=True)
    try:
        keys = {}
        for name in ("alice", "bob"):
            path = tmp_path / f"{name}.key"
            subprocess.run([keygen_bin, str(path)], check=True, capture_output=True)
            keys[name] = (path, public_key_of(keygen_bin, path))
        alice = spawn("chat", "-k", keys["alice"][0], proxy.url)
        bob = spawn("chat", "-k", keys["bob"][0], proxy.url)
        carol = spawn("chat", proxy.url)
        keys["carol"] = (None, carol.key())
        for name, c in (("alice", alice), ("bob", bob), ("carol", carol)):
            m = c.wait_line(r"^\* connected to (\S+) as nodekey:([0-9a-f]{64});")
            assert m[1] == proxy.url and bytes.fromhex(m[2]) == keys[name][1]
            c.send(f"/register {name}")
            c.wait_line(f"^\\* you are {name}$")
        alice.send(f"/add bob nodekey:{keys['bob'][1].hex()}")
        alice.send(f"/add carol nodekey:{keys['carol'][1].hex()}")
        alice.wait_line(r"^\* added carol nodekey:")

        secrets = ["hello everyone, secret-one", "hi alice, secret-two",
                   "only for alice, secret-three"]
        alice.send(f"/send ALL {secrets[0]}")
        bob.wait_line(f"^<alice> {secrets[0]}$")
        carol.wait_line(f"^<alice> {secrets[0]}$")
        bob.send(f"/send alice {secrets[1]}")      # bob knows alice from her hello
        alice.wait_line(f"^<bob> {secrets[1]}$")
        carol.send(f"/send alice {secrets[2]}")
        alice.wait_line(f"^<carol> {secrets[2]}$")

        deadline = time.monotonic() + 30
        while True:                                 # acks arrive on their own time
            mark = alice.mark()
            alice.send("/list")
            alice.wait_line(r"^\* carol nodekey:", since=mark)
            listed = alice.lines["stdout"][mark:]
            answered = [n for n in ("bob", "carol") if any(
                line.startswith(f"* {n} nodekey:{keys[n][1].hex()} answered ")
                for line in listed)]
            if answered == ["bob", "carol"]:
                break
            assert time.monotonic() < deadline, listed
            time.sleep(0.1)

        alice.send("/info")
        m = alice.wait_line(r"^\* relay (\S+), relay key nodekey:([0-9a-f]{64}), "
                            r"rtt ([0-9.]+) ms; you are alice nodekey:([0-9a-f]{64})$")
        assert m[1] == proxy.url and m[2] == server_pub.hex()
        assert m[4] == keys["alice"][1].hex()

        for c in (alice, bob, carol):
            c.send("/quit")
            assert c.finish(20) == 0, c.output()
        assert not any(secrets[1] in line for line in carol.lines["stdout"])
        assert not any(secrets[2] in line for line in bob.lines["stdout"])
    finally:
        proxy.stop()
    seen = proxy.recorded()
    assert proxy.forwarded >= 6, "the chat did not go through the proxy"
    for text in secrets + ["alice", "carol", "secret"]:
        assert text.encode() not in seen, f"the relay saw {text!r}"
