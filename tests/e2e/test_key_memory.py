# SPDX-License-Identifier: BSD-3-Clause
"""How the key process keeps the DERP private key, read from /proc as root
(SECURITY.md, "Processes and who holds what"): in libsodium's guarded
memory (sodium_malloc: a read-only page, locked in RAM, left out of core
dumps, between two inaccessible guard pages), gone from its memory when it
exits; and the per-client shared keys it computes are wiped by the workers
once ServerInfo is sealed (and by the key process once sent)."""
import ctypes
import json
import os
import signal
import time

import pytest
from nacl.public import Box, PublicKey

from procfs import derpd_pids, scan_memory

# The ASan build (make test-asan): its mlock is a no-op, and LeakSanitizer's
# check at exit cannot run under a tracer.
ASAN = bool(os.environ.get("DERPD_ASAN"))

root_only = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="needs root: derpd's processes are non-dumpable and run as another "
           "user, so only CAP_SYS_PTRACE may read their memory")


def private_key_of(path):
    value = json.loads(path.read_text())["PrivateKey"]
    return bytes.fromhex(value[len("privkey:"):])


def smaps(pid):
    """[(start, end, perms, {field: value})] from /proc/PID/smaps."""
    maps = []
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
                lo, hi = (int(x, 16) for x in head[0].split("-"))
                maps.append((lo, hi, head[1], {}))
            else:
                name, _, value = line.partition(":")
                maps[-1][3][name] = value.strip()
    return maps


def key_address(srv, keyfile):
    pid = derpd_pids(srv)["key"]
    hits, _ = scan_memory(pid, [private_key_of(keyfile)])
    addrs = hits[private_key_of(keyfile)]
    assert len(addrs) == 1, f"the key is at {sorted(map(hex, addrs))} in the key process"
    return pid, addrs.pop()


@root_only
def test_key_page_is_locked_read_only_undumped_and_guarded(derp_server, connect,
                                                           keyfile):
    srv = derp_server(workers=2)
    connect(srv)                                # one login: the key is in use
    pid, addr = key_address(srv, keyfile)
    maps = smaps(pid)
    i = next(i for i, m in enumerate(maps) if m[0] <= addr < m[1])
    lo, hi, perms, fields = maps[i]
    flags = fields["VmFlags"].split()
    assert perms == "r--p", f"the key's page is {perms}, not read-only"
    if not ASAN:
        assert "lo" in flags and int(fields["Locked"].split()[0]) > 0, \
            f"the key's page is not locked in RAM: {fields['Locked']}, {flags}"
    assert "dd" in flags, f"the key's page would be in a core dump: {flags}"
    before, after = maps[i - 1], maps[i + 1]
    assert before[1] == lo and before[2] == "---p", \
        f"no guard page below the key: {before[:3]}"
    assert after[0] == hi and after[2] == "---p", f"no guard page above the key: {after[:3]}"
    assert hi - (addr + 32) < 16, "an overflow of the key would not reach the guard page"


PTRACE_SEIZE, PTRACE_DETACH, PTRACE_O_TRACEEXIT, PTRACE_EVENT_EXIT = 0x4206, 17, 0x40, 6
WALL = 0x40000000


@root_only
@pytest.mark.skipif(ASAN, reason="LeakSanitizer cannot check a traced process at exit")
def test_key_gone_from_memory_when_the_key_process_exits(derp_server, connect, keyfile):
    """Stopped (ptrace, PTRACE_O_TRACEEXIT) as it exits after the master
    stopped, with its memory still there, the key process holds the key no
    more; the same scan found it while it ran."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
    srv = derp_server(workers=2)
    connect(srv)
    pid, _ = key_address(srv, keyfile)
    priv = private_key_of(keyfile)
    if libc.ptrace(PTRACE_SEIZE, pid, None, ctypes.c_void_p(PTRACE_O_TRACEEXIT)) != 0:
        pytest.fail(f"PTRACE_SEIZE: {os.strerror(ctypes.get_errno())}")
    try:
        os.kill(srv.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while True:
            got, status = os.waitpid(pid, WALL | os.WNOHANG)
            if got == pid:
                break
            assert time.monotonic() < deadline, "the key process did not exit"
            time.sleep(0.01)
        assert os.WIFSTOPPED(status) and status >> 8 == (signal.SIGTRAP |
                                                         PTRACE_EVENT_EXIT << 8), \
            f"not the exit stop: status {status:#x}"
        hits, scanned = scan_memory(pid, [priv])
        assert scanned > 64 << 10, f"only {scanned} bytes of the exiting process"
        assert not hits[priv], f"the key is still at {sorted(map(hex, hits[priv]))}"
    finally:
        libc.ptrace(PTRACE_DETACH, pid, None, None)
    srv.stop()


@root_only
def test_shared_keys_wiped_after_login(derp_server, connect, server_pub):
    """crypto_box_beforenm(client, server), which the test computes itself,
    is in no worker's memory (nor the key process's) once ServerInfo has
    arrived; the client's public key is, so the scan sees the worker."""
    srv = derp_server(workers=2)
    clients = [connect(srv, worker=w) for w in (0, 1) for _ in range(3)]
    shared = [Box(c.priv, PublicKey(server_pub)).shared_key() for c in clients]
    pids = derpd_pids(srv)
    for role in ("worker 0", "worker 1", "key"):
        own = [c.pub for c in clients if role == f"worker {clients.index(c) // 3}"]
        hits, _ = scan_memory(pids[role], shared + own)
        for i, k in enumerate(shared):
            assert not hits[k], f"{role} still holds client {i}'s shared key"
        for pub in own:
            assert hits[pub], f"{role} does not hold its client's key: the scan is blind"
