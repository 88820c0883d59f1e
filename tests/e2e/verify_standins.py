# SPDX-License-Identifier: BSD-3-Clause
"""Stand-ins for what derpd's verifier asks: tailscaled's LocalAPI on a unix
socket (GET /localapi/v0/whois?addr=nodekey:<hex>, as tailscaled answers it)
and an admission controller over HTTP (derper's -verify-client-url
protocol).  Each records the requests it saw, in a thread of this test
process; `close()` stops it."""
import json
import os
import socket
import socketserver
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOCALAPI_HOST = "local-tailscaled.sock"


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
    `delay` seconds before each answer (a slow tailscaled)."""

    def __init__(self, path, known=(), delay=0.0):
        self.path = str(path)
        self.known = {bytes(k).hex() for k in known}
        self.delay = delay
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

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

            def get_request(self):
                conn, _ = self.socket.accept()
                return conn, ("local", 0)  # BaseHTTPRequestHandler wants a pair

        self.server = Server(self.path, Handler)
        os.chmod(self.path, 0o666)      # the verifier runs as -user
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def addrs(self):
        with self.lock:
            return [a for _, a in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
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

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
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
        self.server.shutdown()
        self.server.server_close()


def unused_port():
    """A loopback TCP port nothing listens on (connecting is refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
