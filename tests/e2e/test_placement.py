# SPDX-License-Identifier: BSD-3-Clause
"""-placement: which worker serves a new connection.  source-port (the
default) gives each to worker (TCP source port % workers) and derpd refuses
to start if the kernel will not do it; hash leaves it to the kernel.  Every
test that names a worker asserts where its clients landed (conftest's
connect fixture, http_helpers' get), so these tests only check the flag
itself."""
import os
import subprocess

import pytest

from derp_helpers import exchange
from http_helpers import get, served_by

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
    """Placement by source port asked for (the default) but refused by the
    kernel: derpd exits, saying so, instead of falling back to the hash."""
    out = subprocess.run([derpd_bin, "-a", "127.0.0.1:0", "-c", str(keyfile),
                          "-workers", "2", "-stun=false", "-http-port=-1"]
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
    """-placement hash never installs the program: it starts where
    source-port placement is refused, and every worker gets clients."""
    monkeypatch.setenv("LD_PRELOAD", no_steering["LD_PRELOAD"])
    monkeypatch.setenv("ASAN_OPTIONS", no_steering["ASAN_OPTIONS"])
    srv = derp_server(workers=2, extra_args=["-placement", "hash"])
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
