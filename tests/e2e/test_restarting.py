# SPDX-License-Identifier: BSD-3-Clause
"""Graceful shutdown: SIGTERM (or SIGINT) to the master makes every worker
send each logged-in client a Restarting frame (README, "Differences from
derper": reconnect in 0.5-2.5 s, spread at random; try for 5 s), then close
it, and the master exits cleanly."""
import signal
import socket
import subprocess
import time

import pytest

from derp_client import (PEER_GONE, RESTARTING, RESTARTING_LEN, UnexpectedFrame,
                         client_info, parse_restarting)
from derp_helpers import exchange, write_mesh_key

RECONNECT_MIN_MS, RECONNECT_MAX_MS = 500, 2500
TRY_FOR_MS = 5000


def restarting_frame(c, timeout=10):
    """The Restarting payload.  Workers stop one after another, so a peer that
    had sent to c may be reported gone first (PeerGone); nothing else may come."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return c.recv_until(RESTARTING, max(deadline - time.monotonic(), 0.001))
        except UnexpectedFrame as e:
            if e.ftype != PEER_GONE:
                raise


def wait_exit(srv, timeout=15):
    try:
        return srv.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"derpd did not exit {timeout}s after the signal")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_every_client_on_every_worker_gets_restarting(derp_server, connect, tmp_path,
                                                      sig):
    mesh_key = write_mesh_key(tmp_path / "mesh.key")
    srv = derp_server(workers=3, extra_args=["-mesh-psk-file", tmp_path / "mesh.key"])
    clients = []
    for w in range(3):
        clients.append(connect(srv, worker=w))
        clients.append(connect(srv, worker=w, info=client_info(can_ack_pings=False)))
    clients.append(connect(srv, worker=1, info=client_info(mesh_key=mesh_key)))
    clients.append(connect(srv, worker=2, info=client_info(is_prober=True)))
    exchange(clients[0], clients[-1])
    # Not logged in: a finished upgrade without ClientInfo, and a bare TCP
    # connection with no request.  They are closed, with nothing to tell.
    pending = connect(srv, worker=0, handshake=False)
    bare = socket.create_connection(("127.0.0.1", srv.port), timeout=10)

    srv.proc.send_signal(sig)
    spread = set()
    for i, c in enumerate(clients):
        payload = restarting_frame(c)
        assert len(payload) == RESTARTING_LEN, f"client {i}: {payload.hex()}"
        reconnect_in, try_for = parse_restarting(payload)
        assert RECONNECT_MIN_MS <= reconnect_in < RECONNECT_MAX_MS, \
            f"client {i}: reconnect in {reconnect_in} ms"
        assert try_for == TRY_FOR_MS, f"client {i}: try for {try_for} ms"
        spread.add(reconnect_in)
        assert c.is_closed_by_server(timeout=10), f"client {i} was not closed"
    assert len(spread) > 1, "every client was told the same reconnect time"

    assert pending.is_closed_by_server(timeout=10)
    assert RESTARTING not in [t for t, _ in pending.discarded]
    bare.settimeout(10)
    try:
        assert bare.recv(100) == b"", "a connection with no request got bytes"
    except ConnectionResetError:
        pass
    finally:
        bare.close()

    assert wait_exit(srv) == 0
    srv.wait_log(r"derpd: stopped")


def test_every_child_stops_cleanly(derp_server, tls_certdir):
    """After TLS logins, SIGTERM: every child (workers, the key process, STUN,
    bootstrap DNS) exits by itself with status 0, through its exit handlers
    (LeakSanitizer's check in the ASan build). A child that a seccomp policy
    kills on its way out (OpenSSL's exit handlers once were) or that dies
    of the SIGTERM itself is logged as killed."""
    from conftest import free_port
    from derp_client import DerpClient
    certdir, crt = tls_certdir
    srv = derp_server(workers=2, extra_args=[
        "-certmode", "manual", "-certdir", certdir, "-hostname", "derp.test",
        "-stun=true", "-stun-port", str(free_port()),
        "-bootstrap-dns-names", "localhost"])
    a = DerpClient("127.0.0.1", srv.port, tls=True, cafile=str(crt),
                   server_hostname="derp.test").connect()
    b = DerpClient("127.0.0.1", srv.port, tls=True, cafile=str(crt),
                   server_hostname="derp.test").connect()
    exchange(a, b)
    from procfs import wait_sandboxed
    for what in ("STUN server", "bootstrap DNS resolver"):
        pid = int(srv.wait_log(rf"{what} started, pid (\d+)").group(1))
        wait_sandboxed(pid)     # past its SIGTERM set-up
    srv.proc.send_signal(signal.SIGTERM)
    assert wait_exit(srv) == 0
    srv.wait_log(r"derpd: stopped")
    after = srv.log_text().split("stopping", 1)[1]
    assert "killed by signal" not in after and "WARNING" not in after, after
