# SPDX-License-Identifier: BSD-3-Clause
"""A compromised worker against shared memory (SECURITY.md, "What a
compromised worker can do"): each region has one writer and everyone else
maps it read-only, so a worker can scribble only on its own region, which
nobody trusts; a store into another region faults, and mprotect cannot make
it writable.  The test build's probes (tests/e2e/probes.py) play the
compromised worker."""
import os
import re
import signal
import threading
import time

import pytest

from conftest import free_udp_port
from derp_helpers import exchange, stream, tagged_packet
from http_helpers import assert_on_worker, get
from probes import probe
from procfs import derpd_pids, wait_sandboxed

needs_root = pytest.mark.skipif(os.geteuid() != 0,
                                reason="reading another user's /proc/PID/maps needs root")

MEMFD_RE = re.compile(r"^\S+ (\S{4}) \S+ \S+ \S+\s+/memfd:(derpd-\w+)", re.M)


def mapped_regions(pid):
    """{region name: permissions} of the shared-memory regions pid maps."""
    with open(f"/proc/{pid}/maps") as f:
        return {name: perms for perms, name in MEMFD_RE.findall(f.read())}


def memfd_descriptors(pid):
    """Descriptors of pid that are shared-memory regions."""
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("/memfd:derpd-"):
            out.append(target)
    return out


def expected_regions(role, nworkers):
    """What each process may map, and how: its own region rw, what it reads r."""
    everything = ["derpd-master", "derpd-stun", "derpd-dns"] + \
        [f"derpd-worker{i}" for i in range(nworkers)]
    if role == "master":
        return {r: "rw-s" if r == "derpd-master" else "r--s" for r in everything}
    if role.startswith("worker "):
        own = "derpd-worker" + role.split()[1]
        return {r: "rw-s" if r == own else "r--s" for r in everything}
    if role in ("stun", "dns"):
        return {f"derpd-{role}": "rw-s"}
    return {}       # the key process maps nothing


@needs_root
def test_every_process_maps_only_its_own_region_writable(derp_server, connect):
    srv = derp_server(workers=3, extra_args=[
        "-stun=true", "-stun-port", str(free_udp_port()),
        "-bootstrap-dns-names", "localhost"])
    srv.wait_log(r"bootstrap DNS resolver started")
    connect(srv, worker=0)
    pids = derpd_pids(srv)
    assert set(pids) == {"master", "key", "stun", "dns",
                         "worker 0", "worker 1", "worker 2"}, pids
    for role, pid in pids.items():
        if role != "master":
            wait_sandboxed(pid)
        assert mapped_regions(pid) == expected_regions(role, 3), role
        if role != "master":    # only the master keeps descriptors, to respawn
            assert memfd_descriptors(pid) == [], (role, memfd_descriptors(pid))


def test_store_into_a_foreign_region_faults(derp_server, connect, derpd_test_bin):
    """Worker 0 writes one byte into the master's region (the connection
    table): the store faults (SIGSEGV) instead of landing; worker 1's
    clients never notice and the replacement serves."""
    srv = derp_server(workers=2, binary=derpd_test_bin)
    c, d = connect(srv, worker=1), connect(srv, worker=1)
    old = srv.worker_pid(0)
    mark = srv.log_mark()
    probe(old, "write_foreign")
    srv.wait_log(rf"worker 0 \(pid {old}\) killed by signal 11 \(Segmentation fault\)",
                 since=mark)
    assert "a write to the master's region returned" not in srv.log_text()
    exchange(c, d)
    srv.wait_log(r"\[worker 0\]: ready", since=mark)
    exchange(connect(srv, worker=0), c)


def test_foreign_region_cannot_be_made_writable(derp_server, connect, derpd_test_bin):
    """mprotect(PROT_WRITE) on the master's region fails (EACCES: the mapping
    comes from a read-only descriptor) and the worker lives on."""
    srv = derp_server(workers=2, binary=derpd_test_bin)
    a = connect(srv, worker=0)
    pid = srv.worker_pid(0)
    mark = srv.log_mark()
    probe(pid, "mprotect_foreign")
    srv.wait_log(r"\[worker 0\]: test hook: mprotect of the master's region "
                 r"writable returned -1 \(Permission denied\)", since=mark)
    assert srv.worker_pid(0) == pid
    exchange(a, connect(srv, worker=1))


def test_scribbling_worker_hurts_nobody_else(derp_server, connect, derpd_test_bin):
    """Worker 0 overwrites every byte it can write -- its own region: counters,
    ring heads, and its rings to the other workers -- with random data, again
    and again for 3 s.  Meanwhile the master and worker 1 stay up and
    responsive: probes answer, logins (which go through the master) succeed,
    worker 1's clients relay.  Once worker 0 is killed and replaced, relaying
    across workers resumes; nothing but worker 0 ever died."""
    srv = derp_server(workers=2, binary=derpd_test_bin)
    a, b = connect(srv, worker=0), connect(srv, worker=1)
    c, d = connect(srv, worker=1), connect(srv, worker=1)
    exchange(a, b)
    bad = srv.worker_pid(0)
    mark = srv.log_mark()
    failure = []

    def c_to_d():
        try:
            stream(c, d, [tagged_packet(i, 1000, b"x" * 1000) for i in range(300)],
                   timeout=30, pace=0.01)
        except BaseException as e:
            failure.append(e)

    streamer = threading.Thread(target=c_to_d, daemon=True)
    streamer.start()
    probe(bad, "scribble")
    srv.wait_log(r"\[worker 0\]: test hook: attempting scribbling", since=mark)
    during = time.monotonic()
    while time.monotonic() - during < 2.5:
        assert get(srv, "/derp/probe", worker=1).status == 200
        e = connect(srv, worker=1)
        assert_on_worker(srv, e, 1)
        exchange(e, c)
    srv.wait_log(r"\[worker 0\]: test hook: scribbled over our region \d+ times",
                 since=mark)
    streamer.join(40)
    assert not streamer.is_alive() and not failure, failure

    os.kill(bad, signal.SIGKILL)
    srv.wait_log(rf"worker 0 \(pid {bad}\) killed by signal 9", since=mark)
    srv.wait_log(r"\[worker 0\]: ready", since=mark)
    f = connect(srv, worker=0)
    assert_on_worker(srv, f, 0)
    exchange(f, c)
    exchange(f, connect(srv, worker=1))
    deaths = re.findall(r"\((pid \d+)\) (?:killed by signal|exited with status)",
                        srv.log_text())
    assert deaths == [f"pid {bad}"], srv.tail()
