# SPDX-License-Identifier: BSD-3-Clause
"""Log lines: syslog priorities under journald, labels on a terminal, and no
packet contents in any line, even with -verbose."""
import os
import re
import subprocess
import time

from conftest import free_port
from derp_client import DerpClient

MARKER = b"derpd-log-canary-7f3a9c"


def _start(derpd_bin, keyfile, log_path, env, extra=()):
    port = free_port()
    args = [derpd_bin, "-a", f"127.0.0.1:{port}", "-c", str(keyfile), "-workers", "1",
            "-stun=false", "-http-port=-1", "-verbose", *extra]
    if os.geteuid() == 0:
        args += ["-user", "nobody"]
    out = open(log_path, "wb")
    st = os.fstat(out.fileno())
    full_env = dict(os.environ)
    full_env.pop("JOURNAL_STREAM", None)
    full_env.update({k: v.format(dev=st.st_dev, ino=st.st_ino) for k, v in env.items()})
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                            stderr=subprocess.STDOUT, env=full_env, start_new_session=True)
    return proc, port, out


def _wait_for(path, pattern, proc, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text(errors="replace")
        if re.search(pattern, text, re.M):
            return text
        assert proc.poll() is None, f"derpd exited early:\n{text}"
        time.sleep(0.05)
    raise AssertionError(f"{pattern!r} not logged:\n{path.read_text(errors='replace')}")


def _stop(proc, out):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait(5)
    out.close()


def _run_and_relay(derpd_bin, keyfile, tmp_path, env):
    log = tmp_path / "derpd.log"
    proc, port, out = _start(derpd_bin, keyfile, log, env, extra=["-no-seccomp"])
    try:
        _wait_for(log, r"worker 0\]: ready", proc)
        a = DerpClient("127.0.0.1", port).connect()
        b = DerpClient("127.0.0.1", port).connect()
        a.send_packet(b.pub, MARKER)
        src, pkt = b.recv_packet()
        assert pkt == MARKER
        a.close()
        b.close()
        return _wait_for(log, r"closing client", proc)
    finally:
        _stop(proc, out)


def test_journald_lines_carry_their_priority(derpd_bin, keyfile, tmp_path):
    text = _run_and_relay(derpd_bin, keyfile, tmp_path,
                          {"JOURNAL_STREAM": "{dev}:{ino}"})
    lines = [l for l in text.splitlines() if l]
    assert lines and all(re.match(r"<[0-7]>derpd", l) for l in lines), text
    assert re.search(r"^<4>derpd: -no-seccomp: workers run WITHOUT", text, re.M), text
    assert re.search(r"^<6>derpd\[worker 0\]: ready$", text, re.M), text
    assert re.search(r"^<7>derpd\[worker 0\]: closing client", text, re.M), text
    assert "WARNING:" not in text


def test_terminal_lines_have_no_priority_prefix(derpd_bin, keyfile, tmp_path):
    # A JOURNAL_STREAM naming another stream (e.g. inherited) is ignored.
    text = _run_and_relay(derpd_bin, keyfile, tmp_path, {"JOURNAL_STREAM": "1:1"})
    assert not re.search(r"^<\d>", text, re.M), text
    assert re.search(r"^derpd: WARNING: -no-seccomp: workers run WITHOUT", text, re.M), text


def test_packet_contents_never_logged(derpd_bin, keyfile, tmp_path):
    text = _run_and_relay(derpd_bin, keyfile, tmp_path, {})
    assert MARKER.decode() not in text
    assert MARKER.hex() not in text
