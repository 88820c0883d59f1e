# SPDX-License-Identifier: BSD-3-Clause
"""Helpers for the fault drills: a process's CPU time and memory from /proc,
TCP connections placed on a chosen worker, descriptor limits, and the marker
that keeps heavy drills out of the ASan run (they run once, on the normal
build)."""
import errno
import os
import random
import resource
import socket

import pytest

heavy = pytest.mark.skipif(os.environ.get("DERPD_ASAN") == "1",
                           reason="heavy drill: runs once, on the normal build")

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User plus system CPU time of pid so far, in seconds (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def pss_kib(pid):
    """Pss of pid in KiB (/proc/PID/smaps_rollup; another user's
    non-dumpable process needs root)."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    raise RuntimeError(f"no Pss line for pid {pid}")


def nofile_hard():
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


def raise_nofile(n):
    """Raises this process's soft descriptor limit to n (at most the hard one)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


def tcp_on_worker(port, worker, nworkers, attempts=200, timeout=10):
    """A TCP connection to 127.0.0.1:port whose source port puts it on
    `worker` (derpd places by source port % workers)."""
    rng = random.SystemRandom()
    for _ in range(attempts):
        base = rng.randrange(20000, 60000 - nworkers)
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", base - base % nworkers + worker))
            s.settimeout(timeout)
            s.connect(("127.0.0.1", port))
            return s
        except OSError as e:
            s.close()
            if e.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
                raise
    raise RuntimeError(f"no free source port for worker {worker} of {nworkers}")
