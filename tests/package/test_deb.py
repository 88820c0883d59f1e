# SPDX-License-Identifier: BSD-3-Clause
"""The Debian package: lintian, contents, manual pages, hardening of the
shipped binaries, the systemd unit, and (as root) install -> first start ->
purge on this machine (test_systemd.py does it under a real systemd).

DERPD_DEB names the .deb (make test-package builds it).
"""
import os
import pwd
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "e2e"))
from derp_client import DerpClient  # noqa: E402

DEB = os.environ.get("DERPD_DEB", "")


def run(*cmd, check=True, **kw):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)
    if check:
        assert out.returncode == 0, f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}"
    return out


@pytest.fixture(scope="module")
def deb():
    if not (DEB and os.path.isfile(DEB)):
        pytest.fail(f"DERPD_DEB={DEB!r} is not a file; run make test-package")
    return DEB


@pytest.fixture(scope="module")
def root(deb, tmp_path_factory):
    """The package's files, unpacked."""
    d = tmp_path_factory.mktemp("debroot")
    run("dpkg-deb", "-x", deb, str(d))
    return d


def test_lintian_pedantic_clean(deb):
    """No tag at any level, pedantic and experimental included, except those
    overridden with a reason in packaging/debian/derpd.lintian-overrides."""
    out = run("lintian", "--pedantic", "--display-info", "--display-experimental",
              *(["--allow-root"] if os.geteuid() == 0 else []), deb, check=False)
    tags = [l for l in out.stdout.splitlines() if re.match(r"[EWIPXC]: ", l)]
    assert out.returncode == 0 and not tags, out.stdout + out.stderr


MAN_PAGES = ["usr/share/man/man8/derpd.8.gz", "usr/share/man/man8/derpd-keygen.8.gz",
             "usr/share/man/man5/derpd.conf.5.gz", "usr/share/man/man1/derpd-client.1.gz"]


def man(path):
    """The page rendered by man(1), wide enough that nothing wraps; fails on
    any groff warning."""
    out = run("man", "--warnings", "-l", str(path),
              env=dict(os.environ, MANWIDTH="160", MAN_DISABLE_SECCOMP="1"))
    assert not out.stderr.strip(), f"{path}: {out.stderr}"
    return out.stdout


@pytest.mark.parametrize("page", MAN_PAGES)
def test_manual_pages_render(root, page):
    text = man(root / page)
    name = Path(page).name.rsplit(".", 2)[0]
    assert re.search(rf"^NAME\n\s+{re.escape(name)} - \S", text, re.M), text[:400]
    for section in ("SYNOPSIS", "DESCRIPTION", "SEE ALSO"):
        assert re.search(rf"^{section}$", text, re.M), f"{page}: no {section}"


def test_manual_documents_every_flag_once(root):
    """derpd(8)'s OPTIONS name exactly the flags `derpd -h` prints."""
    text = man(root / "usr/share/man/man8/derpd.8.gz")
    options = re.search(r"^OPTIONS\n(.*?)^SIGNALS\n", text, re.M | re.S).group(1)
    documented = re.findall(r"^ {7}(-[a-z0-9-]+)(?: |$)", options, re.M)
    printed = re.findall(r"^  (-[a-z0-9-]+)", run(str(root / "usr/sbin/derpd"), "-h").stdout,
                         re.M)
    assert len(printed) > 40, printed
    dups = {f for f in documented if documented.count(f) > 1}
    assert not dups, f"documented twice: {dups}"
    assert set(documented) == set(printed), (
        f"undocumented: {sorted(set(printed) - set(documented))}; "
        f"not flags: {sorted(set(documented) - set(printed))}")


def test_contents_and_modes(deb, root):
    listing = run("dpkg-deb", "-c", deb).stdout
    for path, mode in [("usr/sbin/derpd", 0o755), ("usr/bin/derpd-keygen", 0o755),
                       ("usr/bin/derpd-client", 0o755),
                       ("etc/derpd/derpd.conf", 0o644),
                       ("lib/systemd/system/derpd.service", 0o644),
                       ("usr/share/doc/derpd/SECURITY.md", 0o644),
                       ("usr/share/doc/derpd/README.md", 0o644),
                       *[(p, 0o644) for p in MAN_PAGES]]:
        assert f"./{path}\n" in listing, f"{path} missing from the package:\n{listing}"
        assert stat.S_IMODE((root / path).stat().st_mode) == mode, path
    assert "root/root" in listing and not re.search(r"^\S+ (?!root/root)", listing, re.M)
    ctrl = root.parent / "control"
    run("dpkg-deb", "-e", deb, str(ctrl))
    assert (ctrl / "conffiles").read_text().split() == ["/etc/derpd/derpd.conf"]
    depends = run("dpkg-deb", "-f", deb, "Depends").stdout
    for lib in ("libssl3", "libsodium23", "libcap-ng0", "libseccomp2", "adduser", "procps"):
        assert lib in depends, f"Depends lacks {lib}: {depends}"


@pytest.mark.parametrize("binary", ["usr/sbin/derpd", "usr/bin/derpd-keygen",
                                    "usr/bin/derpd-client"])
def test_binaries_are_hardened(root, binary):
    """PIE, full RELRO (BIND_NOW), non-executable stack, stack protector and
    FORTIFY_SOURCE checks linked in."""
    path = str(root / binary)
    header = run("readelf", "-h", path).stdout
    assert re.search(r"Type:\s+DYN", header), "not PIE"
    dynamic = run("readelf", "-d", path).stdout
    assert "BIND_NOW" in dynamic and "PIE" in dynamic, dynamic
    segments = run("readelf", "-lW", path).stdout
    assert "GNU_RELRO" in segments
    stack = [l for l in segments.splitlines() if "GNU_STACK" in l]
    assert stack and "RWE" not in stack[0], "executable stack"
    symbols = run("readelf", "--dyn-syms", "-W", path).stdout
    assert "__stack_chk_fail" in symbols, "no stack protector"
    assert re.search(r"__\w+_chk\b", symbols.replace("__stack_chk_fail", "")), \
        "no FORTIFY_SOURCE checks"


def test_unit_verifies_and_keeps_capabilities_minimal(root, tmp_path):
    unit = (root / "lib/systemd/system/derpd.service").read_text()
    # systemd-analyze checks ExecStart's binary and the man: pages in
    # Documentation= exist: point it at ours.
    copy = tmp_path / "derpd.service"
    copy.write_text(unit.replace("/usr/sbin/derpd", str(root / "usr/sbin/derpd")))
    out = run("systemd-analyze", "verify", str(copy), check=False,
              env=dict(os.environ, MANPATH=str(root / "usr/share/man")))
    assert out.returncode == 0 and not out.stderr.strip(), out.stderr
    settings = dict(l.split("=", 1) for l in unit.splitlines()
                    if "=" in l and not l.startswith("#"))
    assert set(settings["CapabilityBoundingSet"].split()) == {
        "CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP"}
    assert settings["ExecStart"] == "/usr/sbin/derpd -config /etc/derpd/derpd.conf"
    assert settings["ExecReload"] == "+/bin/kill -HUP $MAINPID"
    for key, want in [("Type", "notify"), ("NotifyAccess", "main"), ("WatchdogSec", "30s"),
                      ("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                      ("ProtectHome", "yes"), ("PrivateDevices", "yes"),
                      ("StateDirectoryMode", "0700"), ("UMask", "0077")]:
        assert settings.get(key) == want, f"{key}={settings.get(key)}"


def test_unit_exposure(root, tmp_path):
    """systemd-analyze security: 2.2 before Type=notify, 2.1 with
    @resources denied; no change may raise it."""
    copy = tmp_path / "derpd.service"
    copy.write_text((root / "lib/systemd/system/derpd.service").read_text())
    out = run("systemd-analyze", "security", "--offline=true", str(copy), check=False)
    m = re.search(r"Overall exposure level for derpd.service: (\d+\.\d+)", out.stdout)
    assert m, out.stdout + out.stderr
    assert float(m.group(1)) <= 2.1, out.stdout


def test_packaged_config_is_accepted(root, tmp_path):
    """The shipped derpd.conf parses; with no certificate yet, derpd stops and
    names the file it wants."""
    out = run(str(root / "usr/sbin/derpd"), "-config", str(root / "etc/derpd/derpd.conf"),
              "-c", str(tmp_path / "derpd.key"), "-certdir", str(tmp_path),
              "-a", "127.0.0.1:1", "-user", "nobody", check=False)
    assert out.returncode != 0
    assert f"cannot read the certificate {tmp_path}/derp.tailscale.com.crt" in out.stderr, \
        out.stderr


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)


@pytest.fixture
def installed(deb):
    """The package installed with apt (dependencies resolved), purged after."""
    if os.geteuid() != 0:
        pytest.skip("installing a package needs root")
    if run("dpkg-query", "-W", "-f=${Status}", "derpd", check=False).stdout.startswith(
            "install ok installed"):
        pytest.skip("a derpd package is already installed on this machine")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run("apt-get", "install", "-y", "-qq", deb, env=env)
    try:
        yield lambda: run("apt-get", "purge", "-y", "-qq", "derpd", env=env)
    finally:
        if Path("/usr/sbin/derpd").exists():
            run("apt-get", "purge", "-y", "-qq", "derpd", env=env)


def test_install_first_start_and_purge(installed, tmp_path):
    """apt installs it and makes _derpd; the relay starts from the packaged
    config, creates its key 0600 in /var/lib/derpd, runs its worker as _derpd
    and serves TLS; a purge removes the key."""
    user = pwd.getpwnam("_derpd")
    assert 0 < user.pw_uid < 1000 and user.pw_shell in ("/usr/sbin/nologin", "/bin/false")
    keydir = Path("/var/lib/derpd")
    assert stat.S_IMODE(keydir.stat().st_mode) == 0o700 and keydir.stat().st_uid == 0
    certdir = tmp_path / "certs"
    certdir.mkdir()
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=derp.test",
        "-addext", "subjectAltName=DNS:derp.test",
        "-keyout", str(certdir / "derp.test.key"), "-out", str(certdir / "derp.test.crt"))
    port = _free_port()
    log = tmp_path / "derpd.log"
    with open(log, "wb") as logf:
        proc = subprocess.Popen(
            ["/usr/sbin/derpd", "-config", "/etc/derpd/derpd.conf", "-a", f"127.0.0.1:{port}",
             "-http-port=-1", "-stun=false", "-hostname", "derp.test",
             "-certdir", str(certdir), "-workers", "1"],
            stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 15
        while "ready" not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.05)
        text = log.read_text()
        assert "ready" in text, text
        key = keydir / "derpd.key"
        st = key.stat()
        assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0, "key file not 0600 root"
        assert "generated a new key file" in text
        pid = int(re.search(r"worker 0 started, pid (\d+)", text).group(1))
        uid = _status(pid)["Uid"].split()
        assert uid == [str(user.pw_uid)] * 4, f"worker runs as {uid}"
        client = DerpClient("127.0.0.1", port, tls=True,
                            cafile=str(certdir / "derp.test.crt"),
                            server_hostname="derp.test").connect()
        client.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)
    assert proc.returncode == 0, log.read_text()
    installed()                                 # purge
    assert not keydir.exists(), "purge left the private key behind"
    assert not Path("/etc/derpd").exists(), "purge left /etc/derpd behind"
