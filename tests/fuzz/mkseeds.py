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
    # Every client frame at the smallest size it may have: one step below
    # each is a reject that the fuzzer must be able to reach.
    put("fuzz_frames", "smallest", ci + frame(0x04, key) + frame(0x0a, key + key) +
        frame(0x12, bytes(8)) + frame(0x11, key) + frame(0x07, b"\x00") +
        frame(0x10, b""))


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


# fuzz_ring scripts: see the op switch in fuzz_ring.c (op, arg, then what
# the op reads). Ring 0's consumer may lie; ring 1's is honest.
def r_push(ring, size, kind=1):
    return bytes([0, ring, kind, size])          # size * 9 payload bytes


def r_big(ring, less=0, kind=1):
    return bytes([0, ring | 2, kind, less])      # RING_PAYLOAD_MAX - less * 64


def r_fill(ring, n):
    return bytes([1, ((n - 1) << 1) | ring])     # n records of 64 KiB


def r_read(ring, n=127):
    return bytes([2, (n << 1) | ring])


def r_lie(arg):
    """Consumer 0 publishes a head: rx head + int32, or (8 bytes) absolute."""
    if len(arg) == 8:
        return bytes([4, 0, 1]) + arg
    return bytes([4, 0, 0]) + arg


def ring_seeds():
    both = r_push(0, 11) + r_push(1, 160) + r_big(1) + r_push(0, 0, 5)
    put("fuzz_ring", "push_pop", both + r_read(0) + r_read(1))
    put("fuzz_ring", "fill_drain", (r_fill(0, 5) + r_fill(1, 5) + r_read(0) +
                                    r_read(1)) * 3)
    put("fuzz_ring", "small_many", (r_push(1, 3) * 40 + r_read(1, 30)) * 4 +
        r_read(1))
    # Consumer 0 stops reading: consumer 1 still gets its whole quota, again
    # and again; then 0 reads and catches up.
    put("fuzz_ring", "stuck_consumer", r_fill(0, 8) + (r_fill(1, 8) + r_read(1)) * 4 +
        r_read(0))
    # Consumer 0 lies: ahead of what it read, past the tail, backwards, absurd.
    put("fuzz_ring", "lie_ahead", r_fill(0, 3) + r_lie(struct.pack("<i", 2)) +
        bytes([6, 0]) + r_fill(1, 4) + r_fill(0, 3) + r_read(0) + r_read(1))
    put("fuzz_ring", "lie_past_tail", r_fill(0, 3) + r_lie(struct.pack("<i", 4096)) +
        r_fill(0, 3) + r_fill(1, 3) + r_read(1) + r_read(0))
    put("fuzz_ring", "lie_backwards", r_fill(0, 2) + r_read(0, 2) + bytes([6, 0]) +
        r_lie(struct.pack("<i", -1)) + r_fill(0, 3) + r_read(0))
    put("fuzz_ring", "lie_absurd", r_fill(0, 3) + r_lie(struct.pack("<Q", 2**64 - 8)) +
        r_fill(1, 3) + r_read(1) + bytes([8, 0]) + r_fill(0, 3) + r_read(0))
    # A hostile producer: pool bytes, a descriptor, a tail word.
    put("fuzz_ring", "scribble_pool", both + bytes([5, 0, 0]) + struct.pack("<I", 8) +
        bytes([16]) + b"\xff" * 16 + r_read(0) + r_read(1))
    put("fuzz_ring", "scribble_desc", both + bytes([5, 0, 2, 0]) +
        struct.pack("<I", 0xfffffff0) + bytes([0]) + struct.pack("<I", 64) +
        r_read(1) + r_push(1, 2) + r_read(1))
    put("fuzz_ring", "scribble_tail", both + bytes([5, 0, 4]) + struct.pack("<i", 600) +
        r_read(0) + r_push(0, 2) + r_read(0))
    # Something between ring_front and the copy: a push, a scribble.
    put("fuzz_ring", "push_while_reading", both + bytes([3, 0, 1, 200]) + r_read(0) +
        r_read(1))
    put("fuzz_ring", "scribble_while_reading", both + bytes([3, 3]) +
        struct.pack("<I", 0) + bytes([0x41]) + r_read(1))
    # New incarnations, and positions passing 2^64.
    put("fuzz_ring", "restart_producer", both + bytes([7, 0]) + both + r_read(0) +
        r_read(1))
    put("fuzz_ring", "restart_consumer", both + bytes([8, 1]) + r_fill(1, 3) + r_read(1))
    put("fuzz_ring", "wrap_2_64", bytes([9, 2]) + (both + r_read(0) + r_read(1)) * 3 +
        r_fill(0, 4) + r_read(0))


# fuzz_table scripts: see the op switch in fuzz_table.c.
def t_reg(k, worker=0, epoch=0, slot=0):
    return bytes([0, k, worker, epoch, slot])


def t_unreg(k, i):
    return bytes([2, k, i])


def t_claim(k, i):
    return bytes([3, k, i])


def t_read(op, k=0):
    """op: 0 lookup, 1 routes, 2 foreach, 3 counts."""
    return bytes([5, op, k])


def t_race(op, k, steps, *scribbles):
    """A read with scribbles while it runs (consumed at its hook points)."""
    return bytes([9, op, k, steps - 1]) + b"".join(scribbles)


def t_scribble(body):
    return bytes([7]) + body


# The bodies of scribble_step (without its op byte).
def sc_raw(off, data):
    return bytes([0]) + struct.pack("<HB", off, len(data) - 1) + data


def sc_which_flip():
    return bytes([1, 0])


def sc_seq_odd(which):
    return bytes([2, which, 0])


def sc_index_tag(which, home, k, entry):
    """In key home's slot: key k's tag, naming entry (any number)."""
    return bytes([3, which, 0x80, home, 2, k, entry])


def sc_index_dead(which, home):
    return bytes([3, which, 0x80, home, 1])


def sc_entry(e, j, field, *rest):
    return bytes([4, e, j, field]) + bytes(rest)


def table_seeds():
    all_reads = b"".join(t_read(op, k) for k in range(6) for op in (0, 1)) + \
        t_read(2) + t_read(3)
    keys = b"".join(t_reg(k, k % 4, 1, k) for k in range(6))
    dups = b"".join(t_reg(1, w, 2, 50 + w) for w in range(4)) + t_reg(1, 3, 0, 99)
    put("fuzz_table", "writer_ops", bytes([15, 3]) + keys + dups + all_reads +
        t_unreg(1, 3) + t_claim(1, 0) + t_claim(1, 0) + t_unreg(2, 0) +
        t_unreg(2, 5) + bytes([4, 1]) + all_reads)
    put("fuzz_table", "full_table", bytes([3, 1]) +
        b"".join(t_reg(k) for k in range(5)) + all_reads +
        t_unreg(0, 0) + t_reg(7) + all_reads)
    # Distinct keys in and out of an 8-connection table: index rebuilds.
    put("fuzz_table", "rebuilds", bytes([7, 1]) +
        b"".join(t_reg(k) + t_reg(k + 1) + t_unreg(k, 0) for k in range(24)) +
        all_reads)
    # Entries are handed out in order: key k is in entry k here.
    put("fuzz_table", "bad_index", bytes([15, 3]) + keys +
        t_scribble(sc_index_tag(0, 2, 2, 200)) +     # no such entry
        t_scribble(sc_index_tag(0, 4, 4, 1)) +       # key 1's entry
        t_scribble(sc_index_dead(0, 5)) + all_reads)
    # Not one empty slot left in the index readers use.
    put("fuzz_table", "full_index", bytes([3, 1]) + keys[:10] +
        b"".join(t_scribble(sc_raw(40 + 16 * i, b"\x07" * 16)) for i in range(8)) +
        all_reads)
    put("fuzz_table", "bad_entries", bytes([15, 3]) + keys + dups + t_reg(6) +
        t_scribble(sc_entry(0, 0, 2, 0x80, 0xff, 0xff, 0xff, 0xff)) +
        t_scribble(sc_entry(1, 0, 3, 5)) +           # active past nroutes
        t_scribble(sc_entry(2, 0, 4, 1)) +           # worker nworkers
        t_scribble(sc_entry(3, 0, 0, 0)) +
        t_scribble(sc_entry(4, 0, 7, 1)) +
        t_scribble(sc_entry(5, 0, 6, 3)) +
        t_scribble(sc_entry(6, 0, 1, 1, 0)) +                # not live
        all_reads + t_read(0, 6) + t_read(1, 6))
    put("fuzz_table", "bad_which_seq", bytes([15, 3]) + keys +
        t_scribble(bytes([1, 1]) + struct.pack("<Q", 2)) +
        t_scribble(sc_seq_odd(1)) + all_reads +
        t_scribble(sc_raw(0, b"\xff" * 16)) + all_reads)
    put("fuzz_table", "race_lookup", bytes([15, 3]) + keys +
        t_race(0, 2, 2, sc_which_flip(), sc_index_tag(1, 2, 2, 2)) +
        t_race(1, 3, 1, sc_entry(3, 0, 0, 0)) + all_reads)
    put("fuzz_table", "race_foreach", bytes([15, 3]) + keys + dups +
        t_race(2, 0, 4, sc_entry(5, 0, 7, 0), sc_entry(4, 0, 2, 3),
               sc_seq_odd(0), sc_entry(3, 1, 4, 0)) + all_reads)
    # After a scribble the writer waits for a fresh table, then goes on.
    put("fuzz_table", "fresh", bytes([15, 3]) + keys +
        t_scribble(sc_raw(40, b"\x01\x02\x03")) + keys + bytes([11]) +
        keys + dups + all_reads)


def t_radd(k, link):
    return bytes([12, k, link])


def t_rdel(k, i, link=0):
    return bytes([13, k, i, link])


def t_rclear(link):
    return bytes([14, link])


def table_remote_seeds():
    """Mesh links (fuzz_table.c's four): room for 8 remote-only keys."""
    reads = b"".join(t_read(op, k) for k in range(8) for op in (0, 1, 4)) + \
        t_read(2) + t_read(3) + t_read(5)
    keys = b"".join(t_reg(k, k % 4, 1, k) for k in range(4))
    remote = b"".join(t_radd(k, k % 4) for k in range(2, 8)) + t_radd(3, 1) + \
        t_radd(3, 2) + t_radd(3, 1)
    size = bytes([(2 << 6) | 15, 3])
    put("fuzz_table", "remote_routes", size + keys + remote + reads +
        t_unreg(2, 0) + t_unreg(3, 0) + reads + t_rdel(3, 0) + t_rdel(3, 5, 2) +
        t_rclear(1) + reads + t_reg(5, 1, 1, 55) + t_rclear(2) + reads)
    put("fuzz_table", "remote_full", bytes([(1 << 6) | 7, 2]) +
        b"".join(t_radd(k, k % 4) for k in range(8)) + keys +
        b"".join(t_radd(k, 0) for k in range(4)) + t_unreg(0, 0) + t_unreg(1, 0) +
        reads + bytes([4, 0]) + reads)
    put("fuzz_table", "remote_scribbled", size + keys + remote +
        t_scribble(sc_raw(300, b"\x04\x00\x00\x00\x09")) +
        t_race(4, 3, 2, sc_entry(3, 0, 0, 0), sc_which_flip()) + reads)


def meshpeers_seeds():
    put("fuzz_meshpeers", "derper_tuple", "derp1.example.com,derp2.example.com/10.0.0.2")
    put("fuzz_meshpeers", "ports", "derp1.test:8443/127.0.0.1,derp2.test:443")
    put("fuzz_meshpeers", "v6", "[2001:db8::1]:8443/[::1],[fd7a::2]/fd7a::3")
    put("fuzz_meshpeers", "v4", "192.0.2.1:443/192.0.2.2")
    put("fuzz_meshpeers", "bad", "a/b/c,,:0,[::1,x y")


def dial_seeds():
    def msg(shape, w, nworkers, npeers, body):
        return bytes([shape, w, nworkers, npeers, len(body)]) + body
    req = struct.pack("<II", 2, 7)
    put("fuzz_dial", "request", msg(0, 0, 2, 3, req) + msg(0, 1, 2, 3, req) +
        msg(0, 0, 2, 3, req[:5]))
    put("fuzz_dial", "answer", msg(1 | 1 << 2, 0, 2, 3, struct.pack("<IIiI", 2, 7, 0, 0)) +
        msg(1, 0, 2, 3, struct.pack("<IIiI", 2, 7, 111, 0)) +
        msg(1 | 2 << 2, 0, 2, 3, struct.pack("<IIiI", 2, 7, 0, 0)))
    put("fuzz_dial", "attach", msg(2 | 1 << 2, 0, 4, 0, struct.pack("<II", 3, 0)) +
        msg(2, 0, 4, 0, struct.pack("<II", 9, 0)))


def linkparse_seeds():
    head = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: DERP\r\n"
            "Connection: Upgrade\r\nDerp-Version: 2\r\nDerp-Public-Key: " +
            KEY_HEX + "\r\n\r\n").encode()
    key = bytes.fromhex(KEY_HEX)
    login = frame(1, b"DERP\xf0\x9f\x94\x91" + key) + frame(3, bytes(24 + 16 + 13))
    present = frame(9, key + bytes(10) + b"\xff\xff\x7f\x00\x00\x01" +
                    struct.pack(">H", 41641) + b"\x01")
    put("fuzz_linkparse", "login", head + login + present + frame(9, key) +
        frame(8, key + b"\x00") + frame(6, b"") + frame(0x12, b"12345678"))
    put("fuzz_linkparse", "refused", b"HTTP/1.1 426 Upgrade Required\r\n"
        b"Content-Length: 0\r\n\r\n")
    put("fuzz_linkparse", "odd_frames", head + login + frame(0x7f, bytes(100)) +
        frame(8, key[:5]) + frame(0x15, b"\x00\x00\x01\xf4\x00\x00\x13\x88") +
        frame(5, key + bytes(1400)) + struct.pack(">BI", 5, 70000))


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


def client_derp_seeds():
    """What a relay sends derpd-client; a ServerInfo payload is its JSON
    (the harness seals it: a fuzzer cannot forge a box)."""
    key = bytes.fromhex(KEY_HEX)
    server_key = frame(0x01, b"DERP\xf0\x9f\x94\x91" + key)
    info = frame(0x03, b'{"version":2}')
    put("fuzz_client_derp", "login", server_key + info)
    put("fuzz_client_derp", "session", server_key + frame(
        0x03, b'{"version":2,"TokenBucketBytesPerSecond":1000,'
        b'"TokenBucketBytesBurst":2000}') + frame(0x06, b"") +
        frame(0x12, b"pingping") + frame(0x05, key + b"hello") +
        frame(0x08, key + b"\x01") + frame(0x08, key) + frame(0x13, b"pongpong") +
        frame(0x14, b"overloaded") + frame(0x15, struct.pack(">II", 500, 5000)) +
        frame(0x09, key + bytes(16) + b"\x01\xbb\x01"))
    put("fuzz_client_derp", "bad_info_json", server_key + frame(0x03, b'{"version":"2"'))
    put("fuzz_client_derp", "short_frames", frame(0x01, b"DERP") + frame(0x05, b"k") +
        frame(0x08, b""))
    put("fuzz_client_derp", "too_long", server_key + b"\x05\x00\x01\x00\x21")


def client_http_seeds():
    crlf = "\r\n"

    def resp(line, headers, tail=""):
        return line + crlf + "".join(h + crlf for h in headers) + crlf + tail

    put("fuzz_client_http", "upgrade", resp("HTTP/1.1 101 Switching Protocols", [
        "Upgrade: DERP", "Connection: Upgrade", "Derp-Version: 2",
        "Derp-Public-Key: " + KEY_HEX], "\x01\x00\x00\x00\x28DERP"))
    put("fuzz_client_http", "websocket", resp("HTTP/1.1 101 Switching Protocols", [
        "Upgrade: websocket", "Connection: Upgrade",
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
        "Sec-WebSocket-Protocol: derp"]))
    put("fuzz_client_http", "no_content", resp("HTTP/1.1 204 No Content", [
        "X-Tailscale-Response: response 0123456789abcdef",
        "Cache-Control: no-cache, no-store, must-revalidate, no-transform, max-age=0",
        "Connection: close"]))
    put("fuzz_client_http", "route", resp("HTTP/1.1 200 OK", [
        "Content-Type: application/json", "Content-Length: 95"],
        '{"key":"nodekey:%s","worker":1,"connections":1}' % KEY_HEX))
    put("fuzz_client_http", "python_404", resp("HTTP/1.0 404 File not found", [
        "Server: SimpleHTTP/0.6 Python/3.11.2", "Content-Length: 469"]))
    put("fuzz_client_http", "reason_less", "HTTP/1.1 200\r\nX:\t y \t\r\n\r\n")
    put("fuzz_client_http", "bare_lf", "HTTP/1.1 200 OK\nServer: x\n\n")


def client_stun_seeds():
    """A transaction ID, then a binding success with XOR-MAPPED-ADDRESS."""
    txid = b"tstxid012345"

    def success(attrs):
        return txid + struct.pack(">HHI", 0x0101, len(attrs), 0x2112A442) + txid + attrs

    v4 = struct.pack(">HHBBH", 0x0020, 8, 0, 1, 41000 ^ 0x2112) + \
        bytes(a ^ b for a, b in zip(bytes([127, 0, 0, 1]), b"\x21\x12\xa4\x42"))
    v6 = struct.pack(">HHBBH", 0x0020, 20, 0, 2, 3478 ^ 0x2112) + \
        bytes(a ^ b for a, b in zip(bytes(15) + b"\x01", b"\x21\x12\xa4\x42" + txid))
    put("fuzz_client_stun", "ipv4", success(v4))
    put("fuzz_client_stun", "ipv6", success(v6))
    put("fuzz_client_stun", "software_first", success(b"\x80\x22\x00\x03abc\x00" + v4))
    put("fuzz_client_stun", "other_txid", success(v4)[:20] + b"X" + success(v4)[21:])
    put("fuzz_client_stun", "no_address", success(b"\x80\x28\x00\x04\x00\x00\x00\x00"))


def client_msg_seeds():
    """Stream and chat messages as derpd-client seals them."""
    sid = b"\x12\x34\x56\x78"
    put("fuzz_client_msg", "data", b"D" + sid + struct.pack(">I", 7) + b"some bytes")
    put("fuzz_client_msg", "fin", b"F" + sid + struct.pack(">I", 640))
    put("fuzz_client_msg", "ack", b"A" + sid + struct.pack(">I", 9))
    put("fuzz_client_msg", "done", b"Z" + sid)
    put("fuzz_client_msg", "hello", b"H\x01\x05alice")
    put("fuzz_client_msg", "text_all", b"T" + sid + b"\x01\x03bob" +
        "hello everyone \u00e9\u20ac\U0001f511".encode())
    put("fuzz_client_msg", "text_escape", b"T" + sid + b"\x00\x00" +
        b"\x1b[2Jgotcha\xc2\x85\xed\xa0\x80\xc0\xaf")
    put("fuzz_client_msg", "chat_ack", b"K" + sid)
def allowlist_seeds():
    k2 = KEY_HEX[::-1]
    put("fuzz_allowlist", "two_keys", "# who may use this relay\n\n"
        "nodekey:%s   # laptop\r\n\tnodekey:%s\n" % (KEY_HEX, k2))
    put("fuzz_allowlist", "duplicate", "nodekey:%s\nnodekey:%s" % (KEY_HEX, KEY_HEX))
    put("fuzz_allowlist", "empty", "")
    put("fuzz_allowlist", "comments_only", "# nobody\n#\n\n")
    put("fuzz_allowlist", "bad_line_3", "nodekey:%s\n\nnodekey:%s\n" % (KEY_HEX, KEY_HEX[:62]))
    put("fuzz_allowlist", "no_prefix", KEY_HEX + "\n")
    put("fuzz_allowlist", "nul", "nodekey:%s\0\n" % KEY_HEX)


def verifyd_proto_seeds():
    key = bytes.fromhex(KEY_HEX)
    ip = bytes(10) + b"\xff\xff" + bytes([127, 0, 0, 1])
    for name, op in (("login", 1), ("recheck", 2), ("bad_op", 9)):
        put("fuzz_verifyd_proto", name,
            struct.pack("<IIIIq", op, 7, 3, 11, 123456789) + key + ip)
    put("fuzz_verifyd_proto", "zero_key", struct.pack("<IIIIq", 1, 0, 0, 0, 0) + bytes(48))
    put("fuzz_verifyd_proto", "short", struct.pack("<III", 1, 2, 3))


def verifier_answer_seeds():
    ok, notfound, other = b"\x00\x00", b"\x01\x00", b"\x02\x01"
    whois = json.dumps({"Node": {"ID": 1, "Key": "nodekey:" + KEY_HEX},
                        "UserProfile": {"LoginName": "u@example.com"}, "CapMap": {}})
    put("fuzz_verifier_answer", "whois_200", ok + whois.encode())
    put("fuzz_verifier_answer", "whois_404", notfound + b"no match for IP:port\n")
    put("fuzz_verifier_answer", "old_tailscaled", other + b"invalid 'addr' parameter")
    put("fuzz_verifier_answer", "allow", ok + b'{"Allow":true}')
    put("fuzz_verifier_answer", "allow_lower_then_deny", ok + b'{"allow":true,"ALLOW":false}')
    put("fuzz_verifier_answer", "allow_trailing", ok + b'{"Allow":true} garbage after')
    put("fuzz_verifier_answer", "null", ok + b"null")
    put("fuzz_verifier_answer", "wrong_type", ok + b'{"Allow":"yes"}')
    put("fuzz_verifier_answer", "oversized", ok + b'{"Allow":true,"pad":"' + b"x" * 4200 + b'"}')
    put("fuzz_verifier_answer", "request_inputs", ok + bytes.fromhex(KEY_HEX) +
        bytes.fromhex("20010db8000000000000000000000001"))


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


def certmsg_seeds():
    """The first byte picks the check: 0-3 a worker's copy of a certificates
    region entry (certshm.h: cert, alpn, http, status), 4 the ACME child's
    message to the master (acme_proto.h). Structs little-endian, as on
    x86_64 and aarch64."""
    leaf = ("-----BEGIN CERTIFICATE-----\nMIIBdzCCAR2gAwIBAgIUZm9v\n"
            "-----END CERTIFICATE-----\n")
    key = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----\n"
    tok = "6JhZ4G0vUtE1NQkcbFQz7t3tJ3rVdAeGQ1PIFLo6ymk"
    thumb = "LPJNul-wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ"

    def fixed(text, n):
        return text.encode().ljust(n, b"\0")

    def msg(op, name="", text="", data="", len2=0, issued=0, failed=0):
        body = data.encode()
        return bytes([4]) + struct.pack("<IIIIqqQQ", op, 0, len(body) - len2, len2,
                                        1900000000, 0, issued, failed) + \
            fixed(name, 256) + fixed(text, 512) + body
    put("fuzz_certmsg", "msg_cert", msg(1, "derp.example.com", data=leaf))
    put("fuzz_certmsg", "msg_withdraw", msg(1, "192.0.2.1"))
    put("fuzz_certmsg", "msg_status", msg(2, "derp.example.com",
                                          "directory: HTTP 500", issued=3, failed=1))
    put("fuzz_certmsg", "msg_alpn", msg(3, "derp.example.com", data=leaf + key,
                                        len2=len(key)))
    put("fuzz_certmsg", "msg_http", msg(5, tok, f"{tok}.{thumb}"))
    put("fuzz_certmsg", "msg_ack", msg(7))
    put("fuzz_certmsg", "shm_cert", bytes([0]) + struct.pack("<QQII", 2, 1, len(leaf), 0) +
        fixed("derp.example.com", 256) + leaf.encode() + b"\0")
    put("fuzz_certmsg", "shm_alpn", bytes([1]) + struct.pack("<QQII", 2, 1, len(leaf),
                                                             len(key)) +
        fixed("1.2.0.192.in-addr.arpa", 256) + fixed(leaf, 4096) + key.encode())
    put("fuzz_certmsg", "shm_http", bytes([2]) + struct.pack("<QQ", 2, 1) +
        fixed(tok, 256) + f"{tok}.{thumb}".encode())
    put("fuzz_certmsg", "shm_status", bytes([3]) + struct.pack("<Q", 2) +
        fixed("derp.example.com", 256) + struct.pack("<qQQq", 1900000000, 1, 2, 1800000000) +
        b"newAccount: urn:ietf:params:acme:error:unauthorized")


def keyd_acme_seeds():
    """Scripts of the ACME child's requests (fuzz_keyd_acme.c): per step an
    op byte (1 HAS, 2 CSR, 3 INSTALL), a name count and names (length byte,
    bytes), a hash selector (even: the key set aside, if any; odd: four hash
    bytes follow) and two bytes of the old hash."""
    def step(op, names=(), aside=True):
        out = bytes([op, len(names)])
        for n in names:
            out += bytes([len(n)]) + n.encode()
        return out + (b"\0" if aside else b"\1\xaa\xbb\xcc\xdd") + b"\0\0"
    put("fuzz_keyd_acme", "csr_install_has",
        step(2, ["derp.test"], aside=False) + step(3) + step(1, aside=False))
    put("fuzz_keyd_acme", "renewal",
        step(2, ["derp.test"], aside=False) + step(3) + step(2, ["derp.test"], aside=False) +
        step(3))
    put("fuzz_keyd_acme", "ip_and_two_names",
        step(2, ["127.0.0.1"], aside=False) + step(2, ["a.test", "2001:db8::1"],
                                                    aside=False) + step(3))
    put("fuzz_keyd_acme", "bad_names", step(2, ["not a name!"], aside=False) +
        step(3, aside=False) + step(9))


def rateconf_seeds():
    """-rate-config files: derper's own, and the edges of Go's decoding."""
    put("fuzz_rateconf", "derper", json.dumps(
        {"PerClientRateLimitBytesPerSec": 1000000, "PerClientRateBurstBytes": 2000000},
        indent="\t"))
    put("fuzz_rateconf", "small_burst", '{"PerClientRateLimitBytesPerSec": 100}')
    put("fuzz_rateconf", "case_and_null",
        '{"perclientratelimitbytespersec": 5, "PERCLIENTRATEBURSTBYTES": null, "x": [1]}')
    put("fuzz_rateconf", "disabled", '{"PerClientRateLimitBytesPerSec": 0, '
        '"PerClientRateBurstBytes": 99999999}')
    put("fuzz_rateconf", "negative", '{"PerClientRateBurstBytes": -1}')
    put("fuzz_rateconf", "float", '{"PerClientRateLimitBytesPerSec": 1e3}')
    put("fuzz_rateconf", "not_object", '[{"PerClientRateLimitBytesPerSec": 1}]')


def flags_seeds():
    """A first byte (odd: -config the file), the file, then NUL-separated
    arguments (tests/fuzz/fuzz_flags.c)."""
    def put_flags(name, config, args, use_config=True):
        put("fuzz_flags", name, bytes([1 if use_config else 0]) + config.encode() +
            b"".join(b"\0" + a.encode() for a in args))

    conf = open(os.path.join(ROOT, "..", "..", "..", "packaging", "derpd.conf")).read()
    put_flags("packaged", conf, ["-hostname", "derp.example.com"])
    put_flags("dev", "", ["-dev", "-c", "/tmp/k", "-workers=2", "-verbose"], False)
    put_flags("tests", "", ["-a", "127.0.0.1:3340", "-workers", "2", "-stun=false",
                            "-http-port=-1", "-max-clients=16", "-ring-kib", "256",
                            "-queue-kib=128", "-keepalive=100ms",
                            "-handshake-timeout", "1m30.5s", "-tcp-write-timeout=0"], False)
    put_flags("quoted", 'home = "https://example.com/"\n  # note\n'
              '--accept-connection-limit = 12.5\nmesh-psk-file=\t/x \r\n',
              ["--", "extra"])
    put_flags("tls_ports", "a = [::1]:443\nhttp-port = 443\n", ["-certmode=manual"])
    put_flags("refused", "", ["-mesh-with", "a,b", "-verify-clients"], False)
    put_flags("help", "", ["-h"], False)


def keyd_seeds():
    """For tests/fuzz/fuzz_keyd.c: the DERP private key, the TLS key kind
    (0 none, 1 ECDSA P-256, 2 RSA-2048), then requests, each a kind byte:
    1 a login (4-byte slot, client key), 2 a CertificateVerify input (digest
    1-3, padding 0 none / 1 PSS, odd: a 48-byte hash, which key it names
    (0 none, 1 mod 4 the RSA key's, 2 mod 4 the ECDSA key's), then the
    hash), 0 a raw struct keyd_req (348 bytes)."""
    priv = bytes.fromhex(KEY_HEX)
    pub = bytes.fromhex(MESH_HEX)

    def login(slot, key):
        return bytes([1]) + struct.pack("<I", slot) + key

    def sign(md, pad, long_hash, h, names=None):
        if names is None:
            names = 1 if pad else 2     # the key held, as a worker would
        return bytes([2, md, pad, long_hash, names]) + h

    def raw(op, tbs):
        req = struct.pack("<IIII", op, 3, 4, 5) + pub + struct.pack(
            "<III", 1, 0, len(tbs)) + tbs.ljust(256, b"\0") + bytes(32)
        return bytes([0]) + req

    put("fuzz_keyd", "logins", priv + b"\0" + login(0, pub) + login(7, pub[::-1]) +
        login(1, bytes(32)) + login(2, b"\x01" + bytes(31)))
    put("fuzz_keyd", "sign_ecdsa", priv + b"\1" + sign(1, 0, 0, bytes(range(32))) +
        sign(2, 0, 1, bytes(range(48))) + sign(3, 0, 0, b"\xaa" * 32) +
        sign(1, 1, 0, bytes(32)))
    put("fuzz_keyd", "sign_rsa", priv + b"\2" + sign(1, 1, 0, bytes(range(32))) +
        sign(2, 1, 1, bytes(48)) + sign(1, 0, 0, bytes(32)))
    put("fuzz_keyd", "sign_another_key", priv + b"\1" +
        sign(1, 0, 0, bytes(range(32)), names=0) + sign(1, 0, 0, bytes(32), names=1))
    put("fuzz_keyd", "not_a_handshake", priv + b"\1" + raw(2, b"GET / HTTP/1.1") +
        raw(2, b" " * 64 + b"TLS 1.3, client CertificateVerify\0" + bytes(32)) +
        raw(9, b"") + raw(1, b""))


def tablesrv_seeds():
    """Scripts for tests/fuzz/fuzz_tablesrv.c: 0 w op key slot gen port32 is a
    well-formed request (op 0 register, 1 unregister, 2 claim; key from a
    pool of 6), 2 w len bytes a raw datagram, 3 w a worker's death."""
    def req(w, op, key, slot, gen=1):
        return bytes([0, w, op, key, slot, gen]) + struct.pack("<I", 443)

    def raw(w, b):
        return bytes([2, w, len(b)]) + b

    put("fuzz_tablesrv", "dups_evict", b"".join(req(i % 3, 0, 1, i) for i in range(6)) +
        req(1, 2, 1, 1) + req(0, 1, 1, 3) + req(2, 1, 1, 5))
    put("fuzz_tablesrv", "full", b"".join(req(i % 3, 0, i % 6, i % 16) for i in range(18)) +
        req(0, 1, 0, 0) + req(0, 0, 0, 0))
    put("fuzz_tablesrv", "worker_dies", req(0, 0, 2, 1) + req(1, 0, 2, 1) + req(2, 0, 3, 2) +
        bytes([3, 1]) + req(1, 1, 2, 1) + req(1, 0, 2, 1) + bytes([3, 0]))
    request = struct.pack("<IIII", 1, 2, 3, 0) + bytes.fromhex(KEY_HEX) + bytes(20)
    put("fuzz_tablesrv", "raw", raw(0, request[:len(request) - 1]) + raw(1, b"") +
        raw(2, struct.pack("<IIII", 9, 1, 1, 0)) + raw(0, request[:56]))


def dns_seeds():
    """For tests/fuzz/fuzz_dns.c: the published list, NUL, the unpublished
    list, NUL, a buffer size byte (64 + 64 * n), then each lookup's answer as
    it happens (names in sorted order): a count, then per address a byte
    (odd: IPv4) and its 4 or 16 bytes."""
    def v4(*a):
        return b"\x01" + bytes(a)

    def v6(s):
        import ipaddress
        return b"\x00" + ipaddress.IPv6Address(s).packed

    def answer(*addrs):
        return bytes([len(addrs)]) + b"".join(addrs)

    put("fuzz_dns", "derper", b"log.tailscale.io,controlplane.tailscale.com\0\0\xff" +
        answer(v4(3, 33, 44, 55), v6("2600:1f14::1")) +
        answer(v4(18, 1, 2, 3), v4(18, 1, 2, 3), v6("::ffff:1.2.3.4")))
    put("fuzz_dns", "unpublished", b"a.example\0secret.example,b.example\0\x01" +
        answer(v4(192, 0, 2, 1)) + answer() + answer(v6("2001:db8::5")))
    put("fuzz_dns", "none_resolve", b"x.invalid,y.invalid\0\0\x10" + answer() + answer())
    put("fuzz_dns", "odd_names", b'q"uote\\,\x01ctl,caf\xc3\xa9,bad\xff,,dup,dup\0\0\x08' +
        b"".join(answer(v4(10, 0, 0, i)) for i in range(5)))
    put("fuzz_dns", "many_addrs", b"big.example\0\0\x00" +
        answer(*[v4(10, 1, i // 256, i % 256) for i in range(36)]))


def serve_seeds():
    """For tests/fuzz/fuzz_serve.c: flags (bit 0 port 80, bits 1-2 -home,
    bits 3-4 where the request is cut), family (odd: IPv6), 16 address
    bytes, the request."""
    import ipaddress

    def peer(a):
        ip = ipaddress.ip_address(a)
        return bytes([ip.version == 6]) + ip.packed.ljust(16, b"\0")

    def put_req(name, flags, addr, req):
        put("fuzz_serve", name, bytes([flags]) + peer(addr) + req.encode("latin-1"))

    crlf = "\r\n"

    def req(line, *headers):
        return line + crlf + "".join(h + crlf for h in headers) + crlf

    put_req("metrics_loopback", 0, "127.0.0.1", req("GET /metrics HTTP/1.1", "Host: a"))
    put_req("metrics_stranger", 0, "192.0.2.7", req("GET /metrics HTTP/1.1", "Host: a"))
    put_req("debug_tailscale6", 8, "fd7a:115c:a1e0::5",
            req("GET /debug/route?key=nodekey:" + KEY_HEX + " HTTP/1.1", "Host: a"))
    put_req("debug_cgnat_proxied", 0, "100.100.1.1",
            req("GET /debug/ HTTP/1.1", "X-Forwarded-For: 1.2.3.4"))
    put_req("mapped_varz", 0, "::ffff:127.0.0.2", req("HEAD /debug/varz HTTP/1.0"))
    put_req("derp_upgrade", 16, "198.51.100.1", req("GET /derp HTTP/1.1", "Host: d",
            "Connection: Upgrade", "Upgrade: DERP"))
    put_req("derp_fast", 0, "198.51.100.1", req("GET /derp HTTP/1.1", "Upgrade: derp",
            "Derp-Fast-Start: 1"))
    put_req("websocket", 0, "2001:db8::1", req("GET /derp HTTP/1.1", "Upgrade: websocket",
            "Connection: Upgrade", "Sec-WebSocket-Version: 13",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol: derp"))
    put_req("no_upgrade", 0, "10.0.0.1", req("GET /derp HTTP/1.1"))
    put_req("probe_post", 0, "10.0.0.1", req("POST /derp/probe HTTP/1.1",
            "Content-Length: 0"))
    put_req("challenge", 0, "10.0.0.1", req("GET /generate_204 HTTP/1.1",
            "X-Tailscale-Challenge: abc.DEF-123_:x"))
    put_req("bootstrap", 2, "10.0.0.1", req("GET /bootstrap-dns?q=a.example HTTP/1.1"))
    put_req("home_redirect", 4, "10.0.0.1", req("GET / HTTP/1.1"))
    put_req("port80_redirect", 1, "10.0.0.1", req("GET /x?y=\xe9 HTTP/1.1",
            "Host: derp.example"))
    put_req("port80_root_loopback", 1, "127.0.0.1", req("GET / HTTP/1.1", "Host: d"))
    put_req("port80_put", 1, "10.0.0.1", req("PUT /x HTTP/1.1"))
    put_req("robots_bad", 24, "10.0.0.1", "GET /robots.txt HTTP/1.1\r\nBad Header\r\n\r\n")


def login_seeds():
    """For tests/fuzz/fuzz_login.c: a mode byte (bits 0-1 key process:
    answer, refuse, other connection; bit 2 fast start; bit 3 mesh key
    configured; bit 4 sealed), then sealed: client private key, 2-byte
    JSON length, ClientInfo JSON, frames once logged in; raw: the stream."""
    from nacl.public import PrivateKey
    priv = bytes.fromhex(KEY_HEX)
    pub = bytes(PrivateKey(priv).public_key)

    def sealed(mode, info, after=b""):
        js = info if isinstance(info, bytes) else json.dumps(info).encode()
        return bytes([0x10 | mode]) + priv + struct.pack(">H", len(js)) + js + after

    relay = (frame(0x12, b"pingping") + frame(0x07, b"\x01") +
             frame(0x04, pub + b"to myself") + frame(0x13, b"pongpong") +
             frame(0x10, b"") + frame(0x06, b""))
    put("fuzz_login", "login", sealed(0, {"version": 2, "CanAckPings": True}, relay))
    put("fuzz_login", "fast_prober", sealed(4, {"version": 2, "IsProber": True}, relay))
    put("fuzz_login", "mesh", sealed(8, {"version": 2, "meshKey": "4d" * 32},
                                     frame(0x10, b"") + frame(0x11, pub)))
    put("fuzz_login", "refused", sealed(1, {"version": 2}))
    put("fuzz_login", "lost_answer", sealed(2, {"version": 2}))
    put("fuzz_login", "bad_json", sealed(0, b'{"version":"2"'))
    ci = frame(0x02, bytes(32) + bytes(24) + bytes(16) + b"{}")
    put("fuzz_login", "raw_low_order", bytes([0]) + ci + frame(0x04, pub))
    put("fuzz_login", "raw_not_client_info", bytes([4]) + frame(0x04, pub + b"x"))
    put("fuzz_login", "raw_huge", bytes([0]) + b"\x02\x00\x04\x00\x00" + bytes(100))


def ws_seeds():
    """For tests/fuzz/fuzz_ws.c: byte 0 even: raw client frames follow; odd:
    a packet length byte (x4), the packet, then framing choices (message
    size, fragment size, masks, pings between fragments)."""
    def wsframe(op, payload, fin=True, mask=b"\x12\x34\x56\x78"):
        n = len(payload)
        head = bytes([(0x80 if fin else 0) | op])
        m = 0x80 if mask is not None else 0
        if n < 126:
            head += bytes([m | n])
        elif n < 65536:
            head += bytes([m | 126]) + struct.pack(">H", n)
        else:
            head += bytes([m | 127]) + struct.pack(">Q", n)
        if mask is None:
            return head + payload
        return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))

    ci = frame(0x02, bytes(range(32)) + bytes(24) + bytes(16) + b"{}")
    put("fuzz_ws", "raw_client_info", b"\0" + wsframe(2, ci[:20], fin=False) +
        wsframe(9, b"ping") + wsframe(0, ci[20:]) + wsframe(8, b"\x03\xe8"))
    put("fuzz_ws", "raw_text", b"\0" + wsframe(1, b"hello"))
    put("fuzz_ws", "raw_too_big", b"\0" + wsframe(2, bytes(40000)))
    put("fuzz_ws", "raw_unmasked", b"\0" + wsframe(2, ci, mask=None))
    put("fuzz_ws", "raw_bad_continuation", b"\0" + wsframe(0, b"x") + wsframe(10, b""))
    put("fuzz_ws", "round_trip_whole", b"\x01\x10" + bytes(range(64)) +
        b"\xff\xff\xff\xff\0\0\0\0\x01")
    # Messages of 33 bytes in fragments of 8 (each: message size, fragment
    # size, mask, no ping). With an 8-byte ping between the first two
    # fragments, this is tests/fuzz/crashes/ws_ping-payload-in-derp-stream.
    put("fuzz_ws", "round_trip_pieces", b"\x01\x40" + bytes(range(256)) +
        b"\x00\x20" + b"\x00\x07\xaa\xbb\xcc\xdd\x01" * 60)


def tlsrec_seeds():
    """For tests/fuzz/fuzz_tlsrec.c: byte 0 picks the suite (0x80: open in
    place), then what a TLS 1.3 client sends after the handshake, sealed
    here (RFC 8446 5.2, 7.1, 7.2) under the harness's fixed client secret
    (bytes 1, 2, 3, ...) so that the fuzzer starts past the AEAD. Needs
    Debian's python3-cryptography (apt-get install python3-cryptography)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
    from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

    suites = [(0x1301, AESGCM, 16, hashes.SHA256), (0x1302, AESGCM, 32, hashes.SHA384),
              (0x1303, ChaCha20Poly1305, 32, hashes.SHA256)]

    class Client:
        def __init__(self, aead, klen, md):
            self.aead, self.klen, self.md = aead, klen, md
            self.secret = bytes(range(1, 1 + md.digest_size))
            self.keys()

        def label(self, label, n):
            lab = b"tls13 " + label
            info = struct.pack(">HB", n, len(lab)) + lab + b"\0"
            return HKDFExpand(self.md(), n, info).derive(self.secret)

        def keys(self):
            self.key, self.iv, self.seq = self.label(b"key", self.klen), self.label(b"iv", 12), 0

        def record(self, ctype, content, pad=0):
            inner = content + bytes([ctype]) + bytes(pad)
            head = struct.pack(">BHH", 23, 0x0303, len(inner) + 16)
            nonce = bytes(a ^ b for a, b in zip(self.iv, self.seq.to_bytes(12, "big")))
            self.seq += 1
            return head + self.aead(self.key).encrypt(nonce, inner, head)

        def key_update(self, requested):
            rec = self.record(22, bytes([24, 0, 0, 1, requested]))
            self.secret = self.label(b"traffic upd", self.md.digest_size)
            self.keys()
            return rec

    close = bytes([1, 0])
    for i, (suite, aead, klen, md) in enumerate(suites):
        name = "%04x" % suite
        c = Client(aead, klen, md)
        put("fuzz_tlsrec", name + "_data_close", bytes([i]) + c.record(23, b"hello") +
            c.record(23, bytes(range(256)) * 4, pad=100) + c.record(23, b"") +
            c.record(21, close))
        c = Client(aead, klen, md)
        put("fuzz_tlsrec", name + "_key_update", bytes([0x80 | i]) + c.record(23, b"a") +
            c.key_update(1) + c.record(23, b"after") + c.key_update(0) +
            c.record(23, b"again") + c.record(21, close))
        c = Client(aead, klen, md)
        put("fuzz_tlsrec", name + "_full_record", bytes([i]) +
            c.record(23, bytes(16384), pad=239) + c.record(23, b"x" * 3000) +
            c.record(23, b"cut")[:-7])
    c = Client(AESGCM, 16, hashes.SHA256)
    put("fuzz_tlsrec", "1301_refused", bytes([0]) + c.record(23, b"ok") +
        c.record(21, bytes([2, 40])) + c.record(23, b"after"))
    # Opened, then refused: 2^14 + 1 bytes of content; no inner type.
    c = Client(AESGCM, 16, hashes.SHA256)
    put("fuzz_tlsrec", "1301_overflow", bytes([0]) + c.record(23, bytes(16385)) +
        c.record(21, close))
    c = Client(AESGCM, 32, hashes.SHA384)
    put("fuzz_tlsrec", "1302_no_type", bytes([1]) + c.record(0, b"", pad=40) +
        c.record(21, close))


if __name__ == "__main__":
    http_seeds()
    frames_seeds()
    clientinfo_seeds()
    keyfile_seeds()
    ring_seeds()
    table_seeds()
    stun_seeds()
    client_derp_seeds()
    client_http_seeds()
    client_stun_seeds()
    client_msg_seeds()
    acme_seeds()
    certmsg_seeds()
    keyd_acme_seeds()
    rateconf_seeds()
    flags_seeds()
    keyd_seeds()
    tablesrv_seeds()
    dns_seeds()
    serve_seeds()
    login_seeds()
    ws_seeds()
    allowlist_seeds()
    verifyd_proto_seeds()
    verifier_answer_seeds()
    table_remote_seeds()
    meshpeers_seeds()
    dial_seeds()
    linkparse_seeds()
    tlsrec_seeds()
