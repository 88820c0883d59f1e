# SPDX-License-Identifier: BSD-3-Clause
"""Fixtures for the ACME engine's tests: a test CA, Debian's Pebble with
pebble-challtestsrv as its DNS, the stub ACME server, and the test driver.

ACME_DRIVER names the driver (default <repo>/build/acme-test-driver).
Everything listens on 127.0.0.1 on free ports and is stopped at teardown.
"""
import json
import os
import re
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STATS_RE = re.compile(r"^stats: orders=(\d+) badnonce_retries=(\d+) requests=(\d+) "
                      r"account_created=(\d)$", re.M)


def free_port():
    """A port free on 127.0.0.1 for both TCP and UDP a moment ago."""
    while True:
        with socket.socket() as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port


def wait_port(port, timeout=20):
    """Until something accepts on 127.0.0.1:port (Pebble logs that its
    directory is available just before it starts listening)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture(scope="session")
def driver_bin():
    path = Path(os.environ.get("ACME_DRIVER") or REPO / "build" / "acme-test-driver")
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"ACME_DRIVER: {path} is not an executable file "
                    "(make build/acme-test-driver)")
    return str(path)


def openssl(*args):
    out = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"openssl {' '.join(args)}: {out.stderr}"
    return out.stdout


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory):
    """A CA and a server certificate for 127.0.0.1 and localhost, for the TLS
    of Pebble's API and the stub: (ca.pem, cert.pem, key.pem) paths."""
    d = tmp_path_factory.mktemp("testca")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-days", "2", "-subj", "/CN=derpd ACME test CA",
            "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"))
    openssl("req", *ec, "-subj", "/CN=localhost", "-keyout", str(d / "key.pem"),
            "-out", str(d / "srv.csr"))
    (d / "ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", str(d / "srv.csr"), "-CA", str(d / "ca.pem"),
            "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "2",
            "-extfile", str(d / "ext"), "-out", str(d / "cert.pem"))
    return d / "ca.pem", d / "cert.pem", d / "key.pem"


class Proc:
    """A child process logging to a file, in its own session."""

    def __init__(self, args, log_path, env=None):
        self.args = args
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)

    def log(self):
        return self.log_path.read_text(errors="replace")

    def wait_log(self, pattern, timeout=20):
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.log()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"{self.args[0]} never logged {pattern!r}:\n{self.log()}")
            time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


class Pebble:
    """pebble-challtestsrv (DNS only: every name is 127.0.0.1) and Pebble,
    whose validation authority connects to the driver's responder on
    http_port / tls_port."""

    def __init__(self, d, test_ca, env=None, eab_keys=None, validity=None):
        ca, cert, key = test_ca
        self.ca = ca
        self.dns_port, self.mgmt_cts = free_port(), free_port()
        self.port, self.mgmt = free_port(), free_port()
        self.http_port, self.tls_port = free_port(), free_port()
        self.cts = Proc(["pebble-challtestsrv", "-management", f"127.0.0.1:{self.mgmt_cts}",
                         "-dns01", f"127.0.0.1:{self.dns_port}", "-http01", "",
                         "-https01", "", "-tlsalpn01", "", "-defaultIPv4", "127.0.0.1",
                         "-defaultIPv6", ""], d / "challtestsrv.log")
        self.cts.wait_log(r"Starting management server")
        conf = {"listenAddress": f"127.0.0.1:{self.port}",
                "managementListenAddress": f"127.0.0.1:{self.mgmt}",
                "certificate": str(cert), "privateKey": str(key),
                "httpPort": self.http_port, "tlsPort": self.tls_port,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": eab_keys is not None}
        if eab_keys is not None:
            conf["externalAccountMACKeys"] = eab_keys
        if validity is not None:
            conf["certificateValidityPeriod"] = validity
        (d / "pebble.json").write_text(json.dumps({"pebble": conf}))
        penv = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_AUTHZREUSE="0")
        penv.pop("PEBBLE_VA_ALWAYS_VALID", None)
        penv.update(env or {})
        self.pebble = Proc(["pebble", "-config", str(d / "pebble.json"),
                            "-dnsserver", f"127.0.0.1:{self.dns_port}"],
                           d / "pebble.log", env=penv)
        self.pebble.wait_log(r"ACME directory available")
        wait_port(self.port)
        self.directory = f"https://127.0.0.1:{self.port}/dir"
        self.wait_directory()

    def wait_directory(self, timeout=20):
        """Until Pebble itself (its certificate, its JSON) answers on the
        directory URL: a port that accepts may still be someone else's."""
        ctx = ssl.create_default_context(cafile=str(self.ca))
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.directory, context=ctx, timeout=5) as r:
                    if "newNonce" in json.load(r):
                        return
            except (OSError, ValueError) as e:
                if self.pebble.proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"Pebble's directory {self.directory}: {e}\n"
                                f"{self.pebble.log()}")
            time.sleep(0.1)

    def management(self, path):
        """A PEM document from Pebble's management interface."""
        ctx = ssl.create_default_context(cafile=str(self.ca))
        with urllib.request.urlopen(f"https://127.0.0.1:{self.mgmt}{path}",
                                    context=ctx, timeout=10) as r:
            return r.read().decode()

    def orders(self):
        """How many orders Pebble has created so far (from its log)."""
        return len(re.findall(r"Added order ", self.pebble.log()))

    def stop(self):
        self.pebble.stop()
        self.cts.stop()


@pytest.fixture(scope="module")
def pebble(tmp_path_factory, test_ca):
    """One Pebble for a module's tests: 6-day certificates, like derpd's
    short-lived ones, and Pebble's default 5% of nonces rejected."""
    p = Pebble(tmp_path_factory.mktemp("pebble"), test_ca, validity=6 * 86400)
    yield p
    p.stop()


@pytest.fixture
def pebble_factory(tmp_path_factory, test_ca):
    started = []

    def start(**kw):
        p = Pebble(tmp_path_factory.mktemp("pebble"), test_ca, **kw)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


class Run:
    """What one driver run printed."""

    def __init__(self, out):
        self.rc = out.returncode
        self.stdout = out.stdout
        self.stderr = out.stderr
        m = STATS_RE.search(out.stdout)
        self.stats = None if m is None else {
            "orders": int(m.group(1)), "badnonce_retries": int(m.group(2)),
            "requests": int(m.group(3)), "account_created": int(m.group(4))}
        self.fields = dict(re.findall(r"^(cache|result|not_after|account): (.*)$",
                                      out.stdout, re.M))

    def __repr__(self):
        return f"rc={self.rc}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


@pytest.fixture
def run_driver(driver_bin):
    """run_driver(directory, ca, certdir, names, *flags, timeout=60) -> Run."""

    def run(directory, ca, certdir, names, *flags, timeout=60):
        args = [driver_bin, "-directory", directory, "-ca", str(ca),
                "-certdir", str(certdir), "-timeout", str(timeout)]
        for n in names:
            args += ["-name", n]
        args += [str(f) for f in flags]
        out = subprocess.run(args, capture_output=True, text=True, timeout=timeout + 30)
        assert out.returncode in (0, 1), f"driver crashed:\n{Run(out)!r}"
        assert "AddressSanitizer" not in out.stderr and "runtime error" not in out.stderr, \
            Run(out)
        return Run(out)

    return run


@pytest.fixture
def pebble_run(run_driver, tmp_path):
    """pebble_run(pebble, names, *flags, certdir=None) -> Run, with the
    responder on the ports Pebble validates."""

    def run(p, names, *flags, certdir=None, **kw):
        return run_driver(p.directory, p.ca, certdir or tmp_path / "certs", names,
                          "-http-port", p.http_port, "-tls-port", p.tls_port,
                          *flags, **kw)

    return run


@pytest.fixture
def stub(test_ca):
    """stub(**behaviour) -> a running acme_stub.Stub (see acme_stub.py)."""
    from acme_stub import Stub
    started = []

    def start(**kw):
        s = Stub(test_ca, **kw)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture
def stub_run(run_driver, tmp_path, test_ca):
    """stub_run(stub, *flags) -> Run for derp.test against the stub."""

    def run(s, *flags, names=("derp.test",)):
        return run_driver(s.directory, test_ca[0], tmp_path / "certs", list(names),
                          *flags, timeout=20)

    return run


# --- derpd with its ACME client (test_derpd_*.py) ------------------------------
# derpd's own end-to-end fixtures (tests/e2e/conftest.py) are loaded under
# another module name, with tests/e2e on the path for its helpers.

E2E = REPO / "tests" / "e2e"


def _e2e():
    import importlib.util
    import sys
    if str(E2E) not in sys.path:
        sys.path.insert(0, str(E2E))
    mod = sys.modules.get("e2e_conftest")
    if mod is None:
        spec = importlib.util.spec_from_file_location("e2e_conftest", E2E / "conftest.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules["e2e_conftest"] = mod
        spec.loader.exec_module(mod)
    return mod


def _bin(env, default):
    path = Path(os.environ.get(env) or default)
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"{env}: {path} is not an executable file (build derpd first)")
    return str(path)


@pytest.fixture(scope="session")
def derpd_bin():
    return _bin("DERPD_BIN", REPO / "build" / "derpd")


@pytest.fixture(scope="session")
def derpd_test_bin():
    """The test build: its ACME client honours DERPD_TEST_ACME_CLOCK_OFFSET
    (seconds ahead) and DERPD_TEST_ACME_BACKOFF_DIV (back-off divided)."""
    return _bin("DERPD_TEST_BIN", REPO / "build-test" / "derpd")


@pytest.fixture
def derpd_keyfile(tmp_path):
    path = tmp_path / "derpd.key"
    keygen = _bin("DERPD_KEYGEN", REPO / "build" / "derpd-keygen")
    subprocess.run([keygen, str(path)], check=True, capture_output=True, timeout=10)
    return path


@pytest.fixture
def acme_derpd(derpd_bin, derpd_keyfile, tmp_path, request):
    """acme_derpd(ca_pem, directory, tls_port=None, http_port=-1, args=(),
    certdir=None, binary=None, env=None, hostname="derp.test") -> a running
    derpd (e2e DerpServer) with -certmode letsencrypt against `directory`,
    serving TLS on tls_port (free if None). Stopped and checked at teardown."""
    e2e = _e2e()
    servers = []
    request.node._derp_servers = servers

    def start(ca_pem, directory, tls_port=None, http_port=-1, args=(), certdir=None,
              binary=None, env=None, hostname="derp.test", certmode="letsencrypt"):
        extra = ["-certmode", certmode, "-certdir", certdir or tmp_path / "certs",
                 "-acme-directory", directory, "-acme-ca-file", ca_pem,
                 "-http-port", http_port, *args]
        if hostname is not None:
            extra += ["-hostname", hostname]
        srv = e2e.DerpServer(binary or derpd_bin, derpd_keyfile,
                             tmp_path / f"derpd-{len(servers)}.log", workers=2,
                             extra_args=extra, port=tls_port, env=env)
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
