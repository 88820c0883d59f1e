# SPDX-License-Identifier: BSD-3-Clause
"""A worker woken again within 120 us of going to sleep, after a turn that
moved less than 16 KiB, naps 30 us before its next turn, so that the turn
takes several packets (worker/main.c; bench/README.md, "Less CPU per
packet"); a quiet connection's packets are never held.
derpd_worker_batch_naps_total counts the naps."""
import time

from derp_helpers import exchange, run_bench
from http_helpers import metrics


def naps(srv):
    return metrics(srv)("derpd_worker_batch_naps_total")


def stream(srv, derpbench_bin, size, count):
    """count packets of size bytes from each of two pairs on one worker,
    all delivered in order: derpbench's report."""
    rc, rep, err = run_bench(derpbench_bin, "-P", 2, "-n", count, "-d", 60, "-s", size,
                             "-x", "same", "-W", 2, "--strict",
                             f"http://127.0.0.1:{srv.port}")
    assert rc == 0, err
    assert rep["received"] == rep["sent"] == 2 * count and rep["reordered"] == 0
    return rep


def test_quiet_packets_are_not_held(derp_server, connect):
    srv = derp_server(workers=1)
    a, b = connect(srv), connect(srv)
    exchange(a, b)
    before = naps(srv)
    for i in range(40):
        a.send_packet(b.pub, b"quiet %d" % i)
        assert b.recv_packet(10)[1] == b"quiet %d" % i
        time.sleep(0.005)       # 5 ms apart: the worker sleeps in between
    # One packet a wake-up, each long after the last: no nap, or next to none
    # (a record the kernel happened to deliver in two segments).
    assert naps(srv) - before <= 4


def test_a_stream_is_batched_and_arrives_whole(derp_server, derpbench_bin):
    srv = derp_server(workers=2)
    before = naps(srv)
    stream(srv, derpbench_bin, 500, 20000)
    assert naps(srv) - before > 0, "a stream of 40,000 packets never made a worker nap"


def test_large_packets_are_not_held(derp_server, derpbench_bin):
    """A turn that moved 16 KiB or more has paid for its wake-up: 6,000
    packets of 60,000 bytes make a worker nap a few dozen times at most
    (without the rule, 1,500 and more)."""
    srv = derp_server(workers=2)
    before = naps(srv)
    stream(srv, derpbench_bin, 60000, 3000)
    assert naps(srv) - before < 300
