# SPDX-License-Identifier: BSD-3-Clause
"""The DERP private key lives in the key process only (SECURITY.md, "Processes
and who holds what"): after handshakes have run, no worker, nor the master,
nor the STUN server has the 32 key bytes (or their hex) anywhere in memory;
the same scan finds them in the key process, and finds each worker's own
clients' public keys in that worker, so the scan does see what a process
holds.  The key process answers a burst of logins, every one of them."""
import json
import os
import resource
import signal
import struct

import pytest

from derp_client import CLIENT_INFO, connect_on_worker
from derp_helpers import exchange
from procfs import derpd_pids, scan_memory
from conftest import free_udp_port

root_only = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="needs root: derpd's processes are non-dumpable and run as another "
           "user, so only CAP_SYS_PTRACE may read their memory")


def private_key_of(path):
    value = json.loads(path.read_text())["PrivateKey"]
    return bytes.fromhex(value[len("privkey:"):])


@root_only
@pytest.mark.parametrize("first_run", [False, True], ids=["existing-key", "generated-key"])
def test_private_key_only_in_key_process(derp_server, connect, keyfile, tmp_path,
                                          first_run):
    path = tmp_path / "new" / "derpd.key" if first_run else keyfile
    srv = derp_server(workers=2, keyfile=path,
                      extra_args=["-stun=true", "-stun-port", free_udp_port()])
    assert ("generated a new key file" in srv.log_text()) == first_run
    priv = private_key_of(path)
    secrets = [priv, priv.hex().encode()]

    # Handshakes on both workers (each asks the key process), and traffic.
    clients = {w: [connect(srv, worker=w) for _ in range(3)] for w in (0, 1)}
    exchange(clients[0][0], clients[1][0])
    exchange(clients[0][1], clients[0][2])

    pids = derpd_pids(srv)
    assert {"master", "key", "worker 0", "worker 1", "stun"} <= set(pids), pids
    for role, pid in pids.items():
        own = [c.pub for c in clients[int(role[-1])]] if role.startswith("worker") else []
        hits, scanned = scan_memory(pid, secrets + own)
        assert scanned > 256 << 10, f"{role}: only {scanned} bytes scanned"
        if role == "key":
            assert hits[priv], "the scan missed the key in the key process"
            # Only libsodium's guarded page: no stray copy, no hex left over.
            assert len(hits[priv]) == 1, f"{len(hits[priv])} copies of the key"
            assert not hits[priv.hex().encode()], "the key's hex text is in memory"
        else:
            for s in secrets:
                assert not hits[s], (f"{role} (pid {pid}) holds the private key "
                                     f"{'hex' if len(s) > 32 else 'bytes'} at "
                                     f"{sorted(map(hex, hits[s]))}")
        for pub in own:
            assert hits[pub], f"{role} does not hold its client's key: the scan is blind"


def fast_login_request(client, server_pub):
    """The upgrade with Derp-Fast-Start and the ClientInfo frame, in one write:
    the server can take the login whole, without a round trip."""
    body = client.client_info_payload(server_key=server_pub)
    return ("GET /derp HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
            "Upgrade: DERP\r\nDerp-Fast-Start: 1\r\n\r\n").encode() + \
        struct.pack(">BI", CLIENT_INFO, len(body)) + body


def test_burst_of_logins_through_the_key_process(derp_server, connect, server_pub):
    """500 clients connect, then all send their login at once (375 of them
    to worker 0), so the workers ask the key process for hundreds of shared
    keys together; every login completes and every client relays a packet.
    Meanwhile the master still supervises: a STUN server killed during the
    burst is restarted."""
    n = 500
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * n + 256
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {need}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    clients = []
    try:
        srv = derp_server(workers=2, extra_args=["-stun=true", "-stun-port",
                                                 free_udp_port()])
        stun = derpd_pids(srv)["stun"]
        for i in range(n):
            clients.append(connect_on_worker("127.0.0.1", srv.port, 1 if i % 4 == 3 else 0,
                                             2, upgrade=False, timeout=60))
        logins = [fast_login_request(c, server_pub) for c in clients]
        mark = srv.log_mark()
        for c, login in zip(clients, logins):
            c.send_raw(login)
        os.kill(stun, signal.SIGKILL)

        failed = []
        for i, c in enumerate(clients):
            try:
                c.read_server_key()
                c.read_server_info()
            except Exception as e:
                failed.append(f"client {i}: {e!r}")
        assert not failed, f"{len(failed)} of {n} logins failed: {failed[:5]}"
        for i, c in enumerate(clients):
            c.send_packet(clients[i ^ 1].pub, b"burst %d" % i)
        for i, c in enumerate(clients):
            assert c.recv_packet() == (clients[i ^ 1].pub, b"burst %d" % (i ^ 1)), i

        srv.wait_log(rf"STUN server \(pid {stun}\) killed by signal 9", since=mark)
        srv.wait_log(r"STUN server started, pid", since=mark)
        # The key process is still there for the next one.
        exchange(connect(srv, worker=0), connect(srv, worker=1))
    finally:
        for c in clients:
            c.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
