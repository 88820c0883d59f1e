# SPDX-License-Identifier: BSD-3-Clause
"""/metrics and /debug/varz: Prometheus text summed over every worker's
counters in shared memory.  Values must move with the traffic, whichever
worker carried it and whichever worker serves the page."""
import os
import signal
import struct
import time

from derp_client import (PEER_GONE_NOT_HERE, SERVER_INFO, DerpClient, disco_packet,
                         ConnectionClosed)
from derp_helpers import exchange
from http_helpers import get, metrics, request, wait_metrics

# Counters that only move with DERP traffic (not with our metrics requests).
TRAFFIC = [
    ("derp_accepts", {}),
    ("derp_packets_received", {}),
    ("derp_bytes_received", {}),
    ("derp_packets_sent", {}),
    ("derp_bytes_sent", {}),
    ("derp_packets_dropped", {"reason": "unknown_dest"}),
    ("derp_bytes_dropped", {"reason": "unknown_dest"}),
    ("derp_peer_gone_not_here_frames", {}),
    ("derpd_frames_received_total", {"kind": "send_packet"}),
    ("derpd_frames_received_total", {"kind": "note_preferred"}),
    ("derpd_frames_received_total", {"kind": "client_info"}),
    ("derpd_frames_received_total", {"kind": "ping"}),
    ("derp_got_ping", {}),
    ("derp_sent_pong", {}),
    ("derpd_handshake_failures_total", {}),
]


def snapshot(m):
    return {(n, tuple(sorted(l.items()))): m(n, **l) for n, l in TRAFFIC}


def deltas(before, after):
    return {k: after[k] - before[k] for k in before}


def key(name, **labels):
    return (name, tuple(sorted(labels.items())))


# derper's names, as tsweb renders its expvars; kept for Tailscale's
# dashboards (README lists them). Every other family is derpd_*.
DERPER_NAMES = {
    "derp_accepts", "derp_current_connections", "derp_current_home_connections",
    "derp_packets_received", "derp_bytes_received", "derp_packets_sent",
    "derp_bytes_sent", "derp_packets_dropped", "derp_bytes_dropped",
    "derp_peer_gone_disconnected_frames", "derp_peer_gone_not_here_frames",
    "derp_got_ping", "derp_sent_pong", "derp_unknown_frames",
    "derp_total_dup_client_conns", "derp_current_dup_client_keys",
    "derp_current_dup_client_conns", "derp_packets_forwarded_in",
    "derp_packets_forwarded_out",
    "derp_websocket_accepts", "bootstrap_dns_requests", "stun_requests",
    "stun_addrfamily", "tls_listener_accepted_connections",
    "tls_listener_rejected_connections",
    "derp_rate_limit_per_client_bytes_per_second",
    "derp_rate_limit_per_client_burst_bytes", "derp_rate_limit_per_client_waited",
}


def test_metrics_page_format(derp_server, tmp_path):
    """Both paths serve valid Prometheus text: # HELP and # TYPE before every
    family's samples (parse_prometheus checks), derper's names where derper
    has the metric, and derpd's own named by Prometheus's conventions:
    counters end in _total, nothing else does."""
    rate = tmp_path / "rate.json"
    rate.write_text('{"PerClientRateLimitBytesPerSec": 1000000}')
    srv = derp_server(workers=2, extra_args=["-rate-config", rate])
    for path in ("/metrics", "/debug/varz"):
        m = metrics(srv, path=path)
        assert set(m.helps) == set(m.types)
        assert DERPER_NAMES <= set(m.types), f"{path}: no {DERPER_NAMES - set(m.types)}"
        for name, kind in m.types.items():
            if name in DERPER_NAMES:
                continue
            assert name.startswith("derpd_"), f"{name}: neither derper's nor derpd_*"
            assert name.endswith("_total") == (kind == "counter"), f"{name} is a {kind}"
        for name, kind in m.types.items():
            if "_current" in name or name == "derpd_workers":
                assert kind == "gauge", name
        assert m.types["derpd_pong_rtt_seconds"] == "summary"
        assert m("derpd_pong_rtt_seconds_count") == 0
        assert m("derpd_workers") == 2
        assert m("derp_current_connections") == 0
        assert m("derpd_worker_restarts_total") == 0
        for reason in ("unknown_dest", "gone_disconnected", "queue_head", "queue_tail",
                       "write_error"):
            assert m("derp_packets_dropped", reason=reason) == 0
            assert m("derp_bytes_dropped", reason=reason) == 0


def test_counters_sum_over_workers(derp_server, connect):
    """A on worker 0, B on worker 1: what each sends is received (and counted)
    on its own worker and sent on the other's; the page from either worker
    shows the sum, so every delta below is exact."""
    srv = derp_server(workers=2)
    before = snapshot(metrics(srv, worker=0))
    a, b = connect(srv, worker=0), connect(srv, worker=1)
    m = metrics(srv, worker=1)
    assert m("derp_current_connections") == 2
    assert m("derp_current_home_connections") == 0

    a.note_preferred(True)
    b.note_preferred(True)
    assert a.ping(b"metrics1") == b"metrics1"      # both frames were read
    assert b.ping(b"metrics2") == b"metrics2"
    m = metrics(srv, worker=0)
    assert m("derp_current_home_connections") == 2

    sizes_ab = [1, 100, 1400, 65536]
    sizes_ba = [7, 1200, 30000]
    for n in sizes_ab:
        a.send_packet(b.pub, os.urandom(n))
        assert len(b.recv_packet()[1]) == n
    for n in sizes_ba:
        b.send_packet(a.pub, os.urandom(n))
        assert len(a.recv_packet()[1]) == n
    for _ in range(3):
        a.send_packet(os.urandom(32), b"x" * 10)   # nobody has this key
    lost = os.urandom(32)
    b.send_packet(lost, disco_packet())
    assert b.recv_peer_gone() == (lost, PEER_GONE_NOT_HERE)
    assert a.ping(b"metrics3") == b"metrics3"      # A's drops were counted

    total = len(sizes_ab) + len(sizes_ba)
    nbytes = sum(sizes_ab) + sum(sizes_ba)
    want = {
        key("derp_accepts"): 2,
        key("derp_packets_received"): total + 4,
        key("derp_bytes_received"): nbytes + 30 + len(disco_packet()),
        key("derp_packets_sent"): total,
        key("derp_bytes_sent"): nbytes,
        key("derp_packets_dropped", reason="unknown_dest"): 4,
        key("derp_bytes_dropped", reason="unknown_dest"): 30 + len(disco_packet()),
        key("derp_peer_gone_not_here_frames"): 1,
        key("derpd_frames_received_total", kind="send_packet"): total + 4,
        key("derpd_frames_received_total", kind="note_preferred"): 2,
        key("derpd_frames_received_total", kind="client_info"): 2,
        key("derpd_frames_received_total", kind="ping"): 3,
        key("derp_got_ping"): 3,
        key("derp_sent_pong"): 3,
        key("derpd_handshake_failures_total"): 0,
    }
    for worker in (0, 1):
        got = deltas(before, snapshot(metrics(srv, worker=worker)))
        assert got == want, f"page from worker {worker}"
    assert metrics(srv, path="/debug/varz")("derp_packets_received") == total + 4

    # Leaving: the gauges come down (B's home connection too).
    b.close()
    m = wait_metrics(srv, lambda m: m("derp_current_connections") == 1,
                     what="one connection left")
    assert m("derp_current_home_connections") == 1
    a.note_preferred(False)
    m = wait_metrics(srv, lambda m: m("derp_current_home_connections") == 0,
                     what="no home connection")
    assert m("derp_current_connections") == 1


def test_split_frame_counted_once(derp_server, connect):
    """A frame that arrives in pieces is one frame (and one packet)."""
    srv = derp_server(workers=2)
    a, b = connect(srv, worker=0), connect(srv, worker=1)
    before = snapshot(metrics(srv))
    data = os.urandom(60000)
    frame = struct.pack(">BI", 0x04, 32 + len(data)) + b.pub + data
    for cut in (3, 5, 20000, 40000):
        a.send_raw(frame[:cut])
        time.sleep(0.2)                 # let the worker read the first piece alone
        a.send_raw(frame[cut:])
        assert b.recv_packet() == (a.pub, data)
    got = deltas(before, snapshot(metrics(srv)))
    assert got[key("derpd_frames_received_total", kind="send_packet")] == 4
    assert got[key("derp_packets_received")] == 4
    assert got[key("derp_bytes_received")] == 4 * len(data)


def test_tcp_gauge_counts_this_request(derp_server):
    """derpd_current_tcp_connections counts open sockets, the one asking included."""
    srv = derp_server(workers=2)
    idle = [DerpClient("127.0.0.1", srv.port).connect(upgrade=False) for _ in range(3)]
    try:
        m = wait_metrics(srv, lambda m: m("derpd_current_tcp_connections") == 4,
                         what="3 idle sockets + this request")
        assert m("derpd_tcp_accepts_total") >= 4
    finally:
        for c in idle:
            c.close()
    wait_metrics(srv, lambda m: m("derpd_current_tcp_connections") == 1,
                 what="only this request")


def test_handshake_failures_counted(derp_server, connect):
    """A ClientInfo that does not decrypt, a malformed request head and a
    client that never finishes its login each count as a handshake failure."""
    srv = derp_server(workers=2, extra_args=["-handshake-timeout", "1500ms"])
    base = metrics(srv)("derpd_handshake_failures_total")

    c = connect(srv, worker=1, handshake=False)
    c.read_server_key()
    c.send_client_info(payload=c.pub + os.urandom(24 + 40))   # garbage box
    assert c.is_closed_by_server(timeout=10)
    assert all(t != SERVER_INFO for t, _ in c.discarded)
    wait_metrics(srv, lambda m: m("derpd_handshake_failures_total") == base + 1,
                 what="bad ClientInfo counted")

    r = request(srv.port, "", raw=b"NOT HTTP\r\n\r\n")
    assert r.status == 400
    wait_metrics(srv, lambda m: m("derpd_handshake_failures_total") == base + 2,
                 what="bad request head counted")

    slow = connect(srv, worker=0, handshake=False)   # upgraded, then silent
    assert slow.is_closed_by_server(timeout=10), "login deadline not enforced"
    m = wait_metrics(srv, lambda m: m("derpd_handshake_failures_total") == base + 3,
                     what="handshake timeout counted")
    assert m("derp_current_connections") == 0
    exchange(connect(srv, worker=0), connect(srv, worker=1))


def test_worker_kill_moves_counters(derp_server, connect):
    """SIGKILL of worker 1: derpd_worker_restarts_total goes up by one, its clients
    leave the connection gauges, and the counters it had (kept in shared
    memory) never go backwards."""
    srv = derp_server(workers=2)
    a = connect(srv, worker=0)
    b1, b2 = connect(srv, worker=1), connect(srv, worker=1)
    for c in (a, b1, b2):
        c.note_preferred(True)
    exchange(a, b1)
    exchange(b1, b2)
    for c in (a, b1, b2):
        c.ping(b"prefer!!")
    before = metrics(srv, worker=0)
    assert before("derp_current_connections") == 3
    assert before("derp_current_home_connections") == 3
    assert before("derpd_worker_restarts_total") == 0

    mark = srv.log_mark()
    os.kill(srv.worker_pid(1), signal.SIGKILL)
    srv.wait_log(r"worker 1 .*killed by signal 9", since=mark)
    srv.wait_ready(1, since=mark)
    after = wait_metrics(srv, lambda m: m("derpd_worker_restarts_total") == 1 and
                         m("derpd_workers") == 2, what="one restart", worker=0)
    assert after("derp_current_connections") == 1
    assert after("derp_current_home_connections") == 1
    for name in ("derp_accepts", "derp_packets_received", "derp_bytes_received",
                 "derp_packets_sent", "derp_bytes_sent"):
        assert after(name) == before(name), f"{name} changed with the worker's death"
    assert after("derpd_current_tcp_connections") == 2   # A and this request

    assert a.recv_peer_gone() == (b1.pub, 0)     # A had talked to B1

    # The new worker 1 counts on from there.
    c = connect(srv, worker=1)
    exchange(a, c)
    m = metrics(srv, worker=1)
    assert m("derp_accepts") == before("derp_accepts") + 1
    assert m("derp_packets_received") == before("derp_packets_received") + 2
    assert m("derp_current_connections") == 2
    assert m("derpd_worker_restarts_total") == 1
    for client in (b1, b2):
        try:
            assert client.is_closed_by_server(timeout=10)
        except ConnectionClosed:
            pass


def test_metrics_forbidden_to_proxied_requests(derp_server):
    srv = derp_server(workers=1)
    r = get(srv, "/metrics", headers=[("X-Forwarded-For", "198.51.100.7")])
    assert r.status == 403
