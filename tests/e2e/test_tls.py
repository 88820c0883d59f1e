# SPDX-License-Identifier: BSD-3-Clause
"""TLS as SECURITY.md promises it: only the relay's own name (SNI), and no
protocol older than TLS_MIN.  The client side is Python's ssl module, set
to offer what the server must refuse, so that each refusal is the server's
alert, never the client's own reluctance."""
import socket
import ssl

import pytest

from derp_client import DerpClient

# The oldest version derpd accepts (worker/tlsctx.c): TLS 1.3 only, since
# the TLS key moved into the key process; change this line alone to follow.
TLS_MIN = ssl.TLSVersion.TLSv1_3
VERSIONS = [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_2,
            ssl.TLSVersion.TLSv1_3]


def handshake(port, server_hostname, version=None):
    """A TLS handshake to 127.0.0.1:port: the version it got, or the
    ssl.SSLError it ended with.  No certificate check: only the server's
    choices are under test."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
        if version < ssl.TLSVersion.TLSv1_2:
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")   # let the client offer it
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        try:
            with ctx.wrap_socket(raw, server_hostname=server_hostname) as tls:
                return tls.version()
        except ssl.SSLError as e:
            return e


def test_own_name_is_served(tls_server):
    srv, _ = tls_server
    assert handshake(srv.port, "derp.test") == "TLSv1.3"
    assert handshake(srv.port, "DERP.Test") == "TLSv1.3"     # names ignore case


@pytest.mark.parametrize("sni", ["other.test", "derp.test.evil", "localhost", None])
def test_other_name_or_none_is_refused(tls_server, sni):
    """Any SNI but the hostname, or none (Python sends none for an IP), gets
    the server's unrecognized_name alert, before any certificate."""
    srv, _ = tls_server
    got = handshake(srv.port, sni or "127.0.0.1")
    assert isinstance(got, ssl.SSLError), f"SNI {sni!r} was served ({got})"
    assert got.reason == "TLSV1_UNRECOGNIZED_NAME", got     # the alert received


def test_login_needs_the_right_name(tls_server, connect):
    srv, crt = tls_server
    connect(srv, tls=True, cafile=crt, server_hostname="derp.test")
    with pytest.raises(ssl.SSLError):
        DerpClient("127.0.0.1", srv.port, tls=True,
                   server_hostname="other.test").connect()


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")
@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.name)
def test_minimum_version(tls_server, version):
    """Versions from TLS_MIN on are served; older ones get the server's
    protocol_version alert."""
    srv, _ = tls_server
    got = handshake(srv.port, "derp.test", version)
    if version >= TLS_MIN:
        assert not isinstance(got, ssl.SSLError), f"{version.name} refused: {got}"
        assert got == {ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                       ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
    else:
        assert isinstance(got, ssl.SSLError), f"{version.name} was served"
        assert got.reason == "TLSV1_ALERT_PROTOCOL_VERSION", \
            f"{version.name}: not the server's refusal: {got}"
