# SPDX-License-Identifier: BSD-3-Clause
"""systemd's notification protocol (sd_notify(3)) without systemd: the test
binds the datagram socket that $NOTIFY_SOCKET names and reads what derpd's
master sends: READY=1 only once every worker serves, STATUS= with the client
count, RELOADING=1 then READY=1 around SIGHUP, STOPPING=1 on SIGTERM, and
WATCHDOG=1 at half of $WATCHDOG_USEC."""
import os
import re
import signal
import socket
import time

import pytest

from conftest import DerpServer
from derp_client import connect_on_worker
from http_helpers import assert_on_worker
from derp_helpers import exchange

READY_LINE = re.compile(r"\[worker (\d+)\]: ready")


class Listener:
    """The receiving end of $NOTIFY_SOCKET: a path, or "@name" (abstract)."""

    def __init__(self, address):
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)

    def recv(self, timeout=15.0):
        """The next message as a list of NAME=value lines, or None on timeout."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            return None
        return data.decode().split("\n")

    def recv_until(self, pred, timeout=15.0, skip_watchdog=True):
        """Messages up to and including the first for which pred holds."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            msg = self.recv(max(0.01, deadline - time.monotonic()))
            assert msg is not None, f"no matching message within {timeout}s; got {seen}"
            if skip_watchdog and msg == ["WATCHDOG=1"]:
                continue
            seen.append(msg)
            if pred(msg):
                return seen

    def drain(self, seconds):
        """Every message that arrives within `seconds`."""
        out, deadline = [], time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            msg = self.recv(left)
            if msg is not None:
                out.append(msg)
        return out

    def close(self):
        self.sock.close()
        if not self.address.startswith("@"):
            os.unlink(self.address)


class NotifiedServer(DerpServer):
    """A DerpServer whose start-up wait is the READY=1 datagram, not the log:
    at the moment READY=1 arrives, every worker must already have logged
    that it is ready, and a DERP login on each worker must succeed at once."""

    def __init__(self, listener, *args, **kw):
        self.listener, self.first = listener, None
        super().__init__(*args, **kw)

    def wait_ready(self, n, timeout=15.0, since=0):
        if self.first is not None:
            return super().wait_ready(n, timeout, since)
        self.first = self.listener.recv(timeout)
        while self.first == ["WATCHDOG=1"]:         # armed from the start
            self.first = self.listener.recv(timeout)
        if self.first is None:
            self.stop(check=False)
            pytest.fail(f"no notification within {timeout}s:\n{self.log_text()}")
        assert "READY=1" in self.first, f"first message is not READY=1: {self.first}"
        logged = {int(m.group(1)) for m in READY_LINE.finditer(self.log_text())}
        assert logged == set(range(n)), f"READY=1 before every worker was ready: {logged}"
        for w in range(n):
            c = connect_on_worker("127.0.0.1", self.port, w, n, timeout=5)
            try:
                assert_on_worker(self, c, w)
            finally:
                c.close()


@pytest.fixture
def notified(derpd_bin, keyfile, tmp_path, monkeypatch):
    """Factory: notified(address, env={}, workers=2) -> (server, listener)."""
    made = []

    def start(address, env=(), workers=2):
        listener = Listener(address)
        made.append((None, listener))
        monkeypatch.setenv("NOTIFY_SOCKET", address)
        for name in ("WATCHDOG_USEC", "WATCHDOG_PID"):
            monkeypatch.delenv(name, raising=False)
        for name, value in dict(env).items():
            monkeypatch.setenv(name, value)
        srv = NotifiedServer(listener, derpd_bin, keyfile, tmp_path / f"derpd-{len(made)}.log",
                             workers=workers)
        made[-1] = (srv, listener)
        return srv, listener

    yield start
    for srv, listener in made:
        if srv is not None:
            srv.stop()
        listener.close()


def status_clients(msg):
    for line in msg:
        m = re.fullmatch(r"STATUS=(\d+) clients, (\d+) of (\d+) workers serving", line)
        if m:
            return tuple(int(g) for g in m.groups())
    return None


def test_ready_status_reload_stop(notified, tmp_path):
    """The whole life of a relay under systemd, over a socket path."""
    srv, ln = notified(str(tmp_path / "notify"))
    assert status_clients(srv.first) == (0, 2, 2), srv.first

    a = connect_on_worker("127.0.0.1", srv.port, 0, 2)
    b = connect_on_worker("127.0.0.1", srv.port, 1, 2)
    seen = ln.recv_until(lambda m: status_clients(m) == (2, 2, 2), timeout=10)
    assert all(status_clients(m) for m in seen), f"only STATUS= expected: {seen}"

    os.kill(srv.pid, signal.SIGHUP)
    reloading = ln.recv_until(lambda m: True, timeout=10)[0]
    assert reloading[0] == "RELOADING=1", reloading
    usec = [l for l in reloading if l.startswith("MONOTONIC_USEC=")]
    assert usec and 0 < int(usec[0].split("=")[1]) <= time.clock_gettime_ns(
        time.CLOCK_MONOTONIC) // 1000, reloading
    assert ln.recv_until(lambda m: True, timeout=10)[0] == ["READY=1"]
    exchange(a, b)                    # the reload kept both clients

    os.kill(srv.pid, signal.SIGTERM)
    assert ln.recv_until(lambda m: True, timeout=10)[0] == ["STOPPING=1"]
    assert srv.proc.wait(15) == 0
    a.close()
    b.close()


def test_abstract_socket(notified):
    """NOTIFY_SOCKET=@name: the abstract namespace (no file anywhere)."""
    name = f"@derpd-test-{os.getpid()}-{time.monotonic_ns()}"
    srv, ln = notified(name, workers=1)
    assert status_clients(srv.first) == (0, 1, 1), srv.first
    srv.proc.send_signal(signal.SIGTERM)
    assert ln.recv_until(lambda m: True)[0] == ["STOPPING=1"]


def test_watchdog_pings(notified, tmp_path):
    """WATCHDOG_USEC=400000: a ping about every 200 ms from the master."""
    srv, ln = notified(str(tmp_path / "notify"), env={"WATCHDOG_USEC": "400000"},
                       workers=1)
    start = time.monotonic()
    msgs = ln.drain(2.0)
    pings = [m for m in msgs if m == ["WATCHDOG=1"]]
    assert 6 <= len(pings) <= 14, f"{len(pings)} pings in {time.monotonic() - start:.1f}s"


@pytest.mark.parametrize("env", [{}, {"WATCHDOG_USEC": "400000", "WATCHDOG_PID": "1"}],
                         ids=["unset", "other-pid"])
def test_no_watchdog_pings(notified, tmp_path, env):
    """No WATCHDOG_USEC, or one meant for another process: no pings at all."""
    srv, ln = notified(str(tmp_path / "notify"), env=env, workers=1)
    msgs = ln.drain(1.5)
    assert ["WATCHDOG=1"] not in msgs, msgs
