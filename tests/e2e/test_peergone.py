# SPDX-License-Identifier: BSD-3-Clause
"""PeerGone frames: derper tells a client that a peer is gone (reason 0) when
that peer had sent to it and then disconnected, and that a destination is not
here (reason 1) only for disco packets (rate-limited); anything else sent to
an unknown key is dropped silently."""
import pytest
from nacl.public import PrivateKey

from derp_client import (DISCO_MAGIC, PEER_GONE_DISCONNECTED, PEER_GONE_NOT_HERE,
                         disco_packet)
from derp_helpers import assert_no_frame, exchange


def unknown_key():
    return bytes(PrivateKey.generate().public_key)


def test_disco_to_unknown_key_is_not_here(derp_server, connect):
    """A disco-looking packet (magic "TS💬", >= 62 bytes) to a key nobody holds
    earns PeerGone(key, not here)."""
    srv = derp_server(workers=2)
    a = connect(srv, worker=0)
    for size in (62, 200):
        nobody = unknown_key()
        a.send_packet(nobody, disco_packet(size))
        assert a.recv_peer_gone() == (nobody, PEER_GONE_NOT_HERE)


def test_non_disco_to_unknown_key_is_dropped_silently(derp_server, connect):
    """Non-disco packets to an unknown key (including a 61-byte one with the disco
    magic: too short for disco.LooksLikeDiscoWrapper) get no PeerGone."""
    srv = derp_server(workers=2)
    a, b = connect(srv, worker=0), connect(srv, worker=1)
    nobody = unknown_key()
    a.send_packet(nobody, b"\x00" * 100)
    a.send_packet(nobody, DISCO_MAGIC + b"\x00" * 55)       # 61 bytes
    assert_no_frame(a, within=1.0)
    exchange(a, b)                                         # still connected
    a.send_packet(nobody, disco_packet())                  # and PeerGone works
    assert a.recv_peer_gone() == (nobody, PEER_GONE_NOT_HERE)


@pytest.mark.parametrize("wa,wb", [(0, 0), (0, 1)], ids=["same-worker", "cross-worker"])
def test_sender_disconnect_sends_peer_gone(derp_server, connect, wa, wb):
    """When A, which had sent to B, disconnects, B gets PeerGone(A, disconnected).
    A client that never sent to B disconnects without B hearing of it."""
    srv = derp_server(workers=2)
    a, b = connect(srv, worker=wa), connect(srv, worker=wb)
    silent = connect(srv, worker=wa)
    a.send_packet(b.pub, b"hello b")
    assert b.recv_packet() == (a.pub, b"hello b")

    silent.close()
    assert_no_frame(b, within=1.0)

    a.close()
    assert b.recv_peer_gone() == (a.pub, PEER_GONE_DISCONNECTED)
