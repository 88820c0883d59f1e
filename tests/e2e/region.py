# SPDX-License-Identifier: BSD-3-Clause
"""A region of relays on loopback for the -mesh-with tests: a test CA, one
certificate per relay name (derpN.test), one mesh key, and one -mesh-with
list that every relay is given ("derpN.test:PORT/127.0.0.1": the name for
TLS and Host, the address to dial; derp2.test's is "localhost", a name the
mesh dialer resolves), as an operator would configure it."""
import json
import os
import subprocess
import time

import pytest

from conftest import free_port
from derp_client import KEEP_ALIVE, PEER_GONE, PING, PONG, RECV_PACKET
from derp_helpers import write_mesh_key
from http_helpers import Metrics, request


def _openssl(*args):
    out = subprocess.run(["openssl", *map(str, args)], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, f"openssl {args[0]} failed: {out.stderr}"


class MeshCA:
    """A private CA (what -mesh-ca-file names) and leaf certificates."""

    def __init__(self, directory):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.crt, self.key = self.dir / "ca.crt", self.dir / "ca.key"
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                 "-subj", "/CN=derpd mesh test CA", "-keyout", self.key,
                 "-out", self.crt)

    def certdir(self, name):
        """A -certdir holding name.crt (signed by this CA) and name.key."""
        d = self.dir / name
        d.mkdir()
        key, csr, crt = d / f"{name}.key", d / "req.csr", d / f"{name}.crt"
        ext = d / "ext.cnf"
        ext.write_text(f"subjectAltName=DNS:{name}\n")
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-subj", f"/CN={name}", "-keyout", key, "-out", csr)
        _openssl("x509", "-req", "-in", csr, "-CA", self.crt, "-CAkey", self.key,
                 "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", crt)
        os.chmod(key, 0o600)
        return d


class Region:
    """n derpd relays meshed with each other; relays[i] is derp{i+1}.test."""

    def __init__(self, derp_server, keygen_bin, tmp_path, n=3, workers=2,
                 mesh_key=None, extra_args=(), keys=None, client_ca=False,
                 mesh_client_cert=False):
        self.derp_server, self.workers = derp_server, workers
        self.extra_args = list(extra_args)
        self.ca = MeshCA(tmp_path / "pki")
        self.key_path = tmp_path / "mesh.key"
        self.mesh_key = write_mesh_key(self.key_path, mesh_key)
        # relay i's -mesh-psk-file: ours, unless keys names another
        self.key_paths = [(keys or {}).get(i, self.key_path) for i in range(n)]
        self.names = [f"derp{i + 1}.test" for i in range(n)]
        self.ports = [free_port() for _ in range(n)]
        # derp2.test is dialled by name ("localhost": /etc/hosts, in the
        # mesh dialer's sandbox, perhaps ::1 first, where nobody listens)
        self.mesh_with = ",".join(
            f"{name}:{port}/{'localhost' if i == 1 else '127.0.0.1'}"
            for i, (name, port) in enumerate(zip(self.names, self.ports)))
        self.certdirs = [self.ca.certdir(name) for name in self.names]
        # -client-ca on every relay: every TLS client, links included,
        # presents a certificate from the region's CA (the tests' own too)
        self.client_cert = None
        if client_ca or mesh_client_cert:
            d = self.ca.certdir("client.test")
            self.client_cert = (str(d / "client.test.crt"), str(d / "client.test.key"))
            self.extra_args += ["-client-ca", self.ca.crt]
        if mesh_client_cert:
            self.extra_args += ["-mesh-client-cert", self.client_cert[0],
                                "-mesh-client-key", self.client_cert[1]]
        self.keyfiles = []
        for i in range(n):
            path = tmp_path / f"derp{i + 1}.key"
            out = subprocess.run([keygen_bin, str(path)], capture_output=True,
                                 text=True, timeout=10)
            assert out.returncode == 0, out.stderr
            self.keyfiles.append(path)
        self.relays = [self.start(i) for i in range(n)]

    def args(self, i):
        return ["-certmode", "manual", "-certdir", self.certdirs[i],
                "-hostname", self.names[i], "-mesh-psk-file", self.key_paths[i],
                "-mesh-with", self.mesh_with, "-mesh-ca-file", self.ca.crt,
                *self.extra_args]

    def start(self, i):
        """Starts relay i (again, after stop(): same port, key and name)."""
        srv = self.derp_server(workers=self.workers, keyfile=self.keyfiles[i],
                               port=self.ports[i], extra_args=self.args(i))
        if i < len(getattr(self, "relays", ())):
            self.relays[i] = srv
        return srv

    # --- looking at a relay --------------------------------------------------

    def tls(self, i):
        return dict(tls=True, cafile=str(self.ca.crt), server_hostname=self.names[i],
                    client_cert=self.client_cert)

    def get(self, i, path):
        return request(self.relays[i].port, path, host_header=self.names[i],
                       **self.tls(i))

    def mesh(self, i):
        """Relay i's /debug/mesh: {peer name: its entry}, and the whole."""
        r = self.get(i, "/debug/mesh")
        assert r.status == 200, r.status_line
        doc = json.loads(r.body)
        return {p["peer"].split(":")[0]: p for p in doc["peers"]}, doc

    def metrics(self, i):
        r = self.get(i, "/metrics")
        assert r.status == 200, r.status_line
        return Metrics(r.text())

    def route(self, i, pub):
        """Relay i's /debug/route for a key: the JSON, or None if unknown."""
        r = self.get(i, f"/debug/route?key=nodekey:{bytes(pub).hex()}")
        if r.status == 404:
            return None
        assert r.status == 200, f"/debug/route: {r.status_line} {r.body!r}"
        return json.loads(r.body)

    def wait(self, cond, what, timeout=15.0):
        deadline = time.monotonic() + timeout
        while True:
            got = cond()
            if got:
                return got
            if time.monotonic() > deadline:
                pytest.fail(f"{what}: not within {timeout}s")
            time.sleep(0.05)

    def wait_meshed(self, relays=None, timeout=15.0):
        """Every running relay's link to every other is up (and to itself,
        recognised by its key, unused)."""
        relays = range(len(self.relays)) if relays is None else relays

        def meshed():
            for i in relays:
                peers, _ = self.mesh(i)
                for j in relays:
                    want = "self" if i == j else "up"
                    if peers[self.names[j]]["state"] != want:
                        return False
            return True
        self.wait(meshed, f"relays {list(relays)} meshed", timeout)

    def wait_via(self, i, pub, j, timeout=10.0):
        """Relay i routes key pub through its link to relay j."""
        want = f"{self.names[j]}:{self.ports[j]}"
        self.wait(lambda: (self.route(i, pub) or {}).get("via") == want,
                  f"relay {i + 1} routes {bytes(pub).hex()[:8]} via {self.names[j]}",
                  timeout)

    def wait_unknown(self, i, pub, timeout=10.0):
        self.wait(lambda: self.route(i, pub) is None,
                  f"relay {i + 1} forgets {bytes(pub).hex()[:8]}", timeout)

    def client(self, connect, i, worker=None, **kw):
        """A logged-in client of relay i, over TLS, on `worker` if given."""
        return connect(self.relays[i], worker=worker, **self.tls(i), **kw)


def recv_packet_from(client, src, timeout=10.0):
    """The next RecvPacket from src; PeerGone and keepalives on the way are
    skipped (a key that moves may be PeerGone for a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        ftype, payload = client.recv_frame(max(deadline - time.monotonic(), 0.001))
        if ftype == PING:
            client.send_frame(PONG, payload[:8])
        elif ftype == RECV_PACKET and payload[:32] == bytes(src):
            return payload[32:]
        elif ftype not in (KEEP_ALIVE, PEER_GONE, RECV_PACKET):
            raise AssertionError(f"unexpected frame {ftype:#04x}")
