# SPDX-License-Identifier: BSD-3-Clause
"""derpd with its ACME client against Debian's Pebble (a real ACME server on
loopback, its own CA; pebble-challtestsrv maps every name to 127.0.0.1):
a certificate by TLS-ALPN-01 answered by the workers, by HTTP-01 on
-http-port when TLS-ALPN-01 cannot be validated, the chain Pebble issued
served with derper's meta certificate, a DERP login that verifies it, a warm
restart that orders nothing, badNonce retried, renewal under a connected
client, External Account Binding (-certmode gcp), IP address certificates,
and a failed renewal that keeps the last good certificate in service."""
import base64
import os
import pwd
import re
import secrets
import ssl
import stat
import threading
import time

import pytest
from OpenSSL import SSL

from conftest import _e2e, free_port
from derpd_tls import (login, meta_names_key, metric, metrics, peer_chain,
                       pebble_root, serial, server_pub_hex, skip_under_asan,
                       wait_chain, wait_issued)

DAY = 86400
FAST_BACKOFF = {"DERPD_TEST_ACME_BACKOFF_DIV": "60"}   # 1 s, 2 s, 4 s ...


def exchange(a, b):
    _e2e()
    from derp_helpers import exchange as ex
    ex(a, b)


def san(x509):
    for i in range(x509.get_extension_count()):
        e = x509.get_extension(i)
        if e.get_short_name() == b"subjectAltName":
            return str(e)
    return None


def test_tls_alpn_01_then_warm_restart(pebble, acme_derpd, derpd_keyfile, tmp_path):
    """An empty certdir, no plain-HTTP port: the workers answer TLS-ALPN-01;
    the chain served is Pebble's leaf and intermediate, then the meta
    certificate; a client trusting Pebble's root logs in; restarted on the
    same certdir, derpd serves the cached certificate and orders nothing."""
    root = pebble_root(pebble, tmp_path)
    orders = pebble.orders()
    srv = acme_derpd(pebble.ca, pebble.directory, tls_port=pebble.tls_port,
                     hostname="alpn.derp.test")
    wait_issued(srv, "alpn.derp.test")
    assert "acme: answering tls-alpn-01 for alpn.derp.test" in srv.log_text()
    assert pebble.orders() == orders + 1

    chain = peer_chain(srv.port, "alpn.derp.test")
    assert len(chain) == 3, [c.get_subject().CN for c in chain]
    assert san(chain[0]) == "DNS:alpn.derp.test"
    inter = pebble.management("/intermediates/0")
    from OpenSSL import crypto
    assert crypto.dump_certificate(crypto.FILETYPE_PEM, chain[1]).decode().strip() == \
        inter.strip()
    certdir = tmp_path / "certs"
    assert stat.S_IMODE(os.stat(certdir).st_mode) == 0o700
    for f in ("acme-account.key", "acme-keys.pem", "alpn.derp.test.crt"):
        assert stat.S_IMODE(os.stat(certdir / f).st_mode) == 0o600, f
    if os.geteuid() == 0:       # made for the run user, before the drop
        assert {os.stat(p).st_uid for p in [certdir, *certdir.iterdir()]} == \
            {pwd.getpwnam("nobody").pw_uid}
    stored = (certdir / "alpn.derp.test.crt").read_text()
    assert crypto.dump_certificate(crypto.FILETYPE_PEM, chain[0]).decode() in stored
    assert meta_names_key(chain, server_pub_hex(derpd_keyfile))
    a, b = login(srv.port, root, "alpn.derp.test"), login(srv.port, root, "alpn.derp.test")
    exchange(a, b)
    check_acme_descriptors(srv, certdir)
    m = metrics(srv.port, tls_sni="alpn.derp.test")
    assert 5 * DAY < metric(m, "derpd_tls_cert_expiry_seconds", name="alpn.derp.test") \
        <= 6 * DAY
    assert metric(m, "derpd_acme_orders_total", name="alpn.derp.test", outcome="issued") == 1
    a.close()
    b.close()
    srv.stop()
    assert "ACME client (pid" not in srv.log_text()     # left by itself, status 0

    again = acme_derpd(pebble.ca, pebble.directory, tls_port=pebble.tls_port,
                       hostname="alpn.derp.test")
    again.wait_log(r"acme: serving the cached certificate for alpn.derp.test until")
    assert serial(wait_chain(again.port, "alpn.derp.test")) == serial(chain)
    exchange(login(again.port, root, "alpn.derp.test"),
             login(again.port, root, "alpn.derp.test"))
    assert pebble.orders() == orders + 1, "a warm restart placed an order"
    assert "acme: order " not in again.log_text()


def test_tls_alpn_01_with_client_ca(pebble, acme_derpd, tmp_path):
    """-client-ca beside ACME: Pebble's validator (ALPN acme-tls/1 only, no
    client certificate) completes its handshake and validates; the issued
    chain is then served only to clients with a certificate from the CA."""
    _e2e()
    from cryptography.hazmat.primitives import serialization
    from derp_client import ConnectionClosed
    from test_client_cert import CA, _pem_key
    root = pebble_root(pebble, tmp_path)
    ca = CA("derpd ACME test client CA")
    cert, key = ca.issue("client")
    (tmp_path / "ca.pem").write_bytes(ca.cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "c.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "c.key").write_bytes(_pem_key(key))
    srv = acme_derpd(pebble.ca, pebble.directory, tls_port=pebble.tls_port,
                     hostname="mtls.derp.test", args=["-client-ca", tmp_path / "ca.pem"])
    wait_issued(srv, "mtls.derp.test")
    assert "acme: answering tls-alpn-01 for mtls.derp.test" in srv.log_text()
    cc = (str(tmp_path / "c.crt"), str(tmp_path / "c.key"))
    exchange(login(srv.port, root, "mtls.derp.test", client_cert=cc),
             login(srv.port, root, "mtls.derp.test", client_cert=cc))
    with pytest.raises((ConnectionClosed, ssl.SSLError, ConnectionResetError)):
        login(srv.port, root, "mtls.derp.test")


def check_acme_descriptors(srv, certdir):
    """As root: the ACME client is a fresh exec holding its two sockets (to
    the master, to the key process) and the certdir, nothing else; the key
    process holds the certdir's key store, not the certdir."""
    if os.geteuid() != 0:
        return
    _e2e()
    from procfs import derpd_pids, wait_sandboxed
    from test_tls_key import exe_base, fd_kinds
    pids = derpd_pids(srv)
    wait_sandboxed(pids["acme"])
    assert exe_base(pids["acme"]) != exe_base(pids["master"])
    assert fd_kinds(pids["acme"]) == {"stdio": 3, "socket": 2, f"other:{certdir}": 1}
    key = fd_kinds(pids["key"])
    assert key.get(f"other:{certdir}/acme-keys.pem") == 1 and \
        f"other:{certdir}" not in key, key


def test_http_01_when_tls_alpn_01_cannot_be_validated(pebble, acme_derpd, tmp_path):
    """derpd's TLS port is not where Pebble looks, so TLS-ALPN-01 fails; the
    next order at once uses HTTP-01, answered on -http-port."""
    root = pebble_root(pebble, tmp_path)
    srv = acme_derpd(pebble.ca, pebble.directory, http_port=pebble.http_port,
                     hostname="http.derp.test")
    wait_issued(srv, "http.derp.test")
    log = srv.log_text()
    assert re.search(r"acme: tls-alpn-01 for http\.derp\.test failed: "
                     r"urn:ietf:params:acme:error:\w+: .*; trying http-01", log), log
    assert "acme: answering http-01 for http.derp.test" in log
    exchange(login(srv.port, root, "http.derp.test"),
             login(srv.port, root, "http.derp.test"))
    m = metrics(pebble.http_port)
    assert metric(m, "derpd_acme_orders_total", name="http.derp.test",
                  outcome="issued") == 1


def test_challenge_nobody_answers(pebble, acme_derpd, derpd_test_bin):
    """Neither challenge can reach derpd: the failure is logged with the CA's
    reason, nothing is served, and the next attempt backs off."""
    srv = acme_derpd(pebble.ca, pebble.directory, hostname="nobody.derp.test",
                     binary=derpd_test_bin, env=FAST_BACKOFF)
    srv.wait_log(r"acme: ordering a certificate for nobody\.derp\.test failed: tls-alpn-01 for "
                 r"nobody\.derp\.test failed: urn:ietf:params:acme:error:\w+: .*; "
                 r"next attempt in \d+ s", timeout=30)
    with pytest.raises(SSL.Error):
        peer_chain(srv.port, "nobody.derp.test")


def test_badnonce_retried(pebble_factory, acme_derpd, derpd_test_bin):
    """Pebble refuses half of all good nonces: derpd resends each refused
    request with the nonce the refusal carried, and gets its certificate."""
    p = pebble_factory(env={"PEBBLE_WFE_NONCEREJECT": "50"})
    srv = acme_derpd(p.ca, p.directory, tls_port=p.tls_port, args=["-verbose"],
                     hostname="nonce.derp.test", binary=derpd_test_bin, env=FAST_BACKOFF)
    wait_issued(srv, "nonce.derp.test")
    assert "badNonce, retrying with a fresh nonce" in srv.log_text()


@skip_under_asan
def test_renewal_under_a_connected_client(pebble_factory, acme_derpd, tmp_path):
    """24-second certificates: derpd renews when a third of the lifetime is
    left, while two clients keep relaying through it; they stay connected,
    and new handshakes get the new certificate (another serial number)."""
    p = pebble_factory(validity=24)
    root = pebble_root(p, tmp_path)
    srv = acme_derpd(p.ca, p.directory, tls_port=p.tls_port, hostname="renew.derp.test")
    wait_issued(srv, "renew.derp.test")
    issued_at = time.monotonic()
    first = serial(peer_chain(srv.port, "renew.derp.test"))
    keys_before = (tmp_path / "certs" / "acme-keys.pem").read_text()
    a, b = login(srv.port, root, "renew.derp.test"), login(srv.port, root, "renew.derp.test")
    mark = srv.log_mark()
    renewed = threading.Event()
    relayed, errors = [0], []

    def relay():
        while not renewed.is_set():
            try:
                exchange(a, b)
                relayed[0] += 1
            except Exception as e:      # noqa: BLE001 - reported below
                errors.append(repr(e))
                return
            time.sleep(0.2)

    t = threading.Thread(target=relay)
    t.start()
    try:
        wait_issued(srv, "renew.derp.test", since=mark, timeout=45)
    finally:
        renewed.set()
        t.join(15)
    took = time.monotonic() - issued_at
    assert not errors, errors
    assert relayed[0] > 10, relayed
    assert 12 < took < 24, f"renewed {took:.0f} s after issue, not at 2/3 of 24 s"
    exchange(a, b)                      # the old connections still relay
    second = serial(peer_chain(srv.port, "renew.derp.test"))
    assert second != first
    c = login(srv.port, root, "renew.derp.test")
    exchange(a, c)
    assert (tmp_path / "certs" / "acme-keys.pem").read_text() != keys_before
    m = metrics(srv.port, tls_sni="renew.derp.test")
    assert metric(m, "derpd_acme_orders_total", name="renew.derp.test", outcome="issued") == 2
    scan_for_keys(srv, [keys_before, (tmp_path / "certs" / "acme-keys.pem").read_text()],
                  tmp_path)


def scan_for_keys(srv, keyrings, tmp_path):
    """As root: after the renewal, neither certificate key (the one retired,
    the one served) is in the master's, the ACME client's or a worker's
    memory; the served one is in the key process's."""
    if os.geteuid() != 0:
        return
    _e2e()
    from procfs import derpd_pids, scan_memory
    from test_tls_key import key_needles
    needles = {}
    for i, text in enumerate(keyrings):
        path = tmp_path / f"keyring-{i}.pem"
        path.write_text(text)
        needles[i] = key_needles(path)
    pids = derpd_pids(srv)
    assert {"master", "key", "acme", "worker 0", "worker 1"} <= set(pids), pids
    for role, pid in pids.items():
        for i, n in needles.items():
            hits, scanned = scan_memory(pid, n.values())
            assert scanned > 256 << 10
            found = {name for name, v in n.items() if hits[v]}
            if role == "key" and i == len(needles) - 1:
                assert found & {"secret-be", "secret-le"}, "the scan missed the key"
            elif role != "key":
                assert not found, f"{role} (pid {pid}) holds certificate key {i}: {found}"


def test_gcp_external_account_binding(pebble_factory, acme_derpd, tmp_path):
    """-certmode gcp against a CA that requires External Account Binding:
    the right kid and key (here as gcloud prints it, standard base64) get a
    certificate; a wrong key gets the CA's refusal in a clear log line."""
    raw = secrets.token_bytes(32)
    url_key = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    p = pebble_factory(eab_keys={"kid-derpd": url_key})
    root = pebble_root(p, tmp_path)
    eab = ["-acme-email", "ops@derp.test", "-acme-eab-kid", "kid-derpd", "-acme-eab-key"]
    srv = acme_derpd(p.ca, p.directory, tls_port=p.tls_port, certmode="gcp",
                     args=eab + [base64.b64encode(raw).decode()],
                     hostname="gcp.derp.test", certdir=tmp_path / "good")
    wait_issued(srv, "gcp.derp.test")
    login(srv.port, root, "gcp.derp.test")
    srv.stop()

    bad = acme_derpd(p.ca, p.directory, tls_port=p.tls_port, certmode="gcp",
                     args=eab + [secrets.token_urlsafe(32)], hostname="gcp.derp.test",
                     certdir=tmp_path / "bad")
    bad.wait_log(r"derpd\[acme\]: WARNING: acme: ordering a certificate for gcp\.derp\.test failed: "
                 r"newAccount: urn:ietf:params:acme:error:unauthorized: external "
                 r"account binding .*\(HTTP 403\); next attempt in \d+ s", timeout=30)
    with pytest.raises(SSL.Error):
        peer_chain(bad.port, "gcp.derp.test")


def test_ip_address_certificate(pebble, acme_derpd, tmp_path):
    """-acme-ip-certs with derper's default hostname: a client connecting by
    IP address without SNI makes derpd get a certificate for that address
    (HTTP-01 on -http-port); Pebble has no profiles, so none is asked for;
    then a client without SNI gets it and verifies it."""
    root = pebble_root(pebble, tmp_path)
    srv = acme_derpd(pebble.ca, pebble.directory, tls_port=pebble.tls_port,
                     http_port=pebble.http_port, args=["-acme-ip-certs"], hostname=None)
    with pytest.raises(SSL.Error):
        peer_chain(srv.port)            # none yet: this one asks for it
    srv.wait_log(r"acme: a client reached us at 127\.0\.0\.1: getting a certificate")
    wait_issued(srv, "127.0.0.1")
    log = srv.log_text()
    assert "acme: answering http-01 for 127.0.0.1" in log
    assert 'the CA offers no profile "shortlived"' in log
    chain = wait_chain(srv.port)
    assert san(chain[0]) == "IP Address:127.0.0.1"
    assert serial(peer_chain(srv.port, "127.0.0.1")) == serial(chain)
    exchange(login(srv.port, root, "127.0.0.1"), login(srv.port, root, "127.0.0.1"))
    with pytest.raises(SSL.Error):
        peer_chain(srv.port, "derp.tailscale.com")      # no certificate for it


def test_failed_renewal_keeps_the_last_good_certificate(pebble, stub, acme_derpd,
                                                        derpd_test_bin, test_ca, tmp_path):
    """A cached certificate due for renewal (the clock 4.5 of its 6 days on)
    while the CA answers 500: derpd serves the cached one, logs each failed
    attempt, backs off, and /metrics says how long is left and why it
    failed. Past its expiry (the clock 7 days on) it is never served."""
    root = pebble_root(pebble, tmp_path)
    certdir = tmp_path / "kept"
    srv = acme_derpd(pebble.ca, pebble.directory, tls_port=pebble.tls_port,
                     hostname="kept.derp.test", certdir=certdir)
    wait_issued(srv, "kept.derp.test")
    good = serial(peer_chain(srv.port, "kept.derp.test"))
    srv.stop()

    broken = stub(directory="500")
    http = free_port()
    late = acme_derpd(test_ca[0], broken.directory, http_port=http, certdir=certdir,
                      hostname="kept.derp.test", binary=derpd_test_bin,
                      env={**FAST_BACKOFF, "DERPD_TEST_ACME_CLOCK_OFFSET": str(int(4.5 * DAY))})
    late.wait_log(r"acme: serving the cached certificate for kept\.derp\.test")
    late.wait_log(r"acme: it is due for renewal")
    fails = r"acme: ordering a certificate for kept\.derp\.test failed: directory: " \
            r"HTTP 500 \(no problem document\); next attempt in (\d+) s"
    late.wait_log(fails, timeout=20)
    deadline = time.monotonic() + 20
    while len(re.findall(fails, late.log_text())) < 2:
        assert time.monotonic() < deadline, late.tail()
        time.sleep(0.2)
    assert serial(peer_chain(late.port, "kept.derp.test")) == good
    login(late.port, root, "kept.derp.test")
    m = metrics(http)
    left = metric(m, "derpd_tls_cert_expiry_seconds", name="kept.derp.test")
    assert 5 * DAY < left <= 6 * DAY        # real time: the clock hook is the ACME client's
    assert metric(m, "derpd_acme_orders_total", name="kept.derp.test", outcome="failed") >= 2
    errs = [labels for (name, labels) in m if name ==
            "derpd_acme_last_error_timestamp_seconds"]
    assert errs and dict(errs[0])["error"].startswith("directory: HTTP 500"), errs
    assert "ACME client (pid" not in late.log_text()        # never died
    late.stop()

    expired = acme_derpd(test_ca[0], broken.directory, http_port=http, certdir=certdir,
                         hostname="kept.derp.test", binary=derpd_test_bin,
                         env={**FAST_BACKOFF, "DERPD_TEST_ACME_CLOCK_OFFSET": str(7 * DAY)})
    expired.wait_log(fails)
    assert "serving the cached certificate" not in expired.log_text()
    with pytest.raises(SSL.Error):
        peer_chain(expired.port, "kept.derp.test")
