# SPDX-License-Identifier: BSD-3-Clause
"""The limits SECURITY.md and README state: a client that does not read is
closed after -tcp-write-timeout, -max-clients is one limit over all workers,
and a key connected more than four times loses its oldest connection."""
import os
import socket
import time

import pytest

from derp_client import ConnectionClosed, DerpClient, connect_on_worker
from derp_helpers import exchange
from http_helpers import get, metrics, wait_metrics

PACKET = 60000


def stalled_reader(srv, worker):
    """A logged-in client on `worker` with a tiny receive buffer that will
    never read: what it is sent piles up in derpd."""
    class Tiny(DerpClient):
        def tcp_connect(self):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self.src_port))
            sock.settimeout(self.timeout)
            sock.connect((self.host, self.port))
            return sock

    for base in range(21000 + os.getpid() % 1000 * 20, 60000, 997):
        c = Tiny("127.0.0.1", srv.port, src_port=base - base % srv.workers + worker)
        try:
            return c.connect()
        except OSError:
            c.close()
    raise RuntimeError("no free source port")


def flood(sender, dst, seconds):
    """Sends big packets to dst for a while (derpd drops what its queue
    cannot hold, so the sender never blocks for long)."""
    deadline = time.monotonic() + seconds
    data = os.urandom(PACKET)
    while time.monotonic() < deadline:
        sender.send_packet(dst, data)


@pytest.mark.parametrize("timeout,closed", [("1s", True), ("0", False)])
def test_write_timeout_closes_a_client_that_does_not_read(derp_server, connect,
                                                          timeout, closed):
    """With -tcp-write-timeout 1s, a client whose output makes no progress
    for a second is closed, while one that reads stays; with 0 (disabled)
    the same client stays connected."""
    srv = derp_server(workers=2, extra_args=["-tcp-write-timeout", timeout])
    stuck = stalled_reader(srv, 0)
    reader, sender = connect(srv, worker=0), connect(srv, worker=1)
    flood(sender, stuck.pub, 3.0)
    exchange(sender, reader)                    # the attentive client is unharmed
    time.sleep(1.5)                             # past the timeout, many ticks
    exchange(sender, reader)
    assert stuck.is_closed_by_server(timeout=10) == closed, \
        f"-tcp-write-timeout {timeout}: stalled client {'not ' if closed else ''}closed"


def test_max_clients_is_one_limit_over_all_workers(derp_server, connect):
    """-max-clients 16 with two workers: 16 logins in all, whichever worker
    they land on; the 17th is refused on either worker and counted; once one
    client leaves, a login succeeds again."""
    srv = derp_server(workers=2, extra_args=["-max-clients", "16"])
    clients = [connect(srv, worker=i % 2) for i in range(16)]
    for worker, refused in ((0, 1), (1, 2)):
        with pytest.raises((ConnectionClosed, TimeoutError)):
            connect_on_worker("127.0.0.1", srv.port, worker, 2, timeout=5).close()
        wait_metrics(srv, lambda m: m("derpd_logins_refused_full_total") == refused,
                     what=f"{refused} refused logins")
    exchange(clients[0], clients[15])           # the 16 are fine
    clients.pop(7).close()                      # one nobody heard from
    wait_metrics(srv, lambda m: m("derp_current_connections") == 15, what="15 clients")
    exchange(connect(srv, worker=1), clients[0])


def test_fifth_connection_of_a_key_closes_the_oldest(derp_server, connect):
    """derper keeps at most four connections of a key: the fifth, on either
    worker, closes the oldest (here on the other worker); the rest stay and
    the newest receives."""
    from nacl.public import PrivateKey
    srv = derp_server(workers=2)
    key = PrivateKey.generate()
    conns = [connect(srv, worker=w, private_key=key) for w in (0, 1, 0, 1)]
    other = connect(srv, worker=1)
    fifth = connect(srv, worker=1, private_key=key)
    assert conns[0].is_closed_by_server(timeout=10), "the oldest stayed connected"
    for c in conns[1:]:
        assert not c.is_closed_by_server(timeout=0.3), "a newer connection was closed"
    r = get(srv, f"/debug/route?key=nodekey:{bytes(key.public_key).hex()}")
    assert '"connections":4' in r.text() and '"worker":1' in r.text(), r.text()
    exchange(other, fifth)
