#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Regenerates the seed corpora in tests/fuzz/corpus/ (deterministic output).

Run from the repository root: python3 tests/fuzz/mkseeds.py
The fuzzers never write here; `make fuzz` copies these into build-fuzz/.
"""
import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
KEY_HEX = "8c1e0f4a6b2d3e5f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7"
MESH_HEX = "2f6b0c9d8e7a6554433221100ffeeddccbbaa99887766554433221100ffeedd1"


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def http_seeds():
    crlf = "\r\n"

    def req(line, headers, tail=""):
        return line + crlf + "".join(h + crlf for h in headers) + crlf + tail

    # What Tailscale's derphttp client sends (Go's net/http, headers sorted).
    put("fuzz_http", "derp_upgrade", req("GET /derp HTTP/1.1", [
        "Host: derp1.example.com", "User-Agent: Go-http-client/1.1",
        "Connection: Upgrade", "Upgrade: DERP"]))
    put("fuzz_http", "derp_fast_start", req("GET /derp HTTP/1.1", [
        "Host: derp1.example.com", "User-Agent: Go-http-client/1.1",
        "Connection: Upgrade", "Derp-Fast-Start: 1", "Ideal-Node: 900",
        "Upgrade: DERP"]))
    # Browser-style WebSocket upgrade (tailscale's js/wasm client).
    put("fuzz_http", "websocket_upgrade", req("GET /derp HTTP/1.1", [
        "Host: derp1.example.com", "Connection: keep-alive, Upgrade",
        "Upgrade: websocket", "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Protocol: derp, chat",
        "Origin: https://login.example.com"]))
    put("fuzz_http", "generate_204", req("GET /generate_204 HTTP/1.1", [
        "Host: derp1.example.com",
        "X-Tailscale-Challenge: abcdefghijklmnop1234"]))
    put("fuzz_http", "probe_query_http10", req(
        "HEAD /derp/probe?x=1&y=%20 HTTP/1.0", ["X-Forwarded-For: 192.0.2.1"]))
    # Head followed by the first frame bytes (fast start pipelines them).
    put("fuzz_http", "pipelined", "\r\n" + req("GET /metrics HTTP/1.1", [
        "Host:\t  derp1.example.com \t", "Accept: */*"], "\x02\x00\x00\x00\x50"))
    put("fuzz_http", "bare_lf", "GET /robots.txt HTTP/1.1\nHost: a\n\n")


def frame(t, payload):
    return struct.pack(">BI", t, len(payload)) + payload


def client_info_frame(js):
    # key, nonce, box(JSON) -- the box's contents are opaque here.
    return frame(0x02, bytes(range(32)) + bytes(24) + bytes(16) + js)


def frames_seeds():
    key = bytes.fromhex(KEY_HEX)
    disco = b"TS\xf0\x9f\x92\xac" + key + bytes(24) + b"\x01ping-body"
    ci = client_info_frame(json.dumps({"version": 2, "CanAckPings": True}).encode())
    stream = (ci +
              frame(0x04, key + disco) +                # SendPacket (disco)
              frame(0x04, key + b"\x45" + bytes(27)) +  # SendPacket (WireGuard-ish)
              frame(0x12, b"12345678") +                # Ping
              frame(0x13, b"87654321") +                # Pong
              frame(0x07, b"\x01") +                    # NotePreferred
              frame(0x40, b"future") +                  # unknown: skipped
              frame(0x06, b""))                         # KeepAlive: skipped
    put("fuzz_frames", "session", stream)
    put("fuzz_frames", "mesh_session", ci +
        frame(0x10, b"") +                              # WatchConns
        frame(0x0a, key + key[::-1] + disco) +          # ForwardPacket
        frame(0x11, key))                               # ClosePeer
    put("fuzz_frames", "bad_ping", ci + frame(0x12, b"1234"))
    put("fuzz_frames", "partial_send", ci + frame(0x04, key + bytes(1000))[:300])
    put("fuzz_frames", "skip_then_more",
        ci + struct.pack(">BI", 0x99, 10) + b"0123456789" + frame(0x12, bytes(8)))
    put("fuzz_frames", "not_client_info", frame(0x04, key + b"x"))


def clientinfo_seeds():
    put("fuzz_clientinfo", "mesh", json.dumps(
        {"version": 2, "CanAckPings": True, "meshKey": MESH_HEX}))
    put("fuzz_clientinfo", "plain", '{"version":2,"CanAckPings":true}')
    put("fuzz_clientinfo", "prober", json.dumps(
        {"version": 2, "CanAckPings": True, "IsProber": True,
         "AppName": "derpprobe"}))
    put("fuzz_clientinfo", "nocase_nulls",
        '{"Version":2,"canackpings":null,"MESHKEY":"","Extra":[1,{"a":2}]}')
    put("fuzz_clientinfo", "wrong_type", '{"version":"2"}')
    put("fuzz_clientinfo", "real_version", '{"version":2.0,"isProber":false}')


def keyfile_seeds():
    # Exactly what derper writes (json.MarshalIndent, tab, no newline).
    put("fuzz_keyfile", "derper_key",
        '{\n\t"PrivateKey": "privkey:%s"\n}' % KEY_HEX)
    put("fuzz_keyfile", "compact_upper",
        '{"privatekey":"privkey:%s","Other":1}' % KEY_HEX.upper())
    put("fuzz_keyfile", "privkey_text", "privkey:" + KEY_HEX)
    put("fuzz_keyfile", "nodekey_text", "nodekey:" + KEY_HEX)
    put("fuzz_keyfile", "mesh_hex", MESH_HEX)
    put("fuzz_keyfile", "zero_key", '{"PrivateKey": "privkey:%s"}' % ("0" * 64))


# fuzz_ring scripts: see the op switch in fuzz_ring.c.
def push(kind, lenmode, lenbytes, slot=1, gen=1):
    return bytes([4, kind, lenmode]) + lenbytes + struct.pack("<II", slot, gen)


def ring_seeds():
    small = push(1, 0, bytes([100]))
    peer = push(5, 0, bytes([19]), 2, 7)
    big = push(1, 2, bytes([64]))                 # 65536 + 64 bytes
    consume = bytes([6, 31])
    put("fuzz_ring", "push_pop", small + peer + push(2, 0, b"\0") + consume)
    put("fuzz_ring", "wrap_pad", (big + big + consume + big + big + consume) * 2 +
        bytes([9]))
    put("fuzz_ring", "corrupt_len", small + small + bytes([1, 0x08, 0xff, 0xff, 0, 0]) +
        consume)
    put("fuzz_ring", "tail_jump", small + bytes([2, 1]) + struct.pack("<i", 4096) +
        consume + small + consume)
    put("fuzz_ring", "race", small + big + bytes([7, 3, 8]) + b"\xff" * 9 +
        bytes([7, 0, 4]) + consume)
    put("fuzz_ring", "discard", small + big + bytes([8]) + small + consume)


def stun_request(attrs=b"", fingerprint=False, txid=b"tstxid012345"):
    """A binding request; FINGERPRINT is CRC-32 of what precedes it ^ "STUN"."""
    import zlib
    body = attrs + (b"\x80\x28\x00\x04" + b"\0" * 4 if fingerprint else b"")
    msg = struct.pack(">HHI", 1, len(body), 0x2112A442) + txid + body
    if fingerprint:
        crc = zlib.crc32(msg[:-8]) ^ 0x5354554E
        msg = msg[:-4] + struct.pack(">I", crc)
    return msg


def stun_seeds():
    software = b"\x80\x22\x00\x08tailnode"     # what Tailscale's netcheck sends
    put("fuzz_stun", "bare", stun_request())
    put("fuzz_stun", "tailscale", stun_request(software, fingerprint=True))
    put("fuzz_stun", "odd_attr_len", stun_request(b"\x00\x06\x00\x03abc\0"))
    put("fuzz_stun", "bad_fingerprint",
        stun_request(software, fingerprint=True)[:-1] + b"\0")


def acme_seeds():
    """Bodies as Pebble and Let's Encrypt send them; the first byte picks
    the parser (0 directory, 1 account, 2 order, 3 authz, 4 challenge,
    5 problem)."""
    ca = "https://ca.test"

    def put_acme(kind, name, obj):
        body = obj if isinstance(obj, str) else json.dumps(obj, indent=1)
        put("fuzz_acme", name, bytes([kind]) + body.encode())

    put_acme(0, "directory", {
        "keyChange": f"{ca}/rollover-account-key", "newAccount": f"{ca}/sign-me-up",
        "newNonce": f"{ca}/nonce-plz", "newOrder": f"{ca}/order-plz",
        "revokeCert": f"{ca}/revoke-cert",
        "meta": {"externalAccountRequired": False, "termsOfService": f"{ca}/tos",
                 "profiles": {"classic": "90 days", "shortlived": "160 hours"}}})
    put_acme(0, "directory_http", {"newAccount": f"{ca}/a", "newNonce": f"{ca}/n",
                                   "newOrder": "http://ca.test/o"})
    put_acme(1, "account", {"status": "valid", "contact": ["mailto:ops@derp.test"],
                            "orders": f"{ca}/list-orderz/1"})
    ident = [{"type": "dns", "value": "derp.test"}, {"type": "ip", "value": "2001:db8::1"}]
    put_acme(2, "order_pending", {
        "status": "pending", "expires": "2030-01-01T00:00:00Z", "identifiers": ident,
        "authorizations": [f"{ca}/authZ/1", f"{ca}/authZ/2"],
        "finalize": f"{ca}/finalize-order/1"})
    put_acme(2, "order_valid", {
        "status": "valid", "identifiers": ident[:1], "authorizations": [f"{ca}/authZ/1"],
        "finalize": f"{ca}/finalize-order/1", "certificate": f"{ca}/certZ/1"})
    put_acme(2, "order_invalid", {
        "status": "invalid", "identifiers": ident[:1], "authorizations": [f"{ca}/authZ/1"],
        "finalize": f"{ca}/finalize-order/1",
        "error": {"type": "urn:ietf:params:acme:error:unauthorized", "detail": "no"}})
    tok = "6JhZ4G0vUtE1NQkcbFQz7t3tJ3rVdAeGQ1PIFLo6ymk"
    chall = [{"type": "http-01", "url": f"{ca}/chalZ/1", "status": "pending", "token": tok},
             {"type": "dns-01", "url": f"{ca}/chalZ/2", "status": "pending", "token": tok},
             {"type": "tls-alpn-01", "url": f"{ca}/chalZ/3", "status": "invalid",
              "token": tok, "error": {"type": "urn:ietf:params:acme:error:connection",
                                      "detail": "refused", "status": 400}}]
    put_acme(3, "authz", {"status": "pending", "identifier": ident[0],
                          "challenges": chall, "expires": "2030-01-01T00:00:00Z"})
    put_acme(3, "authz_wildcard", {"status": "pending", "identifier": ident[0],
                                   "wildcard": True, "challenges": chall[:1]})
    put_acme(4, "challenge", chall[0])
    put_acme(4, "challenge_bad_token", dict(chall[0], token="../x"))
    put_acme(5, "problem", {"type": "urn:ietf:params:acme:error:badNonce",
                            "detail": "JWS has an invalid anti-replay nonce", "status": 400})
    put_acme(5, "problem_garbage", "<html>502 Bad Gateway</html>")


if __name__ == "__main__":
    http_seeds()
    frames_seeds()
    clientinfo_seeds()
    keyfile_seeds()
    ring_seeds()
    stun_seeds()
    acme_seeds()
