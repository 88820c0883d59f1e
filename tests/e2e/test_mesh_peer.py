# SPDX-License-Identifier: BSD-3-Clause
"""derpd meshed with a Python relay written from derper's source
(mesh_peer.py): derper's side of every exchange, both ways. derpd's link
logs in to the Python relay and watches it; the Python relay's link (as
derper's RunWatchConnectionLoop) logs in to derpd and watches it. Checked
here: the mesh login, WatchConns' dump then changes with derper's
PeerPresent layout and flags, ForwardPacket framing in both directions,
clear-on-disconnect and re-learning, and PeerGone(not here) for a stale
route, which derpd then drops."""
import json
import os
import time

import pytest
from nacl.public import PrivateKey

from conftest import free_port
from derp_client import (FORWARD_PACKET, PEER_GONE_DISCONNECTED, PEER_GONE_NOT_HERE,
                         PRESENT_MESH_PEER, PRESENT_PROBER, PRESENT_REGULAR, DerpClient,
                         client_info, disco_packet)
from derp_helpers import exchange, write_mesh_key
from http_helpers import request
from mesh_peer import MeshPeer, frame
from region import MeshCA


class Pair:
    """derpd as derp1.test and the Python relay as pypeer.test, meshed."""

    def __init__(self, derp_server, server_pub, tmp_path):
        self.srv_pub = server_pub
        self.ca = MeshCA(tmp_path / "pki")
        self.mesh_key = write_mesh_key(tmp_path / "mesh.key")
        peer_dir = self.ca.certdir("pypeer.test")
        self.peer = MeshPeer(str(peer_dir / "pypeer.test.crt"),
                             str(peer_dir / "pypeer.test.key"), self.mesh_key,
                             cafile=str(self.ca.crt))
        self.port = free_port()
        self.peer_label = f"pypeer.test:{self.peer.port}"
        self.srv = derp_server(workers=2, port=self.port, extra_args=[
            "-certmode", "manual", "-certdir", self.ca.certdir("derp1.test"),
            "-hostname", "derp1.test", "-mesh-psk-file", tmp_path / "mesh.key",
            "-mesh-ca-file", self.ca.crt,
            "-mesh-with", f"derp1.test:{self.port}/127.0.0.1,{self.peer_label}/127.0.0.1"])
        self.peer.mesh_with("127.0.0.1", self.port, "derp1.test")

    def tls(self, name):
        return dict(tls=True, cafile=str(self.ca.crt), server_hostname=name)

    def route(self, pub):
        r = request(self.port, f"/debug/route?key=nodekey:{bytes(pub).hex()}",
                    host_header="derp1.test", **self.tls("derp1.test"))
        return json.loads(r.body) if r.status == 200 else None

    def wait(self, cond, what, timeout=10.0):
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                pytest.fail(f"{what}: not within {timeout}s; the Python relay "
                            f"learned {self.peer.learned}")
            time.sleep(0.05)

    def wait_routed(self, pub):
        self.wait(lambda: (self.route(pub) or {}).get("via") == self.peer_label,
                  "derpd routes the key via the Python relay")

    def wait_meshed(self):
        """derpd watches the Python relay, and the Python relay derpd."""
        def meshed():
            with self.peer.lock:
                return self.peer.link is not None and any(
                    w.key == self.srv_pub for w in self.peer.watchers)
        self.wait(meshed, "meshed both ways")

    def peer_knows(self, pub):
        with self.peer.lock:
            return bytes(pub) in self.peer.forwarders

    def derpd_client(self, connect, **kw):
        return connect(self.srv, **self.tls("derp1.test"), **kw)

    def peer_client(self, **kw):
        return DerpClient("127.0.0.1", self.peer.port, **self.tls("pypeer.test"),
                          **kw).connect()


@pytest.fixture
def pair(derp_server, server_pub, tmp_path):
    p = Pair(derp_server, server_pub, tmp_path)
    p.wait_meshed()
    yield p
    p.peer.close()


@pytest.fixture
def clients():
    made = []
    yield made
    for c in made:
        c.close()


def test_derpd_and_derpers_side_forward_both_ways(pair, connect, clients):
    """A on derpd, B on the Python relay: each relay learns the other's
    client from its own watch, and packets go both ways as ForwardPacket
    (derpd's on its link to the Python relay, the Python relay's on its
    link to derpd), byte for byte, with the source key kept."""
    a = pair.derpd_client(connect)
    b = pair.peer_client()
    clients.append(b)
    pair.wait_routed(b.pub)
    pair.wait(lambda: pair.peer_knows(a.pub), "the Python relay learns A")
    for size in (1, 1400, 65536):
        data = os.urandom(size)
        a.send_packet(b.pub, data)
        assert b.recv_packet() == (a.pub, data)
        b.send_packet(a.pub, data)
        assert a.recv_packet() == (b.pub, data)
    got = [(s, d, len(p)) for s, d, p in pair.peer.forwarded_in]
    assert got == [(a.pub, b.pub, n) for n in (1, 1400, 65536)]


def test_watch_dump_then_changes_with_flags(pair, connect):
    """The Python relay's watch of derpd gets derper's PeerPresent for each
    connected key (41 bytes: key, v4-mapped address, port, flags: regular,
    prober, mesh peer), its own connection included, then live changes."""
    a = pair.derpd_client(connect)
    prober = pair.derpd_client(connect, info=client_info(is_prober=True))
    pair.wait(lambda: pair.peer_knows(a.pub) and pair.peer_knows(prober.pub),
              "the dump or the changes")
    with pair.peer.lock:
        seen = {e[1]: e for e in pair.peer.learned if e[0] == "present"}
    assert seen[a.pub][2:] == (PRESENT_REGULAR, a.local_port)
    assert seen[prober.pub][2] == PRESENT_PROBER
    assert seen[pair.peer.pub][2] == PRESENT_MESH_PEER    # its own link
    a.close()
    pair.wait(lambda: not pair.peer_knows(a.pub), "PeerGone for A")
    with pair.peer.lock:
        assert ("gone", a.pub, PEER_GONE_DISCONNECTED) in pair.peer.learned


def test_clear_on_disconnect_then_relearn(pair, connect, clients):
    """The Python relay drops derpd's link: derpd forgets every key it had
    learned over it at once (A, who heard from B, is told PeerGone),
    reconnects, and learns them again from the fresh dump."""
    a = pair.derpd_client(connect)
    b = pair.peer_client()
    clients.append(b)
    pair.wait_routed(b.pub)
    pair.wait(lambda: pair.peer_knows(a.pub), "the Python relay learns A")
    b.send_packet(a.pub, b"hello")
    assert a.recv_packet() == (b.pub, b"hello")
    pair.peer.drop_link_from(pair.srv_pub)
    pair.wait(lambda: pair.route(b.pub) is None, "derpd clears the link's routes")
    assert a.recv_peer_gone() == (b.pub, PEER_GONE_DISCONNECTED)
    pair.wait_routed(b.pub)
    exchange(a, b)


def test_stale_route_dropped_on_peer_gone_not_here(pair, connect):
    """The Python relay announces a key it does not have; derpd forwards a
    disco packet for it, derper's side answers PeerGone(not here) on the
    link, and derpd drops that route (as derper's watch loop removes the
    forwarder). derpd answers the same to the Python relay's forwarded
    disco packet for a key derpd does not have."""
    a = pair.derpd_client(connect)
    ghost = bytes(PrivateKey.generate().public_key)
    pair.wait(lambda: pair.peer_knows(a.pub), "the Python relay learns A")
    pair.peer.announce(ghost)
    pair.wait_routed(ghost)
    a.send_packet(ghost, disco_packet())
    pair.wait(lambda: pair.route(ghost) is None, "derpd drops the stale route")
    with pair.peer.lock:
        link = pair.peer.link
    nobody = bytes(PrivateKey.generate().public_key)
    link.write(frame(FORWARD_PACKET, a.pub + nobody + disco_packet()))
    pair.wait(lambda: ("gone", nobody, PEER_GONE_NOT_HERE) in pair.peer.learned,
              "PeerGone(not here) from derpd")
