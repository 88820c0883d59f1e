# SPDX-License-Identifier: BSD-3-Clause
"""derpd's ACME client against the stub server (acme_stub.py) and against
nothing: it asks for Let's Encrypt's "shortlived" profile for an IP
address certificate when the directory offers it, and a CA that is
unreachable, answers garbage or 500s leaves derpd serving (TLS handshakes
refused cleanly, no certificate yet), retrying with growing delays, saying
why in its log and on /metrics, and never crashing."""
import re
import time

import pytest
from OpenSSL import SSL

from conftest import free_port
from derpd_tls import metric, metrics, peer_chain

FAST_BACKOFF = {"DERPD_TEST_ACME_BACKOFF_DIV": "60"}   # 1 s, 2 s, 4 s ...


def failures(srv, name, reason, n, timeout=30):
    """The delays of the first n failed orders for name, each for reason."""
    rx = (rf"acme: ordering a certificate for {re.escape(name)} failed: "
          rf"{re.escape(reason)}.*; next attempt in (\d+) s")
    deadline = time.monotonic() + timeout
    while True:
        found = re.findall(rx, srv.log_text())
        if len(found) >= n:
            return [int(d) for d in found[:n]]
        assert time.monotonic() < deadline, f"{n} failures wanted:\n{srv.tail()}"
        time.sleep(0.2)


def test_shortlived_profile_asked_for_an_ip_address(stub, acme_derpd, derpd_test_bin,
                                                    test_ca):
    """The stub advertises meta.profiles: the order for the address a client
    reached us at asks for "shortlived" (the stub records it, then refuses)."""
    s = stub(profiles={"classic": "90 days", "shortlived": "6 days"})
    srv = acme_derpd(test_ca[0], s.directory, http_port=free_port(),
                     args=["-acme-ip-certs"], hostname=None, binary=derpd_test_bin,
                     env=FAST_BACKOFF)
    with pytest.raises(SSL.Error):
        peer_chain(srv.port)
    failures(srv, "127.0.0.1", "newOrder: urn:ietf:params:acme:error:rejectedIdentifier: "
             "stub: orders are recorded, not issued (HTTP 400)", 1)
    order = s.posts("/new-order")[0]
    assert order["payload"] == {"identifiers": [{"type": "ip", "value": "127.0.0.1"}],
                                "profile": "shortlived"}
    acct = s.posts("/new-acct")[0]
    assert acct["payload"]["termsOfServiceAgreed"] is True


@pytest.mark.parametrize("kw, reason", [
    ({"directory": "garbage"}, "directory: not JSON"),
    ({"directory": "500"}, "directory: HTTP 500 (no problem document)"),
    ({"account": "500"}, "newAccount: urn:ietf:params:acme:error:serverInternal: "
                         "stub: the database is on fire (HTTP 500)"),
    ({"account": "garbage"}, "newAccount: account: not JSON"),
], ids=["directory-garbage", "directory-500", "account-500", "account-garbage"])
def test_ca_answers_badly(stub, acme_derpd, derpd_test_bin, test_ca, kw, reason):
    s = stub(**kw)
    http = free_port()
    srv = acme_derpd(test_ca[0], s.directory, http_port=http, binary=derpd_test_bin,
                     env=FAST_BACKOFF)
    check_failing(srv, http, reason)


def test_directory_unreachable(acme_derpd, derpd_test_bin, test_ca):
    http = free_port()
    srv = acme_derpd(test_ca[0], f"https://127.0.0.1:{free_port()}/dir", http_port=http,
                     binary=derpd_test_bin, env=FAST_BACKOFF)
    check_failing(srv, http, "directory: Couldn't connect to server")


def test_directory_by_name(stub, acme_derpd, derpd_test_bin, test_ca):
    """A directory named by host name: the ACME client resolves it itself
    (from /etc/hosts here) inside its sandbox, and reaches the CA."""
    s = stub(directory="500")
    http = free_port()
    srv = acme_derpd(test_ca[0], f"https://localhost:{s.port}/dir", http_port=http,
                     binary=derpd_test_bin, env=FAST_BACKOFF)
    check_failing(srv, http, "directory: HTTP 500")
    assert "Bad system call" not in srv.log_text()


def check_failing(srv, http, reason):
    """Failing orders: each logged with its reason, later ones later (back-off,
    shortened in the test build), TLS refused cleanly meanwhile, plain HTTP
    and /metrics served, and the ACME client never restarted."""
    delays = failures(srv, "derp.test", reason, 2)
    assert delays[1] > delays[0], delays
    with pytest.raises(SSL.Error):
        peer_chain(srv.port, "derp.test")
    m = metrics(http)
    assert metric(m, "derpd_acme_orders_total", name="derp.test", outcome="failed") >= 2
    assert metric(m, "derpd_acme_orders_total", name="derp.test", outcome="issued") == 0
    errs = [dict(labels) for (name, labels) in m
            if name == "derpd_acme_last_error_timestamp_seconds"]
    assert errs and errs[0]["name"] == "derp.test" and \
        errs[0]["error"].startswith(reason[:20]), errs
    assert not any(name == "derpd_tls_cert_expiry_seconds" for name, _ in m)
    assert "ACME client (pid" not in srv.log_text(), srv.tail()
