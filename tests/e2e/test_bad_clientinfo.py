# SPDX-License-Identifier: BSD-3-Clause
"""A misbehaving connection is closed, and only that one: derper returns an
error from accept()/run() for each of these and closes that connection, while
every other client keeps relaying."""
import re
import struct

import pytest
from nacl.public import PrivateKey

from derp_client import (CLIENT_INFO, NOTE_PREFERRED, SEND_PACKET, SERVER_INFO,
                         ConnectionClosed)
from derp_helpers import exchange


def boxed_to_wrong_server_key(c):
    """recvClientKey: the box does not open with the server's key."""
    c.read_server_key()
    other = bytes(PrivateKey.generate().public_key)
    c.send_client_info(payload=c.client_info_payload(server_key=other))


def garbage_json(c):
    """recvClientKey: the box opens but json.Unmarshal fails."""
    c.read_server_key()
    c.send_client_info(info=b"not json{")


def client_info_too_long(c):
    """recvClientKey: a ClientInfo longer than 256 KiB is refused from its header
    (only the header and a few bytes are sent: waiting for the rest would be
    the bug)."""
    c.read_server_key()
    c.send_raw(struct.pack(">BI", CLIENT_INFO, 300 * 1024) + c.pub[:8])


def first_frame_not_client_info(c):
    """recvClientKey: the first frame must be ClientInfo."""
    c.read_server_key()
    c.send_frame(SEND_PACKET, bytes(32) + b"hello")


def packet_too_long(c):
    """handleFrameSendPacket: 65537 bytes of packet is over MaxPacketSize."""
    c.handshake()
    c.send_raw(struct.pack(">BI", SEND_PACKET, 32 + 65537) + bytes(32) + bytes(65537))


def note_preferred_two_bytes(c):
    """handleFrameNotePreferred: the frame must be exactly one byte."""
    c.handshake()
    c.send_frame(NOTE_PREFERRED, b"\x01\x00")


CASES = [boxed_to_wrong_server_key, garbage_json, client_info_too_long,
         first_frame_not_client_info, packet_too_long, note_preferred_two_bytes]


@pytest.mark.parametrize("misbehave", CASES, ids=[f.__name__ for f in CASES])
def test_bad_connection_closed_alone(derp_server, connect, misbehave):
    srv = derp_server(workers=2)
    a, b = connect(srv, worker=0), connect(srv, worker=1)
    exchange(a, b)

    bad = connect(srv, worker=0, handshake=False)
    logged_in = misbehave in (packet_too_long, note_preferred_two_bytes)
    try:
        misbehave(bad)
    except ConnectionClosed:
        pass                           # closed while we were still writing: fine
    # 5 s is well below derpd's 10 s handshake timeout, so a server that merely
    # waits for more input does not pass.
    assert bad.is_closed_by_server(timeout=5), "server kept the bad connection open"
    if not logged_in:
        assert SERVER_INFO not in [t for t, _ in bad.discarded], \
            "server sent ServerInfo to a client whose ClientInfo it should refuse"

    exchange(a, b)
    assert not re.search(r"killed by signal|exited with status", srv.log_text()), \
        "a worker died handling the bad connection"
