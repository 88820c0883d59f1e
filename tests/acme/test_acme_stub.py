# SPDX-License-Identifier: BSD-3-Clause
"""The ACME engine against the stub server (acme_stub.py) and against
nothing: the profile it asks for, badNonce handling in detail, and every
malformed or failing answer ending in one clean error line, never a crash."""
import os
import socket
import time

import pytest

from conftest import free_port, openssl

ERR = "acme-test-driver: WARNING: acme: "


def error_line(r):
    lines = [l for l in r.stderr.splitlines() if l.startswith(ERR)]
    assert r.rc == 1 and len(lines) == 1, r
    return lines[0][len(ERR):]


def test_profile_requested_when_advertised(stub, stub_run):
    s = stub(profiles={"classic": "90 days", "shortlived": "6 days"})
    r = stub_run(s, "-profile", "shortlived")
    assert error_line(r).startswith(
        "newOrder: urn:ietf:params:acme:error:rejectedIdentifier: "
        "stub: orders are recorded, not issued (HTTP 400)")
    [order] = s.posts("/new-order")
    assert order["payload"] == {"identifiers": [{"type": "dns", "value": "derp.test"}],
                                "profile": "shortlived"}
    assert order["protected"]["alg"] == "ES256"
    assert order["protected"]["kid"] == f"{s.base}/acct/1"
    assert "jwk" not in order["protected"]


def test_profile_not_advertised_is_left_out(stub, stub_run):
    s = stub(profiles={"classic": "90 days"})
    r = stub_run(s, "-profile", "shortlived")
    error_line(r)
    [order] = s.posts("/new-order")
    assert "profile" not in order["payload"]
    assert 'the CA offers no profile "shortlived"' in r.stderr


def test_no_profile_asked(stub, stub_run):
    s = stub(profiles={"shortlived": "6 days"})
    error_line(stub_run(s, "-name", "10.1.2.3"))
    [order] = s.posts("/new-order")
    assert order["payload"] == {"identifiers": [
        {"type": "dns", "value": "derp.test"}, {"type": "ip", "value": "10.1.2.3"}]}


def test_new_account_request(stub, stub_run):
    """newAccount: signed with the jwk (not a kid), terms agreed, contact."""
    s = stub()
    error_line(stub_run(s, "-email", "ops@derp.test"))
    [acct] = s.posts("/new-acct")
    assert acct["payload"] == {"termsOfServiceAgreed": True,
                               "contact": ["mailto:ops@derp.test"]}
    jwk = acct["protected"]["jwk"]
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256" and "kid" not in acct["protected"]
    assert acct["protected"]["url"] == f"{s.base}/new-acct"


def test_badnonce_resent_with_the_fresh_nonce(stub, stub_run):
    s = stub(badnonce=2)
    r = stub_run(s)
    error_line(r)                         # the stub refuses the order itself
    assert "badnonce_retries=2 " in r.stdout
    accts = s.posts("/new-acct")
    assert len(accts) == 3
    # each resend carries the nonce the badNonce answer came with
    assert [a["protected"]["nonce"] for a in accts[1:]] == s.badnonce_answers
    assert all(a["nonce_ok"] for a in s.requests)


def test_badnonce_retries_are_bounded(stub, stub_run):
    s = stub(badnonce=-1)
    r = stub_run(s)
    assert error_line(r) == ("newAccount: urn:ietf:params:acme:error:badNonce: "
                             "stub: try again (HTTP 400)")
    assert "badnonce_retries=10 " in r.stdout
    assert len(s.requests) == 11


@pytest.mark.parametrize("kw, expect", [
    ({"directory": "garbage"}, "directory: not JSON"),
    ({"directory": "500"}, "directory: HTTP 500 (no problem document)"),
    ({"directory": "http-order-url"}, 'directory: "newOrder" is not an https URL'),
    ({"account": "500"}, "newAccount: urn:ietf:params:acme:error:serverInternal: "
                         "stub: the database is on fire (HTTP 500)"),
    ({"account": "garbage"}, "newAccount: account: not JSON"),
    ({"order": "malformed"}, 'newOrder: order: "authorizations" is not an array'),
])
def test_ca_answers_badly(stub, stub_run, kw, expect):
    r = stub_run(stub(**kw))
    assert error_line(r).startswith(expect), r


def test_directory_unreachable(run_driver, tmp_path, test_ca):
    port = free_port()                    # nothing listens there
    r = run_driver(f"https://127.0.0.1:{port}/dir", test_ca[0], tmp_path / "certs",
                   ["derp.test"], timeout=20)
    assert error_line(r).startswith("directory: Couldn't connect to server"), r


def test_untrusted_ca(stub, run_driver, tmp_path, test_ca):
    """The CA's certificate must chain to the trust store given, and nothing
    else is trusted: with another CA's certificate the handshake fails."""
    s = stub()
    other = tmp_path / "other.pem"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "1", "-subj", "/CN=another CA",
            "-keyout", str(tmp_path / "other.key"), "-out", str(other))
    r = run_driver(s.directory, other, tmp_path / "certs", ["derp.test"], timeout=20)
    assert error_line(r).startswith("directory: SSL peer certificate or SSH remote "
                                    "key was not OK"), r
    assert s.requests == []


def test_silent_server_times_out(run_driver, tmp_path, test_ca):
    """A CA that accepts but never answers: no request outlives the deadline
    of the whole run (-timeout 3)."""
    with socket.socket() as lsock:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        port = lsock.getsockname()[1]
        t0 = time.monotonic()
        r = run_driver(f"https://127.0.0.1:{port}/dir", test_ca[0], tmp_path / "certs",
                       ["derp.test"], timeout=3)
        took = time.monotonic() - t0
    assert error_line(r).startswith("directory: Timeout was reached"), r
    assert took < 10


def test_certdir_open_to_others_refused(run_driver, tmp_path, test_ca):
    """A certdir others can read (it holds the account key) is refused
    before anything is sent."""
    certdir = tmp_path / "certs"
    certdir.mkdir(mode=0o755)
    certdir.chmod(0o755)
    r = run_driver("https://127.0.0.1:1/dir", test_ca[0], certdir, ["derp.test"])
    assert r.rc == 1
    assert f"certdir {certdir} must be owned by uid {os.geteuid()} and not " \
           "accessible by others" in r.stderr, r
    assert list(certdir.iterdir()) == []
