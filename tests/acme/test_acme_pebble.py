# SPDX-License-Identifier: BSD-3-Clause
"""The ACME engine against Debian's Pebble: certificates by TLS-ALPN-01 and
by HTTP-01, the certdir cache and renewal point, the account found again,
badNonce retries, External Account Binding, and a challenge nobody answers."""
import os
import re
import secrets
import stat
import subprocess
import time

import pytest

DAY = 86400


def split_pem(text):
    return re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n?",
                      text, re.S)


def check_chain(pebble, certdir, name, tmp_path, san):
    """The stored chain verifies up to Pebble's root through its intermediate
    and the leaf's only SAN is `san`."""
    chain = (certdir / f"{name}.crt").read_text()
    certs = split_pem(chain)
    assert len(certs) == 2, chain
    (tmp_path / "leaf.pem").write_text(certs[0])
    (tmp_path / "root.pem").write_text(pebble.management("/roots/0"))
    (tmp_path / "inter.pem").write_text(pebble.management("/intermediates/0"))
    assert certs[1].strip() == (tmp_path / "inter.pem").read_text().strip()
    out = subprocess.run(["openssl", "verify", "-CAfile", str(tmp_path / "root.pem"),
                          "-untrusted", str(tmp_path / "inter.pem"),
                          str(tmp_path / "leaf.pem")], capture_output=True, text=True)
    assert out.returncode == 0 and ": OK" in out.stdout, out.stdout + out.stderr
    ext = subprocess.run(["openssl", "x509", "-in", str(tmp_path / "leaf.pem"), "-noout",
                          "-ext", "subjectAltName"], capture_output=True, text=True)
    assert ext.stdout.split("\n")[1].strip() == san, ext.stdout


def check_modes(certdir, name):
    assert stat.S_IMODE(os.stat(certdir).st_mode) == 0o700
    for f in ("acme-account.key", f"{name}.crt"):
        assert stat.S_IMODE(os.stat(certdir / f).st_mode) == 0o600, f


def test_tls_alpn_01(pebble, pebble_run, tmp_path):
    r = pebble_run(pebble, ["alpn.derp.test"], "-no-http01")
    assert r.rc == 0, r
    assert "answering tls-alpn-01 for alpn.derp.test" in r.stderr
    assert r.fields["result"] == "issued" and r.stats["orders"] == 1
    assert r.stats["account_created"] == 1
    check_chain(pebble, tmp_path / "certs", "alpn.derp.test", tmp_path,
                "DNS:alpn.derp.test")
    check_modes(tmp_path / "certs", "alpn.derp.test")


def test_http_01(pebble, pebble_run, tmp_path):
    r = pebble_run(pebble, ["http.derp.test"], "-no-tlsalpn")
    assert r.rc == 0, r
    assert "answering http-01 for http.derp.test" in r.stderr
    assert "tls-alpn-01" not in r.stderr
    check_chain(pebble, tmp_path / "certs", "http.derp.test", tmp_path,
                "DNS:http.derp.test")


def test_ip_identifier(pebble, pebble_run, tmp_path):
    """RFC 8738: an IP address identifier, validated over TLS-ALPN-01 with the
    reverse-DNS SNI and an iPAddress SAN in the challenge certificate."""
    r = pebble_run(pebble, ["127.0.0.1"], "-no-http01")
    assert r.rc == 0, r
    assert "answering tls-alpn-01 for 127.0.0.1" in r.stderr
    check_chain(pebble, tmp_path / "certs", "127.0.0.1", tmp_path, "IP Address:127.0.0.1")


def test_cache_and_renewal_point(pebble, pebble_run, tmp_path):
    """A fresh cached certificate places no order; a 6-day one is due at 2
    days left and renewed with the same account; an expired one is never
    used."""
    name = ["cache.derp.test"]
    first = pebble_run(pebble, name)
    assert first.rc == 0 and first.fields["cache"] == "none", first
    account = first.fields["account"]
    key = (tmp_path / "certs" / "acme-account.key").read_bytes()
    orders = pebble.orders()

    for offset in (0, 3 * DAY, 4 * DAY - 60):
        warm = pebble_run(pebble, name, "-clock-offset", offset)
        assert warm.rc == 0, warm
        assert warm.fields["cache"] == "fresh" and warm.fields["result"] == "cached", warm
        assert warm.stats is None          # the CA was not contacted
    assert pebble.orders() == orders

    due = pebble_run(pebble, name, "-clock-offset", 4 * DAY + 60)
    assert due.rc == 0, due
    assert due.fields["cache"] == "due" and due.fields["result"] == "issued", due
    assert due.stats["orders"] == 1 and due.stats["account_created"] == 0
    assert due.fields["account"] == account
    assert (tmp_path / "certs" / "acme-account.key").read_bytes() == key
    assert pebble.orders() == orders + 1
    assert int(due.fields["not_after"]) > int(first.fields["not_after"])

    expired = pebble_run(pebble, name, "-clock-offset", 7 * DAY)
    assert expired.rc == 0, expired
    assert expired.fields["cache"] == "none" and expired.fields["result"] == "issued"
    assert "has expired" in expired.stderr


def test_badnonce_retried(pebble_factory, pebble_run, tmp_path):
    """With Pebble refusing 35% of good nonces, every run still succeeds and
    the driver's counter shows the refused requests were resent."""
    p = pebble_factory(env={"PEBBLE_WFE_NONCEREJECT": "35"})
    retries = 0
    for i in range(4):
        r = pebble_run(p, [f"nonce{i}.derp.test"], certdir=tmp_path / f"c{i}")
        assert r.rc == 0, r
        retries += r.stats["badnonce_retries"]
        if retries:
            break
    assert retries > 0
    assert "badNonce, retrying with a fresh nonce" in r.stderr


def test_challenge_nobody_answers(pebble, run_driver, tmp_path):
    """The responder listens nowhere Pebble looks: a clean error naming the
    challenge and Pebble's problem, and no chain stored."""
    r = run_driver(pebble.directory, pebble.ca, tmp_path / "certs",
                   ["nobody.derp.test"], "-no-http01")
    assert r.rc == 1, r
    m = re.search(r"WARNING: acme: tls-alpn-01 for nobody.derp.test failed: "
                  r"urn:ietf:params:acme:error:(\w+): (.+)", r.stderr)
    assert m, r
    assert not (tmp_path / "certs" / "nobody.derp.test.crt").exists()


def eab_pebble(pebble_factory):
    key = secrets.token_urlsafe(48)
    return pebble_factory(eab_keys={"kid-derpd": key}), key


def test_eab_accepted(pebble_factory, pebble_run):
    p, key = eab_pebble(pebble_factory)
    r = pebble_run(p, ["eab.derp.test"], "-email", "ops@derp.test",
                   "-eab-kid", "kid-derpd", "-eab-key", key)
    assert r.rc == 0, r
    assert r.stats["account_created"] == 1


def test_eab_wrong_key_refused(pebble_factory, pebble_run):
    p, key = eab_pebble(pebble_factory)
    wrong = secrets.token_urlsafe(48)
    r = pebble_run(p, ["eab.derp.test"], "-eab-kid", "kid-derpd", "-eab-key", wrong)
    assert r.rc == 1, r
    assert re.search(r"WARNING: acme: newAccount: urn:ietf:params:acme:error:"
                     r"unauthorized: external account binding .*\(HTTP 403\)",
                     r.stderr), r
    assert r.stats["orders"] == 0

    missing = pebble_run(p, ["eab.derp.test"])
    assert missing.rc == 1, missing
    assert "the CA requires External Account Binding" in missing.stderr


def test_profile_not_offered(pebble, pebble_run):
    """Pebble 2.4 advertises no profiles: the order goes out without one."""
    r = pebble_run(pebble, ["profile.derp.test"], "-profile", "shortlived")
    assert r.rc == 0, r
    assert 'the CA offers no profile "shortlived"' in r.stderr
