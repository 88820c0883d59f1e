# SPDX-License-Identifier: BSD-3-Clause
"""derpd-client (probe, send/recv, chat) against a real derpd, and derpd's
TLS meta certificate.  DERPD_CLIENT names the client binary (default
<repo>/build/derpd-client)."""
import socket
import ssl
import struct

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from OpenSSL import SSL

from derp_client import DerpClient


# --- the meta certificate (derper's initMetacert) -----------------------------

def peer_chain(port, server_name="derp.test"):
    """The certificate chain derpd serves, unverified, as pyOpenSSL X509s."""
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        # pyOpenSSL wants a blocking socket; a kernel timeout still bounds it.
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 10, 0))
        conn = SSL.Connection(ctx, sock)
        conn.set_tlsext_host_name(server_name.encode())
        conn.set_connect_state()
        conn.do_handshake()
        chain = conn.get_peer_cert_chain()
        conn.shutdown()
    return chain


def test_meta_certificate_ends_the_chain(tls_server, server_pub):
    """The last certificate names the DERP key (CN derpkey<hex>, serial 2);
    a verifying client still validates the leaf against the test CA; a
    client that read the key from it can log in with Derp-Fast-Start."""
    srv, cafile = tls_server
    chain = peer_chain(srv.port)
    assert len(chain) == 2, [c.get_subject().CN for c in chain]
    leaf, meta = chain
    assert leaf.get_subject().CN == "derp.test"
    assert meta.get_subject().CN == "derpkey" + server_pub.hex()
    assert meta.get_issuer().CN == meta.get_subject().CN
    assert meta.get_serial_number() == 2
    assert isinstance(meta.get_pubkey().to_cryptography_key(), Ed25519PublicKey)
    bc = [meta.get_extension(i) for i in range(meta.get_extension_count())]
    assert [(e.get_short_name(), e.get_critical(), str(e)) for e in bc] == \
        [(b"basicConstraints", 1, "CA:FALSE")]

    ctx = ssl.create_default_context(cafile=cafile)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        with ctx.wrap_socket(sock, server_hostname="derp.test") as tls:
            assert dict(x[0] for x in tls.getpeercert()["subject"])["commonName"] == \
                "derp.test"

    fast = DerpClient("127.0.0.1", srv.port, tls=True, cafile=cafile,
                      server_hostname="derp.test")
    try:
        fast.connect(fast_start=True)
        assert fast.server_key == server_pub
    finally:
        fast.close()
