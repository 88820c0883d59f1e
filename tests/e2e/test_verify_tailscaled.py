# SPDX-License-Identifier: BSD-3-Clause
"""-verify-clients against a stand-in for tailscaled's LocalAPI on a unix
socket (tests/e2e/verify_standins.py): derper asks GET
/localapi/v0/whois?addr=nodekey:<hex> with Host: local-tailscaled.sock; 200
admits, 404 refuses, anything else (or no tailscaled) refuses with the error
logged.  Mesh peers are admitted without a lookup.  A refused client gets
ServerKey but never ServerInfo, and is closed."""
import os
import signal
import time

import pytest
from nacl.public import PrivateKey

from derp_client import ConnectionClosed, DerpClient, client_info
from derp_helpers import exchange
from http_helpers import metrics, wait_metrics
from verify_standins import LOCALAPI_HOST, LocalAPI, open_dir  # noqa: F401 (fixture)

MESH_KEY = bytes(range(32))


@pytest.fixture
def localapi(open_dir):
    api = LocalAPI(open_dir / "tailscaled.sock")
    yield api
    api.close()


def refused(srv, key=None, **kw):
    """Logs in with key; asserts ServerKey came and ServerInfo never did."""
    c = DerpClient("127.0.0.1", srv.port, private_key=key, **kw)
    try:
        c.connect(handshake=False)
        c.read_server_key()
        c.send_client_info()
        with pytest.raises(ConnectionClosed):
            c.read_server_info()
    finally:
        c.close()


def start(derp_server, api, *extra, workers=2):
    return derp_server(workers=workers, extra_args=[
        "-verify-clients", "-socket", api.path, *extra])


def test_known_key_relays_unknown_is_closed(derp_server, connect, localapi):
    a, b = PrivateKey.generate(), PrivateKey.generate()
    localapi.known |= {bytes(a.public_key).hex(), bytes(b.public_key).hex()}
    srv = start(derp_server, localapi)
    assert "access control: nodes the local tailscaled knows" in srv.log_text()
    exchange(connect(srv, worker=0, private_key=a), connect(srv, worker=1, private_key=b))
    stranger = PrivateKey.generate()
    refused(srv, stranger)
    want = f"nodekey:{bytes(stranger.public_key).hex()}"
    srv.wait_log(rf"refused {want} from 127\.0\.0\.1: not found in local tailscaled")
    # Exactly derper's question, with the Host tailscaled insists on.
    assert localapi.bad_host == 0
    assert (LOCALAPI_HOST, want) in localapi.requests
    m = metrics(srv)
    assert m("derpd_verify_logins_total", result="admitted") == 2
    assert m("derpd_verify_logins_total", result="not_in_tailnet") == 1
    assert m("derp_current_connections") == 2


def test_tailscaled_down_is_refused_with_a_clear_log_line(derp_server, connect,
                                                         localapi, open_dir):
    known = PrivateKey.generate()
    localapi.known.add(bytes(known.public_key).hex())
    srv = start(derp_server, localapi)
    connect(srv, private_key=known)
    localapi.close()                    # the socket is gone
    refused(srv)
    srv.wait_log(rf"cannot ask tailscaled at {open_dir}/tailscaled\.sock about "
                 r"nodekey:[0-9a-f]{64}: No such file or directory")
    assert metrics(srv)("derpd_verify_logins_total", result="tailscaled_error") == 1


def test_tailscaled_errors_refuse(derp_server, localapi):
    """Anything but 200 and 404 refuses, with the error logged: a 403
    (tailscaled refusing the caller), a 500, and a 200 that is not JSON."""
    srv = start(derp_server, localapi)
    for status, body, why in ((403, b"Access denied", "unexpected HTTP status"),
                              (500, b"", "unexpected HTTP status"),
                              (200, b"{\"Node\":", "the answer is not a JSON object")):
        localapi.force = (status, body)
        mark = srv.log_mark()
        refused(srv)
        srv.wait_log(rf"failed to query local tailscaled about nodekey:[0-9a-f]{{64}}: "
                     rf"HTTP {status}: {why}", since=mark)
    assert metrics(srv)("derpd_verify_logins_total", result="tailscaled_error") == 3


def test_mesh_peer_admitted_without_a_lookup(derp_server, connect, localapi, tmp_path):
    psk = tmp_path / "mesh.key"
    psk.write_text(MESH_KEY.hex())
    os.chmod(psk, 0o600)
    srv = start(derp_server, localapi, "-mesh-psk-file", psk)
    watcher = connect(srv, info=client_info(mesh_key=MESH_KEY))
    watcher.watch_conns()
    assert localapi.requests == []
    refused(srv, info=client_info(mesh_key=bytes(32)))    # a wrong mesh key is asked about
    assert len(localapi.requests) == 1


def test_sighup_and_interval_recheck_connected_clients(derp_server, connect, localapi):
    """A node tailscaled no longer knows is closed at the next -verify-interval
    (re-checks ask afresh, not the cache), and its peer hears PeerGone."""
    a, b = PrivateKey.generate(), PrivateKey.generate()
    localapi.known |= {bytes(a.public_key).hex(), bytes(b.public_key).hex()}
    srv = start(derp_server, localapi, "-verify-interval", "1s")
    ca, cb = connect(srv, worker=0, private_key=a), connect(srv, worker=1, private_key=b)
    exchange(ca, cb)
    localapi.known.discard(bytes(b.public_key).hex())
    key, reason = ca.recv_peer_gone(timeout=10)
    assert key == cb.pub and reason == 0
    assert cb.is_closed_by_server(timeout=5)
    wait_metrics(srv, lambda m: m("derpd_verify_rechecks_total", result="not_in_tailnet")
                 == 1 and m("derpd_verify_rechecks_total", result="admitted") >= 1)
    # SIGHUP re-checks at once (a new verifier, an empty cache).
    localapi.known.discard(bytes(a.public_key).hex())
    mark = srv.log_mark()
    os.kill(srv.pid, signal.SIGHUP)
    srv.wait_log(r"SIGHUP: restarting the verifier", since=mark)
    assert ca.is_closed_by_server(timeout=5)
    assert "verifier (pid" not in srv.log_text()[mark:], "the reload is not a death"


def test_verifier_killed_with_lookups_in_flight(derp_server, open_dir):
    """The verifier dies (SIGKILL) after reading 20 logins' requests, while a
    slow tailscaled holds them; it is restarted, the workers ask the new one
    again, and every login completes inside -handshake-timeout."""
    keys = [PrivateKey.generate() for _ in range(20)]
    api = LocalAPI(open_dir / "slow.sock", known=[k.public_key for k in keys], delay=1.5)
    try:
        srv = start(derp_server, api, "-handshake-timeout", "15s")
        clients = []
        for k in keys:
            c = DerpClient("127.0.0.1", srv.port, private_key=k, timeout=15)
            clients.append(c.connect(handshake=False))
            c.read_server_key()
            c.send_client_info()
        deadline = time.monotonic() + 5
        while len(api.requests) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        pid = int(srv.wait_log(r"verifier started, pid (\d+)").group(1))
        mark = srv.log_mark()
        os.kill(pid, signal.SIGKILL)
        srv.wait_log(r"verifier started, pid \d+", since=mark)
        for c in clients:
            assert c.read_server_info()["version"] == 2
            c.close()
        assert metrics(srv)("derpd_verifier_restarts_total") == 1
    finally:
        api.close()
