# SPDX-License-Identifier: BSD-3-Clause
"""What /proc says about derpd's processes: credentials, capabilities, the
sandbox, and the bytes in their memory.  Reading another user's non-dumpable
process needs root (CAP_SYS_PTRACE); callers skip when not root."""
import os
import re
import time

# "<what> started, pid P" lines: the latest one for each process wins.
ROLE_RES = {
    "key": re.compile(r"key process started, pid (\d+)"),
    "stun": re.compile(r"STUN server started, pid (\d+)"),
    "dns": re.compile(r"bootstrap DNS resolver started, pid (\d+)"),
    "verify": re.compile(r"verifier started, pid (\d+)"),
    "dialer": re.compile(r"mesh dialer started, pid (\d+)"),
    "acme": re.compile(r"ACME client started, pid (\d+)"),
}
WORKER_RE = re.compile(r"worker (\d+) started, pid (\d+)")

CAP_FIELDS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")

# Larger mappings are address-space reservations (ASan's shadow), not data.
MAX_SCAN_MAPPING = 1 << 30
CHUNK = 1 << 20


def derpd_pids(srv):
    """{"master": pid, "key": pid, "worker 0": pid, ..., "stun"/"dns"/"acme"
    if run}."""
    text = srv.log_text()
    pids = {"master": srv.pid}
    for role, rx in ROLE_RES.items():
        found = rx.findall(text)
        if found:
            pids[role] = int(found[-1])
    for m in WORKER_RE.finditer(text):
        pids[f"worker {m.group(1)}"] = int(m.group(2))
    return pids


def status(pid):
    """/proc/PID/status as {field: value string}."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            fields[name] = value.strip()
    return fields


def wait_sandboxed(pid, timeout=15.0):
    """Waits until pid has entered its seccomp filter (a helper logged as
    started may still be setting up); returns its status either way."""
    deadline = time.monotonic() + timeout
    while True:
        st = status(pid)
        if st["Seccomp"] != "0" or time.monotonic() > deadline:
            return st
        time.sleep(0.05)


def children(pid):
    """Live children of pid."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            st = status(entry)
        except OSError:
            continue
        if int(st["PPid"]) == pid and not st["State"].startswith("Z"):
            out.append(int(entry))
    return sorted(out)


def is_dumpable(pid):
    """The kernel makes /proc/PID/* of a non-dumpable process owned by root
    (whatever its uid), so nothing of its own user can open them."""
    st = status(pid)
    uid = int(st["Uid"].split()[0])
    owner = os.stat(f"/proc/{pid}/mem").st_uid
    assert uid != 0, "ownership only tells dumpability apart for a non-root process"
    return owner == uid


def data_mappings(pid):
    """(start, end, perms, name) of every mapping that can hold the process's
    own data: writable ones, and anonymous readable ones (libsodium makes the
    page holding a key read-only).  File-backed read-only mappings are the
    binary and libraries as on disk; [vvar]/[vdso]/[vsyscall] are the
    kernel's; PROT_NONE ones are guard pages and reservations."""
    out = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            perms = parts[1]
            name = parts[5].strip() if len(parts) > 5 else ""
            if name in ("[vvar]", "[vvar_vclock]", "[vdso]", "[vsyscall]"):
                continue
            if perms[0] != "r" and perms[1] != "w":
                continue
            anonymous = name == "" or name.startswith("[")
            if perms[1] != "w" and not anonymous:
                continue
            if hi - lo > MAX_SCAN_MAPPING:
                continue
            out.append((lo, hi, perms, name))
    return out


def scan_memory(pid, needles):
    """Reads every data mapping of pid through /proc/PID/mem and returns
    ({needle: {addresses}}, bytes read).  Fails on a mapping it cannot read,
    so that absence means absence."""
    needles = [bytes(n) for n in needles]
    overlap = max(len(n) for n in needles) - 1
    hits = {n: set() for n in needles}
    total = 0
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for lo, hi, perms, name in data_mappings(pid):
            prev = b""
            addr = lo
            while addr < hi:
                n = min(CHUNK, hi - addr)
                mem.seek(addr)
                try:
                    data = mem.read(n)
                except OSError as e:
                    raise AssertionError(f"cannot read {lo:#x}-{hi:#x} {perms} {name} "
                                         f"of pid {pid}: {e}") from e
                assert len(data) == n, f"short read at {addr:#x} of pid {pid}"
                buf = prev + data
                base = addr - len(prev)
                for needle in needles:
                    i = buf.find(needle)
                    while i >= 0:
                        hits[needle].add(base + i)
                        i = buf.find(needle, i + 1)
                prev = buf[-overlap:] if overlap else b""
                total += n
                addr += n
    return hits, total


# --- which worker holds a connection --------------------------------------

def _socket_inodes(server_port, client_port):
    """Inodes of the server-side TCP sockets of the connection from
    client_port to server_port (IPv4 or IPv6), from /proc/net/tcp*."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                local, remote, inode = fields[1], fields[2], int(fields[9])
                if (int(local.rsplit(":", 1)[1], 16) == server_port and
                        int(remote.rsplit(":", 1)[1], 16) == client_port and inode):
                    inodes.add(inode)
    return inodes


def socket_worker(srv, client_port, server_port=None, timeout=5.0):
    """The worker whose process holds the server side of the TCP connection
    from client_port to server_port (default: srv's -a port) once it has
    accepted it, or None after timeout. Reading another user's
    non-dumpable /proc/PID/fd needs root."""
    deadline = time.monotonic() + timeout
    while True:
        targets = {f"socket:[{i}]" for i in
                   _socket_inodes(server_port or srv.port, client_port)}
        for role, pid in derpd_pids(srv).items():
            if not role.startswith("worker ") or not targets:
                continue
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
            except FileNotFoundError:
                continue
            for fd in fds:
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") in targets:
                        return int(role.split()[1])
                except OSError:
                    continue
        if time.monotonic() > deadline:
            return None
        time.sleep(0.02)
