# SPDX-License-Identifier: BSD-3-Clause
"""The privilege drop and the sandbox as /proc shows them (SECURITY.md,
"Privilege drop" and "Syscall policy"): once derpd is serving, the master,
the key process, every worker and the STUN and DNS helpers run as the -user
with no capabilities in any set, no supplementary groups, no_new_privs, and
non-dumpable; every child but the master is under a seccomp filter."""
import os
import pwd
import shlex
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import free_port, free_udp_port
from procfs import CAP_FIELDS, children, derpd_pids, is_dumpable, status, wait_sandboxed
from derp_helpers import exchange

root_only = pytest.mark.skipif(os.geteuid() != 0,
                               reason="needs root: derpd drops privileges only when "
                                      "started as root, and reading another user's "
                                      "/proc entries needs root")

NOBODY = pwd.getpwnam("nobody")
ZERO_CAPS = "0000000000000000"
SECCOMP_FILTER = "2"          # /proc/PID/status: 0 none, 1 strict, 2 filter


def helper_args():
    """Flags that also start the STUN server and the bootstrap-DNS resolver."""
    return ["-stun=true", "-stun-port", free_udp_port(),
            "-bootstrap-dns-names", "localhost"]


def assert_unprivileged(role, pid, uid, gid, seccomp):
    st = wait_sandboxed(pid) if seccomp != "0" else status(pid)
    where = f"{role} (pid {pid})"
    assert st["Uid"].split() == [str(uid)] * 4, f"{where}: Uid {st['Uid']}"
    assert st["Gid"].split() == [str(gid)] * 4, f"{where}: Gid {st['Gid']}"
    assert st["Groups"] == "", f"{where} kept supplementary groups {st['Groups']}"
    for field in CAP_FIELDS:
        assert st[field] == ZERO_CAPS, f"{where}: {field} {st[field]}"
    assert st["NoNewPrivs"] == "1", f"{where}: NoNewPrivs {st['NoNewPrivs']}"
    assert not is_dumpable(pid), f"{where} is dumpable"
    assert st["Seccomp"] == seccomp, f"{where}: Seccomp {st['Seccomp']}, want {seccomp}"


@root_only
def test_every_process_drops_privileges(derp_server, connect):
    srv = derp_server(workers=2, extra_args=helper_args())
    srv.wait_log(r"bootstrap DNS resolver started, pid")
    exchange(connect(srv, worker=0), connect(srv, worker=1))
    pids = derpd_pids(srv)
    assert set(pids) == {"master", "key", "worker 0", "worker 1", "stun", "dns"}, pids
    # Nothing runs that derpd did not log.
    assert children(srv.pid) == sorted(p for r, p in pids.items() if r != "master")

    # The master forks and supervises: it has no seccomp filter (SECURITY.md).
    assert_unprivileged("master", srv.pid, NOBODY.pw_uid, NOBODY.pw_gid, seccomp="0")
    for role, pid in pids.items():
        if role != "master":
            assert_unprivileged(role, pid, NOBODY.pw_uid, NOBODY.pw_gid, SECCOMP_FILTER)


@root_only
def test_respawned_worker_is_sandboxed_too(derp_server, connect):
    """A worker the master starts after dropping privileges is just as confined."""
    srv = derp_server(workers=2)
    old = srv.worker_pid(1)
    mark = srv.log_mark()
    os.kill(old, signal.SIGKILL)
    new = int(srv.wait_log(r"worker 1 started, pid (\d+)", since=mark).group(1))
    srv.wait_log(r"\[worker 1\]: ready", since=mark)
    assert_unprivileged("worker 1", new, NOBODY.pw_uid, NOBODY.pw_gid, SECCOMP_FILTER)
    exchange(connect(srv, worker=1), connect(srv, worker=0))


def test_no_seccomp_warns_and_leaves_only_workers_unfiltered(derp_server, connect):
    """-no-seccomp is loud, and it lifts the filter of the workers only: the
    key process (and STUN) keep theirs.  Everything else is unchanged."""
    srv = derp_server(workers=2, extra_args=["-no-seccomp", "-stun=true", "-stun-port",
                                             free_udp_port()])
    warning = srv.wait_log(r"WARNING: -no-seccomp: workers run WITHOUT their syscall "
                           r"sandbox.*never in production").group(0)
    assert "debugging only" in warning
    exchange(connect(srv, worker=0), connect(srv, worker=1))
    pids = derpd_pids(srv)
    for i in range(2):
        st = status(pids[f"worker {i}"])
        assert st["Seccomp"] == "0", f"worker {i} is filtered despite -no-seccomp"
        assert st["NoNewPrivs"] == "1"
        assert st["CapEff"] == st["CapPrm"] == ZERO_CAPS
    assert wait_sandboxed(pids["key"])["Seccomp"] == SECCOMP_FILTER
    assert wait_sandboxed(pids["stun"])["Seccomp"] == SECCOMP_FILTER


def test_default_is_filtered_without_warning(derp_server):
    srv = derp_server(workers=1)
    assert "no-seccomp" not in srv.log_text()
    assert status(srv.worker_pid(0))["Seccomp"] == SECCOMP_FILTER


def run_derpd(derpd_bin, keyfile, *args, timeout=15, **kw):
    """Runs derpd expecting it to exit on its own; returns (status, output)."""
    cmd = [derpd_bin, "-a", f"127.0.0.1:{free_port()}", "-c", str(keyfile),
           "-workers", "1", "-stun=false", "-http-port=-1", *map(str, args)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    return out.returncode, out.stdout + out.stderr


@root_only
def test_refuses_to_run_as_root(derpd_bin, keyfile):
    rc, log = run_derpd(derpd_bin, keyfile, "-user", "root")
    assert rc != 0, log
    assert "refusing to run as root" in log


@root_only
def test_refuses_unknown_user(derpd_bin, keyfile):
    rc, log = run_derpd(derpd_bin, keyfile, "-user", "no-such-user-derpd")
    assert rc != 0, log
    assert "user no-such-user-derpd does not exist" in log


@root_only
def test_default_user_falls_back_to_nobody_with_warning(derp_server, connect):
    """Without -user: _derpd if it exists, else nobody with a warning that
    says how to create _derpd."""
    try:
        want = pwd.getpwnam("_derpd")
    except KeyError:
        want = None
    srv = derp_server(workers=1, user=None)
    assert "-user" not in srv.args
    exchange(connect(srv), connect(srv))
    text = srv.log_text()
    if want is None:
        assert "WARNING: user _derpd does not exist; running as nobody" in text
        assert "adduser --system --group _derpd" in text
    else:
        assert "does not exist" not in text
    user = want or NOBODY
    assert f"workers as {user.pw_name};" in text
    for role, pid in derpd_pids(srv).items():
        assert_unprivileged(role, pid, user.pw_uid, user.pw_gid,
                            "0" if role == "master" else SECCOMP_FILTER)


@root_only
def test_non_root_keeps_its_user_but_sandboxes(derp_server, connect, derpd_bin, keygen_bin):
    """Started by an ordinary user (development): no user switch, but the
    same sandbox; the key file may belong to that user.  (Without CAP_SETPCAP
    the bounding set cannot shrink; no_new_privs makes it moot.)"""
    home = Path(tempfile.mkdtemp(prefix="derpd-dev-"))
    try:
        os.chmod(home, 0o755)           # nobody must reach its key file
        key = home / "derpd.key"
        assert subprocess.run([keygen_bin, str(key)], capture_output=True,
                              timeout=10).returncode == 0
        os.chown(key, NOBODY.pw_uid, NOBODY.pw_gid)
        wrapper = home / "derpd-as-nobody"
        wrapper.write_text(
            "#!/bin/sh\n"
            f"exec setpriv --reuid={NOBODY.pw_uid} --regid={NOBODY.pw_gid} "
            f"--clear-groups --inh-caps=-all {shlex.quote(derpd_bin)} \"$@\"\n")
        os.chmod(wrapper, 0o755)
        srv = derp_server(workers=2, keyfile=key, binary=str(wrapper), user=None)
        assert f"workers as uid {NOBODY.pw_uid};" in srv.log_text()
        exchange(connect(srv, worker=0), connect(srv, worker=1))
        pids = derpd_pids(srv)
        assert {"master", "key", "worker 0", "worker 1"} <= set(pids), pids
        for role, pid in pids.items():
            st = status(pid)
            assert st["Uid"].split() == [str(NOBODY.pw_uid)] * 4, (role, st["Uid"])
            for field in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
                assert st[field] == ZERO_CAPS, (role, field, st[field])
            assert st["NoNewPrivs"] == "1", role
            assert not is_dumpable(pid), f"{role} is dumpable"
            if role != "master":
                assert wait_sandboxed(pid)["Seccomp"] == SECCOMP_FILTER, role
        srv.stop()
    finally:
        shutil.rmtree(home)
