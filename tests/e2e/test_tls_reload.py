# SPDX-License-Identifier: BSD-3-Clause
"""-certmode manual without a restart (SECURITY.md, "The TLS key"): new
certificate files, on SIGHUP or when they change, are served to new
handshakes while established DERP connections keep relaying; the key
process takes the new key only if it matches; derper's meta certificate
stays at the end of the chain. With an IP -hostname and no certificate,
derpd makes derper's self-signed one and logs the DERP map entry that pins
it; a client that pins that hash logs in."""
import hashlib
import json
import os
import pwd
import re
import signal
import socket
import ssl
import struct
import shutil
import subprocess
import tempfile
import time

from pathlib import Path

import pytest
from OpenSSL import SSL

from derp_client import DerpClient
from derp_helpers import exchange
from http_helpers import metrics

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: -user nobody")


def make_pair(certdir, days=2, name="derp.test"):
    """A fresh self-signed ECDSA pair for name, written next to the served
    files and renamed over them (as certbot's deploy does): (crt, key)."""
    crt, key = certdir / f"{name}.crt", certdir / f"{name}.key"
    tmp_crt, tmp_key = certdir / "new.crt", certdir / "new.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", str(days),
                    "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
                    "-keyout", str(tmp_key), "-out", str(tmp_crt)],
                   check=True, capture_output=True, timeout=60)
    readable_by_nobody(tmp_crt, tmp_key)
    os.replace(tmp_key, key)
    os.replace(tmp_crt, crt)
    return crt, key


def readable_by_nobody(*paths):
    """As root, derpd runs as nobody after the drop: let it read the files."""
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        for p in paths:
            os.chown(p, nobody.pw_uid, nobody.pw_gid)
            os.chmod(p, 0o600)


def leaf_der(port, sni="derp.test"):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with ctx.wrap_socket(sock, server_hostname=sni) as tls:
            return tls.getpeercert(binary_form=True)


def pem_der(crt):
    return ssl.PEM_cert_to_DER_cert(crt.read_text())


def chain_cns(port, sni="derp.test"):
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 10, 0))
        conn = SSL.Connection(ctx, sock)
        conn.set_tlsext_host_name(sni.encode())
        conn.set_connect_state()
        conn.do_handshake()
        chain = conn.get_peer_cert_chain()
    return [(c.get_subject().CN, c.get_serial_number()) for c in chain]


def tls_login(srv, crt):
    return DerpClient("127.0.0.1", srv.port, tls=True, cafile=str(crt),
                      server_hostname="derp.test").connect()


@pytest.fixture
def run_user_dir():
    """A directory the run user (nobody, as root) can reach and read, as a
    certdir must be for reloads: pytest's own are private to us."""
    d = Path(tempfile.mkdtemp(prefix="derpd-certs-"))
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(d, nobody.pw_uid, nobody.pw_gid)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def manual(derp_server, run_user_dir):
    """derpd with -certmode manual on a fresh pair: (server, certdir, crt)."""
    certdir = run_user_dir
    crt, _ = make_pair(certdir)
    srv = derp_server(workers=2, extra_args=["-certmode", "manual", "-certdir", certdir,
                                             "-hostname", "derp.test"])
    srv.wait_log(r"certificates are reloaded on SIGHUP")
    return srv, certdir, crt


def test_sighup_switches_the_certificate(manual, server_pub):
    srv, certdir, served = manual
    old = certdir / "old.pem"           # the served file is about to change
    shutil.copy(served, old)
    a, b = tls_login(srv, old), tls_login(srv, old)
    exchange(a, b)
    assert leaf_der(srv.port) == pem_der(old)
    new, _ = make_pair(certdir, days=30)
    mark = srv.log_mark()
    os.kill(srv.pid, signal.SIGHUP)
    srv.wait_log(r"SIGHUP: reloaded the certificate .*derp\.test\.crt \(valid until",
                 since=mark)
    assert leaf_der(srv.port) == pem_der(new)
    cns = chain_cns(srv.port)
    assert cns[-1] == ("derpkey" + server_pub.hex(), 2), cns      # meta still last
    c = tls_login(srv, new)
    exchange(a, c)              # a began on the old certificate, and still relays
    exchange(a, b)
    with pytest.raises(ssl.SSLError):
        tls_login(srv, old)     # new handshakes: the new certificate only
    left = metrics(srv, tls=True, server_hostname="derp.test").samples[
        ("derpd_tls_cert_expiry_seconds", frozenset({("name", "derp.test")}))]
    assert 29 * 86400 < left <= 30 * 86400


def test_changed_files_are_reloaded_without_a_signal(manual):
    srv, certdir, _ = manual
    mark = srv.log_mark()
    new, _ = make_pair(certdir)
    srv.wait_log(r"certificate files changed: reloaded the certificate", since=mark)
    assert leaf_der(srv.port) == pem_der(new)
    tls_login(srv, new)


def test_a_key_that_does_not_match_changes_nothing(manual):
    """Only the certificate replaced (its key not yet): the key process
    refuses the old key for it and the old pair stays in service; once the
    key follows, the change is picked up."""
    srv, certdir, old = manual
    old_der = pem_der(old)
    (certdir / "other").mkdir()
    other_crt, other_key = make_pair(certdir / "other")
    mark = srv.log_mark()
    os.replace(other_crt, certdir / "derp.test.crt")
    srv.wait_log(r"derpd\[key\]: WARNING: not reloading the TLS key: the TLS key does "
                 r"not match the certificate", since=mark)
    srv.wait_log(r"the certificate was not reloaded; still serving the previous one",
                 since=mark)
    assert leaf_der(srv.port) == old_der
    mark = srv.log_mark()
    os.replace(other_key, certdir / "derp.test.key")
    srv.wait_log(r"certificate files changed: reloaded the certificate", since=mark)
    assert leaf_der(srv.port) == ssl.PEM_cert_to_DER_cert(
        (certdir / "derp.test.crt").read_text())


@root_only
def test_files_the_run_user_cannot_read_need_a_restart(derp_server, tls_certdir):
    """Root-only files: derpd says at start that a restart is needed to
    change them, and SIGHUP says so again and changes nothing."""
    certdir, crt = tls_certdir
    srv = derp_server(workers=2, extra_args=["-certmode", "manual", "-certdir", certdir,
                                             "-hostname", "derp.test"])
    srv.wait_log(r"WARNING: user nobody cannot read .*derp\.test\.crt and "
                 r".*derp\.test\.key: replacing them needs a restart")
    mark = srv.log_mark()
    os.kill(srv.pid, signal.SIGHUP)
    srv.wait_log(r"SIGHUP: user nobody cannot read the certificate files; restart "
                 r"derpd to change them", since=mark)
    assert leaf_der(srv.port) == pem_der(crt)


def node_entry(srv):
    m = re.search(r"configure it in the DERP map with \(https://tailscale\.com/s/"
                  r"custom-derp\): (\{.*\})", srv.log_text())
    assert m, srv.tail()
    return json.loads(m.group(1))


def test_self_signed_certificate_for_an_ip_hostname(derp_server, tmp_path):
    """derper's manual mode with an IP -hostname and no certificate: one is
    made (its key in the key process, then the key file), and the DERP map
    entry pins it by SHA-256; a client that pins that hash, and checks
    nothing else, logs in. A restart serves the same certificate."""
    certdir = tmp_path / "certs"
    args = ["-certmode", "manual", "-certdir", certdir, "-hostname", "127.0.0.1"]
    srv = derp_server(workers=2, extra_args=args)
    srv.wait_log(r"derpd\[key\]: made a self-signed certificate for 127\.0\.0\.1")
    node = node_entry(srv)
    der = leaf_der(srv.port, sni="ignored.example")     # any name: the hostname is an IP
    pin = "sha256-raw:" + hashlib.sha256(der).hexdigest()
    assert node == {"Name": "custom", "RegionID": 900, "HostName": "127.0.0.1",
                    "CertName": pin, "DERPPort": srv.port}, node
    assert oct(os.stat(certdir / "127.0.0.1.key").st_mode & 0o777) == "0o600"
    assert ssl.PEM_cert_to_DER_cert((certdir / "127.0.0.1.crt").read_text()) == der

    pinned = DerpClient("127.0.0.1", srv.port, tls=True).connect()    # CERT_NONE
    assert "sha256-raw:" + hashlib.sha256(pinned.sock.getpeercert(binary_form=True)) \
        .hexdigest() == node["CertName"]
    exchange(pinned, DerpClient("127.0.0.1", srv.port, tls=True).connect())
    srv.stop()

    again = derp_server(workers=2, extra_args=args)
    assert "made a self-signed certificate" not in again.log_text()
    assert node_entry(again)["CertName"] == pin
    assert leaf_der(again.port) == der
