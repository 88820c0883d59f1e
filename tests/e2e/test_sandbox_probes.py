# SPDX-License-Identifier: BSD-3-Clause
"""Every sandboxed role against every class of call its policy forbids
(SECURITY.md, "Syscall policy"): the test build's probes (tests/e2e/
probes.py) make a worker, the key process, the STUN server, the
bootstrap-DNS resolver, the verifier, the mesh dialer and the ACME client
attempt one call each; a forbidden one kills the process by SIGSYS and the
master starts a new one, an allowed one returns. Calls allowed only with
restricted arguments are tried on both sides."""
import re

import pytest
from nacl.public import PrivateKey

from conftest import free_port, free_udp_port
from derp_helpers import exchange, write_mesh_key
from probes import probe
from procfs import derpd_pids, wait_sandboxed
from verify_standins import open_dir  # noqa: F401 (fixture)

KILLED, ALLOWED = "killed", "allowed"

# role -> probe -> what must happen.  DNS is a stub resolver: it may open
# files to read and create and connect sockets, nothing more.
EXPECT = {
    "worker 0": {"execve": KILLED, "open": KILLED, "open_write": KILLED,
                 "socket": KILLED, "connect": KILLED, "ptrace": KILLED,
                 "mprotect_exec": KILLED, "mmap_exec": KILLED,
                 "process_vm_readv": KILLED, "kill": KILLED,
                 "mprotect_rw": ALLOWED, "mmap_rw": ALLOWED},
    "key": {"execve": KILLED, "open": KILLED, "socket": KILLED,
            "connect": KILLED, "ptrace": KILLED, "mprotect_exec": KILLED,
            "mmap_exec": KILLED, "process_vm_readv": KILLED, "kill": KILLED,
            "mprotect_rw": ALLOWED, "mmap_rw": ALLOWED},
    "stun": {"execve": KILLED, "open": KILLED, "socket": KILLED,
             "connect": KILLED, "ptrace": KILLED, "mprotect_exec": KILLED,
             "mmap_exec": KILLED, "process_vm_readv": KILLED, "kill": KILLED,
             "mprotect_rw": KILLED, "mmap_rw": ALLOWED},
    "dns": {"execve": KILLED, "open_write": KILLED, "ptrace": KILLED,
            "mprotect_exec": KILLED, "mmap_exec": KILLED,
            "process_vm_readv": KILLED, "kill": KILLED,
            "open": ALLOWED, "socket": ALLOWED, "connect": ALLOWED,
            "mprotect_rw": ALLOWED,
            "mmap_rw": ALLOWED},
    # The verifier is an HTTP client: it may create and connect sockets
    # (to tailscaled and the admission controller), and open nothing.
    "verify": {"execve": KILLED, "open": KILLED, "open_write": KILLED,
               "ptrace": KILLED, "mprotect_exec": KILLED, "mmap_exec": KILLED,
               "process_vm_readv": KILLED, "kill": KILLED,
               "socket": ALLOWED, "connect": ALLOWED, "mprotect_rw": ALLOWED,
               "mmap_rw": ALLOWED},
    # The mesh dialer resolves names as DNS does, and connects TCP sockets.
    "dialer": {"execve": KILLED, "open_write": KILLED, "ptrace": KILLED,
               "mprotect_exec": KILLED, "mmap_exec": KILLED,
               "process_vm_readv": KILLED, "kill": KILLED,
               "open": ALLOWED, "socket": ALLOWED, "connect": ALLOWED,
               "mprotect_rw": ALLOWED, "mmap_rw": ALLOWED},
}

# The ACME client is an HTTPS client with a stub resolver: it may read
# files, create and connect sockets; it may create files in its certdir but
# never open one for writing (the probe opens without O_EXCL).
ACME_EXPECT = {"execve": KILLED, "open_write": KILLED, "ptrace": KILLED,
               "mprotect_exec": KILLED, "mmap_exec": KILLED,
               "process_vm_readv": KILLED, "kill": KILLED,
               "open": ALLOWED, "socket": ALLOWED, "connect": ALLOWED,
               "mprotect_rw": ALLOWED, "mmap_rw": ALLOWED}

TAGS = {"worker 0": r"derpd\[worker 0\]", "key": r"derpd\[key\]",
        "stun": r"derpd\[stun\]", "dns": r"derpd\[dns\]", "verify": r"derpd\[verify\]",
        "dialer": r"derpd\[mesh dialer\]", "acme": r"derpd\[acme\]"}
LOG_NAMES = {"worker 0": "worker 0", "key": "key process", "stun": "STUN server",
             "dns": "bootstrap DNS resolver", "verify": "verifier",
             "dialer": "mesh dialer", "acme": "ACME client"}
STARTED = {"worker 0": r"worker 0 started, pid (\d+)",
           "key": r"key process started, pid (\d+)",
           "stun": r"STUN server started, pid (\d+)",
           "dns": r"bootstrap DNS resolver started, pid (\d+)",
           "verify": r"verifier started, pid (\d+)",
           "dialer": r"mesh dialer started, pid (\d+)",
           "acme": r"ACME client started, pid (\d+)"}


@pytest.fixture
def srv(derp_server, derpd_test_bin, monkeypatch, open_dir, tls_certdir):
    # Each death restarts at once (no back-off), so one server sees them all.
    monkeypatch.setenv("DERPD_TEST_HEALTHY_RUN_MS", "0")
    keys = [PrivateKey.generate() for _ in range(2)]     # -allow-keys: a verifier
    (open_dir / "allow").write_text("".join(f"nodekey:{bytes(k.public_key).hex()}\n"
                                            for k in keys))
    write_mesh_key(open_dir / "mesh.key")
    s = derp_server(workers=2, binary=derpd_test_bin, extra_args=[
        "-stun=true", "-stun-port", free_udp_port(),
        "-bootstrap-dns-names", "localhost", "-allow-keys", open_dir / "allow",
        # a peer that refuses, to have a mesh dialer
        "-mesh-psk-file", open_dir / "mesh.key", "-mesh-ca-file", tls_certdir[1],
        "-mesh-with", f"derp.test:{free_port()}/127.0.0.1"])
    s.keys = keys
    return s


def attempt(srv, role, name):
    """Probes `role`; returns KILLED (and waits for its successor) or ALLOWED."""
    pid = derpd_pids(srv)[role]
    wait_sandboxed(pid)
    mark = srv.log_mark()
    probe(pid, name)
    srv.wait_log(rf"{TAGS[role]}: test hook: attempting ", since=mark)
    m = srv.wait_log(rf"({TAGS[role]}: test hook: .* returned)|"
                     rf"({re.escape(LOG_NAMES[role])} \(pid {pid}\) killed by signal (\d+))",
                     since=mark)
    if m.group(1):
        return ALLOWED
    assert m.group(3) == "31", f"{role} died of signal {m.group(3)}, not SIGSYS"
    new = int(srv.wait_log(STARTED[role], since=mark).group(1))
    assert new != pid
    if role == "key":
        srv.wait_log(r"key process started", since=mark)
    return KILLED


@pytest.mark.parametrize("role", list(EXPECT))
def test_each_forbidden_class_kills_each_role(srv, connect, role):
    srv.wait_log(r"bootstrap DNS resolver started")
    got = {name: attempt(srv, role, name) for name in EXPECT[role]}
    assert got == EXPECT[role]
    # The relay still serves, through the replacements.
    exchange(connect(srv, worker=0, private_key=srv.keys[0]),
             connect(srv, worker=1, private_key=srv.keys[1]))


def test_each_forbidden_class_kills_the_acme_client(derp_server, derpd_test_bin,
                                                    tls_certdir, monkeypatch):
    """-certmode letsencrypt against a CA that is not there: the ACME client
    waits to try again, and meanwhile takes each probe."""
    monkeypatch.setenv("DERPD_TEST_HEALTHY_RUN_MS", "0")
    certdir, crt = tls_certdir
    srv = derp_server(workers=2, binary=derpd_test_bin, extra_args=[
        "-certmode", "letsencrypt", "-hostname", "derp.test",
        "-certdir", certdir / "acme", "-acme-ca-file", crt,
        "-acme-directory", f"https://127.0.0.1:{free_port()}/dir"])
    srv.wait_log(r"acme: ordering a certificate for derp\.test failed")
    got = {name: attempt(srv, "acme", name) for name in ACME_EXPECT}
    assert got == ACME_EXPECT
