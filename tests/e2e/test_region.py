# SPDX-License-Identifier: BSD-3-Clause
"""-mesh-with: a region of derpd relays on loopback, meshed over TLS with a
test CA, each given the same list (region.py). derper's behaviour is the
reference (cmd/derper/mesh.go, derphttp's RunWatchConnectionLoop,
derpserver's AddPacketForwarder, lookupDest, handleFrameForwardPacket):
clients of different relays reach each other, a key that moves is
followed, a relay that dies takes its routes with it and they come back
with it, the mesh key guards watching and forwarding, and a forwarded
packet is never forwarded again."""
import os
import signal
import time

import pytest
from nacl.public import PrivateKey

from derp_client import (PEER_GONE_DISCONNECTED, PEER_GONE_NOT_HERE, PEER_PRESENT,
                         PEER_GONE, ConnectionClosed, client_info, disco_packet)
from derp_helpers import assert_no_frame, exchange, stream, tagged_packet
from region import Region, recv_packet_from


@pytest.fixture
def region(derp_server, keygen_bin, tmp_path):
    """Factory: region(n=3, **kw) -> a Region whose relays are all meshed."""
    def make(n=3, meshed=None, **kw):
        r = Region(derp_server, keygen_bin, tmp_path, n=n, **kw)
        r.wait_meshed(meshed)
        return r
    return make


def peer_label(r, j):
    return f"{r.names[j]}:{r.ports[j]}"


def test_clients_of_two_relays_exchange_in_order_across_workers(region, connect):
    """A on relay 1, B on relay 3: streams both ways arrive whole and in
    order. Relay 1's link to relay 3 is worker 0's (peer 2 % 2 workers), A
    is on worker 1, so A's packets cross to the link's worker through the
    ring first; B is on worker 1 of relay 3, where relay 1's ForwardPacket
    frames land on whichever worker relay 1's link connected to. Every
    packet is counted once as forwarded out at relay 1 and in at relay 3."""
    r = region(3)
    a = r.client(connect, 0, worker=1)
    b = r.client(connect, 2, worker=1)
    r.wait_via(0, b.pub, 2)
    r.wait_via(2, a.pub, 0)
    pattern = os.urandom(70000)
    sizes = [1, 64, 1400, 9000, 65536, 300]
    packets = [tagged_packet(i, sizes[i % len(sizes)], pattern) for i in range(300)]
    stream(a, b, packets)
    stream(b, a, packets[:150])
    m1, m3 = r.metrics(0), r.metrics(2)
    assert m1("derp_packets_forwarded_out") == 300
    assert m1("derpd_mesh_forwarded_packets_out_total", peer=peer_label(r, 2)) == 300
    assert m1("derpd_mesh_forwarded_packets_in_total", peer=peer_label(r, 2)) == 150
    assert m3("derpd_mesh_forwarded_packets_in_total", peer=peer_label(r, 0)) == 300
    assert m3("derp_packets_forwarded_in") == 300
    assert m1("derpd_mesh_peer_up", peer=peer_label(r, 2)) == 1
    assert m1("derpd_mesh_peer_state", peer=peer_label(r, 0), state="self") == 1
    for m in (m1, m3):
        for reason in ("mesh_loop", "mesh_queue_full", "unknown_dest_on_fwd",
                       "ring_full", "queue_tail"):
            assert m("derp_packets_dropped", reason=reason) == 0
        # Our record layer takes connections we accepted, never the links we
        # dialled (those keep OpenSSL's): at most one per accept.
        assert 0 < m("derpd_tls_own_records_total") <= m("derpd_tcp_accepts_total")


def watcher_events(w, timeout):
    """Every PeerPresent and PeerGone a watcher receives within timeout: [(type, key)]."""
    out = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            ftype, payload = w.recv_frame(max(deadline - time.monotonic(), 0.001))
        except TimeoutError:
            return out
        if ftype in (PEER_PRESENT, PEER_GONE):
            out.append((ftype, payload[:32]))


def test_client_moving_between_relays_is_followed(region, connect):
    """B leaves relay 3 and comes back on relay 2 with the same key: relay
    1's link to relay 3 brings PeerGone, then its link to relay 2
    PeerPresent (its per-peer counters), and A's packets reach B on relay 2
    within a second or two. Relay 1's own watchers hear of its local
    clients only, never of B."""
    r = region(3)
    watcher = r.client(connect, 0, info=client_info(mesh_key=r.mesh_key))
    watcher.watch_conns()
    a = r.client(connect, 0)
    kb = PrivateKey.generate()
    b = r.client(connect, 2, private_key=kb)
    r.wait_via(0, b.pub, 2)
    r.wait_via(2, a.pub, 0)
    exchange(a, b)
    before = r.metrics(0)
    b.close()
    r.wait_unknown(0, b.pub)
    start = time.monotonic()
    b2 = r.client(connect, 1, private_key=kb)
    for _ in range(40):                     # until the route follows
        a.send_packet(b2.pub, b"where are you")
        try:
            if recv_packet_from(b2, a.pub, timeout=0.1) == b"where are you":
                break
        except TimeoutError:
            continue
    else:
        pytest.fail("A's packets never reached B on relay 2")
    assert time.monotonic() - start < (5 if os.environ.get("DERPD_ASAN") else 2.5)
    b2.send_packet(a.pub, b"here")
    assert recv_packet_from(a, b2.pub) == b"here"
    after = r.metrics(0)
    gone = "derpd_mesh_peer_gone_total"
    present = "derpd_mesh_peer_present_total"
    assert after(gone, peer=peer_label(r, 2)) - before(gone, peer=peer_label(r, 2)) >= 1
    assert after(present, peer=peer_label(r, 1)) - \
        before(present, peer=peer_label(r, 1)) >= 1
    assert r.route(0, kb.public_key.encode())["via"] == peer_label(r, 1)
    events = watcher_events(watcher, 0.5)
    assert (PEER_PRESENT, a.pub) in events
    assert all(key != b.pub for _, key in events), "relay 1 announced a remote key"


def test_killed_relay_takes_its_routes_and_brings_them_back(region, connect):
    """Relay 3 is killed: relays 1 and 2 drop every route it taught them at
    once (PeerGone to A, who had heard from its client), keep relaying
    between themselves, reconnect when it is back, and learn its clients
    again (both read through their tables, /debug/route, and /metrics)."""
    r = region(3)
    a, b = r.client(connect, 0), r.client(connect, 1)
    kc = PrivateKey.generate()
    c = r.client(connect, 2, private_key=kc)
    for i in (0, 1):
        r.wait_via(i, c.pub, 2)
    r.wait_via(0, b.pub, 1)
    r.wait_via(1, a.pub, 0)
    exchange(a, c)
    r.relays[2].proc.kill()
    r.relays[2].stop(check=False)
    for i in (0, 1):
        r.wait_unknown(i, c.pub)
        r.wait(lambda: r.metrics(i)("derpd_mesh_peer_up", peer=peer_label(r, 2)) == 0,
               "link down")
    assert a.recv_peer_gone() == (c.pub, PEER_GONE_DISCONNECTED)
    exchange(a, b)
    assert r.metrics(0)("derpd_mesh_remote_keys") >= 1     # relay 2's keys still
    r.start(2)
    r.wait_meshed()
    c2 = r.client(connect, 2, private_key=kc)
    for i in (0, 1):
        r.wait_via(i, c2.pub, 2)
    r.wait_via(2, a.pub, 0)
    r.wait_via(2, b.pub, 1)
    exchange(a, c2)
    exchange(b, c2)
    assert r.metrics(0)("derpd_mesh_peer_connects_total", peer=peer_label(r, 2)) == 2


def test_wrong_mesh_key_can_neither_watch_nor_forward(region, connect, tmp_path):
    """Relay 3 has another mesh key: its login to relay 1 is closed at
    WatchConns and relay 1's to it likewise, so neither learns the other's
    clients, and a client presenting relay 3's key that sends relay 1 a
    ForwardPacket is closed without it having any effect."""
    from derp_helpers import write_mesh_key
    other = tmp_path / "other-mesh.key"
    wrong = write_mesh_key(other)
    r = region(3, meshed=[0, 1], keys={2: other})
    a = r.client(connect, 0)
    z = r.client(connect, 2)
    r.relays[2].wait_log(r"is the mesh key the same\?")
    r.relays[0].wait_log(r"is the mesh key the same\?")
    time.sleep(0.5)
    assert r.route(2, a.pub) is None
    assert r.route(0, z.pub) is None
    for i, j in ((0, 2), (2, 0)):
        assert r.metrics(i)("derpd_mesh_peer_present_total", peer=peer_label(r, j)) == 0
    forger = r.client(connect, 0, info=client_info(mesh_key=wrong))
    try:
        forger.forward_packet(z.pub, a.pub, b"forged")
    except ConnectionClosed:
        pass
    assert forger.is_closed_by_server(timeout=5)
    assert_no_frame(a, within=0.5)


def test_forwarded_packet_is_never_forwarded_again(region, connect):
    """A ForwardPacket for a key that relay 1 itself reaches only through
    relay 2 (remote on both sides) is dropped and counted as mesh_loop, not
    bounced on; a disco one gets PeerGone(not here), as derper answers. The
    route stays, so A's own packets still reach K."""
    r = region(2)
    k = r.client(connect, 1)
    a = r.client(connect, 0)
    r.wait_via(0, k.pub, 1)
    r.wait_via(1, a.pub, 0)
    m = r.client(connect, 0, info=client_info(mesh_key=r.mesh_key))
    src = bytes(PrivateKey.generate().public_key)
    before = r.metrics(1)("derp_packets_forwarded_in")
    m.forward_packet(src, k.pub, b"loop?")
    m.forward_packet(src, k.pub, disco_packet())
    assert m.recv_peer_gone() == (k.pub, PEER_GONE_NOT_HERE)
    assert_no_frame(k, within=0.5)
    m1 = r.metrics(0)
    assert m1("derp_packets_dropped", reason="mesh_loop") == 2
    assert m1("derp_packets_forwarded_in") == 2
    assert r.metrics(1)("derp_packets_forwarded_in") == before
    exchange(a, k)


def test_mesh_dialer_restarts_and_links_come_back(region, connect):
    """The mesh dialer is killed: the master starts another (with back-off
    if it keeps dying), hands it every worker's socket, and a link that
    then goes down is dialled again through it."""
    r = region(2)
    pid = int(r.relays[0].wait_log(r"mesh dialer started, pid (\d+)").group(1))
    mark = r.relays[0].log_mark()
    os.kill(pid, signal.SIGKILL)
    r.relays[0].wait_log(r"mesh dialer started, pid (\d+)", since=mark)
    r.relays[1].stop()
    r.start(1)
    r.wait_meshed()
    a, b = r.client(connect, 0), r.client(connect, 1)
    r.wait_via(0, b.pub, 1)
    r.wait_via(1, a.pub, 0)
    exchange(a, b)


def run_derpd(derpd_bin, *args):
    import subprocess
    return subprocess.run([derpd_bin, *map(str, args)], capture_output=True, text=True,
                          timeout=15, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("mesh_with,message", [
    ("derp2.test/10.0.0.2/x", "too many components"),
    ("derp2.test:0", "bad port"),
    ("derp2.test:65536", "bad port"),
    ("derp2.test,,derp3.test", "empty entry"),
    ("[::1:443", "missing ']'"),
    ("derp 2.test", "not a host name"),
    ("derp2.test/", "bad dial host"),
])
def test_bad_mesh_with_refused(derpd_bin, keyfile, tmp_path, mesh_with, message):
    """A -mesh-with derper would not dial is refused at start, naming the entry."""
    from derp_helpers import write_mesh_key
    from conftest import free_port
    write_mesh_key(tmp_path / "mesh.key")
    out = run_derpd(derpd_bin, "-a", f"127.0.0.1:{free_port()}", "-c", keyfile,
                    "-workers", "1", "-stun=false", "-mesh-psk-file",
                    tmp_path / "mesh.key", "-mesh-with", mesh_with)
    assert out.returncode == 1, out.stderr
    assert message in out.stderr and "-mesh-with: entry" in out.stderr, out.stderr
    assert "started, pid" not in out.stderr


def test_mesh_needs_a_mesh_key_and_trust_anchors(derpd_bin, keyfile, tmp_path):
    """derper's "--mesh-with requires --mesh-psk-file"; and a -mesh-ca-file
    without a certificate would verify no peer, so it is refused too."""
    from derp_helpers import write_mesh_key
    from conftest import free_port
    base = ["-a", f"127.0.0.1:{free_port()}", "-c", keyfile, "-workers", "1",
            "-stun=false", "-mesh-with", "derp2.test"]
    out = run_derpd(derpd_bin, *base)
    assert out.returncode == 1
    assert "-mesh-with requires -mesh-psk-file" in out.stderr
    write_mesh_key(tmp_path / "mesh.key")
    (tmp_path / "empty.pem").write_text("no certificates here\n")
    out = run_derpd(derpd_bin, *base, "-mesh-psk-file", tmp_path / "mesh.key",
                    "-mesh-ca-file", tmp_path / "empty.pem")
    assert out.returncode == 1
    assert "holds no certificate" in out.stderr


def fd_kinds(pid):
    kinds = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        kind = "stdio" if int(fd) <= 2 else target.split(":")[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (another user's /proc)")
def test_mesh_dialer_holds_only_its_sockets(region):
    """The dialer is a fresh exec, sandboxed (seccomp filter), not dumpable,
    without capabilities, as the unprivileged user, holding its control
    socket and one socket per worker: no listening socket, no key, no file.
    Workers hold one socket more (to the dialer) but still make none."""
    from procfs import derpd_pids, is_dumpable, status, wait_sandboxed
    r = region(2)
    pids = derpd_pids(r.relays[0])
    st = wait_sandboxed(pids["dialer"])
    assert st["Seccomp"] == "2"
    assert not is_dumpable(pids["dialer"])
    assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0
    assert int(st["Uid"].split()[0]) != 0
    assert fd_kinds(pids["dialer"]) == {"stdio": 3, "socket": 1 + r.workers}
    for w in range(r.workers):
        kinds = fd_kinds(pids[f"worker {w}"])
        assert "/" not in "".join(kinds), kinds      # no file of any kind


def test_load_across_the_mesh_arrives_whole_and_in_order(region, derpbench_bin):
    """derpbench's senders on relay 1, its receivers on relay 2 (--rx-url):
    16 pairs, 500 packets each, every packet forwarded once over the mesh,
    all arrive and in order (--strict), and both relays' counters agree."""
    import json
    import subprocess
    r = region(2)
    urls = [f"https://127.0.0.1:{port}" for port in r.ports]
    args = [derpbench_bin, "-j", "--strict", "-P", 16, "-n", 500, "-d", 60, "-s", 1200,
            "--cafile", r.ca.crt, "--servername", r.names[0], "--rx-url", urls[1],
            "--rx-servername", r.names[1], "--settle", 1, urls[0]]
    out = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    rep = json.loads(out.stdout)
    assert rep["sent"] == rep["received"] == 8000 and rep["reordered"] == 0
    assert r.metrics(0)("derp_packets_forwarded_out") == 8000
    assert r.metrics(1)("derp_packets_forwarded_in") == 8000
