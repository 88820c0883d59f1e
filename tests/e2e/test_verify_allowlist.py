# SPDX-License-Identifier: BSD-3-Clause
"""-allow-keys: only the node keys in the file (and mesh peers) log in.  The
file is read again on SIGHUP: a connected client whose key left it is
closed and its peers hear PeerGone; a file that does not parse is reported
with its line number and the list before stays in force."""
import os
import signal
import subprocess

import pytest
from nacl.public import PrivateKey

from conftest import free_port
from derp_client import ConnectionClosed, DerpClient, client_info
from derp_helpers import exchange
from http_helpers import metrics
from probes import probe
from procfs import derpd_pids, wait_sandboxed
from verify_standins import open_dir  # noqa: F401 (fixture)

MESH_KEY = bytes(range(1, 33))


def listing(*keys, extra=""):
    return "# who may use this relay\n\n" + "".join(
        f"nodekey:{bytes(k.public_key).hex()}   # node {i}\n" for i, k in enumerate(keys)
    ) + extra


def refused(srv, key):
    c = DerpClient("127.0.0.1", srv.port, private_key=key)
    try:
        c.connect(handshake=False)
        c.read_server_key()
        c.send_client_info()
        with pytest.raises(ConnectionClosed):
            c.read_server_info()
    finally:
        c.close()


def reload(srv, what):
    mark = srv.log_mark()
    os.kill(srv.pid, signal.SIGHUP)
    srv.wait_log(what, since=mark)
    srv.wait_log(r"verifier started, pid \d+", since=mark)
    return mark


def test_listed_keys_only(derp_server, connect, open_dir, tmp_path):
    a, b, stranger = (PrivateKey.generate() for _ in range(3))
    path = open_dir / "allow"
    path.write_text(listing(a, b))
    psk = tmp_path / "mesh.key"
    psk.write_text(MESH_KEY.hex())
    os.chmod(psk, 0o600)
    srv = derp_server(workers=2, extra_args=["-allow-keys", path, "-mesh-psk-file", psk])
    assert f"access control: keys in {path} (2)" in srv.log_text()
    exchange(connect(srv, worker=0, private_key=a), connect(srv, worker=1, private_key=b))
    refused(srv, stranger)
    srv.wait_log(rf"refused nodekey:{bytes(stranger.public_key).hex()} from 127\.0\.0\.1: "
                 r"not in -allow-keys")
    connect(srv, info=client_info(mesh_key=MESH_KEY)).watch_conns()  # not listed, a mesh peer
    m = metrics(srv)
    assert m("derpd_verify_logins_total", result="not_allowed") == 1
    assert m("derpd_verify_logins_total", result="admitted") == 2


def test_sighup_closes_removed_keys_and_keeps_a_bad_list_out(derp_server, connect,
                                                           open_dir):
    a, b, c = (PrivateKey.generate() for _ in range(3))
    path = open_dir / "allow"
    path.write_text(listing(a, b, c))
    srv = derp_server(workers=2, extra_args=["-allow-keys", path])
    ca, cb = connect(srv, worker=0, private_key=a), connect(srv, worker=1, private_key=b)
    cc = connect(srv, worker=1, private_key=c)
    exchange(ca, cb)
    exchange(ca, cc)
    # b leaves the list: closed at the reload, and a, who heard from b, is told.
    path.write_text(listing(a, c))
    reload(srv, r"-allow-keys .*: 2 keys admitted")
    key, reason = ca.recv_peer_gone(timeout=10)
    assert key == cb.pub and reason == 0
    assert cb.is_closed_by_server(timeout=5)
    refused(srv, b)
    exchange(ca, cc)
    # A file with a bad line: reported with its number; the two keys stay.
    path.write_text(listing(a, extra="nodekey:not-hex\n"))
    mark = reload(srv, rf"-allow-keys {path}:4: want nodekey:<64 hexadecimal digits>")
    srv.wait_log(r"the list of 2 keys read before stays in force", since=mark)
    exchange(ca, cc)
    assert not cc.is_closed_by_server(timeout=1)
    connect(srv, private_key=c).close()
    assert metrics(srv)("derpd_verify_rechecks_total", result="not_allowed") == 1


def test_hostile_worker_cannot_disturb_the_verifier(derp_server, derpd_test_bin,
                                                   connect, open_dir):
    """A compromised worker's requests: malformed ones are refused (logged
    once), a flood of 5,000 is answered within the verifier's bounds, and
    the other worker's logins are decided as before."""
    a, b = PrivateKey.generate(), PrivateKey.generate()
    path = open_dir / "allow"
    path.write_text(listing(a, b))
    srv = derp_server(workers=2, binary=derpd_test_bin, extra_args=["-allow-keys", path])
    mark = srv.log_mark()
    probe(derpd_pids(srv)["worker 0"], "verify_garbage")
    srv.wait_log(r"derpd\[worker 0\]: test hook: garbage and a flood to the verifier "
                 r"returned \d+", since=mark)
    srv.wait_log(r"derpd\[verify\]: WARNING: refused a request from worker 0: wrong size "
                 r"\(logged once per worker\)", since=mark)
    exchange(connect(srv, worker=1, private_key=a), connect(srv, worker=1, private_key=b))
    refused(srv, PrivateKey.generate())
    assert "verifier (pid" not in srv.log_text()[mark:]


def test_bad_list_refused_at_start(derpd_bin, keyfile, open_dir):
    path = open_dir / "allow"
    path.write_text("nodekey:" + "ab" * 32 + "\n\nnodekey:" + "ab" * 31 + "\n")
    user = ["-user", "nobody"] if os.geteuid() == 0 else []
    out = subprocess.run([derpd_bin, "-a", f"127.0.0.1:{free_port()}", "-c", keyfile,
                          "-workers", "1", "-stun=false", "-http-port=-1", *user,
                          "-allow-keys", path], capture_output=True, text=True, timeout=20)
    assert out.returncode == 1
    assert f"-allow-keys {path}:3: want nodekey:<64 hexadecimal digits>" in out.stderr
    assert "verifier started" not in out.stderr and "serving on" not in out.stderr


def test_start_up_log_names_the_access_control(derp_server, open_dir):
    """No check in force: the log says the relay is open; with checks, it
    names them."""
    srv = derp_server(workers=1)
    assert "WARNING: open relay: any client that can reach this relay may use it" \
        in srv.log_text()
    assert "access control:" not in srv.log_text()
    path = open_dir / "allow"
    path.write_text(listing(PrivateKey.generate()))
    srv = derp_server(workers=1, extra_args=["-allow-keys", path, "-verify-interval", "10m"])
    assert (f"access control: keys in {path} (1); connected clients verified again "
            "periodically and on SIGHUP") in srv.log_text()
    assert "open relay" not in srv.log_text()


@pytest.mark.skipif(os.geteuid() != 0, reason="reading another user's /proc/PID/fd needs root")
def test_verifier_holds_only_its_descriptors(derp_server, open_dir):
    """A fresh exec with the master's socket, one per worker, its epoll and
    signalfd (with -allow-keys alone, no libcurl); the set-up and the list
    of keys were closed once read."""
    path = open_dir / "allow"
    path.write_text(listing(PrivateKey.generate()))
    srv = derp_server(workers=2, extra_args=["-allow-keys", path])
    pid = derpd_pids(srv)["verify"]
    wait_sandboxed(pid)
    kinds = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        target = os.readlink(f"/proc/{pid}/fd/{fd}")
        kind = ("stdio" if int(fd) <= 2 else "socket" if target.startswith("socket:")
                else target.removeprefix("anon_inode:").strip("[]"))
        kinds[kind] = kinds.get(kind, 0) + 1
    assert kinds == {"stdio": 3, "socket": 1 + 2, "eventpoll": 1, "signalfd": 1}, kinds
    assert os.readlink(f"/proc/{pid}/exe") == os.readlink(f"/proc/{srv.pid}/exe")
