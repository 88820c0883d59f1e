# SPDX-License-Identifier: BSD-3-Clause
"""Out of descriptors: with RLIMIT_NOFILE reached, accept() fails while the
listening socket stays readable.  A worker must not spin on it: it stops
accepting for a short back-off, logs the episode (once when it starts, once
with a count when it ends), keeps relaying for the clients it has, and
accepts again once descriptors free up."""
import re
import time

from derp_helpers import exchange
from drills import cpu_seconds, heavy, raise_nofile, tcp_on_worker
from http_helpers import metrics

NOFILE = 256
PER_WORKER = 300        # more than a worker can hold under NOFILE
MEASURE_S = 3.0          # spinning, a worker would use most of that in CPU time


@heavy
def test_out_of_descriptors_pauses_accepting(derp_server, connect):
    raise_nofile(4 * PER_WORKER)
    srv = derp_server(workers=2, nofile=NOFILE, extra_args=["-handshake-timeout", "60s"])
    a, b = connect(srv, worker=0), connect(srv, worker=1)
    c, d = connect(srv, worker=0), connect(srv, worker=0)
    exchange(a, b)
    exchange(c, d)
    pids = [srv.worker_pid(0), srv.worker_pid(1)]
    mark = srv.log_mark()
    socks = []
    try:
        for w in (0, 1):
            socks += [tcp_on_worker(srv.port, w, 2) for _ in range(PER_WORKER)]
        for w in (0, 1):
            srv.wait_log(rf"\[worker {w}\]: WARNING: accept: Too many open files: "
                         r"not accepting connections", since=mark)

        # The episode: existing clients relay, the workers stay (nearly) idle.
        cpu0 = [cpu_seconds(p) for p in pids]
        end = time.monotonic() + MEASURE_S
        rounds = 0
        while time.monotonic() < end:
            exchange(a, b)
            exchange(c, d)
            rounds += 1
            time.sleep(0.05)
        used = [cpu_seconds(p) - t for p, t in zip(pids, cpu0)]
        assert rounds > 10
        assert max(used) < 0.3, \
            f"workers used {used} s of CPU in {MEASURE_S} s out of descriptors"
        lines = srv.log_text()[mark:].splitlines()
        assert len(lines) <= 8, "\n".join(lines[:20])
    finally:
        for s in socks:
            s.close()

    # Descriptors free up: accepting resumes, logged once with the count.
    counts = []
    for w in (0, 1):
        m = srv.wait_log(rf"\[worker {w}\]: accepting connections again after "
                         r"[\d.]+ s; (\d+) accept calls failed", since=mark, timeout=15)
        counts.append(int(m.group(1)))
    assert all(n >= 1 for n in counts), counts
    assert metrics(srv)("derpd_accept_fd_exhausted_total") >= sum(counts)
    for w in (0, 1):
        exchange(connect(srv, worker=w), a)
    episode = srv.log_text()[mark:]
    assert len(re.findall(r"not accepting connections", episode)) <= 4, episode
