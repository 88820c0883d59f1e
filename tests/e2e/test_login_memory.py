# SPDX-License-Identifier: BSD-3-Clause
"""The login memory budget (-login-memory-mib, 32 MiB per worker): what
connections that have not finished the DERP login hold is charged against
it (input buffers sized to what has arrived, OpenSSL's state, queued
output); past it the oldest stalled logins are closed.  Thousands of
connections that stall in the middle of a ClientInfo keep a worker within
the budget, real clients log in and relay meanwhile, and the memory goes
back to the system once they are gone (derpd_login_memory_bytes, Pss)."""
import os
import socket
import ssl
import subprocess
import struct
import time

import pytest

from derp_client import CLIENT_INFO
from derp_helpers import exchange
from drills import cpu_seconds, heavy, pss_kib, raise_nofile, tcp_on_worker
from http_helpers import metrics

BUDGET_MIB = 32                 # the default
STALLED = 2000                  # 1,000 on each worker
DECLARED = 59 * 1000            # the ClientInfo length they announce...
SENT = 50 * 1000                # ...and how much of it they send
OVERHEAD_MIB = 8                # allocator slack, the pool, OpenSSL's caches
UPGRADE = (b"GET /derp HTTP/1.1\r\nHost: derp.test\r\nUpgrade: DERP\r\n"
           b"Connection: Upgrade\r\n\r\n")


def wait_for(what, cond, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def stall_mid_client_info(port, worker):
    """A connection that upgrades, announces a ClientInfo of DECLARED bytes
    and sends SENT of them; None if the server closed it on the way."""
    s = tcp_on_worker(port, worker, 2)
    try:
        s.sendall(UPGRADE + struct.pack(">BI", CLIENT_INFO, DECLARED) + os.urandom(SENT))
        return s
    except OSError:
        s.close()
        return None


def gauge(srv, **kw):
    return metrics(srv, **kw)("derpd_login_memory_bytes")


def conn_bytes(srv, **kw):
    """What a connection that has sent nothing is charged (its struct conn;
    over TLS also OpenSSL's state): the gauge with one more such connection,
    less the gauge without."""
    without = gauge(srv, **kw)
    with socket.create_connection(("127.0.0.1", srv.port)):
        time.sleep(0.2)
        return gauge(srv, **kw) - without


def login_memory(srv, **kw):
    """derpd_login_memory_bytes, less what the plain request for it holds
    itself (it has not logged in either): its struct conn and 4 KiB buffer."""
    return gauge(srv, **kw) - (srv.conn_bytes + 4096)


@heavy
@pytest.mark.skipif(os.geteuid() != 0, reason="reading a worker's smaps_rollup needs root")
def test_stalled_client_infos_stay_within_the_budget(derp_server, connect):
    raise_nofile(STALLED + 256)
    srv = derp_server(workers=2)
    srv.conn_bytes = conn_bytes(srv)
    pids = [srv.worker_pid(0), srv.worker_pid(1)]
    a, b = connect(srv, worker=0), connect(srv, worker=1)
    exchange(a, b)
    assert login_memory(srv) == 0, "logged-in clients are not charged"
    base = [pss_kib(p) for p in pids]
    mark = srv.log_mark()

    socks = []
    try:
        for i in range(STALLED):
            s = stall_mid_client_info(srv.port, i % 2)
            if s is not None:
                socks.append(s)
        time.sleep(1.5)         # the server reads what was sent; its oldest are stalled
        held = [pss_kib(p) - b0 for p, b0 in zip(pids, base)]
        limit = (BUDGET_MIB + OVERHEAD_MIB) * 1024
        assert max(held) <= limit, f"workers grew by {held} KiB (limit {limit} KiB)"
        charged = login_memory(srv)
        assert 0 < charged <= 2 * BUDGET_MIB << 20, charged
        closed = metrics(srv)("derpd_login_memory_closed_total")
        assert closed > 0, "2,000 stalled ClientInfos fit in the budget?"
        srv.wait_log(r"login memory budget \(-login-memory-mib 32\) spent: "
                     r"\d+ connections that had not logged in closed or refused",
                     since=mark)

        # Meanwhile: logins on both workers, relaying old and new clients.
        for w in (0, 1):
            c = connect(srv, worker=w)
            exchange(c, a)
            exchange(c, b)
        exchange(a, b)
        # The stalled connections were served 101 and ServerKey, and are
        # closed when the budget needs room or at the handshake timeout.
        assert len(socks) > 0
    finally:
        for s in socks:
            s.close()

    wait_for("login memory to go back to 0", lambda: login_memory(srv) == 0)
    # glibc hands freed memory back when the tick trims it.
    wait_for("the workers' memory to go back down",
             lambda: max(pss_kib(p) - b0 for p, b0 in zip(pids, base)) <= 4 * 1024)
    exchange(connect(srv, worker=0), connect(srv, worker=1))


def test_login_memory_counts_and_returns(derp_server, connect):
    """A few connections in the middle of a ClientInfo are charged what they
    hold (their buffer grown to what arrived, doubling from 4 KiB, never
    past the frame), and the gauge is back at 0 once they close or log in."""
    srv = derp_server(workers=1)
    srv.conn_bytes = conn_bytes(srv)
    assert 256 <= srv.conn_bytes <= 4096, srv.conn_bytes
    assert login_memory(srv) == 0
    socks = []
    try:
        for _ in range(10):
            s = socket.create_connection(("127.0.0.1", srv.port))
            s.sendall(UPGRADE + struct.pack(">BI", CLIENT_INFO, 6000) + os.urandom(5000))
            socks.append(s)
        # Each: its struct conn, its input buffer (4 KiB doubled to 8 KiB,
        # capped at the 6,005-byte frame), 101 and ServerKey until written.
        wait_for("the buffers to grow",
                 lambda: login_memory(srv) == 10 * (srv.conn_bytes + 6005))
        c = connect(srv)
        exchange(c, connect(srv))
    finally:
        for s in socks:
            s.close()
    wait_for("login memory to go back to 0", lambda: login_memory(srv) == 0)


def test_partial_tls_record_neither_spins_nor_escapes_the_budget(tls_server, connect):
    """A TLS client that sends part of a record makes OpenSSL hold a record
    buffer: that is charged to the login memory budget, and the worker
    waits for the rest instead of trying to read it again and again."""
    srv, cafile = tls_server
    tls_kw = dict(tls=True, cafile=cafile, server_hostname="derp.test")
    base = conn_bytes(srv, **tls_kw)
    ctx = ssl.create_default_context(cafile=cafile)
    pids = [srv.worker_pid(0), srv.worker_pid(1)]
    conns = []
    try:
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            into, out = ssl.MemoryBIO(), ssl.MemoryBIO()
            tls = ctx.wrap_bio(into, out, server_hostname="derp.test")
            while True:
                try:
                    tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    s.sendall(out.read())
                    into.write(s.recv(65536))
            s.sendall(out.read())
            tls.write(b"GET /derp HTTP/1.1\r\n" + b"X" * 8000)
            record = out.read()
            s.sendall(record[:len(record) // 2])
            conns.append(s)
        time.sleep(0.5)
        cpu0 = [cpu_seconds(p) for p in pids]
        time.sleep(2)
        used = [cpu_seconds(p) - t for p, t in zip(pids, cpu0)]
        assert max(used) < 0.2, f"workers used {used} s of CPU waiting for records"
        # 20 x (struct conn and OpenSSL's state, plus its record buffer,
        # 18 KiB), and the request for the figure with its 4 KiB buffer.
        assert gauge(srv, **tls_kw) == 20 * (base + 18 * 1024) + base + 4096
        exchange(connect(srv, worker=0, **tls_kw), connect(srv, worker=1, **tls_kw))
    finally:
        for s in conns:
            s.close()
    wait_for("login memory to go back to 0",
             lambda: gauge(srv, **tls_kw) == base + 4096)


def test_login_memory_flag(derp_server, connect):
    """-login-memory-mib sets the budget: with 1 MiB, forty connections
    stalled with 50 KB of a ClientInfo each cannot all stay; the worker
    keeps within it, says so once, and still logs clients in."""
    srv = derp_server(workers=1, extra_args=["-login-memory-mib", "1"])
    srv.conn_bytes = conn_bytes(srv)
    mark = srv.log_mark()
    socks = []
    try:
        for _ in range(40):
            s = socket.create_connection(("127.0.0.1", srv.port))
            try:
                s.sendall(UPGRADE + struct.pack(">BI", CLIENT_INFO, DECLARED) +
                          os.urandom(SENT))
            except OSError:
                pass
            socks.append(s)
            time.sleep(0.05)    # over a second or two: the oldest make room
        assert gauge(srv) <= 1 << 20
        assert metrics(srv)("derpd_login_memory_closed_total") > 0
        srv.wait_log(r"login memory budget \(-login-memory-mib 1\) spent", since=mark)
        time.sleep(1.1)         # the stalled ones are old by now
        exchange(connect(srv), connect(srv))
    finally:
        for s in socks:
            s.close()
    wait_for("login memory to go back to 0", lambda: login_memory(srv) == 0)


@pytest.mark.parametrize("value", ["0", "-1", "1048577", "x"])
def test_login_memory_flag_bad_values(derpd_bin, keyfile, value):
    out = subprocess.run([derpd_bin, "-a", "127.0.0.1:1", "-c", str(keyfile),
                          "-login-memory-mib", value], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode != 0
    assert "login-memory-mib" in out.stderr
