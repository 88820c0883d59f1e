# SPDX-License-Identifier: BSD-3-Clause
"""Worker-death drills. A worker holding some 20,000 idle clients is
killed with SIGKILL while 50 clients on the other worker have received
packets from some of them.  The master removes the dead worker's routes
and marks it dead; the surviving worker works out from its own records
whom to tell, so every one of the 50 hears PeerGone for each of its peers
however many clients the dead worker had (before, one record per route
went through a ring that could be full, and half of them were lost).
And a worker killed five times under load, each time restarted at once."""
import os
import signal
import subprocess
import time

import pytest

from derp_client import PEER_GONE_DISCONNECTED
from drills import heavy, nofile_hard, raise_nofile
from derp_helpers import exchange
from http_helpers import metrics, wait_metrics

IDLE = 20000            # clients on the worker that dies, fewer if the fd limit says so
SENDERS = 100           # ...of which these (Python clients) send
RECEIVERS = 50          # on the other worker; receiver i hears from senders i and i + 50
MARGIN = 256            # descriptors a worker needs besides its clients


@heavy
def test_worker_with_20000_clients_dies_every_peer_gone_arrives(
        derp_server, connect, derpbench_bin):
    hard = nofile_hard()
    total = min(IDLE, hard - MARGIN)
    if total < 15000:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard}: a worker cannot hold 15,000 clients")
    raise_nofile(4 * (SENDERS + RECEIVERS))
    srv = derp_server(workers=2, nofile=hard)
    senders = [connect(srv, worker=0) for _ in range(SENDERS)]
    receivers = [connect(srv, worker=1) for _ in range(RECEIVERS)]
    peers = {i: {senders[i].pub, senders[i + RECEIVERS].pub} for i in range(RECEIVERS)}
    for i, r in enumerate(receivers):
        for s in (senders[i], senders[i + RECEIVERS]):
            s.send_packet(r.pub, b"from worker 0")
            assert r.recv_packet() == (s.pub, b"from worker 0")

    idle = total - SENDERS
    bench = subprocess.Popen(
        [derpbench_bin, "-m", "idle", "-N", str(idle), "--on-worker", "0", "-W", "2",
         "--hold", "600", "-c", "256", f"http://127.0.0.1:{srv.port}"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while metrics(srv)("derp_current_connections") < total + RECEIVERS:
            assert bench.poll() is None, bench.stderr.read().decode()
            assert time.monotonic() < deadline, "the idle clients did not all log in"
            time.sleep(0.2)

        pid = srv.worker_pid(0)
        mark = srv.log_mark()
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        m = srv.wait_log(r"worker 0: removed its (\d+) routes", since=mark, timeout=30)
        assert int(m.group(1)) == total, "not every client was on worker 0"
        for i, r in enumerate(receivers):
            got = set()
            while got != peers[i]:
                key, reason = r.recv_peer_gone(timeout=max(killed + 20 - time.monotonic(), 1))
                assert key in peers[i], f"receiver {i}: PeerGone for a stranger"
                assert reason == PEER_GONE_DISCONNECTED
                got.add(key)
        srv.wait_log(r"\[worker 0\]: ready", since=mark)
        assert metrics(srv)("derp_current_connections") == RECEIVERS
    finally:
        os.killpg(bench.pid, signal.SIGKILL)
        bench.wait(10)


PAIRS = 10              # same-worker pairs on the survivor, and as many across
KILLS = 5
HEALTHY_MS = 300        # the test build's healthy-run threshold for this drill


def test_worker_killed_under_load_five_times(derp_server, connect, derpd_test_bin):
    """Worker 0 is SIGKILLed five times, each past the healthy-run threshold
    (shortened in the test build, so no back-off applies), while 10 pairs on
    worker 1 stream and 10 senders on worker 1 send to receivers on worker
    0. Each time the replacement is ready within 2 s; the pairs on worker 1
    lose no packet and see no reordering across all five deaths; every
    sender whose receiver died gets PeerGone for it (never a hang), and
    receivers that log in again on the new worker 0 are reached at once."""
    import threading

    from derp_helpers import stream, tagged_packet
    pattern = bytes(range(256)) * 4
    srv = derp_server(workers=2, binary=derpd_test_bin,
                      env={"DERPD_TEST_HEALTHY_RUN_MS": str(HEALTHY_MS)})
    local = [(connect(srv, worker=1), connect(srv, worker=1)) for _ in range(PAIRS)]
    senders = [connect(srv, worker=1) for _ in range(PAIRS)]
    receivers = [connect(srv, worker=0) for _ in range(PAIRS)]

    failures = []

    def run(a, b):
        try:
            stream(a, b, [tagged_packet(i, 500, pattern) for i in range(300)],
                   timeout=90, pace=0.015)
        except BaseException as e:      # reported below
            failures.append(e)

    threads = [threading.Thread(target=run, args=p, daemon=True) for p in local]
    for t in threads:
        t.start()
    for kill in range(KILLS):
        for s, r in zip(senders, receivers):
            exchange(s, r)              # each now expects PeerGone of the other
        time.sleep(HEALTHY_MS / 1000 + 0.1)     # past the threshold: no back-off
        pid = srv.worker_pid(0)
        mark = srv.log_mark()
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        srv.wait_log(rf"worker 0 \(pid {pid}\) killed by signal 9", since=mark)
        srv.wait_log(r"\[worker 0\]: ready", since=mark, timeout=10)
        assert time.monotonic() - killed < 2.0, "the replacement took over 2 s"
        assert "restarting it in" not in srv.log_text()[mark:], srv.tail()
        for s, r in zip(senders, receivers):
            assert r.is_closed_by_server(timeout=10)
            assert s.recv_peer_gone(timeout=10) == (r.pub, PEER_GONE_DISCONNECTED)
        # To a key that left with the worker: dropped and counted, at once.
        dropped = metrics(srv)("derp_packets_dropped", reason="unknown_dest")
        for s, r in zip(senders, receivers):
            s.send_packet(r.pub, b"to the departed")
        wait_metrics(srv, lambda m: m("derp_packets_dropped", reason="unknown_dest")
                     >= dropped + PAIRS, what="the drops")
        exchange(senders[0], senders[-1])       # and the senders are not stuck
        receivers = [connect(srv, worker=0, private_key=r.priv) for r in receivers]
    for s, r in zip(senders, receivers):
        s.send_packet(r.pub, b"after the last death")
        assert r.recv_packet() == (s.pub, b"after the last death")
    for t in threads:
        t.join(120)
        assert not t.is_alive(), "a stream on worker 1 did not finish"
    if failures:
        raise failures[0]
