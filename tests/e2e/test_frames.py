# SPDX-License-Identifier: BSD-3-Clause
"""The frames an ordinary (non-mesh) client may send once logged in, and the
server's KeepAlive/Ping to it (derp.sclient.run and sendLoop; README,
"Differences from derper", for Pings to CanAckPings clients)."""
import os
import struct
import time

import pytest

from derp_client import KEEP_ALIVE, PING, PONG, SEND_PACKET, client_info
from derp_helpers import assert_no_frame, exchange, varz, wait_metric

# Frame types derper's run loop has no case for: handleUnknownFrame discards
# their payload, whatever the type means server-to-client (ServerKey,
# ServerInfo, RecvPacket, KeepAlive, PeerGone, PeerPresent, Health,
# Restarting, a late ClientInfo) and whatever its length.
HANDLED = {0x04, 0x07, 0x0A, 0x10, 0x11, 0x12}
UNHANDLED = [t for t in range(256) if t not in HANDLED and t != 0x13]


def test_ping_longer_than_8_bytes(derp_server, connect):
    """handleFramePing: a Ping of 8..1000 bytes is answered with a Pong of exactly
    its first 8 bytes; the rest is read and discarded."""
    srv = derp_server(workers=2)
    a, b = connect(srv, worker=0), connect(srv, worker=1)
    for size in (9, 100, 1000):
        body = os.urandom(size)
        a.send_frame(PING, body)
        pong = a.recv_until(PONG)
        assert pong == body[:8], f"Pong to a {size}-byte Ping"
    assert a.ping(b"after-it") == b"after-it"
    exchange(a, b)


def short_ping(c):
    c.send_frame(PING, b"1234567")


def long_ping(c):
    c.send_frame(PING, bytes(1001))


@pytest.mark.parametrize("bad", [short_ping, long_ping], ids=lambda f: f.__name__)
def test_bad_ping_closes_only_that_client(derp_server, connect, bad):
    """A Ping under 8 bytes ("short ping") or over 1000 ("ping body too large")
    ends that connection; the others keep relaying."""
    srv = derp_server(workers=2)
    a, b = connect(srv, worker=0), connect(srv, worker=1)
    bad_client = connect(srv, worker=0)
    bad(bad_client)
    assert bad_client.is_closed_by_server(timeout=5), "server kept the connection"
    assert PONG not in [t for t, _ in bad_client.discarded]
    exchange(a, b)


def test_every_unhandled_frame_type_is_skipped(derp_server, connect):
    """Each type derper does not handle from a client, with and without a
    payload, is skipped; so is a Pong (derper has no case for it either)."""
    srv = derp_server(workers=2)
    a, b = connect(srv, worker=0), connect(srv, worker=1)
    for t in UNHANDLED:
        a.send_frame(t, b"")
        a.send_frame(t, bytes([t]) * (1 + t % 61))
    a.send_frame(PONG, b"")                 # derpd's own Ping was not outstanding
    a.send_frame(PONG, os.urandom(8))
    a.send_frame(PONG, os.urandom(9))
    assert a.ping(b"skipped!") == b"skipped!"
    exchange(a, b)


def test_unknown_frame_payload_is_not_parsed(derp_server, connect):
    """The payload of an unknown frame is skipped by its length, even when it
    holds a whole SendPacket frame, is larger than any packet, or arrives in
    pieces: none of it is taken for frames."""
    srv = derp_server(workers=2)
    a, b = connect(srv, worker=0), connect(srv, worker=1)
    inner = struct.pack(">BI", SEND_PACKET, 32 + 5) + b.pub + b"inner"
    a.send_frame(0x7F, inner)
    big = inner * (300 * 1024 // len(inner))            # ~300 KiB
    head = struct.pack(">BI", 0x7F, len(big))
    a.send_raw(head[:3])
    time.sleep(0.05)
    a.send_raw(head[3:] + big[:1000])
    time.sleep(0.05)
    a.send_raw(big[1000:])
    assert a.ping(b"big-skip") == b"big-skip"
    assert_no_frame(b, within=0.5)          # no "inner" packet reached b
    exchange(a, b)


def test_note_preferred_moves_home_connections_gauge(derp_server, connect):
    """NotePreferred(1)/(0) moves derp_current_home_connections (derper's
    curHomeClients), across workers; repeating a value changes nothing, and a
    preferred client that leaves is no longer counted."""
    srv = derp_server(workers=2)
    gauge = "derp_current_home_connections"
    a, b = connect(srv, worker=0), connect(srv, worker=1)
    assert varz(srv)[gauge] == 0
    a.note_preferred(True)
    wait_metric(srv, gauge, 1)
    b.note_preferred(True)
    wait_metric(srv, gauge, 2)
    a.note_preferred(True)
    assert a.ping(b"again-01") == b"again-01"       # the frame has been handled
    assert varz(srv)[gauge] == 2
    a.note_preferred(False)
    wait_metric(srv, gauge, 1)
    a.note_preferred(False)
    assert a.ping(b"again-02") == b"again-02"
    assert varz(srv)[gauge] == 1
    b.close()
    wait_metric(srv, gauge, 0)
    assert varz(srv)["derp_current_connections"] == 1


def test_keepalive_for_client_that_cannot_ack_pings(derp_server, connect):
    """A client without CanAckPings gets empty KeepAlive frames (never a Ping)
    about every -keepalive, and stays connected."""
    srv = derp_server(workers=2, extra_args=["-keepalive", "300ms"])
    a = connect(srv, worker=1, info=client_info(can_ack_pings=False))
    b = connect(srv, worker=0)
    for _ in range(2):
        # 300 ms plus derpd's up-to-5 s jitter after the first, plus slack.
        ftype, payload = a.recv_frame(timeout=15)
        assert (ftype, payload) == (KEEP_ALIVE, b""), \
            f"wanted an empty KeepAlive, got type {ftype:#04x} {payload.hex()}"
    exchange(a, b)


def test_can_ack_pings_client_gets_pings(derp_server, connect):
    """README: a CanAckPings client is sent a Ping (8 random bytes) instead of a
    KeepAlive; its Pong is counted (derpd_pongs_received_total) with its round
    trip.  While a Ping is still unanswered, the next keep-alive is a plain
    KeepAlive."""
    srv = derp_server(workers=2, extra_args=["-keepalive", "300ms"])
    a = connect(srv, worker=0, info=client_info(can_ack_pings=True))
    ftype, first = a.recv_frame(timeout=10)
    assert ftype == PING and len(first) == 8, f"type {ftype:#04x} {first.hex()}"
    a.send_frame(PONG, first)
    wait_metric(srv, "derpd_pongs_received_total", 1)

    # A KeepAlive may still come if a tick beat our Pong; then a Ping.
    second = a.recv_until(PING, timeout=15)
    assert len(second) == 8
    assert second != first, "Ping data should be fresh random bytes"
    a.send_frame(PONG, bytes(b ^ 0xFF for b in second))     # a wrong answer
    ftype, payload = a.recv_frame(timeout=15)
    assert (ftype, payload) == (KEEP_ALIVE, b""), \
        "with a Ping outstanding, derpd should send a KeepAlive"
    assert varz(srv)["derpd_pongs_received_total"] == 1, "a Pong with the wrong data counted"

    a.send_frame(PONG, second)              # late, but the right answer
    wait_metric(srv, "derpd_pongs_received_total", 2)
    third = a.recv_until(PING, timeout=15)  # not answered: recv_until skips KeepAlives
    assert len(third) == 8
    v = varz(srv)
    assert v["derpd_pings_sent_total"] == 3
    # The second Pong came after a whole keep-alive interval (300 ms).
    assert v["derpd_pong_rtt_seconds_count"] == 2
    assert 0.3 <= v["derpd_pong_rtt_seconds_sum"] < 30, v["derpd_pong_rtt_seconds_sum"]


def test_is_prober_client_accepted(derp_server, connect):
    """ClientInfo with IsProber (derpprobe) logs in like any client and relays."""
    srv = derp_server(workers=2)
    p = connect(srv, worker=0, info=client_info(is_prober=True))
    assert p.server_info == {"version": 2}
    q = connect(srv, worker=1, info=client_info(is_prober=True, can_ack_pings=False))
    exchange(p, q)
    assert p.ping(b"prober!!") == b"prober!!"


def test_client_without_version_or_flags(derp_server, connect):
    """An empty ClientInfo object (derp.ClientInfo's zero value: no version, no
    CanAckPings) is accepted: derper only requires that it decodes."""
    srv = derp_server(workers=2)
    a = connect(srv, worker=0, info={})
    b = connect(srv, worker=1)
    exchange(a, b)
    assert a.ping(b"zeroinfo") == b"zeroinfo"
