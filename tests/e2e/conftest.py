# SPDX-License-Identifier: BSD-3-Clause
"""Fixtures: derpd and derpd-keygen binaries, key files, running servers, TLS certs.

DERPD_BIN and DERPD_KEYGEN name the binaries (default <repo>/build/...).
"""
import os
import re
import resource
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

from derp_helpers import public_key_of

REPO = Path(__file__).resolve().parents[2]
READY_RE = re.compile(r"\[worker (\d+)\]: ready")
STARTED_RE = re.compile(r"worker (\d+) started, pid (\d+)")
ANY_PID_RE = re.compile(r"started, pid (\d+)")   # workers and helper processes


def _binary(env, default):
    path = Path(os.environ.get(env) or REPO / "build" / default)
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"{env}: {path} is not an executable file (build derpd first)")
    return str(path)


@pytest.fixture(scope="session")
def derpd_bin():
    return _binary("DERPD_BIN", "derpd")


@pytest.fixture(scope="session")
def keygen_bin():
    return _binary("DERPD_KEYGEN", "derpd-keygen")


@pytest.fixture(scope="session")
def derpbench_bin():
    """The load generator (bench/).  DERPBENCH, default <repo>/build/derpbench."""
    path = Path(os.environ.get("DERPBENCH") or REPO / "build" / "derpbench")
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"DERPBENCH: {path} is not an executable file (make build/derpbench)")
    return str(path)


@pytest.fixture(scope="session")
def derpd_test_bin():
    """The test build (-DDERPD_TEST_HOOKS): its processes attempt a forbidden
    (or allowed) call on request (tests/e2e/probes.py).  DERPD_TEST_BIN, default <repo>/build-test/derpd."""
    path = Path(os.environ.get("DERPD_TEST_BIN") or REPO / "build-test" / "derpd")
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"DERPD_TEST_BIN: {path} is not an executable file "
                    "(make build-test/derpd)")
    return str(path)


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_udp_port():
    """A UDP port on 127.0.0.1 that was free a moment ago (for -stun-port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def keyfile(keygen_bin, tmp_path):
    """A fresh derper-format key file made by derpd-keygen."""
    path = tmp_path / "derpd.key"
    out = subprocess.run([keygen_bin, str(path)], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, f"derpd-keygen failed: {out.stderr}"
    return path


@pytest.fixture
def server_pub(keygen_bin, keyfile):
    """The public key of `keyfile`, as derpd-keygen -pub reports it."""
    return public_key_of(keygen_bin, keyfile)


def _session_processes(sid):
    """Pids of live (non-zombie) processes in session `sid`."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()   # state ppid pgrp session ...
        if fields[0] != "Z" and int(fields[3]) == sid:
            pids.append(int(entry))
    return pids


def _alive(pid):
    """True if `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
    except OSError:
        return False
    return st[st.rindex(")") + 2:].split()[0] != "Z"


SANITIZER_RE = re.compile(r"ERROR: (?:Address|Leak|UndefinedBehavior)Sanitizer|"
                          r"runtime error: ")


class DerpServer:
    """One derpd master (in its own session) and its workers."""

    def __init__(self, derpd_bin, keyfile, log_path, workers=2, extra_args=(),
                 user="nobody", nofile=None, env=None, port=None):
        self.workers = workers
        self.expect_sanitizer = False   # a test that provokes a report says so
        self.port = port or free_port()
        self.log_path = Path(log_path)
        self.args = [derpd_bin, "-a", f"127.0.0.1:{self.port}", "-c", str(keyfile),
                     "-workers", str(workers), "-stun=false", "-http-port=-1",
                     # tests name workers by source port; -placement hash
                     # in extra_args (later wins) tests the default
                     "-placement", "source-port"]
        if os.geteuid() == 0 and user is not None:
            self.args += ["-user", user]   # the privilege drop needs a target
        self.args += [str(a) for a in extra_args]
        self._log = ""
        self._log_file = open(self.log_path, "wb")
        self._log_reader = open(self.log_path, "rb")
        def limits():       # RLIMIT_NOFILE for derpd and everything it starts
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=self._log_file, stderr=subprocess.STDOUT,
                                     start_new_session=True,
                                     env=dict(os.environ, **env) if env else None,
                                     preexec_fn=limits if nofile else None)
        self.pid = self.proc.pid
        self.stopped = False
        self.wait_ready(workers)

    # --- the log ---------------------------------------------------------

    def log_text(self):
        """Everything derpd has logged so far."""
        if not self._log_reader.closed:
            self._log += self._log_reader.read().decode("utf-8", "replace")
        return self._log

    def log_mark(self):
        """A position in the log; pass it as `since` to wait for later lines."""
        return len(self.log_text())

    def wait_log(self, regex, timeout=10.0, since=0):
        """The first match of `regex` in the log after `since`; fails after timeout."""
        rx = re.compile(regex)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log_text(), since)
            if m:
                return m
            if self.proc.poll() is not None:
                pytest.fail(f"derpd exited ({self.proc.returncode}) while waiting for "
                            f"{regex!r}; log:\n{self.log_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"derpd did not log {regex!r} within {timeout}s; "
                            f"log:\n{self.log_text()}")
            time.sleep(0.05)

    def wait_ready(self, n, timeout=15.0, since=0):
        """Waits for `[worker i]: ready` from n distinct workers."""
        deadline = time.monotonic() + timeout
        while True:
            ready = {m.group(1) for m in READY_RE.finditer(self.log_text(), since)}
            if len(ready) >= n:
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                why = (f"exited with status {self.proc.returncode}"
                       if self.proc.poll() is not None else f"not ready after {timeout}s")
                self.stop(check=False)
                pytest.fail(f"derpd {why} ({len(ready)} of {n} workers ready)\n"
                            f"command: {' '.join(self.args)}\nlog:\n{self.log_text()}")
            time.sleep(0.05)

    def worker_pids(self):
        """{worker index: pid}, the latest `worker i started, pid P` line winning."""
        return {int(m.group(1)): int(m.group(2))
                for m in STARTED_RE.finditer(self.log_text())}

    def worker_pid(self, i):
        pid = self.worker_pids().get(i)
        assert pid is not None, f"no 'worker {i} started, pid' line in:\n{self.log_text()}"
        return pid

    def tail(self, lines=60):
        return "\n".join(self.log_text().splitlines()[-lines:])

    # --- shutdown ----------------------------------------------------------

    def stop(self, check=True):
        """SIGTERM, up to 10 s, then SIGKILL; then nothing of derpd may remain."""
        if self.stopped:
            return
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        # Children stay in the master's session even if orphaned; also look
        # for every pid derpd logged, in case one left the session.
        logged = {int(m.group(1)) for m in ANY_PID_RE.finditer(self.log_text())}
        deadline = time.monotonic() + 5
        while True:
            leftovers = sorted(set(_session_processes(self.pid)) |
                               {p for p in logged if _alive(p)})
            if not leftovers or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if leftovers:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            for pid in leftovers:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.log_text()
        self._log_file.close()
        self._log_reader.close()
        if check:
            assert not leftovers, \
                f"derpd left processes behind after stop: {leftovers}\n{self.tail()}"
        if check and not self.expect_sanitizer:
            # The ASan build: a report from any process (a child's too)
            # fails the test that provoked it.
            m = SANITIZER_RE.search(self._log)
            assert m is None, f"sanitizer report in derpd's log:\n{self._log[m.start():][:4000]}"


@pytest.fixture
def derp_server(derpd_bin, keyfile, tmp_path, request):
    """Factory: derp_server(workers=2, extra_args=(), keyfile=None, binary=None,
    user="nobody", nofile=None, env=None, port=None) -> DerpServer; `binary`
    replaces derpd_bin (e.g. the test build); as root, -user `user` unless that
    is None; `nofile`: RLIMIT_NOFILE (soft and hard) to start it with; `env`:
    variables added to its environment; `port`: the port to listen on
    (default: a free one).
    Every server started is stopped (and checked for leftovers) at teardown."""
    servers = []
    request.node._derp_servers = servers     # for the failure report hook below

    def start(workers=2, extra_args=(), keyfile=keyfile, binary=None, user="nobody",
              nofile=None, env=None, port=None):
        log = tmp_path / f"derpd-{len(servers)}.log"
        srv = DerpServer(binary or derpd_bin, keyfile, log, workers=workers,
                         extra_args=extra_args, user=user, nofile=nofile, env=env,
                         port=port)
        servers.append(srv)
        return srv

    yield start
    errors = []
    for srv in servers:
        try:
            srv.stop()
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "\n".join(errors)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, attach the tail of each derpd log to the report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for srv in getattr(item, "_derp_servers", []):
            report.sections.append((f"derpd log (port {srv.port}, {report.when})",
                                    srv.tail()))


@pytest.fixture
def tls_certdir(tmp_path):
    """A self-signed certificate for derp.test: (certdir, path of the .crt)."""
    certdir = tmp_path / "certs"
    certdir.mkdir()
    crt, key = certdir / "derp.test.crt", certdir / "derp.test.key"
    out = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
         "-subj", "/CN=derp.test", "-addext", "subjectAltName=DNS:derp.test",
         "-keyout", str(key), "-out", str(crt)],
        capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, f"openssl failed: {out.stderr}"
    os.chmod(key, stat.S_IRUSR | stat.S_IWUSR)
    return certdir, crt


@pytest.fixture
def tls_server(derp_server, tls_certdir):
    """derpd serving DERP over TLS with the derp.test certificate: (server, cafile)."""
    certdir, crt = tls_certdir
    srv = derp_server(workers=2, extra_args=["-certmode", "manual", "-certdir", certdir,
                                             "-hostname", "derp.test"])
    return srv, str(crt)


@pytest.fixture
def connect():
    """Factory: connect(server, worker=None, **kw) -> a logged-in DerpClient.
    With `worker`, the source port steers it onto that worker (port % workers)
    and the placement is asserted: from derpd's /debug/route once logged in,
    else from which worker process holds the socket (as root). A test that
    names a worker claims it, so a placement that changed or fell back fails
    there instead of passing by luck.
    Keyword arguments go to DerpClient/connect (e.g. upgrade=False, private_key=).
    All clients are closed at teardown."""
    from derp_client import DerpClient, connect_on_worker
    from http_helpers import assert_conn_on_worker, assert_on_worker
    clients = []

    def make(server, worker=None, **kw):
        if worker is None:
            flags = {k: kw.pop(k) for k in ("upgrade", "handshake", "fast_start") if k in kw}
            client = DerpClient("127.0.0.1", server.port, **kw)
            clients.append(client)
            return client.connect(**flags)
        client = connect_on_worker("127.0.0.1", server.port, worker, server.workers, **kw)
        clients.append(client)
        if client.server_info is not None:
            assert_on_worker(server, client, worker)
        else:
            assert_conn_on_worker(server, client.local_port, worker)
        return client

    yield make
    for client in clients:
        client.close()
