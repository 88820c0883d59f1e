# SPDX-License-Identifier: BSD-3-Clause
"""The same key connecting again (a client that reconnected before the server
noticed its old connection die)."""
import os
import time

import pytest
from nacl.public import PrivateKey

from derp_helpers import assert_no_frame

# (worker of the first connection, worker of the second); the other client is on 1.
PLACEMENTS = pytest.mark.parametrize("w1,w2", [(0, 1), (0, 0)],
                                     ids=["cross-worker", "same-worker"])


def connect_twice(srv, connect, w1, w2):
    """Other client O, then K on w1 receiving from O, then K again on w2."""
    key = PrivateKey.generate()
    other = connect(srv, worker=1)
    first = connect(srv, worker=w1, private_key=key)
    other.send_packet(first.pub, b"to the first connection")
    assert first.recv_packet() == (other.pub, b"to the first connection")
    second = connect(srv, worker=w2, private_key=key)
    return other, first, second


@PLACEMENTS
def test_newest_connection_receives(derp_server, connect, w1, w2):
    """Packets for K go to K's newest connection, and the peer that had sent
    to K is not told K is gone (a replaced connection is not a departure)."""
    srv = derp_server(workers=2)
    other, first, second = connect_twice(srv, connect, w1, w2)
    for _ in range(3):
        data = os.urandom(64)
        other.send_packet(second.pub, data)
        assert second.recv_packet() == (other.pub, data)
    assert_no_frame(other, within=1.0)


@PLACEMENTS
def test_old_connection_stays_open_and_last_writer_receives(derp_server, connect, w1, w2):
    """derper's duplicate policy (dupClientSet, lastWriterIsActive): the older
    connection is not closed, and once it sends a frame it becomes the one
    that receives again; the newer one then gets nothing."""
    srv = derp_server(workers=2)
    other, first, second = connect_twice(srv, connect, w1, w2)
    assert not first.is_closed_by_server(timeout=1.5), "older duplicate was closed"
    first.send_packet(other.pub, b"first speaks")
    assert other.recv_packet() == (first.pub, b"first speaks")
    other.send_packet(first.pub, b"to the last writer")
    assert first.recv_packet() == (other.pub, b"to the last writer")
    assert_no_frame(second, within=1.0)


@PLACEMENTS
def test_a_speaker_is_active_before_its_packet_is_relayed(derp_server, connect,
                                                          derpd_test_bin, w1, w2):
    """As derper does, the duplicate that sends becomes the active one before
    its packet is relayed: a reply sent the moment that packet arrives
    reaches the speaker, every time, whichever of the two spoke last, even
    with the master taking 50 ms over each switch (a test-build delay)."""
    from derp_client import HEALTH, UnexpectedFrame
    srv = derp_server(workers=2, binary=derpd_test_bin,
                      env={"DERPD_TEST_CLAIM_DELAY_MS": "50"})
    other, first, second = connect_twice(srv, connect, w1, w2)
    for i in range(20):
        speaker, silent = (first, second) if i % 2 == 0 else (second, first)
        speaker.send_packet(other.pub, b"speaks %d" % i)
        assert other.recv_packet() == (speaker.pub, b"speaks %d" % i)
        other.send_packet(speaker.pub, b"reply %d" % i)
        while True:             # taking turns this fast is a fight: Health frames
            try:
                assert speaker.recv_packet() == (other.pub, b"reply %d" % i)
                break
            except UnexpectedFrame as e:
                assert e.ftype == HEALTH, e
    assert_no_frame(other, within=0.2)


def test_fighting_duplicates_get_health_frame(derp_server, connect):
    """Two live connections with one key that take turns sending are
    fighting: the one that takes the route back a second time is told so in a
    Health frame, and the switch and fight counters move."""
    from derp_client import HEALTH, http_get
    srv = derp_server(workers=2)
    other, first, second = connect_twice(srv, connect, 0, 1)
    # Worker 1 marks `first` (on worker 0) as a duplicate through a ring
    # record; give it a moment to arrive before `first` speaks.
    time.sleep(0.5)
    for speaker in (first, second):          # taking turns, not yet a fight
        speaker.send_packet(other.pub, b"turn")
        assert other.recv_packet() == (speaker.pub, b"turn")
        assert_no_frame(speaker, within=0.5)
    first.send_packet(other.pub, b"again")   # first takes the route back
    text = first.recv_until(HEALTH, timeout=5)
    assert b"more than once" in text
    body = http_get("127.0.0.1", srv.port, "/debug/varz")[2].decode()
    assert "derpd_dup_client_fights_total 1" in body, body
    assert "derpd_dup_client_switches_total 3" in body, body
