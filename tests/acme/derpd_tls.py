# SPDX-License-Identifier: BSD-3-Clause
"""What a TLS client sees of derpd in the ACME tests: the chain it serves
(unverified, so a refusal or a wrong certificate shows), a verified DERP
login, /metrics over TLS or the plain port."""
import json
import re
import socket
import ssl
import struct
import time

import pytest
from OpenSSL import SSL

from conftest import _e2e


def peer_chain(port, sni=None):
    """The chain derpd serves to a client sending `sni` (None: no SNI), as
    pyOpenSSL X509s; raises SSL.Error when the handshake is refused."""
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 10, 0))
        conn = SSL.Connection(ctx, sock)
        if sni is not None:
            conn.set_tlsext_host_name(sni.encode())
        conn.set_connect_state()
        conn.do_handshake()
        chain = conn.get_peer_cert_chain()
        conn.shutdown()
    return chain


def wait_chain(port, sni=None, timeout=30):
    """peer_chain once derpd serves one (it may still be ordering it)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return peer_chain(port, sni)
        except (SSL.Error, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def serial(chain):
    return chain[0].get_serial_number()


def login(port, cafile, sni, **kw):
    """A DERP login over TLS, verifying the chain against cafile."""
    _e2e()
    from derp_client import DerpClient
    c = DerpClient("127.0.0.1", port, tls=True, cafile=str(cafile),
                   server_hostname=sni, **kw)
    return c.connect()


def metrics(port, tls_sni=None):
    """/metrics as {(name, labels frozenset): value}; over TLS when tls_sni."""
    _e2e()
    from http_helpers import parse_prometheus
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        if tls_sni is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            sock = ctx.wrap_socket(sock, server_hostname=tls_sni)
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return parse_prometheus(body.decode())[0]


def metric(samples, family, **labels):
    return samples.get((family, frozenset(labels.items())))


def pebble_root(pebble, tmp_path):
    path = tmp_path / "pebble-root.pem"
    path.write_text(pebble.management("/roots/0"))
    return path


def wait_issued(srv, name, since=0, timeout=60):
    return srv.wait_log(rf"derpd\[acme\]: acme: issued; serving the new certificate "
                        rf"for {re.escape(name)} until", timeout=timeout, since=since)


def meta_names_key(chain, pub_hex):
    """derper's meta certificate ends the chain and names the DERP key."""
    meta = chain[-1]
    return meta.get_subject().CN == "derpkey" + pub_hex and \
        meta.get_serial_number() == 2


def server_pub_hex(keyfile):
    """The relay's public key, from derpd-keygen -pub (nodekey:<hex>)."""
    _e2e()
    from derp_helpers import public_key_of
    import conftest
    keygen = conftest._bin("DERPD_KEYGEN", conftest.REPO / "build" / "derpd-keygen")
    return public_key_of(keygen, keyfile).hex()


def node_json(log):
    m = re.search(r"configure it in the DERP map with \(https://tailscale.com/s/"
                  r"custom-derp\): (\{.*\})", log)
    return json.loads(m.group(1)) if m else None


skip_under_asan = pytest.mark.skipif(
    __import__("os").environ.get("DERPD_ASAN") == "1",
    reason="a minute of waiting for a renewal; the normal run covers it")
