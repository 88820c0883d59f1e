# SPDX-License-Identifier: BSD-3-Clause
"""derper's flags on the real binary: names, types and defaults as Go's flag
package prints them, a derper command line accepted as is, flags derpd does
not implement refused at start-up, -config files, and the accept limiter."""
import os
import re
import socket
import ssl
import subprocess
import time

import pytest

from conftest import free_port
from derp_client import ConnectionClosed, connect_on_worker
from derp_helpers import exchange
from http_helpers import Response, get, metrics, read_to_eof, request, udp_port

# cmd/derper/derper.go: every flag, its Go type and the default Go prints
# (None: the zero value, which Go does not print).
DERPER_FLAGS = {
    "dev": ("bool", None),
    "version": ("bool", None),
    "a": ("string", '":443"'),
    "http-port": ("int", "80"),
    "stun-port": ("int", "3478"),
    "c": ("string", None),
    "certmode": ("string", '"letsencrypt"'),
    "certdir": ("string", '"/home/tester/.cache/tailscale/derper-certs"'),
    "hostname": ("string", '"derp.tailscale.com"'),
    "acme-eab-kid": ("string", None),
    "acme-eab-key": ("string", None),
    "acme-email": ("string", None),
    "acme-ip-certs": ("bool", None),
    "stun": ("bool", "true"),
    "derp": ("bool", "true"),
    "home": ("string", None),
    "mesh-psk-file": ("string", None),
    "mesh-with": ("string", None),
    "secrets-url": ("string", None),
    "secrets-path-prefix": ("string", '"prod/derp"'),
    "secrets-cache-dir": ("string", '"/home/tester/.cache/derper-secrets"'),
    "bootstrap-dns-names": ("string", None),
    "unpublished-bootstrap-dns-names": ("string", None),
    "verify-clients": ("bool", None),
    "verify-client-url": ("string", None),
    "verify-client-url-fail-open": ("bool", "true"),
    "socket": ("string", None),
    "accept-connection-limit": ("float", "+Inf"),
    "accept-connection-burst": ("int", "9223372036854775807"),
    "rate-config": ("string", None),
    "tcp-keepalive-time": ("duration", "10m0s"),
    "tcp-user-timeout": ("duration", "15s"),
    "tcp-write-timeout": ("duration", "2s"),
    "ace": ("bool", None),
}
# derpd's own (README), with their defaults.
DERPD_FLAGS = {
    "workers": ("int", None), "user": ("string", None), "config": ("string", None),
    "max-clients": ("int", "65536"), "queue-kib": ("int", "512"),
    "queue-budget-mib": ("int", "128"),
    "ring-kib": ("int", "1024"), "keepalive": ("duration", "1m0s"),
    "handshake-timeout": ("duration", "10s"), "verbose": ("bool", None),
    "no-seccomp": ("bool", None), "login-memory-mib": ("int", "32"),
    "acme-directory": ("string", None), "acme-ca-file": ("string", None),
    "mesh-ca-file": ("string", None),
    "mesh-client-cert": ("string", None), "mesh-client-key": ("string", None),
    "placement": ("string", '"hash"'),
    "allow-keys": ("string", None), "verify-interval": ("duration", None),
    "client-ca": ("string", None), "client-crl": ("string", None),
}

ENTRY_RE = re.compile(r"  -(\S+)( (string|int|float|duration))?\n    \t(.*)")
DEFAULT_RE = re.compile(r" \(default (.+)\)$")


def run(derpd_bin, *args, env=None, timeout=15):
    return subprocess.run([derpd_bin, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env, stdin=subprocess.DEVNULL)


def parse_help(text):
    lines = text.splitlines()
    assert lines[0] == "Usage of derpd:"
    body = "\n".join(lines[1:])
    entries = ENTRY_RE.findall(body)
    assert "\n".join(f"  -{n}{t}\n    \t{h}" for n, t, _, h in entries) == body, \
        "help is not in Go's flag.PrintDefaults layout"
    out = {}
    for name, _, typ, help_text in entries:
        m = DEFAULT_RE.search(help_text)
        out[name] = (typ or "bool", m.group(1) if m else None)
    return [n for n, *_ in entries], out


def test_help_lists_every_flag_with_go_defaults(derpd_bin):
    """-h prints every derper flag with derper's type and default, in Go's
    layout (sorted; "(default X)" unless X is the zero value), and derpd's own."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/home/tester"}
    out = run(derpd_bin, "-h", env=env)
    assert out.returncode == 0, out.stderr
    names, flags = parse_help(out.stdout)
    assert names == sorted(names), "Go prints flags sorted by name"
    for name, want in {**DERPER_FLAGS, **DERPD_FLAGS}.items():
        assert name in flags, f"-{name} missing from -h"
        assert flags[name] == want, f"-{name}: {flags[name]} != {want}"
    assert set(flags) == set(DERPER_FLAGS) | set(DERPD_FLAGS), \
        f"unexpected flags {set(flags) - set(DERPER_FLAGS) - set(DERPD_FLAGS)}"
    # os.UserCacheDir honours XDG_CACHE_HOME.
    out = run(derpd_bin, "--help", env={**env, "XDG_CACHE_HOME": "/xdg"})
    assert parse_help(out.stdout)[1]["certdir"][1] == '"/xdg/tailscale/derper-certs"'


def test_unknown_flag_and_bad_value(derpd_bin):
    """Go's flag package: exit status 2 and the usage."""
    out = run(derpd_bin, "-no-such-flag")
    assert out.returncode == 2
    assert "flag provided but not defined: -no-such-flag" in out.stderr
    assert "Usage of derpd:" in out.stderr
    out = run(derpd_bin, "-stun-port", "x")
    assert out.returncode == 2
    assert 'invalid value "x" for flag -stun-port' in out.stderr


def test_version(derpd_bin):
    out = run(derpd_bin, "-version")
    assert out.returncode == 0
    assert re.fullmatch(r"derpd \S+\n", out.stdout)


@pytest.mark.parametrize("args,names", [
    (["-secrets-url", "https://setec.example/"], ["-secrets-url"]),
    (["-ace"], ["-ace"]),
    (["-bootstrap-dns-names", "a.example/txt.example"], ["rollout"]),
    (["-unpublished-bootstrap-dns-names", "b.example/pct.example"], ["rollout"]),
], ids=lambda v: v[0] if isinstance(v, list) and len(v) == 1 else None)
def test_unimplemented_flags_refused(derpd_bin, keyfile, args, names):
    """Accepted (they parse) but not implemented: start-up fails at once with a
    message naming the flag, rather than running without it."""
    out = run(derpd_bin, "-a", f"127.0.0.1:{free_port()}", "-c", keyfile, "-workers", "1",
              "-stun=false", *args)
    assert out.returncode == 1, out.stdout + out.stderr
    text = out.stdout + out.stderr
    assert "not implemented yet" in text
    for name in names:
        assert name in text, text
    assert "serving on" not in text and "started, pid" not in text


@pytest.mark.parametrize("args,message", [
    (["-a", "127.0.0.1:443"],
     '-certmode letsencrypt needs -hostname set to this relay\'s DNS name ("derp.tailscale.com" '
     "is derper's default"),
    (["-a", "127.0.0.1:443", "-certmode", "gcp", "-hostname", "derp.example.com"],
     "-certmode gcp requires -acme-email, -acme-eab-kid and -acme-eab-key"),
    (["-a", "127.0.0.1:443", "-hostname", "192.0.2.1"],
     "-hostname is an IP address; use -certmode manual for a self-signed certificate, "
     "or -acme-ip-certs"),
    (["-certmode", "manual", "-acme-ip-certs"], "-acme-ip-certs requires -certmode letsencrypt"),
    (["-a", "127.0.0.1:443", "-hostname", "derp.example.com",
      "-acme-ca-file", "/nonexistent/ca.pem"], "cannot read the CA file /nonexistent/ca.pem"),
], ids=["default-hostname", "gcp-without-eab", "ip-hostname", "ip-certs-manual",
        "ca-file"])
def test_acme_configurations_refused(derpd_bin, keyfile, tmp_path, args, message):
    """What cannot work is refused at start, saying what to set, before any
    child runs (as derper refuses the same in cmd/derper/cert.go)."""
    out = run(derpd_bin, "-c", keyfile, "-workers", "1", "-stun=false",
              "-certdir", tmp_path / "certs", *args)
    assert out.returncode == 1, out.stdout + out.stderr
    assert message in out.stderr, out.stderr
    assert "started, pid" not in out.stderr


def test_bad_home_refused(derpd_bin, keyfile):
    """derper: log.Fatalf("unknown --home value ...")."""
    out = run(derpd_bin, "-a", f"127.0.0.1:{free_port()}", "-c", keyfile, "-home", "nowhere")
    assert out.returncode == 1
    assert 'unknown -home value "nowhere"' in out.stderr


def test_derper_command_line_accepted(derp_server, connect, tmp_path):
    """Every derper flag, spelled as derper's users do (-x v, -x=v, --x=v),
    with derper's defaults (and unused ACME/setec settings): derpd starts,
    relays and answers STUN."""
    stun_port = udp_port()
    args = [
        "-dev=false", "--http-port=80", "-stun-port", stun_port, "-stun",
        "-certmode", "letsencrypt", "-certdir", tmp_path / "certs",
        "--hostname", "derp.tailscale.com", "-acme-eab-kid", "", "-acme-eab-key", "",
        "-acme-email", "ops@example.com", "-acme-ip-certs=false", "-derp=true",
        "-home", "", "-mesh-psk-file", "", "-mesh-with", "", "-secrets-url", "",
        "-secrets-path-prefix", "prod/derp", "-secrets-cache-dir", tmp_path / "setec",
        "-bootstrap-dns-names", "", "-unpublished-bootstrap-dns-names", "",
        "-verify-clients=false", "-verify-client-url", "",
        "-verify-client-url-fail-open=true", "-socket", "",
        "-accept-connection-limit", "+Inf",
        "-accept-connection-burst", "9223372036854775807", "-rate-config", "",
        "-tcp-keepalive-time", "10m0s", "-tcp-user-timeout=15s",
        "--tcp-write-timeout", "2s", "-ace=false",
    ]
    srv = derp_server(workers=2, extra_args=args)
    exchange(connect(srv, worker=0), connect(srv, worker=1))
    srv.wait_log(r"STUN server started, pid \d+")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(10)
        txid = os.urandom(12)
        s.sendto(b"\x00\x01\x00\x00\x21\x12\xa4\x42" + txid, ("127.0.0.1", stun_port))
        data, _ = s.recvfrom(100)
        assert data[:2] == b"\x01\x01" and data[8:20] == txid


# --- -config -------------------------------------------------------------------

def test_config_file(derp_server, tmp_path):
    """-config: "flag = value" lines (# comments, optional leading dashes and
    quotes) are read first; the command line wins where both set a flag."""
    conf = tmp_path / "derpd.conf"
    conf.write_text("# derpd settings\n\n"
                    "home = \"https://from-config.example/\"\n"
                    "-bootstrap-dns-names = 127.0.0.8\n"
                    "  workers = 1  \n"
                    "handshake-timeout=2s\n")
    srv = derp_server(workers=2, extra_args=["-config", conf,
                                             "-bootstrap-dns-names", "127.0.0.6"])
    assert "with 2 workers" in srv.log_text()         # -workers 2 beat "workers = 1"
    r = get(srv, "/")
    assert r.status == 302 and r.headers["location"] == "https://from-config.example/"
    deadline = time.monotonic() + 15
    while not (r := get(srv, "/bootstrap-dns")).body:
        assert time.monotonic() < deadline, "bootstrap DNS never published"
        time.sleep(0.1)
    assert r.body == b'{\n\t"127.0.0.6": [\n\t\t"127.0.0.6"\n\t]\n}'


def test_config_file_errors(derpd_bin, keyfile, tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("home = blank\nno-such-flag = 1\n")
    base = ["-a", f"127.0.0.1:{free_port()}", "-c", keyfile, "-stun=false"]
    out = run(derpd_bin, *base, "-config", conf)
    assert out.returncode == 1
    assert f'{conf}:2: unknown flag "no-such-flag"' in out.stderr
    conf.write_text("just some words\n")
    out = run(derpd_bin, *base, "-config", conf)
    assert out.returncode == 1 and f"{conf}:1:" in out.stderr
    out = run(derpd_bin, *base, "-config", tmp_path / "missing.conf")
    assert out.returncode == 1 and "missing.conf" in out.stderr


# --- -accept-connection-limit / -burst --------------------------------------------

def probe_once(port, worker, nworkers, **kw):
    """True if a GET /derp/probe on a connection steered to `worker` is served,
    False if the server closes it unanswered (the limiter's refusal)."""
    try:
        c = connect_on_worker("127.0.0.1", port, worker, nworkers, upgrade=False, **kw)
    except (ConnectionClosed, ConnectionResetError, ssl.SSLError, OSError) as e:
        if kw.get("tls"):
            return False        # refused before the TLS handshake finished
        raise AssertionError(f"TCP connect failed: {e!r}")
    try:
        c.send_raw(b"GET /derp/probe HTTP/1.1\r\nHost: x\r\n\r\n")
        raw = read_to_eof(c)
    except (ConnectionClosed, BrokenPipeError, ConnectionResetError):
        return False
    finally:
        c.close()
    if not raw:
        return False
    assert Response(raw).status == 200
    return True


def test_accept_limit_burst_then_refill(derp_server):
    """A token bucket (-accept-connection-limit per second, -accept-connection-burst)
    shared by all workers: of a rapid burst only about `burst` connections are
    served, whichever worker accepts them; the rest are accepted and closed at
    once.  The bucket refills; tls_listener_{accepted,rejected}_connections
    count exactly what the clients saw."""
    burst, rate = 5, 1.0
    srv = derp_server(workers=2, extra_args=["-accept-connection-limit", rate,
                                             "-accept-connection-burst", burst])
    t0 = time.monotonic()
    results = [probe_once(srv.port, i % 2, 2) for i in range(20)]
    took = time.monotonic() - t0
    served = sum(results)
    assert results[:burst] == [True] * burst, results
    assert served <= burst + int(took * rate) + 1, \
        f"{served} of 20 served in {took:.1f}s: is the bucket per worker?"
    assert served < 20, results
    accepted, rejected = served, 20 - served

    # Refill: within a few seconds a connection is served again.
    deadline = time.monotonic() + 15
    while not probe_once(srv.port, 1, 2):
        rejected += 1
        assert time.monotonic() < deadline, "the bucket never refilled"
        time.sleep(0.2)
    accepted += 1

    # The metrics page needs a token too.
    while True:
        try:
            m = metrics(srv)
            break
        except (ConnectionClosed, ConnectionResetError, BrokenPipeError, AssertionError):
            rejected += 1
            assert time.monotonic() < deadline + 15, "metrics never served"
            time.sleep(0.2)
    accepted += 1
    assert m("tls_listener_accepted_connections") == accepted
    assert m("tls_listener_rejected_connections") == rejected


def test_accept_burst_zero_refuses_everything(derp_server):
    """Like Go's rate.Limiter with burst 0 and a finite rate: nothing passes."""
    srv = derp_server(workers=1, extra_args=["-accept-connection-limit", 1000,
                                             "-accept-connection-burst", 0])
    assert not any(probe_once(srv.port, 0, 1) for _ in range(3))


def test_accept_limit_applies_to_tls_not_port80(derp_server, tls_certdir):
    """derper limits its TLS listener only; port 80 beside it is not limited."""
    certdir, crt = tls_certdir
    http_port = free_port()
    srv = derp_server(workers=2, extra_args=[
        "-certmode", "manual", "-certdir", certdir, "-hostname", "derp.test",
        "-http-port", http_port, "-accept-connection-limit", 0.01,
        "-accept-connection-burst", 2])
    tls = dict(tls=True, cafile=str(crt), server_hostname="derp.test")
    results = [probe_once(srv.port, i % 2, 2, **tls) for i in range(6)]
    assert results == [True, True, False, False, False, False], results
    for _ in range(6):
        r = request(http_port, "/generate_204")
        assert r.status == 204
