# SPDX-License-Identifier: BSD-3-Clause
"""The TLS private key lives in the key process only (SECURITY.md, "Processes
and who holds what"): workers serve TLS 1.3 with a key that signs through
the key process, which signs handshake inputs and nothing else; nobody else
can read it; every child is a fresh exec with its own address-space layout
and only the descriptors its role needs; a key process killed under a burst
of logins is restarted and no login waits for the handshake timeout."""
import base64
import os
import re
import signal
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

from derp_client import DerpClient
from derp_helpers import exchange
from probes import probe
from procfs import derpd_pids, scan_memory, wait_sandboxed

root_only = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root: reading non-dumpable processes' memory")

KEY_ARGS = {"ecdsa": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
            "rsa": ["-newkey", "rsa:2048"]}


def make_cert(certdir, kind):
    certdir.mkdir(exist_ok=True)
    crt, key = certdir / "derp.test.crt", certdir / "derp.test.key"
    subprocess.run(["openssl", "req", "-x509", *KEY_ARGS[kind], "-nodes", "-days", "2",
                    "-subj", "/CN=derp.test", "-addext", "subjectAltName=DNS:derp.test",
                    "-keyout", str(key), "-out", str(crt)],
                   check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o600)
    return crt, key


def key_needles(key):
    """Byte strings that only a copy of the private key could contain: its
    PKCS#8 DER, the first line of its PEM text, and its secret number (the
    EC scalar or the RSA private exponent) in both byte orders, as OpenSSL's
    bignums hold it little-endian."""
    der = subprocess.run(["openssl", "pkey", "-in", str(key), "-outform", "DER"],
                         check=True, capture_output=True).stdout
    pem_line = key.read_text().splitlines()[1].encode()
    text = subprocess.run(["openssl", "pkey", "-in", str(key), "-text", "-noout"],
                          check=True, capture_output=True, text=True).stdout
    m = re.search(r"(?:priv|privateExponent):\s*\n((?:\s+[0-9a-f:]+\n)+)", text)
    secret = bytes.fromhex(re.sub(r"[\s:]", "", m.group(1))).lstrip(b"\0")
    return {"der": der, "pem": pem_line, "secret-be": secret,
            "secret-le": secret[::-1]}


def tls_client(srv, crt, **kw):
    return DerpClient("127.0.0.1", srv.port, tls=True, cafile=str(crt),
                      server_hostname="derp.test", **kw)


@pytest.fixture(params=["ecdsa", "rsa"])
def tls_kind(request, derp_server, tmp_path):
    crt, key = make_cert(tmp_path / "certs", request.param)
    srv = derp_server(workers=2, extra_args=[
        "-certmode", "manual", "-certdir", tmp_path / "certs", "-hostname", "derp.test"])
    return srv, crt, key


def test_handshakes_use_tls13_only(tls_kind):
    """ECDSA P-256 and RSA-2048 certificates serve TLS 1.3 logins (signed by
    the key process); TLS 1.2 is refused."""
    srv, crt, _ = tls_kind
    a = tls_client(srv, crt, tls_version=ssl.TLSVersion.TLSv1_3).connect()
    b = tls_client(srv, crt).connect()
    assert a.sock.version() == b.sock.version() == "TLSv1.3"
    exchange(a, b)
    with pytest.raises(ssl.SSLError):
        tls_client(srv, crt, tls_version=ssl.TLSVersion.TLSv1_2).connect()


@root_only
def test_tls_key_only_in_key_process(tls_kind, derp_server):
    srv, crt, key = tls_kind
    clients = [tls_client(srv, crt).connect() for _ in range(6)]
    exchange(clients[0], clients[1])
    needles = key_needles(key)
    pids = derpd_pids(srv)
    assert {"master", "key", "worker 0", "worker 1"} <= set(pids)
    for role, pid in pids.items():
        hits, scanned = scan_memory(pid, needles.values())
        assert scanned > 256 << 10
        found = {name for name, n in needles.items() if hits[n]}
        if role == "key":
            assert found & {"secret-be", "secret-le"}, \
                "the scan missed the key in the key process"
        else:
            assert not found, f"{role} (pid {pid}) holds the TLS key: {found}"


def test_key_process_signs_only_handshakes(derp_server, derpd_test_bin, tmp_path):
    """A worker's request to sign something that is not a TLS 1.3 server
    CertificateVerify input is refused, and the key process says so."""
    make_cert(tmp_path / "certs", "ecdsa")
    srv = derp_server(workers=2, binary=derpd_test_bin, extra_args=[
        "-certmode", "manual", "-certdir", tmp_path / "certs", "-hostname", "derp.test"])
    mark = srv.log_mark()
    probe(srv.worker_pid(0), "keyd_garbage")
    srv.wait_log(r"derpd\[key\]: WARNING: refused a request from worker 0: "
                 r"not a CertificateVerify input", since=mark)


def test_key_process_refuses_an_oversized_request(derp_server, derpd_test_bin,
                                                  connect):
    """A well-formed request with bytes after it is refused whole ("wrong
    size"), not cut down to a request and answered; the worker's channel
    stays up and its next login works."""
    srv = derp_server(workers=2, binary=derpd_test_bin)
    mark = srv.log_mark()
    probe(srv.worker_pid(1), "keyd_oversized")
    srv.wait_log(r"derpd\[key\]: WARNING: refused a request from worker 1: "
                 r"wrong size", since=mark)
    exchange(connect(srv, worker=1), connect(srv, worker=0))


@root_only
def test_nobody_reads_the_key_process(derp_server, derpd_test_bin, tmp_path):
    """From the master (unsandboxed, but without capabilities), and from the
    DNS resolver (which may open files to read), /proc/KEY/mem and
    process_vm_readv fail: the key process is not dumpable. Workers, STUN
    and the key process cannot even try (test_sandbox_probes.py)."""
    srv = derp_server(workers=2, binary=derpd_test_bin,
                      extra_args=["-bootstrap-dns-names", "localhost"])
    srv.wait_log(r"bootstrap DNS resolver started")
    pids = derpd_pids(srv)
    key = pids["key"]
    wait_sandboxed(pids["dns"])
    for role, tag in (("master", r"derpd"), ("dns", r"derpd\[dns\]")):
        for name, text, err in (("proc_mem", "open of /proc/PID/mem", "Permission denied"),
                                ("process_vm_readv", "process_vm_readv",
                                 "Operation not permitted")):
            if role == "dns" and name == "process_vm_readv":
                continue        # not in its policy: SIGSYS (test_sandbox_probes.py)
            mark = srv.log_mark()
            probe(pids[role], name, target=key)
            srv.wait_log(rf"{tag}: test hook: {re.escape(text)} returned -1 "
                         rf"\({err}\)", since=mark)


def exe_base(pid):
    """Where the derpd executable's first mapping starts in pid."""
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and parts[5].endswith("/derpd"):
                return int(parts[0].split("-")[0], 16)
    raise AssertionError(f"no derpd mapping in /proc/{pid}/maps")


def fd_kinds(pid):
    """Counts of pid's descriptors by kind (socket, eventfd, pipe, file ...)."""
    kinds = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if int(fd) <= 2:
            kind = "stdio"
        elif target.startswith("socket:"):
            kind = "socket"
        elif target.startswith("anon_inode:"):
            kind = target[len("anon_inode:"):].strip("[]")
        else:
            kind = "other:" + target
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


@root_only
def test_children_are_fresh_execs_with_only_their_descriptors(tls_kind):
    srv, crt, _ = tls_kind
    tls_client(srv, crt).connect()
    pids = derpd_pids(srv)
    master = exe_base(pids["master"])
    allowed = {
        # listening socket, key process, table service; eventfds: one per worker
        "worker": {"stdio": 3, "socket": 3, "eventfd": 2, "eventpoll": 1,
                   "signalfd": 1, "timerfd": 1},
        # the master, and one socket per worker
        "key": {"stdio": 3, "socket": 3, "eventpoll": 1},
    }
    for role, pid in pids.items():
        if role == "master":
            continue
        wait_sandboxed(pid)
        assert exe_base(pid) != master, f"{role} shares the master's layout"
        kinds = fd_kinds(pid)
        want = allowed[role.split()[0]]
        # A worker may hold client connections (sockets) beyond its own.
        if role.startswith("worker"):
            kinds["socket"] = min(kinds.get("socket", 0), want["socket"])
        assert kinds == want, f"{role}: {kinds}"


def test_key_process_killed_under_a_burst_of_logins(derp_server, derpd_test_bin,
                                                     tmp_path):
    """200 TLS logins at once while the key process dies: it has read their
    requests (the test build's probe makes it swallow them, as a process
    killed between reading and answering would) when it is SIGKILLed; it is
    restarted, the workers ask the new one again, and every login completes
    well inside -handshake-timeout."""
    crt, _ = make_cert(tmp_path / "certs", "ecdsa")
    srv = derp_server(workers=2, binary=derpd_test_bin, extra_args=[
        "-certmode", "manual", "-certdir", tmp_path / "certs", "-hostname", "derp.test",
        "-handshake-timeout", "30s"])
    key = derpd_pids(srv)["key"]
    wait_sandboxed(key)
    mark = srv.log_mark()
    probe(key, "swallow")
    srv.wait_log(r"derpd\[key\]: test hook: swallowing requests returned 0", since=mark)
    results, lock = [], threading.Lock()

    def login():
        start = time.monotonic()
        try:
            c = tls_client(srv, crt, timeout=30).connect()
            c.close()
            ok = True
        except Exception as e:       # noqa: BLE001 - reported below
            ok = repr(e)
        with lock:
            results.append((ok, time.monotonic() - start))

    threads = [threading.Thread(target=login) for _ in range(200)]
    for t in threads:
        t.start()
    time.sleep(1)                   # the requests reach the key process, unanswered
    assert not results, "a login completed while the key process swallowed it"
    os.kill(key, signal.SIGKILL)
    for t in threads:
        t.join(60)
    srv.wait_log(rf"key process \(pid {key}\) killed by signal 9")
    failed = [r for r in results if r[0] is not True]
    assert len(results) == 200 and not failed, failed[:5]
    slowest = max(d for _, d in results)
    assert slowest < 10, f"a login took {slowest:.1f} s: lost in the restart"


def test_key_process_that_fails_at_start_backs_off(derp_server, keyfile):
    """A key process that cannot start (here: the key file became malformed
    while derpd runs) is restarted after growing delays, not in a tight
    loop; once the file is good again it comes back and serves."""
    srv = derp_server(workers=2)
    good = Path(keyfile).read_bytes()
    key = derpd_pids(srv)["key"]
    mark = srv.log_mark()
    Path(keyfile).write_bytes(b'{"PrivateKey": "privkey:00"}\n')
    try:
        os.kill(key, signal.SIGKILL)
        delays = [int(srv.wait_log(r"key process died after \d+ ms; restarting it "
                                   r"in (\d+) ms", since=mark, timeout=30).group(1))]
        while len(delays) < 4:
            m = list(re.finditer(r"key process died after \d+ ms; restarting it in "
                                 r"(\d+) ms", srv.log_text()[mark:]))
            delays = [int(x.group(1)) for x in m]
            time.sleep(0.05)
        assert delays[:4] == sorted(delays[:4]) and delays[3] > delays[0], delays
    finally:
        Path(keyfile).write_bytes(good)
    srv.wait_log(r"derpd\[key\]", since=mark)       # tried at least once
    deadline = time.monotonic() + 30
    while True:
        c = DerpClient("127.0.0.1", srv.port, timeout=2)
        try:
            c.connect()
            break
        except Exception:       # noqa: BLE001 - until the key process is back
            assert time.monotonic() < deadline, srv.tail()
            time.sleep(0.2)
        finally:
            c.close()
