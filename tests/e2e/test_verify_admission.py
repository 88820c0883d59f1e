# SPDX-License-Identifier: BSD-3-Clause
"""-verify-client-url against an admission-controller stand-in
(tests/e2e/verify_standins.py), as derper speaks to one: POST
{"NodePublic":"nodekey:<hex>","Source":"<ip>"}, 5 s to answer; 200 and
{"Allow":true} (the first JSON value, within 4 KiB) admits; Allow false, a
non-200 status or a body that does not decode refuses; no answer at all is
"unreachable", which admits only with -verify-client-url-fail-open (the
default, as derper's)."""
import time

import pytest
from nacl.public import PrivateKey

from derp_client import ConnectionClosed, DerpClient
from derp_helpers import exchange
from http_helpers import metrics
from verify_standins import Admission, LocalAPI, open_dir, unused_port  # noqa: F401


@pytest.fixture
def admission():
    adm = Admission()
    yield adm
    adm.close()


def login(srv, key=None, timeout=10):
    """True if the login got ServerInfo; False if the server closed first."""
    c = DerpClient("127.0.0.1", srv.port, private_key=key, timeout=timeout)
    try:
        c.connect(handshake=False)
        c.read_server_key()
        c.send_client_info()
        try:
            c.read_server_info()
            return True
        except ConnectionClosed:
            return False
    finally:
        c.close()


def test_answers(derp_server, connect, admission):
    """One relay, fail closed, the stand-in's answer changed between logins
    (each with a new key, so no answer comes from the cache)."""
    srv = derp_server(workers=2, extra_args=[
        "-verify-client-url", admission.url, "-verify-client-url-fail-open=false"])
    assert "admission controller http://127.0.0.1" in srv.log_text()
    a, b = PrivateKey.generate(), PrivateKey.generate()
    ca, cb = connect(srv, worker=0, private_key=a), connect(srv, worker=1, private_key=b)
    exchange(ca, cb)
    # derper's request body, exactly.
    assert admission.requests[0] == {"NodePublic": f"nodekey:{bytes(a.public_key).hex()}",
                                      "Source": "127.0.0.1"}
    assert admission.headers[0]["Content-Type"] == "application/json"
    for mode, why in (("deny", "not allowed by the admission controller"),
                      ("500", r"HTTP 500 about nodekey:[0-9a-f]{64}: unexpected HTTP status"),
                      ("garbage", r"the answer is not JSON \(or longer than 4 KiB\)"),
                      ("oversized", r"the answer is not JSON \(or longer than 4 KiB\)")):
        admission.mode = mode
        mark = srv.log_mark()
        assert not login(srv), mode
        srv.wait_log(why, since=mark)
    # No answer within 5 s: unreachable, and this relay fails closed.
    admission.mode = "stall"
    start = time.monotonic()
    assert not login(srv)
    assert 4.5 < time.monotonic() - start < 9
    srv.wait_log(r"admission controller unreachable \(.*timed out.*\); refusing")
    m = metrics(srv)
    assert m("derpd_verify_logins_total", result="admitted") == 2
    assert m("derpd_verify_logins_total", result="admission_denied") == 1
    assert m("derpd_verify_logins_total", result="admission_error") == 4
    exchange(ca, cb)                    # admitted clients were never disturbed


def test_answers_are_cached(derp_server, admission):
    """A second login of the same key from the same address within the
    cache's life asks nobody; a refusal is cached too."""
    srv = derp_server(workers=1, extra_args=["-verify-client-url", admission.url])
    key = PrivateKey.generate()
    assert login(srv, key) and login(srv, key)
    admission.mode = "deny"
    other = PrivateKey.generate()
    assert not login(srv, other) and not login(srv, other)
    assert len(admission.requests) == 2


def test_unreachable_fail_open(derp_server):
    """The default, as derper: a controller nobody answers at admits (and
    says so); a stalled one too, after 5 s."""
    stalled = Admission(mode="stall")
    try:
        srv = derp_server(workers=1, extra_args=["-verify-client-url", stalled.url])
        start = time.monotonic()
        assert login(srv, timeout=12)
        assert time.monotonic() - start > 4.5
        srv.wait_log(r"admission controller unreachable \(.*\); allowing nodekey:")
    finally:
        stalled.close()
    srv = derp_server(workers=1, extra_args=[
        "-verify-client-url", f"http://127.0.0.1:{unused_port()}/admit"])
    assert login(srv)
    srv.wait_log(r"admission controller unreachable \(.*\); allowing nodekey:")


def test_unreachable_fail_closed(derp_server):
    srv = derp_server(workers=1, extra_args=[
        "-verify-client-url", f"http://127.0.0.1:{unused_port()}/admit",
        "-verify-client-url-fail-open=false"])
    assert not login(srv)
    srv.wait_log(r"admission controller unreachable \(.*\); refusing nodekey:")


def test_both_checks_must_admit(derp_server, admission, open_dir):
    """-verify-clients and -verify-client-url together: tailscaled first,
    then the controller; either refusing refuses."""
    known, unknown, denied = (PrivateKey.generate() for _ in range(3))
    api = LocalAPI(open_dir / "ts.sock", known=[known.public_key, denied.public_key])
    admission.allowed = {bytes(known.public_key).hex(), bytes(unknown.public_key).hex()}
    try:
        srv = derp_server(workers=1, extra_args=[
            "-verify-clients", "-socket", api.path, "-verify-client-url", admission.url])
        assert login(srv, known)
        assert not login(srv, unknown)      # tailscaled: 404; never asks the controller
        assert not login(srv, denied)       # tailscaled: yes; controller: no
        assert admission.keys() == [f"nodekey:{bytes(k.public_key).hex()}"
                                    for k in (known, denied)]
    finally:
        api.close()


def test_https_controller_with_the_trust_store_in_memory(derp_server, open_dir, monkeypatch):
    """HTTPS to the controller, verified against SSL_CERT_FILE (read before
    the verifier's sandbox: nothing is opened after it); a certificate from
    elsewhere is "unreachable", as in derper."""
    import subprocess
    crt, key = open_dir / "adm.crt", open_dir / "adm.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(key), "-out", str(crt)], check=True,
                   capture_output=True, timeout=30)
    crt.chmod(0o644)                    # the verifier reads it as -user
    adm = Admission(tls=(str(crt), str(key)))
    try:
        monkeypatch.setenv("SSL_CERT_FILE", str(crt))
        srv = derp_server(workers=1, extra_args=[
            "-verify-client-url", adm.url, "-verify-client-url-fail-open=false"])
        assert login(srv) and len(adm.requests) == 1
        monkeypatch.setenv("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")
        srv2 = derp_server(workers=1, extra_args=[
            "-verify-client-url", adm.url, "-verify-client-url-fail-open=false"])
        assert not login(srv2)
        srv2.wait_log(r"admission controller unreachable \(SSL certificate problem")
        for s in (srv, srv2):
            assert "killed by signal" not in s.log_text()
    finally:
        adm.close()
