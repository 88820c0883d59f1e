# SPDX-License-Identifier: BSD-3-Clause
"""The key file (SECURITY.md, "Key file"): derpd refuses, and says what is
wrong and how to fix it, a key file that is a symbolic link, a directory or
another non-regular file, owned by another user, readable or writable by
group or others, empty, too large, truncated or malformed; it leaves such a
file as it was.  A missing key file is generated (derper does this too):
atomically, mode 0600 whatever the umask, in derper's format, logged, and
never overwritten later."""
import json
import os
import pwd
import re
import stat
import subprocess

import pytest
from nacl.public import PrivateKey

from conftest import free_port, _session_processes
from derp_helpers import exchange, public_key_of

KNOWN_PRIV = bytes([0x48] + list(range(2, 32)) + [0x5F])
GOOD = '{\n\t"PrivateKey": "privkey:%s"\n}' % KNOWN_PRIV.hex()
EXPECTED_FORMAT = '{"PrivateKey": "privkey:<64 hex digits>"}'


def refuse(derpd_bin, path, *words):
    """Starts derpd on `path`; it must exit non-zero, mention the path and
    every one of `words`, and leave no process behind."""
    cmd = [derpd_bin, "-a", f"127.0.0.1:{free_port()}", "-c", str(path),
           "-workers", "1", "-stun=false", "-http-port=-1"]
    if os.geteuid() == 0:
        cmd += ["-user", "nobody"]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        log, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0, f"derpd accepted a bad key file:\n{log}"
    assert "worker 0 started" not in log and "serving on" not in log, log
    assert str(path) in log, f"the message does not name the file:\n{log}"
    for w in words:
        assert w in log, f"expected {w!r} in:\n{log}"
    assert not _session_processes(proc.pid), "derpd left processes behind"
    return log


def write_key(path, text, mode=0o600):
    path.write_text(text)
    os.chmod(path, mode)
    return path


# --- what the master checks before anything reads the file -----------------

@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o602])
def test_group_or_other_access_refused(derpd_bin, tmp_path, mode):
    path = write_key(tmp_path / "derpd.key", GOOD, mode)
    refuse(derpd_bin, path, f"has mode {mode:04o}", "group or others", f"chmod 600 {path}")
    assert stat.S_IMODE(os.stat(path).st_mode) == mode, "derpd changed the mode"
    assert path.read_text() == GOOD


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_owner_only_modes_accepted(derp_server, connect, tmp_path, mode):
    path = write_key(tmp_path / "derpd.key", GOOD, mode)
    srv = derp_server(workers=1, keyfile=path)
    assert connect(srv).server_key == bytes(PrivateKey(KNOWN_PRIV).public_key)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another user")
def test_owned_by_another_user_refused(derpd_bin, tmp_path):
    nobody = pwd.getpwnam("nobody")
    path = write_key(tmp_path / "derpd.key", GOOD)
    os.chown(path, nobody.pw_uid, nobody.pw_gid)
    refuse(derpd_bin, path, f"owned by uid {nobody.pw_uid}", "must be owned by root",
           f"chown root {path}")


def test_symlink_refused(derpd_bin, tmp_path):
    """Even to a perfectly good key file: the link itself could be swapped."""
    target = write_key(tmp_path / "real.key", GOOD)
    link = tmp_path / "derpd.key"
    link.symlink_to(target)
    refuse(derpd_bin, link, "symbolic link", "refusing to follow it",
           "point -c at the file itself")


def test_dangling_symlink_refused_not_created(derpd_bin, tmp_path):
    """A link to nowhere is not a missing key file: nothing is generated
    through it."""
    target = tmp_path / "elsewhere.key"
    link = tmp_path / "derpd.key"
    link.symlink_to(target)
    refuse(derpd_bin, link, "symbolic link")
    assert not target.exists(), "derpd wrote a key through a symbolic link"
    assert link.is_symlink()


def test_directory_refused(derpd_bin, tmp_path):
    path = tmp_path / "keys"
    path.mkdir(mode=0o700)
    refuse(derpd_bin, path, "is a directory", "point -c at")
    assert list(path.iterdir()) == [], "derpd wrote into the directory"


def test_fifo_refused(derpd_bin, tmp_path):
    path = tmp_path / "derpd.key"
    os.mkfifo(path, 0o600)
    refuse(derpd_bin, path, "is not a regular file", "point -c at")


def test_too_large_refused(derpd_bin, tmp_path):
    text = GOOD + " " * 5000
    path = write_key(tmp_path / "derpd.key", text)
    refuse(derpd_bin, path, "too large", f"({len(text)} bytes)")


# --- what the key process checks when it reads the file -----------------------

@pytest.mark.parametrize("content,words", [
    ("", ["is malformed", "file is empty"]),
    (GOOD[:40], ["is malformed", "not valid JSON", "truncated"]),
    (GOOD[:-1], ["is malformed", "not valid JSON", "truncated"]),
    ("privkey:" + KNOWN_PRIV.hex(), ["is malformed", "not valid JSON"]),
    ('["privkey:%s"]' % KNOWN_PRIV.hex(), ["is malformed", "not a JSON object"]),
    ('{"Key": "privkey:%s"}' % KNOWN_PRIV.hex(), ["is malformed", 'no "PrivateKey" field']),
    ('{"PrivateKey": "privkey:%s", "privatekey": "privkey:%s"}'
     % (KNOWN_PRIV.hex(), KNOWN_PRIV.hex()), ["is malformed", 'more than one "PrivateKey"']),
    ('{"PrivateKey": "%s"}' % KNOWN_PRIV.hex(),
     ["is malformed", '"privkey:" followed by 64 hex digits']),
    ('{"PrivateKey": "privkey:%s"}' % KNOWN_PRIV.hex()[:62],
     ["is malformed", '"privkey:" followed by 64 hex digits']),
    ('{"PrivateKey": "privkey:%sxy"}' % KNOWN_PRIV.hex()[:62],
     ["is malformed", '"privkey:" followed by 64 hex digits']),
    ('{"PrivateKey": 42}', ["is malformed", '"privkey:" followed by 64 hex digits']),
    ('{"PrivateKey": "privkey:%s"}' % ("00" * 32), ["is malformed", "all zeros"]),
], ids=["empty", "truncated", "truncated-brace", "bare-key", "array", "no-field",
        "two-fields", "no-prefix", "short-hex", "bad-hex", "number", "zero-key"])
def test_malformed_refused(derpd_bin, tmp_path, content, words):
    path = write_key(tmp_path / "derpd.key", content)
    log = refuse(derpd_bin, path, *words, EXPECTED_FORMAT)
    assert "could not load the key" in log        # the master's own line
    assert path.read_text() == content, "derpd rewrote a malformed key file"
    assert KNOWN_PRIV.hex() not in log, "the private key was logged"


# --- first run -----------------------------------------------------------------

def test_missing_key_file_generated_once(derp_server, connect, keygen_bin, tmp_path):
    """Missing (with a missing parent directory, under umask 000): derpd
    writes a new key 0600 in a 0700 directory, logs it, serves with it; a
    restart reads the same file and serves the same key."""
    path = tmp_path / "state" / "derpd.key"
    old_umask = os.umask(0)
    try:
        srv = derp_server(workers=1, keyfile=path)
    finally:
        os.umask(old_umask)
    assert re.search(rf"generated a new key file {re.escape(str(path))} \(mode 0600\)",
                     srv.log_text()), srv.log_text()
    st = os.stat(path)
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_uid == os.geteuid()
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert sorted(p.name for p in path.parent.iterdir()) == ["derpd.key"], \
        "a temporary file was left behind"

    text = path.read_text()
    assert re.fullmatch(r'\{\n\t"PrivateKey": "privkey:[0-9a-f]{64}"\n\}', text), text
    priv = bytes.fromhex(json.loads(text)["PrivateKey"][len("privkey:"):])
    pub = bytes(PrivateKey(priv).public_key)
    assert public_key_of(keygen_bin, path) == pub
    a, b = connect(srv), connect(srv)
    assert a.server_key == pub
    exchange(a, b)
    assert priv.hex() not in srv.log_text(), "the private key was logged"
    srv.stop()

    again = derp_server(workers=1, keyfile=path)
    assert "generated" not in again.log_text()
    assert path.read_text() == text, "the key file was rewritten"
    assert connect(again).server_key == pub


def test_existing_key_file_never_overwritten(derp_server, connect, keyfile, server_pub):
    before = keyfile.read_bytes()
    inode = os.stat(keyfile).st_ino
    for _ in range(2):
        srv = derp_server(workers=1, keyfile=keyfile)
        assert "generated" not in srv.log_text()
        assert connect(srv).server_key == server_pub
        srv.stop()
    assert keyfile.read_bytes() == before
    assert os.stat(keyfile).st_ino == inode
