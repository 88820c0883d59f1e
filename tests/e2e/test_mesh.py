# SPDX-License-Identifier: BSD-3-Clause
"""Mesh-key clients (-mesh-psk-file): WatchConns, PeerPresent/PeerGone to
watchers, ClosePeer and ForwardPacket, across workers; and what everyone
else gets for trying (derp.sclient handleFrameWatchConns, handleFrameClosePeer,
handleFrameForwardPacket; Server.addWatcher, registerClient, unregisterClient)."""
import json
import os
import time

import pytest
from nacl.public import PrivateKey

from derp_client import (KEY_LEN, PEER_GONE, PEER_GONE_DISCONNECTED,
                         PEER_GONE_NOT_HERE, PEER_PRESENT, PEER_PRESENT_LEN,
                         PRESENT_MESH_PEER, PRESENT_NOT_IDEAL, PRESENT_PROBER,
                         PRESENT_REGULAR, WATCH_CONNS, CLOSE_PEER, FORWARD_PACKET,
                         ConnectionClosed, DerpError, PeerPresent, client_info,
                         disco_packet)
from derp_helpers import assert_no_frame, exchange, varz, write_mesh_key

# derper sends PeerPresent for an IPv4 client as the v4-mapped IPv6 address.
LOOPBACK_16 = bytes(10) + b"\xff\xff" + bytes([127, 0, 0, 1])


@pytest.fixture
def mesh(derp_server, tmp_path):
    """Factory: mesh(workers=2, key=None, extra_args=()) -> (server, mesh key)."""
    def start(workers=2, key=None, extra_args=()):
        path = tmp_path / f"mesh-{os.urandom(4).hex()}.key"
        key = write_mesh_key(path, key)
        srv = derp_server(workers=workers,
                          extra_args=["-mesh-psk-file", path, *extra_args])
        return srv, key
    return start


def mesh_client(connect, srv, key, worker, **kw):
    info = kw.pop("info", None) or client_info(mesh_key=key)
    return connect(srv, worker=worker, info=info, **kw)


def next_event(c, timeout=10.0):
    """The next PeerPresent or PeerGone as ("present", PeerPresent) or
    ("gone", key, reason, payload length); KeepAlives and Pings are handled."""
    from derp_client import KEEP_ALIVE, PING, PONG
    deadline = time.monotonic() + timeout
    while True:
        ftype, payload = c.recv_frame(max(deadline - time.monotonic(), 0.001))
        if ftype == PEER_PRESENT:
            assert len(payload) == PEER_PRESENT_LEN, \
                f"PeerPresent of {len(payload)} bytes; derper sends {PEER_PRESENT_LEN}"
            return ("present", PeerPresent(payload))
        if ftype == PEER_GONE:
            assert len(payload) == KEY_LEN + 1, f"PeerGone of {len(payload)} bytes"
            return ("gone", payload[:KEY_LEN], payload[KEY_LEN])
        if ftype == PING:
            c.send_frame(PONG, payload[:8])
        elif ftype != KEEP_ALIVE:
            raise AssertionError(f"watcher got frame type {ftype:#04x}")


def collect_present(w, n, timeout=10.0):
    """n PeerPresent frames -> {key: PeerPresent}; any PeerGone fails."""
    got = {}
    deadline = time.monotonic() + timeout
    while len(got) < n:
        ev = next_event(w, max(deadline - time.monotonic(), 0.001))
        assert ev[0] == "present", f"unexpected PeerGone({ev[1].hex()[:8]})"
        assert ev[1].key not in got, f"PeerPresent twice for {ev[1]}"
        got[ev[1].key] = ev[1]
    return got


def check_present(p, client, flags):
    """p is exactly derper's PeerPresent for `client`: its key, 127.0.0.1 as a
    v4-mapped address, its TCP source port (big-endian), and `flags`."""
    assert p.key == client.pub
    assert p.raw[KEY_LEN:KEY_LEN + 16] == LOOPBACK_16, p
    assert p.raw[KEY_LEN + 16:KEY_LEN + 18] == client.local_port.to_bytes(2, "big"), p
    assert p.flags == flags, p


def start_watching(w, expect):
    """w sends WatchConns; checks the initial dump is exactly `expect`
    ({client: flags}, w itself included) and nothing else follows."""
    w.watch_conns()
    got = collect_present(w, len(expect))
    assert set(got) == {c.pub for c in expect}
    for c, flags in expect.items():
        check_present(got[c.pub], c, flags)
    assert_no_frame(w, within=0.5)


def test_watch_conns_dumps_every_connected_peer(mesh, connect):
    """A watcher first gets one PeerPresent per connected key, on every worker,
    itself included, with derper's flags: regular, prober, mesh peer, and
    not-ideal (the client sent an Ideal-Node header)."""
    srv, key = mesh(workers=2)
    a = connect(srv, worker=0)
    b = connect(srv, worker=1)
    p = connect(srv, worker=1, info=client_info(is_prober=True))
    n = connect(srv, worker=0, extra_headers=[("Ideal-Node", "derp1a")])
    pm = mesh_client(connect, srv, key, 1,
                     info=client_info(mesh_key=key, is_prober=True))
    wrong = connect(srv, worker=1, info=client_info(mesh_key=bytes(b ^ 0x80 for b in key)))
    w = mesh_client(connect, srv, key, 0)
    start_watching(w, {a: PRESENT_REGULAR, b: PRESENT_REGULAR, p: PRESENT_PROBER,
                       n: PRESENT_NOT_IDEAL, pm: PRESENT_PROBER | PRESENT_MESH_PEER,
                       wrong: PRESENT_REGULAR, w: PRESENT_MESH_PEER})
    exchange(a, b)                          # watching changes nothing for others


@pytest.mark.parametrize("peer_worker", [1, 0], ids=["cross-worker", "same-worker"])
def test_watcher_sees_peers_come_and_go(mesh, connect, peer_worker):
    """After the dump, each login is a PeerPresent and each departure of a
    key's last connection a PeerGone(key, disconnected), from any worker."""
    srv, key = mesh(workers=2)
    w = mesh_client(connect, srv, key, 0)
    start_watching(w, {w: PRESENT_MESH_PEER})
    for round_ in range(3):
        c = connect(srv, worker=peer_worker,
                    info=client_info(is_prober=round_ == 1))
        ev = next_event(w)
        assert ev[0] == "present", ev
        check_present(ev[1], c, PRESENT_PROBER if round_ == 1 else PRESENT_REGULAR)
        c.close()
        assert next_event(w) == ("gone", c.pub, PEER_GONE_DISCONNECTED)
    assert_no_frame(w, within=0.5)


def test_every_watcher_on_every_worker_is_told(mesh, connect):
    """Two watchers, one per worker, each get the same live events."""
    srv, key = mesh(workers=2)
    w0 = mesh_client(connect, srv, key, 0)
    start_watching(w0, {w0: PRESENT_MESH_PEER})
    w1 = mesh_client(connect, srv, key, 1)
    assert next_event(w0)[1].key == w1.pub      # w1's login, seen by w0
    start_watching(w1, {w0: PRESENT_MESH_PEER, w1: PRESENT_MESH_PEER})
    c = connect(srv, worker=1)
    for w in (w0, w1):
        ev = next_event(w)
        check_present(ev[1], c, PRESENT_REGULAR)
    c.close()
    for w in (w0, w1):
        assert next_event(w) == ("gone", c.pub, PEER_GONE_DISCONNECTED)
    w1.close()
    assert next_event(w0) == ("gone", w1.pub, PEER_GONE_DISCONNECTED)


def test_watcher_and_duplicate_connections(mesh, connect):
    """derper announces every login of a key, duplicates included, but says
    PeerGone only when the key's last connection leaves."""
    srv, key = mesh(workers=2)
    w = mesh_client(connect, srv, key, 0)
    start_watching(w, {w: PRESENT_MESH_PEER})
    k = PrivateKey.generate()
    first = connect(srv, worker=1, private_key=k)
    check_present(next_event(w)[1], first, PRESENT_REGULAR)
    second = connect(srv, worker=0, private_key=k)
    check_present(next_event(w)[1], second, PRESENT_REGULAR)
    first.close()
    assert_no_frame(w, within=1.0)
    second.close()
    assert next_event(w) == ("gone", k.public_key.encode(), PEER_GONE_DISCONNECTED)


def test_dump_names_a_duplicated_key_once(mesh, connect):
    """The dump has one PeerPresent per key: for a key connected twice, that of
    its active connection (the newest, until the other one speaks)."""
    srv, key = mesh(workers=2)
    k = PrivateKey.generate()
    older = connect(srv, worker=0, private_key=k)
    newer = connect(srv, worker=1, private_key=k)
    w = mesh_client(connect, srv, key, 0)
    start_watching(w, {newer: PRESENT_REGULAR, w: PRESENT_MESH_PEER})
    assert older.local_port != newer.local_port


def test_second_watch_conns_dumps_again(mesh, connect):
    """derper's addWatcher queues the full dump on every WatchConns, so a
    watcher that asks again gets every connected peer again (once each)."""
    srv, key = mesh(workers=2)
    a, b = connect(srv, worker=0), connect(srv, worker=1)
    w = mesh_client(connect, srv, key, 1)
    want = {a: PRESENT_REGULAR, b: PRESENT_REGULAR, w: PRESENT_MESH_PEER}
    start_watching(w, want)
    start_watching(w, want)
    c = connect(srv, worker=0)                  # and still one event per login
    check_present(next_event(w)[1], c, PRESENT_REGULAR)
    assert_no_frame(w, within=0.5)


def server_private_key(keyfile):
    text = json.loads(keyfile.read_text())["PrivateKey"]
    assert text.startswith("privkey:")
    return PrivateKey(bytes.fromhex(text[len("privkey:"):]))


def test_watch_conns_from_the_servers_own_key_is_ignored(mesh, connect, keyfile):
    """addWatcher: a mesh connection using the server's own key is this server
    talking to itself; it is not made a watcher (no dump, no events)."""
    srv, key = mesh(workers=2)
    a = connect(srv, worker=1)
    me = mesh_client(connect, srv, key, 0, private_key=server_private_key(keyfile))
    me.watch_conns()
    assert_no_frame(me, within=1.0)
    b = connect(srv, worker=1)
    assert_no_frame(me, within=1.0)
    exchange(a, b)
    assert me.ping(b"selfself") == b"selfself"


# --- ClosePeer ---------------------------------------------------------------


@pytest.mark.parametrize("target_worker", [1, 0], ids=["cross-worker", "same-worker"])
def test_close_peer_closes_target(mesh, connect, target_worker):
    """ClosePeer(key) closes that client (wherever it is); the mesh client and
    everyone else stay connected, and watchers hear PeerGone."""
    srv, key = mesh(workers=2)
    m = mesh_client(connect, srv, key, 0)
    m.watch_conns()
    collect_present(m, 1)
    target = connect(srv, worker=target_worker)
    check_present(next_event(m)[1], target, PRESENT_REGULAR)
    x, y = connect(srv, worker=0), connect(srv, worker=1)
    collect_present(m, 2)
    m.close_peer(target.pub)
    assert target.is_closed_by_server(timeout=5), "ClosePeer did not close the target"
    assert next_event(m) == ("gone", target.pub, PEER_GONE_DISCONNECTED)
    exchange(x, y)
    assert m.ping(b"closedit") == b"closedit"


def test_close_peer_closes_every_connection_of_the_key(mesh, connect):
    """derper closes each connection of a key connected more than once."""
    srv, key = mesh(workers=2)
    m = mesh_client(connect, srv, key, 0)
    k = PrivateKey.generate()
    dups = [connect(srv, worker=w, private_key=k) for w in (1, 0, 1)]
    other = connect(srv, worker=1)
    m.close_peer(k.public_key.encode())
    for i, d in enumerate(dups):
        assert d.is_closed_by_server(timeout=5), f"connection {i} of the key survived"
    exchange(m, other)


def test_close_peer_unknown_key_is_harmless(mesh, connect):
    srv, key = mesh(workers=2)
    m = mesh_client(connect, srv, key, 0)
    a, b = connect(srv, worker=0), connect(srv, worker=1)
    m.close_peer(bytes(PrivateKey.generate().public_key))
    assert m.ping(b"nobody!!") == b"nobody!!"
    assert not a.is_closed_by_server(timeout=0.5)
    exchange(a, b)


# --- ForwardPacket -------------------------------------------------------------


@pytest.mark.parametrize("dst_worker", [1, 0], ids=["cross-worker", "same-worker"])
def test_forward_packet_delivers_as_source(mesh, connect, dst_worker):
    """ForwardPacket(src, dst, data) from a mesh client reaches dst as
    RecvPacket(src, data): the source is the key named in the frame (a client
    of another relay), not the mesh client's.  Up to 64 KiB."""
    srv, key = mesh(workers=2)
    m = mesh_client(connect, srv, key, 0)
    d = connect(srv, worker=dst_worker)
    src = bytes(PrivateKey.generate().public_key)
    for size in (1, 1400, 65536):
        data = os.urandom(size)
        m.forward_packet(src, d.pub, data)
        assert d.recv_packet() == (src, data)
    assert varz(srv)["derp_packets_forwarded_in"] == 3
    assert_no_frame(m, within=0.3)          # nothing comes back to the forwarder


def test_forward_packet_to_unknown_key(mesh, connect):
    """derper answers a forwarded disco packet for a key it does not have with
    PeerGone(key, not here) to the forwarding client; other packets are
    dropped silently."""
    srv, key = mesh(workers=2)
    m = mesh_client(connect, srv, key, 1)
    src, nobody = (bytes(PrivateKey.generate().public_key) for _ in range(2))
    m.forward_packet(src, nobody, b"not disco")
    assert_no_frame(m, within=0.5)
    m.forward_packet(src, nobody, disco_packet())
    assert m.recv_peer_gone() == (nobody, PEER_GONE_NOT_HERE)


def fwd_too_long(m):
    m.send_frame(FORWARD_PACKET, bytes(64) + bytes(65537))


def fwd_short(m):
    m.send_frame(FORWARD_PACKET, bytes(63))


def watch_with_payload(m):
    m.send_frame(WATCH_CONNS, b"\x00")


def close_peer_short(m):
    m.send_frame(CLOSE_PEER, bytes(31))


def close_peer_long(m):
    m.send_frame(CLOSE_PEER, bytes(33))


BAD_MESH_FRAMES = [fwd_too_long, fwd_short, watch_with_payload, close_peer_short,
                   close_peer_long]


@pytest.mark.parametrize("bad", BAD_MESH_FRAMES, ids=lambda f: f.__name__)
def test_malformed_mesh_frame_closes_only_that_client(mesh, connect, bad):
    """Even from a mesh client, a ForwardPacket over 64 KiB of packet or
    shorter than two keys, a WatchConns with a payload, or a ClosePeer that is
    not exactly one key ends that connection only."""
    srv, key = mesh(workers=2)
    a, b = connect(srv, worker=0), connect(srv, worker=1)
    m = mesh_client(connect, srv, key, 0)
    try:
        bad(m)
    except ConnectionClosed:
        pass
    assert m.is_closed_by_server(timeout=5), "server kept the connection"
    exchange(a, b)


# --- no privileges without the right mesh key ----------------------------------


def try_watch(c, others):
    c.watch_conns()


def try_close_peer(c, others):
    c.close_peer(others[1].pub)


def try_forward(c, others):
    c.forward_packet(others[0].pub, others[1].pub, b"forged source")


MESH_FRAMES = [try_watch, try_close_peer, try_forward]

# ClientInfo of a client with no privileges: (server has a mesh key?, info)
NO_PRIVILEGE = {
    "no-key": (True, lambda key: client_info()),
    "wrong-key": (True, lambda key: client_info(mesh_key=bytes(b ^ 1 for b in key))),
    "server-has-none": (False, lambda key: client_info(mesh_key=key)),
}


@pytest.mark.parametrize("who", list(NO_PRIVILEGE))
@pytest.mark.parametrize("frame", MESH_FRAMES, ids=lambda f: f.__name__)
def test_mesh_frame_without_mesh_key_closes_sender(mesh, derp_server, connect,
                                                   frame, who):
    """derper: WatchConns, ClosePeer and ForwardPacket from a client that did
    not present the server's mesh key are "insufficient permissions": that
    connection is closed, and the frame has no effect."""
    has_key, info = NO_PRIVILEGE[who]
    if has_key:
        srv, key = mesh(workers=2)
    else:
        srv, key = derp_server(workers=2), os.urandom(32)
    a, b = connect(srv, worker=0), connect(srv, worker=1)
    c = connect(srv, worker=0, info=info(key))
    frame(c, (a, b))
    assert c.is_closed_by_server(timeout=5), "the unprivileged client stayed"
    assert all(t not in (PEER_PRESENT, PEER_GONE) for t, _ in c.discarded)
    assert not b.is_closed_by_server(timeout=0.5), "ClosePeer took effect"
    assert_no_frame(b, within=0.5)          # no forged packet arrived
    exchange(a, b)


def test_all_zero_mesh_key_grants_nothing(mesh, connect):
    """key.DERPMesh: a zero key is "no key" (isMeshPeer is false), so even a
    server configured with 64 zeros gives nobody mesh privileges."""
    srv, key = mesh(workers=2, key=bytes(32))
    a = connect(srv, worker=1)
    c = connect(srv, worker=0, info=client_info(mesh_key=bytes(32)))
    c.watch_conns()
    assert c.is_closed_by_server(timeout=5), "a zero mesh key was accepted"
    assert a.ping(b"still-up") == b"still-up"


@pytest.mark.parametrize("text", ["abc", "00" * 31, "zz" * 32, "00" * 33])
def test_malformed_mesh_key_refused_at_login(mesh, connect, text):
    """ClientInfo with a meshKey that is not 64 hex digits does not decode
    (key.DERPMesh.UnmarshalJSON), so derper refuses the login."""
    srv, key = mesh(workers=2)
    c = connect(srv, worker=0, handshake=False)
    with pytest.raises(DerpError):
        c.handshake(client_info(mesh_key=text))


@pytest.mark.parametrize("mode,warned", [(0o644, True), (0o640, True), (0o600, False)])
def test_mesh_key_file_readable_by_others_is_warned_about(derp_server, tmp_path, mode,
                                                          warned):
    """SECURITY.md: keep the mesh key file 0600; derpd warns if it is not
    (and still uses it, as derper does)."""
    path = tmp_path / "mesh.key"
    write_mesh_key(path)
    os.chmod(path, mode)
    srv = derp_server(workers=1, extra_args=["-mesh-psk-file", path])
    srv.wait_log(r"DERP mesh key configured")
    warning = f"mesh key file {path} is accessible by group or others; chmod 600 {path}"
    assert (warning in srv.log_text()) == warned, srv.log_text()
