# SPDX-License-Identifier: BSD-3-Clause
"""-client-ca and -client-crl: the TLS handshake itself requires a client
certificate from the operator's CA that is current and not revoked, so a
client without one is turned away with an alert before a byte of HTTP is
parsed (derpd_http_requests_total does not move; the refusal is counted by
reason).  Plain DERP, WebSocket and mesh clients pass the same gate.  A
client offering only ALPN acme-tls/1 (a CA's validator) completes the
handshake without a certificate and is closed."""
import datetime
import os
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from derp_client import ConnectionClosed, DerpClient, client_info
from derp_helpers import exchange
from http_helpers import Metrics, read_to_eof
from ws_client import LoopThread, WsDerpClient

MESH_KEY = bytes(range(2, 34))
NOW = datetime.datetime.now(datetime.timezone.utc)
DAY = datetime.timedelta(days=1)


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class CA:
    def __init__(self, cn):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(NOW - DAY).not_valid_after(NOW + 30 * DAY)
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                     .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                                  False, False), True)
                     .sign(self.key, hashes.SHA256()))

    def issue(self, cn, not_before=NOW - DAY, not_after=NOW + 30 * DAY):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(_name(cn))
                .issuer_name(self.cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(not_before).not_valid_after(not_after)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
                .sign(self.key, hashes.SHA256()))
        return cert, key

    def crl(self, revoked):
        b = (x509.CertificateRevocationListBuilder().issuer_name(self.cert.subject)
             .last_update(NOW - DAY).next_update(NOW + 7 * DAY))
        for cert in revoked:
            b = b.add_revoked_certificate(x509.RevokedCertificateBuilder()
                                          .serial_number(cert.serial_number)
                                          .revocation_date(NOW - DAY).build())
        return b.sign(self.key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """{name: (cert file, key file)} for good, expired, revoked and
    wrong-CA client certificates, and the CA and CRL files."""
    d = tmp_path_factory.mktemp("pki")
    ca, other = CA("derpd test client CA"), CA("someone else's CA")
    out = {}
    revoked = None
    for name, issuer, kw in (("good", ca, {}), ("good2", ca, {}),
                             ("expired", ca, dict(not_before=NOW - 30 * DAY,
                                                  not_after=NOW - DAY)),
                             ("revoked", ca, {}), ("wrong_ca", other, {})):
        cert, key = issuer.issue(f"client {name}", **kw)
        if name == "revoked":
            revoked = cert
        (d / f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (d / f"{name}.key").write_bytes(_pem_key(key))
        out[name] = (str(d / f"{name}.crt"), str(d / f"{name}.key"))
    (d / "ca.pem").write_bytes(ca.cert.public_bytes(serialization.Encoding.PEM))
    (d / "crl.pem").write_bytes(ca.crl([revoked]).public_bytes(serialization.Encoding.PEM))
    (d / "other.pem").write_bytes(other.cert.public_bytes(serialization.Encoding.PEM))
    out["ca"], out["crl"], out["other_ca"] = d / "ca.pem", d / "crl.pem", d / "other.pem"
    return out


@pytest.fixture
def srv(derp_server, tls_certdir, pki, tmp_path):
    certdir, crt = tls_certdir
    psk = tmp_path / "mesh.key"
    psk.write_text(MESH_KEY.hex())
    os.chmod(psk, 0o600)
    s = derp_server(workers=2, extra_args=[
        "-certmode", "manual", "-certdir", certdir, "-hostname", "derp.test",
        "-client-ca", pki["ca"], "-client-crl", pki["crl"], "-mesh-psk-file", psk])
    s.crt = str(crt)
    return s


def client(srv, cert=None, **kw):
    return DerpClient("127.0.0.1", srv.port, tls=True, cafile=srv.crt,
                      server_hostname="derp.test", client_cert=cert, **kw)


def metrics_with(srv, cert):
    """/metrics, fetched over TLS with a good certificate."""
    c = client(srv, cert).connect(upgrade=False)
    try:
        c.send_raw(b"GET /metrics HTTP/1.1\r\nHost: derp.test\r\nConnection: close\r\n\r\n")
        raw = read_to_eof(c)
    finally:
        c.close()
    return Metrics(raw.partition(b"\r\n\r\n")[2].decode())


def test_good_certificate_logs_in_and_relays(srv, pki):
    assert "access control: TLS client certificates from" in srv.log_text()
    a = client(srv, pki["good"]).connect()
    b = client(srv, pki["good2"]).connect()
    try:
        exchange(a, b)
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("which,alert,reason", [
    (None, "CERTIFICATE_REQUIRED", "missing"),
    ("wrong_ca", "UNKNOWN_CA", "untrusted"),
    ("expired", "CERTIFICATE_EXPIRED", "expired"),
    ("revoked", "CERTIFICATE_REVOKED", "revoked"),
])
def test_handshake_fails_before_http(srv, pki, which, alert, reason):
    """The client's first read after its Finished is the server's alert; the
    request it sent is never parsed."""
    before = metrics_with(srv, pki["good"])
    c = client(srv, pki[which] if which else None)
    with pytest.raises((ConnectionClosed, ssl.SSLError, ConnectionResetError)) as e:
        c.connect()                    # TLS, then GET /derp: answered by an alert
    c.close()
    assert alert in str(e.value).upper().replace(" ", "_"), str(e.value)
    after = metrics_with(srv, pki["good"])
    # One request more: only the second metrics fetch itself.
    assert after("derpd_http_requests_total") == before("derpd_http_requests_total") + 1
    assert after("derpd_client_cert_failures_total", reason=reason) == \
        before("derpd_client_cert_failures_total", reason=reason) + 1
    assert after("derpd_handshake_failures_total") > before("derpd_handshake_failures_total")


def test_websocket_and_mesh_clients_pass_the_same_gate(srv, pki):
    """With a certificate both log in (the mesh peer watches the WebSocket
    client arrive); without one both are refused at the handshake."""
    before = metrics_with(srv, pki["good"])
    loop = LoopThread()
    try:
        ws = WsDerpClient(loop, "127.0.0.1", srv.port, tls=True, cafile=srv.crt,
                          server_hostname="derp.test", client_cert=pki["good"])
        ws.connect()
        mesh = client(srv, pki["good2"], info=client_info(mesh_key=MESH_KEY)).connect()
        mesh.watch_conns()
        assert mesh.recv_peer_present().key == ws.pub
        bare = WsDerpClient(loop, "127.0.0.1", srv.port, tls=True, cafile=srv.crt,
                            server_hostname="derp.test")
        with pytest.raises(Exception):  # websockets wraps the TLS alert its own way
            bare.connect()
        bare.close()
        bare_mesh = client(srv, info=client_info(mesh_key=MESH_KEY))
        with pytest.raises((ConnectionClosed, ssl.SSLError)) as e:
            bare_mesh.connect()
        assert "CERTIFICATE_REQUIRED" in str(e.value).upper().replace(" ", "_")
        bare_mesh.close()
        ws.close()
        mesh.close()
    finally:
        loop.stop()
    after = metrics_with(srv, pki["good"])
    assert after("derpd_client_cert_failures_total", reason="missing") == \
        before("derpd_client_cert_failures_total", reason="missing") + 2
    # The two upgrades that got through, and this metrics fetch: nothing else.
    assert after("derpd_http_requests_total") == before("derpd_http_requests_total") + 3


def test_acme_validator_completes_the_handshake_and_is_closed(srv, pki):
    """ALPN acme-tls/1 alone: no certificate asked, the server's seen, then
    closed without a byte of HTTP read; offered beside http/1.1 it does not
    exempt anyone."""
    before = metrics_with(srv, pki["good"])
    v = client(srv, alpn=["acme-tls/1"]).connect(upgrade=False)
    assert v.sock.getpeercert() is not None
    with pytest.raises(ConnectionClosed):
        v.send_raw(b"GET /derp HTTP/1.1\r\nHost: derp.test\r\n\r\n")
        v.recv_frame(timeout=5)
    v.close()
    sneaky = client(srv, alpn=["acme-tls/1", "http/1.1"])
    with pytest.raises((ConnectionClosed, ssl.SSLError)):
        sneaky.connect()
    sneaky.close()
    after = metrics_with(srv, pki["good"])
    assert after("derpd_http_requests_total") == before("derpd_http_requests_total") + 1
    assert after("derpd_client_cert_failures_total", reason="missing") == \
        before("derpd_client_cert_failures_total", reason="missing") + 1


def test_settings_that_cannot_work_are_refused(derpd_bin, keyfile, tls_certdir, pki):
    import subprocess
    from conftest import free_port
    certdir, _ = tls_certdir
    base = [derpd_bin, "-a", f"127.0.0.1:{free_port()}", "-c", str(keyfile), "-workers", "1",
            "-stun=false", "-certmode", "manual", "-certdir", str(certdir),
            "-hostname", "derp.test"]
    for extra, why in ((["-client-ca", str(pki["ca"])], "pass -http-port=-1"),
                       (["-http-port=-1", "-client-crl", str(pki["crl"])],
                        "-client-crl needs -client-ca"),
                       (["-http-port=-1", "-client-ca", str(pki["other_ca"]),
                         "-client-crl", str(pki["crl"])], "not signed by a -client-ca")):
        out = subprocess.run(base + extra, capture_output=True, text=True, timeout=20)
        assert out.returncode == 1 and why in out.stderr, out.stderr
