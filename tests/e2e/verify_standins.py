# SPDX-License-Identifier: BSD-3-Clause
"""Stand-ins for what derpd's verifier asks: tailscaled's LocalAPI on a unix
socket (GET /localapi/v0/whois?addr=nodekey:<hex>, as tailscaled answers it)
and an admission controller over HTTP (derper's -verify-client-url
protocol).  Each records the requests it saw, in a thread of this test
process; `close()` stops it."""
import json
import os
import shutil
import socket
import socketserver
import ssl
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

LOCALAPI_HOST = "local-tailscaled.sock"


class _Tracking:
    """A server that can cut its open (keep-alive) connections: a stand-in
    that closes must look down to a client that kept a connection."""

    def track(self, conn):
        with self.conns_lock:
            self.conns.add(conn)
        return conn

    def shutdown_request(self, request):
        with self.conns_lock:
            self.conns.discard(request)
        super().shutdown_request(request)

    def cut(self):
        with self.conns_lock:
            conns, self.conns = self.conns, set()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _tracking(cls):
    class Server(_Tracking, cls):
        daemon_threads = True
        request_queue_size = 1024       # Go listens with the kernel's maximum

        def __init__(self, *a, **kw):
            self.conns, self.conns_lock = set(), threading.Lock()
            super().__init__(*a, **kw)

        def get_request(self):
            conn, addr = super().get_request()
            return self.track(conn), addr or ("local", 0)

        def handle_error(self, request, client_address):
            pass                        # a client that hung up mid-answer
    return Server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"       # keep-alive, as tailscaled and Go serve

    def log_message(self, *args):       # quiet
        pass

    def reply(self, status, body=b"", ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class LocalAPI:
    """tailscaled's LocalAPI whois: 200 with a JSON body for `known` node
    keys (bytes), 404 "no match for IP:port" for others; a request whose
    Host is not local-tailscaled.sock gets 403, as tailscaled refuses it.
    `delay` seconds before each answer (a slow tailscaled); `force` =
    (status, body) answers every request so."""

    def __init__(self, path, known=(), delay=0.0):
        self.path = str(path)
        self.known = {bytes(k).hex() for k in known}
        self.delay = delay
        self.force = None
        self.requests = []              # (Host header, addr parameter)
        self.bad_host = 0
        self.lock = threading.Lock()
        standin = self

        class Handler(_Handler):
            def do_GET(self):
                url = urlsplit(self.path)
                addr = parse_qs(url.query).get("addr", [""])[0]
                host = self.headers.get("Host", "")
                with standin.lock:
                    standin.requests.append((host, addr))
                if standin.delay:
                    time.sleep(standin.delay)
                if standin.force is not None:
                    return self.reply(standin.force[0], standin.force[1])
                if host != LOCALAPI_HOST:
                    with standin.lock:
                        standin.bad_host += 1
                    return self.reply(403, b"invalid host\n", "text/plain")
                if url.path != "/localapi/v0/whois":
                    return self.reply(404, b"not found\n", "text/plain")
                key = addr[len("nodekey:"):] if addr.startswith("nodekey:") else None
                if key is None:
                    return self.reply(400, b"invalid 'addr' parameter\n", "text/plain")
                if key not in standin.known:
                    return self.reply(404, b"no match for IP:port\n", "text/plain")
                body = json.dumps({"Node": {"ID": 1, "Key": addr, "Name": "n.ts.net."},
                                   "UserProfile": {"ID": 2, "LoginName": "u@example.com"},
                                   "CapMap": {}}).encode()
                return self.reply(200, body)

        if os.path.exists(self.path):
            os.unlink(self.path)

        self.server = _tracking(type("UnixServer", (socketserver.ThreadingMixIn,
                                     socketserver.UnixStreamServer), {}))(self.path, Handler)
        os.chmod(self.path, 0o666)      # the verifier runs as -user
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def addrs(self):
        with self.lock:
            return [a for _, a in self.requests]

    def close(self):
        """Down: no more connections, and the open ones cut."""
        self.server.shutdown()
        self.server.server_close()
        self.server.cut()
        if os.path.exists(self.path):
            os.unlink(self.path)


class Admission:
    """An admission controller: POST {"NodePublic": "nodekey:<hex>", "Source":
    "<ip>"} -> {"Allow": bool}.  `mode` picks the answer: "allow" (keys in
    `allowed`, or all if it is None), "deny", "500", "garbage", "oversized"
    (a 1 MiB JSON object), "stall" (nothing for `stall` seconds).  With
    `tls` = (certificate file, key file) it serves HTTPS."""

    def __init__(self, mode="allow", allowed=None, stall=10.0, delay=0.0, tls=None):
        self.mode = mode
        self.allowed = None if allowed is None else {bytes(k).hex() for k in allowed}
        self.stall, self.delay = stall, delay
        self.requests = []              # parsed JSON bodies (or the raw bytes)
        self.headers = []
        self.lock = threading.Lock()
        standin = self

        class Handler(_Handler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    req = json.loads(raw)
                except ValueError:
                    req = raw
                with standin.lock:
                    standin.requests.append(req)
                    standin.headers.append(dict(self.headers))
                standin.answer(self, req)

        self.server = _tracking(ThreadingHTTPServer)(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/admit"
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
            self.url = f"https://localhost:{self.port}/admit"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, h, req):
        if self.delay:
            time.sleep(self.delay)
        mode = self.mode
        if mode == "stall":
            time.sleep(self.stall)
            return h.reply(200, b'{"Allow":true}')
        if mode == "500":
            return h.reply(500, b'{"error":"boom"}')
        if mode == "garbage":
            return h.reply(200, b'{"Allow": tru')
        if mode == "oversized":
            return h.reply(200, b'{"Allow":true,"pad":"' + b"x" * (1 << 20) + b'"}')
        if mode == "deny":
            return h.reply(200, b'{"Allow":false}')
        key = req.get("NodePublic", "") if isinstance(req, dict) else ""
        ok = self.allowed is None or key[len("nodekey:"):] in self.allowed
        return h.reply(200, json.dumps({"Allow": ok}).encode())

    def keys(self):
        with self.lock:
            return [r.get("NodePublic") for r in self.requests if isinstance(r, dict)]

    def close(self):
        """Down: no more connections, and the open ones cut."""
        self.server.shutdown()
        self.server.server_close()
        self.server.cut()


@pytest.fixture
def open_dir():
    """A directory derpd's -user can reach (pytest's tmp_path is root's
    alone): for the LocalAPI socket and for files derpd rereads after the
    privilege drop.  Removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="derpd-verify-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def unused_port():
    """A loopback TCP port nothing listens on (connecting is refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
