# SPDX-License-Identifier: BSD-3-Clause
"""A stub ACME server over TLS on 127.0.0.1 for what Pebble cannot show:
a directory advertising meta.profiles, garbage and 500 answers, malformed
objects and badNonce on demand. It issues nothing; it records each signed
request (protected header and payload, decoded) for the test to inspect.

Behaviour is chosen with keyword arguments:
  directory   "ok" | "garbage" | "500" | "http-order-url"
  profiles    dict for meta.profiles, or None for no meta at all
  account     "ok" | "500" | "garbage"
  order       "refuse" (400 rejectedIdentifier after recording) | "malformed"
  badnonce    how many signed requests to refuse with badNonce first
              (-1: every one)
"""
import base64
import json
import secrets
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PROBLEM = "application/problem+json"


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class Stub:
    def __init__(self, test_ca, directory="ok", profiles=None, account="ok",
                 order="refuse", badnonce=0):
        _, cert, key = test_ca
        self.directory_mode, self.profiles = directory, profiles
        self.account_mode, self.order_mode = account, order
        self.badnonce_left = badnonce
        self.requests = []          # dicts: path, protected, payload, nonce_ok
        self.issued_nonces = set()
        self.badnonce_answers = []  # the fresh nonce sent with each badNonce
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_HEAD(self):
                stub.handle(self, head=True)

            def do_GET(self):
                stub.handle(self)

            def do_POST(self):
                stub.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.base = f"https://127.0.0.1:{self.port}"
        self.directory = f"{self.base}/dir"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    # --- answers -------------------------------------------------------

    def nonce(self):
        n = secrets.token_urlsafe(16)
        with self.lock:
            self.issued_nonces.add(n)
        return n

    def send(self, h, status, body=b"", ctype="application/json", headers=(), head=False):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.send_header("Replay-Nonce", self.nonce())
        for k, v in headers:
            h.send_header(k, v)
        h.end_headers()
        if not head:
            h.wfile.write(body)

    def problem(self, h, status, ptype, detail):
        self.send(h, status, {"type": ptype, "detail": detail, "status": status},
                  ctype=PROBLEM)

    def directory_doc(self):
        if self.directory_mode == "garbage":
            return b"<html>this is not the directory you are looking for"
        order = f"{self.base}/new-order"
        if self.directory_mode == "http-order-url":
            order = f"http://127.0.0.1:{self.port}/new-order"
        doc = {"newNonce": f"{self.base}/nonce", "newAccount": f"{self.base}/new-acct",
               "newOrder": order}
        if self.profiles is not None:
            doc["meta"] = {"profiles": self.profiles}
        return doc

    def handle(self, h, head=False):
        path = h.path
        if path == "/dir":
            if self.directory_mode == "500":
                return self.send(h, 500, b"internal error", ctype="text/plain")
            return self.send(h, 200, self.directory_doc())
        if path == "/nonce":
            return self.send(h, 200, head=head)
        if h.command != "POST":
            return self.send(h, 405)
        length = int(h.headers.get("Content-Length", "0"))
        jws = json.loads(h.rfile.read(length))
        protected = json.loads(b64d(jws["protected"]))
        payload = json.loads(b64d(jws["payload"])) if jws["payload"] else None
        with self.lock:
            nonce_ok = protected.get("nonce") in self.issued_nonces
            self.issued_nonces.discard(protected.get("nonce"))
            self.requests.append({"path": path, "protected": protected,
                                  "payload": payload, "nonce_ok": nonce_ok})
            refuse = self.badnonce_left != 0
            if self.badnonce_left > 0:
                self.badnonce_left -= 1
        if refuse:
            fresh = self.nonce()
            self.badnonce_answers.append(fresh)
            body = json.dumps({"type": "urn:ietf:params:acme:error:badNonce",
                               "detail": "stub: try again", "status": 400}).encode()
            h.send_response(400)
            h.send_header("Content-Type", PROBLEM)
            h.send_header("Content-Length", str(len(body)))
            h.send_header("Replay-Nonce", fresh)
            h.end_headers()
            return h.wfile.write(body)
        if path == "/new-acct":
            return self.new_account(h)
        if path == "/new-order":
            return self.new_order(h)
        return self.problem(h, 404, "urn:ietf:params:acme:error:malformed", "no such URL")

    def new_account(self, h):
        if self.account_mode == "500":
            return self.problem(h, 500, "urn:ietf:params:acme:error:serverInternal",
                                "stub: the database is on fire")
        if self.account_mode == "garbage":
            return self.send(h, 201, b"\x00\xffgarbage{",
                             headers=[("Location", f"{self.base}/acct/1")])
        return self.send(h, 201, {"status": "valid"},
                         headers=[("Location", f"{self.base}/acct/1")])

    def new_order(self, h):
        if self.order_mode == "malformed":
            return self.send(h, 201, {"status": "pending", "identifiers": [
                {"type": "dns", "value": "derp.test"}], "authorizations": "nope",
                "finalize": f"{self.base}/fin"},
                headers=[("Location", f"{self.base}/order/1")])
        return self.problem(h, 400, "urn:ietf:params:acme:error:rejectedIdentifier",
                            "stub: orders are recorded, not issued")

    def posts(self, path):
        return [r for r in self.requests if r["path"] == path]
