# SPDX-License-Identifier: BSD-3-Clause
"""The worker-death drill: a worker holding some 20,000 idle clients is
killed with SIGKILL while 50 clients on the other worker have received
packets from some of them.  The master removes the dead worker's routes
and marks it dead; the surviving worker works out from its own records
whom to tell, so every one of the 50 hears PeerGone for each of its peers
however many clients the dead worker had (before, one record per route
went through a ring that could be full, and half of them were lost)."""
import os
import signal
import subprocess
import time

import pytest

from derp_client import PEER_GONE_DISCONNECTED
from drills import heavy, nofile_hard, raise_nofile
from http_helpers import metrics

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
