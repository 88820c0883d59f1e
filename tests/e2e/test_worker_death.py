# SPDX-License-Identifier: BSD-3-Clause
"""A worker that dies, whether SIGKILLed or killed by its seccomp filter for a
forbidden syscall (the test build's hooks: SIGUSR1 makes a worker try
execve, SIGUSR2 open): the master logs the cause and starts a new one; the
dead worker's routes are reclaimed and its clients are gone (their peers
get PeerGone); clients on the other workers never notice; the same key can
log in again on the new worker.  Repeated deaths back off."""
import os
import re
import signal
import threading
import time

import pytest

from derp_client import PEER_GONE_DISCONNECTED, PEER_GONE_NOT_HERE, disco_packet
from derp_helpers import exchange, stream, tagged_packet
from procfs import derpd_pids, status

PATTERN = bytes(range(256)) * 8

CAUSES = {
    # how: (signal sent to the worker, signal it dies of, forbidden syscall)
    "sigkill": (signal.SIGKILL, signal.SIGKILL, None),
    "execve": (signal.SIGUSR1, signal.SIGSYS, "execve"),
    "open": (signal.SIGUSR2, signal.SIGSYS, "open"),
}


@pytest.mark.parametrize("cause", list(CAUSES))
def test_worker_death_and_respawn(derp_server, connect, derpd_test_bin, cause):
    send_sig, death_sig, syscall = CAUSES[cause]
    srv = derp_server(workers=2, binary=derpd_test_bin if syscall else None)
    a = connect(srv, worker=0)
    b = connect(srv, worker=1)
    c, d = connect(srv, worker=1), connect(srv, worker=1)
    a.send_packet(b.pub, b"a to b")
    assert b.recv_packet() == (a.pub, b"a to b")       # B now expects PeerGone(A)
    exchange(c, d)

    # C -> D keeps streaming (about 2 s, paced) while worker 0 dies.
    failure = []

    def c_to_d():
        try:
            stream(c, d, [tagged_packet(i, 1000, PATTERN) for i in range(200)],
                   timeout=30, pace=0.01)
        except BaseException as e:
            failure.append(e)

    streamer = threading.Thread(target=c_to_d, daemon=True)
    old_pid = srv.worker_pid(0)
    mark = srv.log_mark()
    streamer.start()
    time.sleep(0.3)                     # let the stream get going first
    os.kill(old_pid, send_sig)

    if syscall:
        srv.wait_log(rf"\[worker 0\]: test hook: attempting a forbidden {syscall}",
                     since=mark)
    died = srv.wait_log(rf"worker 0 \(pid {old_pid}\) killed by signal "
                        rf"{int(death_sig)} \(([^)]*)\)(.*)", since=mark)
    assert died.group(1) == signal.strsignal(death_sig)
    if death_sig == signal.SIGSYS:
        assert died.group(2) == ": seccomp policy violation"
    new_pid = int(srv.wait_log(r"worker 0 started, pid (\d+)", since=mark).group(1))
    assert new_pid != old_pid
    srv.wait_log(r"\[worker 0\]: ready", since=mark)
    assert srv.worker_pid(0) == new_pid
    assert "the forbidden syscall was allowed" not in srv.log_text()
    assert not re.search(r"worker 1 .*(killed|exited)", srv.log_text()), srv.tail()

    assert a.is_closed_by_server(timeout=10), "A's connection outlived its worker"
    assert b.recv_peer_gone(timeout=10) == (a.pub, PEER_GONE_DISCONNECTED)
    srv.wait_log(r"worker 0: removed its 1 routes", since=mark)

    streamer.join(40)
    assert not streamer.is_alive(), "C -> D stream did not finish"
    if failure:
        raise failure[0]

    # A's key has no route any more.
    b.send_packet(a.pub, disco_packet())
    assert b.recv_peer_gone() == (a.pub, PEER_GONE_NOT_HERE)

    stream(d, c, [tagged_packet(i, 1000, PATTERN) for i in range(200)], timeout=30)

    # A comes back with the same key, on the new worker 0, and B reaches it.
    a2 = connect(srv, worker=0, private_key=a.priv)
    assert a2.pub == a.pub
    exchange(a2, b)
    exchange(connect(srv, worker=0), c)


def test_repeated_deaths_back_off(derp_server, connect):
    """A worker killed as soon as it starts is restarted after 100, 200,
    400, 800 ms (doubling, logged), not at once; the other worker serves
    throughout.  Only lower bounds on the delays are checked."""
    srv = derp_server(workers=2)
    x, y = connect(srv, worker=1), connect(srv, worker=1)
    delays = []
    for _ in range(5):
        pid = srv.worker_pid(0)
        mark = srv.log_mark()
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        m = srv.wait_log(rf"worker 0 died after \d+ ms; restarting it in (\d+) ms",
                         since=mark)
        delay = int(m.group(1))
        srv.wait_log(r"worker 0 started, pid (\d+)", since=mark, timeout=30)
        took = time.monotonic() - killed
        assert took >= delay / 1000 * 0.9, \
            f"restarted {took:.3f} s after the kill, before its {delay} ms backoff"
        delays.append(delay)
        exchange(x, y)
    assert delays == [100, 200, 400, 800, 1600], delays
    srv.wait_log(r"\[worker 0\]: ready", since=mark)
    exchange(connect(srv, worker=0), x)


def test_key_process_killed_and_restarted(derp_server, connect, server_pub):
    """The key process, SIGKILLed, is restarted from the key file the master
    kept open (it cannot reopen it as root any more); the same public key is
    served, logged-in clients keep relaying, new logins work on every worker."""
    srv = derp_server(workers=2)
    a, b = connect(srv, worker=0), connect(srv, worker=1)
    old = derpd_pids(srv)["key"]
    mark = srv.log_mark()
    os.kill(old, signal.SIGKILL)
    srv.wait_log(rf"key process \(pid {old}\) killed by signal 9", since=mark)
    new = int(srv.wait_log(r"key process started, pid (\d+)", since=mark).group(1))
    assert new != old
    exchange(a, b)
    for w in (0, 1):
        c = connect(srv, worker=w)
        assert c.server_key == server_pub
        exchange(c, a)
    st = status(new)
    assert st["Seccomp"] == "2" and st["NoNewPrivs"] == "1"
    assert st["CapEff"] == st["CapPrm"] == "0000000000000000"
    if os.geteuid() == 0:
        assert st["Uid"].split()[0] != "0", "the new key process runs as root"
