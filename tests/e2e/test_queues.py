# SPDX-License-Identifier: BSD-3-Clause
"""Queues that drop only where derper would: 32 packets of any size per
client, the oldest dropped when full (queue_head), disco packets in a queue
of their own, a full cross-worker ring pushing back only briefly, and a
stopped worker never holding up a sender's traffic to the others."""
import os
import random
import signal
import socket
import struct
import time

from derp_client import DerpClient, disco_packet
from derp_helpers import assert_no_frame
from http_helpers import assert_on_worker, metrics

BIG = 64 * 1024
DROPS = ("queue_head", "queue_tail", "ring_full")


class SlowClient(DerpClient):
    """A receiver whose kernel buffers hold little: what it does not read
    stays queued in derpd, where the queue limits are."""

    def tcp_connect(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self.src_port))
            sock.settimeout(self.timeout)
            sock.connect((self.host, self.port))
        except BaseException:
            sock.close()
            raise
        return sock


def slow_client(srv, worker, clients):
    """A logged-in SlowClient on `worker` (source port % workers)."""
    rng = random.SystemRandom()
    for _ in range(50):
        base = rng.randrange(20000, 60000 - srv.workers)
        c = SlowClient("127.0.0.1", srv.port, src_port=base - base % srv.workers + worker,
                       timeout=30)
        try:
            c.connect()
        except OSError:
            c.close()
            continue
        clients.append(c)
        assert_on_worker(srv, c, worker)
        return c
    raise RuntimeError("no free source port")


def packet(seq, size, kind=b"B"):
    """`size` bytes: a kind byte and the sequence number, then filler."""
    head = kind + struct.pack(">I", seq)
    return head + bytes([seq % 251]) * (size - len(head))


def seq_of(data):
    return struct.unpack(">I", data[1:5])[0]


def drops(m):
    return {r: m("derp_packets_dropped", reason=r) for r in DROPS}


def test_big_window_intact_and_in_order(derp_server, connect):
    """16 packets of 64 KiB in flight, same worker and cross worker, four
    times over, to a receiver that reads only once all 16 are sent: every
    packet arrives, in order, and nothing is counted dropped."""
    srv = derp_server(workers=2)
    a = connect(srv, worker=0)
    clients = []
    try:
        for wb in (0, 1):
            b = slow_client(srv, wb, clients)
            before = drops(metrics(srv, worker=0))
            seq = 0
            for _ in range(4):
                first = seq
                for _ in range(16):
                    a.send_packet(b.pub, packet(seq, BIG))
                    seq += 1
                assert a.ping(b"window!!") == b"window!!"
                time.sleep(0.05)    # the other worker's turn, cross worker
                for want in range(first, seq):
                    src, data = b.recv_packet(timeout=20)
                    assert src == a.pub
                    assert len(data) == BIG and seq_of(data) == want, \
                        f"worker {wb}: packet {seq_of(data)} where {want} was due"
                    assert data == packet(want, BIG)
            assert drops(metrics(srv, worker=0)) == before
    finally:
        for c in clients:
            c.close()


def test_slow_receiver_does_not_cost_another(derp_server, connect):
    """A receiver that never reads fills its own queue (its oldest packets
    are dropped and counted); another receiver on the same worker, sent to
    in between, loses nothing."""
    srv = derp_server(workers=2)
    a = connect(srv, worker=1)
    r = connect(srv, worker=0)
    clients = []
    try:
        s = slow_client(srv, 0, clients)
        before = drops(metrics(srv, worker=1))
        n = 200     # 12 MB for s: more than the kernel's buffers hold
        for i in range(n):
            a.send_packet(s.pub, packet(i, 60000))
            a.send_packet(r.pub, packet(i, 1200, b"R"))
        assert a.ping(b"allsent!") == b"allsent!"
        for i in range(n):
            src, data = r.recv_packet(timeout=20)
            assert src == a.pub and data == packet(i, 1200, b"R"), \
                f"packet {i} to the reading receiver lost or out of order"
        after = drops(metrics(srv, worker=1))
        assert after["queue_head"] > before["queue_head"], "the slow queue never filled"
        assert after["queue_tail"] == before["queue_tail"]
    finally:
        for c in clients:
            c.close()


def test_disco_not_starved_by_full_bulk_queue(derp_server, connect):
    """With a receiver's bulk queue full (and dropping its oldest), disco
    packets to it wait in their own queue and all arrive, however much bulk
    data is sent after them."""
    srv = derp_server(workers=2)
    a = connect(srv, worker=0)
    clients = []
    try:
        b = slow_client(srv, 0, clients)
        before = drops(metrics(srv, worker=0))
        for i in range(200):
            a.send_packet(b.pub, packet(i, 60000))
        assert a.ping(b"bulkfull") == b"bulkfull"
        assert drops(metrics(srv, worker=0))["queue_head"] > before["queue_head"], \
            "the bulk queue never filled"
        discos = [disco_packet(200, bytes([i])) for i in range(8)]
        for d in discos:
            a.send_packet(b.pub, d)
        for i in range(200, 264):       # more bulk than a queue holds, after them
            a.send_packet(b.pub, packet(i, 60000))
        assert a.ping(b"discosnt") == b"discosnt"
        got = []
        while True:
            try:
                _, data = b.recv_packet(timeout=2)
            except TimeoutError:
                break
            if data.startswith(b"TS\xf0\x9f\x92\xac"):
                got.append(data)
        assert got == discos
    finally:
        for c in clients:
            c.close()


def test_worker_budget_caps_all_queues(derp_server, connect):
    """-queue-budget-mib bounds what all of a worker's clients have queued:
    five receivers that do not read would each hold 32 packets of 60 KB
    (9.6 MB in all). With 8 MiB the worker holds no more than that: a
    client's own oldest packets give way to its new ones (queue_head), so
    each still gets the newest, in order; a sixth, whose queue is empty
    once the budget is spent, has its new packets dropped (queue_tail)."""
    budget = 8 << 20
    srv = derp_server(workers=1, extra_args=["-queue-budget-mib", "8",
                                             "-tcp-write-timeout", "0"])
    a = connect(srv)
    clients = []
    try:
        slow = [slow_client(srv, 0, clients) for _ in range(6)]
        for i in range(200):
            for s in slow[:5]:
                a.send_packet(s.pub, packet(i, 60000))
        assert a.ping(b"allsent!") == b"allsent!"
        m = metrics(srv)
        assert budget * 3 // 4 < m("derpd_send_queue_bytes") <= budget
        assert m("derp_packets_dropped", reason="queue_tail") == 0
        for i in range(200):
            a.send_packet(slow[5].pub, packet(i, 60000))
        assert a.ping(b"sixthsnt") == b"sixthsnt"
        assert metrics(srv)("derp_packets_dropped", reason="queue_tail") > 0
        for s in slow[:5]:
            seqs = []
            while not seqs or seqs[-1] != 199:
                _, data = s.recv_packet(timeout=10)
                seqs.append(seq_of(data))
            assert seqs == sorted(seqs), "out of order"
        got = []
        while True:
            try:
                _, data = slow[5].recv_packet(timeout=1)
            except TimeoutError:
                break
            got.append(seq_of(data))
        assert got and got[0] == 0 and got == sorted(got) and len(got) < 200
        assert metrics(srv)("derpd_send_queue_bytes") == 0
    finally:
        for c in clients:
            c.close()


def test_full_queue_drops_oldest(derp_server, connect):
    """A receiver that does not read: its queue keeps the newest 32 packets
    and drops the oldest (derper's queue_head), counting packets and bytes;
    what arrives is in order, and it includes the last 32 sent."""
    srv = derp_server(workers=1)
    a = connect(srv)
    clients = []
    try:
        b = slow_client(srv, 0, clients)
        before = metrics(srv)
        n, size = 250, 60000
        for i in range(n):
            a.send_packet(b.pub, packet(i, size))
        assert a.ping(b"allsent!") == b"allsent!"
        after = metrics(srv)

        def delta(name, reason):
            return after(name, reason=reason) - before(name, reason=reason)

        dropped = delta("derp_packets_dropped", "queue_head")
        assert dropped > 0, "the receiver's queue never filled"
        assert delta("derp_bytes_dropped", "queue_head") == dropped * size
        assert delta("derp_packets_dropped", "queue_tail") == 0
        assert after("derp_packets_received") - before("derp_packets_received") == n
        assert after("derp_packets_sent") - before("derp_packets_sent") <= n - dropped
        seqs = []
        for _ in range(n - int(dropped)):
            src, data = b.recv_packet(timeout=30)
            assert src == a.pub and data == packet(seq_of(data), size)
            seqs.append(seq_of(data))
        assert seqs == sorted(seqs), "out of order"
        assert seqs[-32:] == list(range(n - 32, n)), "the newest packets were dropped"
        assert_no_frame(b, within=0.5)
        m = metrics(srv)
        assert m("derp_packets_sent") - before("derp_packets_sent") == n - dropped
        assert m("derpd_send_queue_bytes") == 0
    finally:
        for c in clients:
            c.close()


def test_stopped_worker_does_not_stall_others(derp_server, connect):
    """Worker 1 stopped (SIGSTOP): its ring fills and stays full. The same
    sender's packets to a client on worker 2 keep arriving, in order and
    promptly; those for worker 1 are dropped as ring_full after at most one
    short pushback, not one per packet."""
    srv = derp_server(workers=3)
    a = connect(srv, worker=0)
    b = connect(srv, worker=1)
    c = connect(srv, worker=2)
    pid = srv.worker_pid(1)
    before = metrics(srv, worker=0)
    os.kill(pid, signal.SIGSTOP)
    try:
        n = 60
        start = time.monotonic()
        for i in range(n):
            a.send_packet(b.pub, packet(i, BIG))
            a.send_packet(c.pub, packet(i, 1000, b"C"))
        for i in range(n):
            src, data = c.recv_packet(timeout=10)
            assert src == a.pub and data == packet(i, 1000, b"C"), \
                f"packet {i} to worker 2 lost or out of order"
        elapsed = time.monotonic() - start
        after = metrics(srv, worker=0)
        ring_full = (after("derp_packets_dropped", reason="ring_full") -
                     before("derp_packets_dropped", reason="ring_full"))
        pushbacks = after("derpd_ring_pushbacks_total") - before("derpd_ring_pushbacks_total")
        assert ring_full > 0, "worker 1's ring never filled"
        assert pushbacks <= 2, f"{pushbacks} pushbacks for a consumer that never moved"
        assert elapsed < 5, f"{elapsed:.1f}s for {n} packets"
    finally:
        os.kill(pid, signal.SIGCONT)
    # Worker 1 runs again: what it had in its ring arrives, in order, and
    # new packets get through.
    got = []
    while True:
        try:
            _, data = b.recv_packet(timeout=2)
        except TimeoutError:
            break
        got.append(seq_of(data))
    assert got and got == sorted(got) and got[0] == 0
    a.send_packet(b.pub, packet(1000, 100))
    _, data = b.recv_packet(timeout=10)
    assert data == packet(1000, 100)
