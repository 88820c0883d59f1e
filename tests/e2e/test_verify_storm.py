# SPDX-License-Identifier: BSD-3-Clause
"""A storm of logins against a tailscaled that answers slowly: the verifier
runs at most its bound of lookups at once and queues at most its bound per
worker (the rest are answered "busy"), logins that wait past
-handshake-timeout are closed, memory stays bounded, and the worker keeps
relaying for the clients already admitted meanwhile."""
import os
import socket
import struct
import time

from nacl.public import Box, PrivateKey, PublicKey
from nacl.utils import random as nacl_random

from derp_client import CLIENT_INFO, NONCE_LEN
from derp_helpers import exchange
from drills import pss_kib, raise_nofile
from http_helpers import metrics
from procfs import derpd_pids
from verify_standins import LocalAPI, open_dir  # noqa: F401 (fixture)

ASAN = os.environ.get("DERPD_ASAN") == "1"
STORM = 300 if ASAN else 1200      # past the verifier's 1024 queued logins per worker
ACTIVE, QUEUED = 32, 1024          # master/verifier.h
DELAY = 2.0


def fast_login(port, server_pub):
    """A socket that has sent its whole login at once (fast start): the
    upgrade, then ClientInfo for a fresh key, boxed to the server's key."""
    priv = PrivateKey.generate()
    nonce = nacl_random(NONCE_LEN)
    box = Box(priv, PublicKey(server_pub)).encrypt(b'{"version":2}', nonce).ciphertext
    payload = bytes(priv.public_key) + nonce + box
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /derp HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: DERP\r\n"
              b"Derp-Fast-Start: 1\r\n\r\n" + struct.pack(">BI", CLIENT_INFO, len(payload))
              + payload)
    return s


def closed(s):
    """Whether the server has closed s (it sent ServerKey first, never ServerInfo)."""
    s.settimeout(0)
    got = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
    except BlockingIOError:
        return False, got
    except ConnectionResetError:
        pass
    return True, got


def test_login_storm_against_a_slow_tailscaled(derp_server, connect, open_dir, server_pub):
    a, b = PrivateKey.generate(), PrivateKey.generate()
    api = LocalAPI(open_dir / "ts.sock", known=[a.public_key, b.public_key])
    raise_nofile(STORM + 512)
    socks = []
    try:
        srv = derp_server(workers=1, extra_args=["-verify-clients", "-socket", api.path])
        ca, cb = connect(srv, private_key=a), connect(srv, private_key=b)
        exchange(ca, cb)
        pids = derpd_pids(srv)
        rooted = os.geteuid() == 0
        if rooted:
            before = {r: pss_kib(pids[r]) for r in ("verify", "worker 0")}
        api.delay = DELAY
        start = time.monotonic()
        socks = [fast_login(srv.port, server_pub) for _ in range(STORM)]
        # The worker keeps relaying for those it admitted, promptly, throughout.
        worst = 0.0
        while time.monotonic() - start < 11:
            t = time.monotonic()
            exchange(ca, cb, timeout=2)
            worst = max(worst, time.monotonic() - t)
            time.sleep(0.25)
        # A worker that waited on the verifier would stall for seconds.
        assert worst < 2.0, f"a relayed exchange took {worst:.2f}s during the storm"
        if rooted and not ASAN:
            grown = {r: pss_kib(pids[r]) - before[r] for r in before}
            assert grown["verify"] < 16 * 1024, grown
            assert grown["worker 0"] < 48 * 1024, grown
        # Every stormer is closed without ServerInfo by -handshake-timeout.
        deadline = time.monotonic() + 10
        pending = list(socks)
        while pending and time.monotonic() < deadline:
            still = []
            for s in pending:
                done, got = closed(s)
                assert len(got) <= 5 + 8 + 32, "more than ServerKey: ServerInfo?"
                if not done:
                    still.append(s)
            pending = still
            time.sleep(0.2)
        assert not pending, f"{len(pending)} logins still open"
        # Lookups: never more than ACTIVE at once, so in the time they had...
        assert len(api.requests) <= ACTIVE * (time.monotonic() - start) / DELAY + ACTIVE
        m = metrics(srv)
        busy = m("derpd_verify_logins_total", result="busy")
        waited = sum(m("derpd_verify_logins_total", result=r)
                     for r in ("expired", "timeout", "not_in_tailnet"))
        if STORM > QUEUED + ACTIVE:
            assert busy >= STORM - QUEUED - ACTIVE, "the verifier queued past its bound"
        assert busy + waited >= STORM
        # Healthy afterwards: a known node logs in at once again.
        api.delay = 0
        ca.close()
        assert cb.recv_peer_gone(timeout=5)[0] == bytes(a.public_key)
        exchange(connect(srv, private_key=a), cb)
        assert "verifier (pid" not in srv.log_text()
    finally:
        for s in socks:
            s.close()
        api.close()
