# SPDX-License-Identifier: BSD-3-Clause
"""Relaying between two clients, on one worker and across workers, and the
small frames a logged-in client may send (derp.sclient.run)."""
import os

import pytest

from derp_helpers import exchange

PLACEMENTS = pytest.mark.parametrize("wa,wb", [(0, 0), (0, 1)],
                                     ids=["same-worker", "cross-worker"])


@PLACEMENTS
def test_relay_both_directions(derp_server, connect, wa, wb):
    """SendPacket(dst, data) reaches dst as RecvPacket(src, data): the source key
    is the sender's and the bytes are unchanged, up to MaxPacketSize (64 KiB)."""
    srv = derp_server(workers=2)
    a, b = connect(srv, worker=wa), connect(srv, worker=wb)
    for size in (1, 100, 1400, 65536):
        for src, dst in ((a, b), (b, a)):
            data = os.urandom(size)
            src.send_packet(dst.pub, data)
            got_src, got = dst.recv_packet()
            assert got_src == src.pub
            assert got == data, f"{size}-byte packet changed in transit"


@PLACEMENTS
def test_ping_pong(derp_server, connect, wa, wb):
    """A Ping's 8 bytes come back in a Pong (handleFramePing)."""
    srv = derp_server(workers=2)
    a, b = connect(srv, worker=wa), connect(srv, worker=wb)
    for data in (b"\x00" * 8, b"\x01\x02\x03\x04\x05\x06\x07\x08", os.urandom(8)):
        assert a.ping(data) == data
    exchange(a, b)


def test_note_preferred_keeps_connection(derp_server, connect):
    """NotePreferred (one byte) only updates the home-client count: the
    connection stays up and keeps relaying."""
    srv = derp_server(workers=2)
    a, b = connect(srv, worker=0), connect(srv, worker=1)
    a.note_preferred(True)
    b.note_preferred(True)
    assert a.ping(b"prefer01") == b"prefer01"   # the frame was read, no close
    exchange(a, b)
    a.note_preferred(False)
    assert a.ping(b"prefer02") == b"prefer02"
    exchange(a, b)


def test_unknown_frame_type_is_skipped(derp_server, connect):
    """derper discards the payload of frame types it does not know
    (handleUnknownFrame) and carries on."""
    srv = derp_server(workers=2)
    a, b = connect(srv, worker=0), connect(srv, worker=1)
    a.send_frame(0x7F, os.urandom(100))
    a.send_frame(0x7E, b"")
    assert a.ping(b"unknown!") == b"unknown!"
    exchange(a, b)
