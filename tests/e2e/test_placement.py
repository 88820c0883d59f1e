# SPDX-License-Identifier: BSD-3-Clause
"""-placement: which worker serves a new connection (master/steer.c).
hash (the default) spreads connections by a hash of the client's address
and port; source-port gives each to worker (TCP source port % workers),
which the other tests use (conftest passes it) and derpd refuses to start
without.  Either way a worker that is down gets no new connections.  Every
test that names a worker asserts where its clients landed (conftest's
connect fixture, http_helpers' get)."""
import os
import signal
import socket
import subprocess
import time

import pytest

from derp_client import DerpClient, connect_on_worker
from derp_helpers import exchange
from drills import raise_nofile
from http_helpers import get, served_by
from procfs import derpd_pids

HASH = ["-placement", "hash"]

# A setsockopt that refuses SO_ATTACH_REUSEPORT_CBPF, as a kernel without
# classic BPF for reuseport groups would.
SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>

int
setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	static int (*real)(int, int, int, const void *, socklen_t);

	if (level == SOL_SOCKET && name == SO_ATTACH_REUSEPORT_CBPF) {
		errno = EPERM;
		return -1;
	}
	if (real == NULL)
		real = (int (*)(int, int, int, const void *, socklen_t))
		    dlsym(RTLD_NEXT, "setsockopt");
	return real(fd, level, name, val, len);
}
"""


@pytest.fixture
def no_steering(tmp_path, monkeypatch):
    """Environment for a derpd whose kernel refuses the steering program:
    LD_PRELOAD of a setsockopt that fails it (ASan allows the preload)."""
    src, lib = tmp_path / "shim.c", tmp_path / "shim.so"
    src.write_text(SHIM)
    out = subprocess.run(["cc", "-shared", "-fPIC", "-o", str(lib), str(src), "-ldl"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    env = dict(os.environ, LD_PRELOAD=str(lib))
    env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"),
                                                 "verify_asan_link_order=0"]))
    return env


def test_source_port_places_every_connection(derp_server, connect):
    """Three workers: two logins steered onto each land there (the connect
    fixture asserts it from /debug/route), and relay across."""
    srv = derp_server(workers=3)
    clients = [connect(srv, worker=w) for w in (0, 1, 2) for _ in range(2)]
    for w in (0, 1, 2):
        assert get(srv, "/derp/probe", worker=w).status == 200
    exchange(clients[0], clients[5])
    exchange(clients[2], clients[3])


def test_refuses_to_start_when_it_cannot_place(derpd_bin, keyfile, no_steering):
    """Placement by source port asked for but refused by the kernel: derpd
    exits, saying so, instead of falling back to the kernel's hash."""
    out = subprocess.run([derpd_bin, "-a", "127.0.0.1:0", "-c", str(keyfile),
                          "-workers", "2", "-stun=false", "-http-port=-1",
                          "-placement", "source-port"]
                         + (["-user", "nobody"] if os.geteuid() == 0 else []),
                         env=no_steering, capture_output=True, text=True, timeout=30)
    assert out.returncode != 0, out.stderr
    assert "cannot place connections by source port" in out.stderr, out.stderr
    assert "-placement hash" in out.stderr, out.stderr


def test_one_worker_needs_no_steering(derp_server, connect, monkeypatch, no_steering):
    """With one worker there is nothing to place: no program, no refusal."""
    monkeypatch.setenv("LD_PRELOAD", no_steering["LD_PRELOAD"])
    monkeypatch.setenv("ASAN_OPTIONS", no_steering["ASAN_OPTIONS"])
    srv = derp_server(workers=1)
    exchange(connect(srv), connect(srv))


def test_hash_placement_starts_without_steering(derp_server, connect, monkeypatch,
                                                no_steering):
    """Where the kernel refuses the program, -placement hash starts anyway
    (with a warning: the kernel's own hash cannot avoid a dead worker), and
    every worker gets clients."""
    monkeypatch.setenv("LD_PRELOAD", no_steering["LD_PRELOAD"])
    monkeypatch.setenv("ASAN_OPTIONS", no_steering["ASAN_OPTIONS"])
    srv = derp_server(workers=2, extra_args=HASH)
    assert "cannot steer connections; the kernel spreads them" in srv.log_text()
    clients = [connect(srv) for _ in range(24)]
    workers = {served_by(srv, c.pub) for c in clients}
    assert workers == {0, 1}, f"24 clients all on {workers}: hash spreads them"
    exchange(clients[0], clients[-1])


def test_unknown_placement_refused(derpd_bin, keyfile):
    out = subprocess.run([derpd_bin, "-a", "127.0.0.1:0", "-c", str(keyfile),
                          "-placement", "round-robin"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert 'unknown -placement "round-robin"' in out.stderr, out.stderr


def socket_inodes(pid):
    """The inodes of pid's sockets (reading another user's non-dumpable
    worker's /proc/PID/fd takes root)."""
    out = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            out.add(target)
    return out


def spread(srv, nworkers, n):
    """Opens n TCP connections from ports the kernel picks; returns how many
    each worker accepted (the sockets it gained)."""
    pids = [derpd_pids(srv)[f"worker {w}"] for w in range(nworkers)]
    before = [socket_inodes(p) for p in pids]
    conns = []
    try:
        for _ in range(n):
            conns.append(socket.create_connection(("127.0.0.1", srv.port), timeout=10))
        deadline = time.monotonic() + 20
        while True:
            got = [len(socket_inodes(p) - b) for p, b in zip(pids, before)]
            if sum(got) >= n or time.monotonic() > deadline:
                return got
            time.sleep(0.1)
    finally:
        for c in conns:
            c.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="reads the workers' /proc/PID/fd")
@pytest.mark.parametrize("nworkers", [2, 4])
def test_hash_spreads_kernel_ports_evenly(derp_server, nworkers):
    """The default: 4,000 connections from the ports Linux picks (all even,
    so source-port placement would put every one on even workers) spread
    over 2 and 4 workers within 15 % of an even share."""
    raise_nofile(4096 + 256)
    srv = derp_server(workers=nworkers, nofile=16384,
                      extra_args=HASH + ["-handshake-timeout", "60s"])
    got = spread(srv, nworkers, 4000)
    share = 4000 / nworkers
    assert sum(got) == 4000, got
    assert all(abs(g - share) <= 0.15 * share for g in got), got


@pytest.mark.parametrize("placement", ["hash", "source-port"])
def test_no_new_connection_waits_for_a_dead_worker(derp_server, derpd_test_bin,
                                                   placement):
    """Worker 0 dies repeatedly, so its successor waits in back-off (1.6 s
    after the fifth death); meanwhile every new login, whatever its source
    port, is served at once by worker 1, and once worker 0 is back it gets
    its share again."""
    srv = derp_server(workers=2, binary=derpd_test_bin,
                      env={"DERPD_TEST_HEALTHY_RUN_MS": "60000"},
                      extra_args=["-placement", placement])
    for _ in range(5):
        pid = srv.worker_pid(0)
        mark = srv.log_mark()
        os.kill(pid, signal.SIGKILL)
        m = srv.wait_log(r"worker 0 died after \d+ ms; restarting it in (\d+) ms",
                         since=mark)
        if int(m.group(1)) < 1600:
            srv.wait_log(r"\[worker 0\]: ready", since=mark, timeout=10)
    start = time.monotonic()
    clients = [DerpClient("127.0.0.1", srv.port, timeout=2).connect() for _ in range(16)]
    assert time.monotonic() - start < 1.5, "a login waited for the dead worker"
    assert "worker 0 started" not in srv.log_text()[mark:], "worker 0 came back too soon"
    assert {served_by(srv, c.pub) for c in clients} == {1}
    exchange(clients[0], clients[-1])
    srv.wait_log(r"\[worker 0\]: ready", since=mark, timeout=10)
    if placement == "hash":
        later = [DerpClient("127.0.0.1", srv.port).connect() for _ in range(24)]
        assert {served_by(srv, c.pub) for c in later} == {0, 1}
    else:               # each port's own worker again
        later = [connect_on_worker("127.0.0.1", srv.port, w, 2) for w in (0, 1, 0, 1)]
        assert [served_by(srv, c.pub) for c in later] == [0, 1, 0, 1]
    for c in clients + later:
        c.close()
