# SPDX-License-Identifier: BSD-3-Clause
"""The worker's seccomp policy, one call of each class at a time (the test
build's probes, common/probe.h): every forbidden class kills the worker by
SIGSYS, the master starts a new one, and clients on the other worker never
notice; calls allowed only with restricted arguments work on the allowed
side.  (execve and open, with the whole life of a dead worker's clients,
are test_worker_death.py's.)"""
import re
import signal

import pytest

from derp_helpers import exchange
from probes import probe

FORBIDDEN = ["open_write", "socket", "connect", "ptrace", "mprotect_exec", "mmap_exec",
             "process_vm_readv", "kill"]
ALLOWED = ["mprotect_rw", "mmap_rw"]
NAMES = {   # as worker/testhooks.c logs them
    "open_write": "open for writing", "socket": "socket", "connect": "connect",
    "ptrace": "ptrace", "mprotect_exec": "mprotect PROT_EXEC",
    "mmap_exec": "mmap PROT_EXEC", "process_vm_readv": "process_vm_readv",
    "kill": "kill of the master", "mprotect_rw": "mprotect PROT_READ|PROT_WRITE",
    "mmap_rw": "mmap PROT_READ|PROT_WRITE",
}


@pytest.mark.parametrize("name", FORBIDDEN)
def test_forbidden_call_kills_the_worker(derp_server, connect, derpd_test_bin, name):
    srv = derp_server(workers=2, binary=derpd_test_bin)
    c, d = connect(srv, worker=1), connect(srv, worker=1)
    old = srv.worker_pid(0)
    mark = srv.log_mark()
    probe(old, name)
    srv.wait_log(rf"\[worker 0\]: test hook: attempting {re.escape(NAMES[name])}",
                 since=mark)
    died = srv.wait_log(rf"worker 0 \(pid {old}\) killed by signal (\d+) [^\n]*", since=mark)
    assert int(died.group(1)) == signal.SIGSYS, died.group(0)
    assert "seccomp policy violation" in died.group(0)
    assert f"test hook: {NAMES[name]} returned" not in srv.log_text()
    srv.wait_log(r"\[worker 0\]: ready", since=mark)
    exchange(c, d)
    exchange(connect(srv, worker=0), c)         # its successor serves
    assert not re.search(r"worker 1 .*(killed|exited)", srv.log_text()), srv.tail()
    assert srv.proc.poll() is None, "the master died"


@pytest.mark.parametrize("name", ALLOWED)
def test_allowed_side_of_a_restricted_call_works(derp_server, connect, derpd_test_bin,
                                                 name):
    srv = derp_server(workers=2, binary=derpd_test_bin)
    a = connect(srv, worker=0)
    pid = srv.worker_pid(0)
    mark = srv.log_mark()
    probe(pid, name)
    srv.wait_log(rf"test hook: {re.escape(NAMES[name])} returned 0 \(no error\)",
                 since=mark)
    exchange(a, connect(srv, worker=1))
    assert srv.worker_pid(0) == pid and "killed" not in srv.log_text()[mark:]
