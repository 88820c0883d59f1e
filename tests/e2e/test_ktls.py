# SPDX-License-Identifier: BSD-3-Clause
"""kTLS: derpd asks OpenSSL to hand its side of each TLS connection to the
kernel (SSL_OP_ENABLE_KTLS) when the kernel offers the `tls` ULP, and goes
on in OpenSSL when it does not.  Either way OpenSSL tries, with
setsockopt(TCP_ULP) and SOL_TLS's options, which the worker's seccomp
policy must allow: a refused try would kill the worker (SIGSYS)."""
import os
import socket

from derp_helpers import exchange, stream, tagged_packet
from http_helpers import metrics

TCP_ULP = getattr(socket, "TCP_ULP", 31)


def kernel_offers_tls_ulp():
    """Whether a connected TCP socket here takes the tls ULP (the kernel
    loads its module on demand if it has one)."""
    with socket.socket() as lsn:
        lsn.bind(("127.0.0.1", 0))
        lsn.listen(1)
        with socket.create_connection(lsn.getsockname(), timeout=5) as s:
            try:
                s.setsockopt(socket.IPPROTO_TCP, TCP_ULP, b"tls")
                return True
            except OSError:
                return False


def test_tls_relays_with_or_without_ktls(tls_server, connect):
    srv, crt = tls_server
    kw = dict(tls=True, cafile=crt, server_hostname="derp.test")
    pids = srv.worker_pids()
    a, b = connect(srv, worker=0, **kw), connect(srv, worker=1, **kw)
    c = connect(srv, worker=0, **kw)
    exchange(a, b)
    exchange(a, c)
    # Records of every size, same and cross worker, in order.
    pattern = os.urandom(70000)
    packets = [tagged_packet(i, (1, 1000, 16384, 65000)[i % 4], pattern)
               for i in range(200)]
    stream(a, c, packets)
    stream(b, a, packets)
    assert srv.worker_pids() == pids, f"a worker died:\n{srv.log_text()[-3000:]}"
    assert "SIGSYS" not in srv.log_text() and "signal 31" not in srv.log_text()
    ktls = metrics(srv, **kw)("derpd_tls_ktls_total")
    if kernel_offers_tls_ulp():
        assert ktls >= 3, "the kernel offers kTLS, and no client got it"
    else:
        assert ktls == 0, "kTLS counted on a kernel without the tls ULP"
