# SPDX-License-Identifier: BSD-3-Clause
"""/metrics and /debug/ answer loopback and Tailscale addresses only
(tsweb.AllowDebugAccess): from a client address that is neither, 403.

A loopback client cannot show the refusal, so this test (as root) makes a
network namespace joined to this one by a veth pair, gives the far end a
Tailscale address (100.64.0.0/10, fd7a:115c:a1e0::/48) and an ordinary one
of each family, and asks derpd, listening on the near end's address, from
each.  The addresses are private to the pair; the namespace goes at the end."""
import json
import os
import shutil
import socket
import subprocess

import pytest

# From inside the namespace: GET path from source address src, printing
# the status (0 when the connection failed).
CLIENT = r"""
import json, socket, sys
host, port, paths, sources = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4])
out = {}
for src in sources:
    for path in paths:
        fam = socket.AF_INET6 if ":" in src else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.bind((src, 0))
            s.connect((host, port))
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: derp.test\r\n\r\n".encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            out[src + " " + path] = int(data.split(b" ", 2)[1])
        except OSError as e:
            out[src + " " + path] = str(e)
        finally:
            s.close()
print(json.dumps(out))
"""

PATHS = ["/metrics", "/debug/", "/debug/varz", "/derp/probe"]


def ip(*args, check=True):
    out = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check:
        assert out.returncode == 0, f"ip {' '.join(args)}: {out.stderr}"
    return out


@pytest.fixture
def veth_namespace():
    """(namespace, {family: (near address, far Tailscale, far other)})."""
    if os.geteuid() != 0:
        pytest.skip("needs root: a network namespace and a veth pair")
    if shutil.which("ip") is None:
        pytest.skip("needs iproute2")
    tag = f"{os.getpid() % 100000}"
    ns, near, far = f"derpd-t{tag}", f"dta{tag}", f"dtb{tag}"
    ip("netns", "add", ns)
    try:
        ip("link", "add", near, "type", "veth", "peer", "name", far)
        ip("link", "set", far, "netns", ns)
        plan = {
            4: ("198.18.77.1", "100.64.77.2", "198.18.77.2"),
            6: ("2001:db8:77::1", "fd7a:115c:a1e0:77::2", "2001:db8:77::2"),
        }
        for a, plen in (("198.18.77.1", 24), ("100.64.77.1", 24)):
            ip("addr", "add", f"{a}/{plen}", "dev", near)
        for a in ("2001:db8:77::1", "fd7a:115c:a1e0:77::1"):
            ip("addr", "add", f"{a}/64", "dev", near, "nodad")
        ip("link", "set", near, "up")
        inside = ["-n", ns]
        for a in ("198.18.77.2/24", "100.64.77.2/24"):
            ip(*inside, "addr", "add", a, "dev", far)
        for a in ("2001:db8:77::2/64", "fd7a:115c:a1e0:77::2/64"):
            ip(*inside, "addr", "add", a, "dev", far, "nodad")
        ip(*inside, "link", "set", far, "up")
        ip(*inside, "link", "set", "lo", "up")
        yield ns, plan
    finally:
        ip("link", "del", near, check=False)
        ip("netns", "del", ns, check=False)


def ask(ns, host, port, sources):
    out = subprocess.run(["ip", "netns", "exec", ns, "/usr/bin/python3", "-c", CLIENT,
                          host, str(port), json.dumps(PATHS), json.dumps(sources)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize("family", [4, 6])
def test_debug_pages_only_for_loopback_and_tailscale(derp_server, veth_namespace, family):
    ns, plan = veth_namespace
    near, tailscale, other = plan[family]
    fam = socket.AF_INET6 if family == 6 else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as probe:
        probe.bind((near, 0))
        port = probe.getsockname()[1]
    addr = f"[{near}]:{port}" if family == 6 else f"{near}:{port}"
    derp_server(workers=2, extra_args=["-a", addr])
    got = ask(ns, near, port, [tailscale, other])
    for path in PATHS:
        assert got[f"{tailscale} {path}"] == 200, (path, got)
        if path == "/derp/probe":
            assert got[f"{other} {path}"] == 200, (path, got)   # the relay serves it
        else:
            assert got[f"{other} {path}"] == 403, (path, got)
