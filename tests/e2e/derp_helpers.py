# SPDX-License-Identifier: BSD-3-Clause
"""Shared test helpers: one-packet exchanges and flow-controlled streams."""
import json
import os
import re
import subprocess
import threading
import time

import pytest

from derp_client import KEEP_ALIVE, PEER_GONE, PING, PONG

# derpd, like derper, drops packets for a client whose send queue is full
# (32 packets of any size, the oldest dropped first: queue_head).  Whatever
# sits in that queue is sent but not yet received, so a stream that never has
# more than this in flight can never overflow it: any loss is then a server bug.
WINDOW_PACKETS = 32
WINDOW_BYTES = 256 << 10

NODEKEY_RE = re.compile(r"nodekey:([0-9a-f]{64})")


def run_bench(derpbench_bin, *args, timeout=120):
    """build/derpbench with -j: (exit code, its JSON report or None, stderr)."""
    cmd = [derpbench_bin, "-j", *map(str, args)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return r.returncode, (json.loads(r.stdout) if r.stdout.strip() else None), r.stderr


def public_key_of(keygen_bin, path):
    """`derpd-keygen -pub PATH` -> the 32-byte public key."""
    out = subprocess.run([keygen_bin, "-pub", str(path)], capture_output=True,
                         text=True, timeout=10)
    assert out.returncode == 0, f"derpd-keygen -pub failed: {out.stderr}"
    m = NODEKEY_RE.fullmatch(out.stdout.strip())
    assert m, f"derpd-keygen -pub printed {out.stdout!r}, not nodekey:<64 hex>"
    return bytes.fromhex(m.group(1))


def exchange(a, b, timeout=10.0):
    """a -> b and b -> a, one packet each; checks source key and bytes."""
    for src, dst in ((a, b), (b, a)):
        data = b"hello " + os.urandom(16)
        src.send_packet(dst.pub, data)
        got_src, got = dst.recv_packet(timeout)
        assert got_src == src.pub, "RecvPacket names the wrong source key"
        assert got == data, "packet bytes changed in transit"


def tagged_packet(seq, size, pattern):
    """`size` bytes: the sequence number (big-endian, as much as fits), then
    pattern bytes offset by seq, so every packet's content is distinct."""
    tag = seq.to_bytes(4, "big")
    if size <= 4:
        return tag[4 - size:]
    off = seq % 251
    return tag + pattern[off:off + size - 4]


def stream(sender, receiver, packets, timeout=30.0, pace=0.0):
    """Sends `packets` sender -> receiver, at most WINDOW_PACKETS/WINDOW_BYTES in
    flight, with the receiver in a thread.  Asserts zero loss and exact order.
    `pace` sleeps between sends (to make a stream span some event)."""
    received = []
    errors = []
    cond = threading.Condition()
    deadline = time.monotonic() + timeout

    def receive():
        try:
            while len(received) < len(packets):
                src, data = receiver.recv_packet(max(deadline - time.monotonic(), 0.001))
                assert src == sender.pub, "RecvPacket names the wrong source key"
                check_packet(len(received), packets[len(received)], data)
                with cond:
                    received.append(data)
                    cond.notify_all()
        except BaseException as e:          # reported by the main thread
            with cond:
                errors.append(e)
                cond.notify_all()

    thread = threading.Thread(target=receive, daemon=True)
    thread.start()
    sent_bytes = [0]                        # sent_bytes[k]: bytes in packets 0..k-1
    try:
        for i, pkt in enumerate(packets):
            with cond:                      # wait until the window has room
                while not errors:
                    done = min(len(received), i)
                    in_flight = sent_bytes[i] - sent_bytes[done]
                    if done == i or (i - done < WINDOW_PACKETS and
                                     in_flight + len(pkt) <= WINDOW_BYTES):
                        break
                    if not cond.wait(max(deadline - time.monotonic(), 0)):
                        pytest.fail(f"stream stalled: {done} of {len(packets)} received, "
                                    f"{i} sent (packet lost?)")
                if errors:
                    break
            sender.send_packet(receiver.pub, pkt)
            sent_bytes.append(sent_bytes[-1] + len(pkt))
            if pace:
                time.sleep(pace)
        thread.join(max(deadline - time.monotonic(), 0.001))
    finally:
        if thread.is_alive():
            thread.join(1)
    if errors:
        raise AssertionError(f"receiver failed after {len(received)} of {len(packets)} "
                             f"packets: {errors[0]!r}") from errors[0]
    assert len(received) == len(packets), \
        f"only {len(received)} of {len(packets)} packets arrived"


def check_packet(i, want, got):
    """Packet i of a stream must be exactly `want` (else: lost, reordered or corrupt)."""
    if want != got:
        tag = int.from_bytes(got[:4], "big") if len(got) >= 4 else got.hex()
        raise AssertionError(f"packet {i} ({len(want)} bytes) arrived as {len(got)} "
                             f"bytes tagged {tag}: loss, reordering or corruption")


def assert_no_frame(client, within=1.0, allowed=()):
    """Nothing (other than KeepAlive/`allowed`) arrives within `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            ftype, payload = client.recv_frame(max(deadline - time.monotonic(), 0.001))
        except TimeoutError:
            return
        if ftype == PING:
            client.send_frame(PONG, payload[:8])
        elif ftype not in allowed and ftype != KEEP_ALIVE:
            what = "PeerGone" if ftype == PEER_GONE else f"type {ftype:#04x}"
            raise AssertionError(f"unexpected {what} frame: {payload.hex()[:80]}")


def write_mesh_key(path, key=None):
    """A -mesh-psk-file: 64 hex digits and a newline, mode 0600; returns the key."""
    key = os.urandom(32) if key is None else key
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.hex() + "\n")
    return key


def varz(srv):
    """/debug/varz as {metric name with labels: value}; whole numbers as int."""
    from derp_client import http_get
    status, _, body = http_get("127.0.0.1", srv.port, "/debug/varz")
    assert status.startswith("HTTP/1.1 200"), f"/debug/varz: {status}"
    out = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = int(value) if value.isdigit() else float(value)
    return out


def wait_metric(srv, name, want, timeout=10.0):
    """Polls /debug/varz until metric `name` equals `want` (or want(value) is true)."""
    check = want if callable(want) else (lambda v: v == want)
    deadline = time.monotonic() + timeout
    while True:
        got = varz(srv).get(name)
        if got is not None and check(got):
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"{name} is {got}, wanted {want} within {timeout}s")
        time.sleep(0.05)
