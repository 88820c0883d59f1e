# SPDX-License-Identifier: BSD-3-Clause
"""The package under a real systemd: a minimal Debian 12 booted with
systemd-nspawn (see nspawn.py) installs the .deb with apt; the unit must be
disabled and inactive, start once configured (Type=notify: active only when
derpd says READY=1), serve a DERP login over TLS to this host, keep its
clients across `systemctl reload`, feed its watchdog, restart and stop
cleanly, restart on upgrade, and lose key and configuration on purge.

The tests run in file order on one container. Run as root (make
test-package); DERPD_DEB names the .deb.
"""
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "e2e"))
import nspawn  # noqa: E402
from derp_client import DerpClient, RESTARTING  # noqa: E402
from derp_helpers import exchange  # noqa: E402
from http_helpers import Metrics, request  # noqa: E402

DEB = os.environ.get("DERPD_DEB", "")
HOST = "derp.test"

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="booting a container needs root")


def _free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ct(tmp_path_factory):
    if not (DEB and os.path.isfile(DEB)):
        pytest.fail(f"DERPD_DEB={DEB!r} is not a file; run make test-package")
    tarball, spent = nspawn.cached_tree(nspawn.BASE_PACKAGES + nspawn.deb_depends(DEB))
    if spent:
        print(f"\nbootstrapped {tarball} in {spent:.0f}s")
    work = tmp_path_factory.mktemp("nspawn")
    c = nspawn.Container(tarball, work, f"derpd-test-{os.getpid()}")
    try:
        c.boot()
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def site(ct, tmp_path_factory):
    """Ports on 127.0.0.1 and a certificate for derp.test (the CA file here)."""
    d = tmp_path_factory.mktemp("cert")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", f"/CN={HOST}",
         "-addext", f"subjectAltName=DNS:{HOST}", "-keyout", str(d / "key.pem"),
         "-out", str(d / "crt.pem")], check=True, capture_output=True, timeout=30)
    return {"port": _free_port(), "http_port": _free_port(),
            "stun_port": _free_port(socket.SOCK_DGRAM), "cafile": str(d / "crt.pem"),
            "crt": (d / "crt.pem").read_bytes(), "key": (d / "key.pem").read_bytes()}


def show(ct, *props):
    out = ct.check(f"systemctl show derpd -p {','.join(props)}")
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def journal(ct):
    return ct.run("journalctl -u derpd --no-pager -o cat | tail -n 60")[1]


def login(site, **kw):
    return DerpClient("127.0.0.1", site["port"], tls=True, cafile=site["cafile"],
                      server_hostname=HOST, **kw).connect()


def metrics(site):
    r = request(site["port"], "/metrics", tls=True, cafile=site["cafile"],
                server_hostname=HOST, host_header=HOST)
    assert r.status == 200, r.status_line
    return Metrics(r.text())


def wait_active(ct, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        st = show(ct, "ActiveState", "SubState", "MainPID")
        if st["ActiveState"] == "active" and st["SubState"] == "running":
            return int(st["MainPID"])
        assert time.monotonic() < deadline, f"derpd is {st}:\n{journal(ct)}"
        time.sleep(0.2)


def test_install_leaves_the_unit_disabled(ct):
    """apt installs it with its dependencies; the unit is neither enabled
    nor started: the relay needs a host name and a certificate first."""
    deb = ct.put("derpd.deb", Path(DEB).read_bytes())
    ct.check(f"DEBIAN_FRONTEND=noninteractive apt-get install -y -q {deb}", timeout=300)
    rc, out = ct.run("systemctl is-enabled derpd")
    assert (rc, out.strip()) == (1, "disabled"), out
    rc, out = ct.run("systemctl is-active derpd")
    assert (rc, out.strip()) == (3, "inactive"), out
    st = show(ct, "Type", "NotifyAccess", "ExecReload")
    assert (st["Type"], st["NotifyAccess"]) == ("notify", "main"), st
    assert "/bin/kill -HUP" in st["ExecReload"], st
    ct.check("getent passwd _derpd && test -d /var/lib/derpd && test ! -e /var/lib/derpd/derpd.key")
    ct.check("ls /usr/share/man/man8/derpd.8.gz /usr/share/man/man8/derpd-keygen.8.gz "
             "/usr/share/man/man5/derpd.conf.5.gz /usr/share/man/man1/derpd-client.1.gz "
             "/usr/bin/derpd-client")


def test_configured_unit_starts_when_derpd_is_ready(ct, site):
    """The packaged derpd.conf, edited; `systemctl enable --now` returns once
    derpd has sent READY=1; it serves a DERP login over TLS with the key it
    created, whose public key derpd-keygen prints."""
    crt, key = ct.put("crt.pem", site["crt"]), ct.put("key.pem", site["key"])
    rate = ct.put("rate.json", json.dumps({"PerClientRateLimitBytesPerSec": 1 << 20,
                                           "PerClientRateBurstBytes": 1 << 21}))
    conf = "/etc/derpd/derpd.conf"
    ct.check(f"""set -e
        install -m 0644 {crt} /etc/derpd/certs/{HOST}.crt
        install -m 0600 {key} /etc/derpd/certs/{HOST}.key
        install -m 0644 {rate} /etc/derpd/rate.json
        sed -i -e 's/^#hostname = .*/hostname = {HOST}/' \\
            -e 's/^a = .*/a = 127.0.0.1:{site["port"]}/' \\
            -e 's/^http-port = .*/http-port = {site["http_port"]}/' \\
            -e 's/^stun-port = .*/stun-port = {site["stun_port"]}/' {conf}
        printf 'rate-config = /etc/derpd/rate.json\\nworkers = 2\\n' >> {conf}
        grep -qx 'hostname = {HOST}' {conf}
        grep -qx 'a = 127.0.0.1:{site["port"]}' {conf}""")
    rc, out = ct.run("systemctl enable --now derpd", timeout=60)
    assert rc == 0, f"{out}\n{journal(ct)}"
    site["pid"] = wait_active(ct, timeout=1)
    st = show(ct, "StatusText", "WatchdogUSec")
    assert re.fullmatch(r"\d+ clients, 2 of 2 workers serving", st["StatusText"]), st
    assert st["WatchdogUSec"] == "30s", st
    ct.check("test \"$(stat -c %a:%U /var/lib/derpd/derpd.key)\" = 600:root")
    pub = ct.check("derpd-keygen -pub /var/lib/derpd/derpd.key").strip()
    c = login(site)
    assert "nodekey:" + c.server_key.hex() == pub
    c.close()
    text = journal(ct)
    assert "serving on 127.0.0.1:%d (TLS) with 2 workers as _derpd" % site["port"] in text, text


def test_reload_keeps_clients_and_rereads_rate_config(ct, site):
    """`systemctl reload` (SIGHUP): same main process, established clients
    stay connected and keep relaying, and -rate-config is reread."""
    a, b = login(site), login(site)
    exchange(a, b)
    assert metrics(site)("derp_rate_limit_per_client_bytes_per_second") == 1 << 20
    rate = ct.put("rate2.json", json.dumps({"PerClientRateLimitBytesPerSec": 1 << 21,
                                            "PerClientRateBurstBytes": 1 << 22}))
    ct.check(f"install -m 0644 {rate} /etc/derpd/rate.json && systemctl reload derpd")
    deadline = time.monotonic() + 10
    while metrics(site)("derp_rate_limit_per_client_bytes_per_second") != 1 << 21:
        assert time.monotonic() < deadline, journal(ct)
        time.sleep(0.1)
    assert wait_active(ct) == site["pid"]
    exchange(a, b)
    exchange(b, a)
    st = show(ct, "StatusText")
    assert re.fullmatch(r"\d+ clients, 2 of 2 workers serving", st["StatusText"]), st
    a.close()
    b.close()


def test_watchdog(ct, site):
    """With WatchdogSec=1s derpd's pings keep it alive; a stopped master
    misses them and systemd kills and restarts it."""
    ct.check("""set -e
        mkdir -p /etc/systemd/system/derpd.service.d
        printf '[Service]\\nWatchdogSec=1s\\nWatchdogSignal=SIGKILL\\nRestartSec=1s\\n' \\
            > /etc/systemd/system/derpd.service.d/watchdog.conf
        systemctl daemon-reload
        systemctl restart derpd""", timeout=60)
    pid = wait_active(ct)
    time.sleep(3)
    st = show(ct, "MainPID", "NRestarts", "ActiveState")
    assert (int(st["MainPID"]), st["ActiveState"]) == (pid, "active"), st
    restarts = int(st["NRestarts"])
    ct.check(f"kill -STOP {pid}")
    deadline = time.monotonic() + 20
    while True:
        st = show(ct, "MainPID", "NRestarts", "ActiveState")
        if int(st["NRestarts"]) > restarts and st["ActiveState"] == "active":
            break
        assert time.monotonic() < deadline, f"{st}\n{journal(ct)}"
        time.sleep(0.2)
    assert "Watchdog timeout" in ct.run("journalctl -u derpd --no-pager")[1]
    ct.check("""rm -r /etc/systemd/system/derpd.service.d
        systemctl daemon-reload && systemctl restart derpd""", timeout=60)
    site["pid"] = wait_active(ct)
    login(site).close()


def test_restart_and_stop_are_clean(ct, site):
    """restart: clients get a Restarting frame, a new main process serves;
    stop: inactive (not failed), exit status 0, no process left."""
    a = login(site)
    ct.check("systemctl restart derpd", timeout=60)
    assert a.recv_until(RESTARTING, timeout=10)
    assert a.is_closed_by_server(timeout=10)
    pid = wait_active(ct)
    assert pid != site["pid"]
    login(site).close()
    ct.check("systemctl stop derpd", timeout=60)
    st = show(ct, "ActiveState", "Result", "ExecMainStatus", "ExecMainCode")
    assert (st["ActiveState"], st["Result"], st["ExecMainStatus"]) == \
        ("inactive", "success", "0"), st
    rc, out = ct.run("pgrep -ax derpd")
    assert rc == 1, f"left running:\n{out}"
    assert "stopped" in journal(ct)


def test_upgrade_restarts_an_enabled_relay(ct, site):
    """Installing the package over itself starts the enabled relay again."""
    ct.check("systemctl start derpd", timeout=60)
    before = wait_active(ct)
    ct.check("dpkg -i /derpd-test/files/derpd.deb", timeout=120)
    assert wait_active(ct) != before
    login(site).close()


def test_purge_stops_and_removes_key_and_config(ct, site):
    """apt purge of a running relay stops it, removes the key, derpd.conf,
    the unit and its enablement; certificates the operator added stay."""
    ct.check("DEBIAN_FRONTEND=noninteractive apt-get purge -y -q derpd", timeout=120)
    rc, out = ct.run("pgrep -ax derpd")
    assert rc == 1, f"left running:\n{out}"
    for path in ("/var/lib/derpd", "/etc/derpd/derpd.conf", "/lib/systemd/system/derpd.service",
                 "/etc/systemd/system/multi-user.target.wants/derpd.service"):
        rc, out = ct.run(f"test ! -e {path} && test ! -L {path}")
        assert rc == 0, f"{path} survived the purge"
    ct.check(f"test -f /etc/derpd/certs/{HOST}.key")
    rc, out = ct.run("systemctl is-active derpd")
    assert out.strip() == "inactive", out
