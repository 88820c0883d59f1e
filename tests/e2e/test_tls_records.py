# SPDX-License-Identifier: BSD-3-Clause
"""derpd's own TLS 1.3 record layer (worker/tlsown.c, tlsrec.c): after
OpenSSL's handshake a relay client's records are sealed and opened by derpd
and OpenSSL's connection is freed.  The peers here are other TLS stacks:
Python's ssl (OpenSSL underneath, but its own connection state) and the
`openssl s_client` program, which can send KeyUpdate.  Records are
checked on the wire: tampered ones close the connection, KeyUpdates are
answered, close_notify goes both ways."""
import os
import select
import socket
import ssl
import subprocess
import time

import pytest

from derp_helpers import exchange, stream, tagged_packet
from http_helpers import metrics
from test_ktls import kernel_offers_tls_ulp


def tls_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class RawTLS:
    """A TLS client whose records pass through our hands: ssl.SSLObject
    over memory BIOs, the socket driven here."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = tls_ctx().wrap_bio(self.inc, self.out, server_hostname="derp.test")
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.sock.sendall(self.out.read())
                data = self.sock.recv(65536)
                assert data, "closed during the handshake"
                self.inc.write(data)
        self.sock.sendall(self.out.read())

    def records(self, data):
        """The records Python's ssl makes of data, not sent."""
        self.obj.write(data)
        return self.out.read()

    def closed_by_server(self, timeout=10):
        """True once the server closed (EOF or reset); reads and drops."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.sock], [], [], 0.2)
            if not r:
                continue
            try:
                if not self.sock.recv(65536):
                    return True
            except ConnectionResetError:
                return True
        return False

    def close(self):
        self.sock.close()


def http_over(port, request):
    """request over TLS with ragged EOFs reported: the response, which must
    end in the server's close_notify."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with tls_ctx().wrap_socket(raw, server_hostname="derp.test",
                                   suppress_ragged_eofs=False) as s:
            s.sendall(request)
            got = b""
            while True:
                data = s.recv(65536)     # SSLEOFError: no close_notify
                if not data:
                    return got
                got += data


def test_relay_clients_use_our_record_layer(tls_server, connect):
    srv, crt = tls_server
    kw = dict(tls=True, cafile=crt, server_hostname="derp.test")
    a, b = connect(srv, worker=0, **kw), connect(srv, worker=1, **kw)
    c = connect(srv, worker=0, **kw)
    exchange(a, b)
    pattern = os.urandom(70000)
    packets = [tagged_packet(i, (1, 1000, 16384, 16385, 65000)[i % 5], pattern)
               for i in range(250)]
    stream(a, c, packets)      # same worker
    stream(b, a, packets)      # cross worker
    m = metrics(srv, **kw)
    own, ktls = m("derpd_tls_own_records_total"), m("derpd_tls_ktls_total")
    if kernel_offers_tls_ulp():
        assert own + ktls >= 4, (own, ktls)
    else:
        assert own >= 4, f"{own} of the 4 TLS connections went to derpd's record layer"


def test_responses_end_in_close_notify(tls_server):
    srv, _ = tls_server
    got = http_over(srv.port, b"GET /generate_204 HTTP/1.1\r\nHost: derp.test\r\n"
                              b"Connection: close\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 204"), got[:200]


def test_client_close_notify_ends_the_connection(tls_server):
    srv, _ = tls_server
    raw = RawTLS(srv.port)
    try:
        raw.obj.unwrap()        # close_notify, alone
    except ssl.SSLWantReadError:
        pass
    raw.sock.sendall(raw.out.read())
    assert raw.closed_by_server(), "the server kept the connection after close_notify"
    raw.close()


@pytest.mark.parametrize("damage", ["tag", "body", "type", "version", "length"])
def test_damaged_record_closes_only_that_connection(tls_server, connect, damage):
    srv, crt = tls_server
    kw = dict(tls=True, cafile=crt, server_hostname="derp.test")
    a, b = connect(srv, worker=0, **kw), connect(srv, worker=0, **kw)
    raw = RawTLS(srv.port)
    rec = bytearray(raw.records(b"GET /generate_204 HTTP/1.1\r\nHost: derp.test\r\n\r\n"))
    assert rec[0] == 23 and rec[1:3] == b"\x03\x03"
    if damage == "tag":
        rec[-1] ^= 1
    elif damage == "body":
        rec[7] ^= 0x80
    elif damage == "type":
        rec[0] = 22             # a handshake record after the handshake
    elif damage == "version":
        rec[2] = 1
    else:
        rec[3:5] = (16 * 1024 + 257).to_bytes(2, "big")    # over 2^14 + 256
    raw.sock.sendall(bytes(rec))
    assert raw.closed_by_server(), f"a record with a damaged {damage} was taken"
    raw.close()
    exchange(a, b)              # the worker and its other clients go on


def test_undamaged_raw_record_is_answered(tls_server):
    """The control for the test above: the same records, unharmed, are served."""
    srv, _ = tls_server
    raw = RawTLS(srv.port)
    raw.sock.sendall(raw.records(b"GET /generate_204 HTTP/1.1\r\nHost: derp.test\r\n"
                                 b"Connection: close\r\n\r\n"))
    got = b""
    while b"\r\n\r\n" not in got:
        data = raw.sock.recv(65536)
        assert data, "closed without an answer"
        raw.inc.write(data)
        try:
            got += raw.obj.read(65536)
        except ssl.SSLWantReadError:
            pass
    assert got.startswith(b"HTTP/1.1 204"), got[:200]
    raw.close()


def s_client(port, lines, pause=0.5):
    """openssl s_client: each line of `lines` written apart (its one-letter
    commands must arrive alone); what it printed."""
    p = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                          "-servername", "derp.test", "-tls1_3", "-crlf"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        time.sleep(pause * 2)
        for line in lines:
            p.stdin.write(line)
            p.stdin.flush()
            time.sleep(pause)
        out, _ = p.communicate(timeout=20)     # EOF on stdin: it quits
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return out.decode(errors="replace")


@pytest.mark.parametrize("command", [b"K\n", b"k\n"])
def test_key_update_is_followed(tls_server, command):
    """KeyUpdate from the client, asking for ours (K) and not (k): the
    request after it is answered, under our next key when it asked."""
    srv, _ = tls_server
    out = s_client(srv.port, [command, b"GET /generate_204 HTTP/1.1\n",
                              b"Host: derp.test\n", b"Connection: close\n", b"\n"])
    assert "KEYUPDATE" in out, out[-2000:]
    assert "HTTP/1.1 204" in out, f"no answer after the KeyUpdate:\n{out[-2000:]}"
    assert "error" not in out.split("KEYUPDATE", 1)[1].lower(), out[-2000:]
