# SPDX-License-Identifier: BSD-3-Clause
"""-mesh-client-cert/-mesh-client-key: a region whose relays all require a
client certificate (-client-ca) still meshes, because each relay's links
present one; the certificate's key is read by the key process only, which
signs the links' TLS 1.3 client CertificateVerify and nothing else with it.
Without the flags the same region cannot mesh."""
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import free_port
from derp_helpers import exchange, write_mesh_key
from procfs import derpd_pids, scan_memory
from region import MeshCA, Region
from test_tls_key import key_needles


def test_links_present_the_client_certificate(derp_server, keygen_bin, tmp_path,
                                              connect):
    r = Region(derp_server, keygen_bin, tmp_path, n=2, mesh_client_cert=True)
    r.wait_meshed()
    a = r.client(connect, 0)
    b = r.client(connect, 1)
    r.wait_via(0, b.pub, 1)
    r.wait_via(1, a.pub, 0)
    exchange(a, b)
    exchange(b, a)


def test_without_it_the_links_are_refused(derp_server, keygen_bin, tmp_path):
    """The same gate, no client certificate on the links: they never come up,
    and each relay counts the handshakes it refused."""
    r = Region(derp_server, keygen_bin, tmp_path, n=2, client_ca=True)
    time.sleep(3)
    for i in range(2):
        peers, _ = r.mesh(i)
        assert peers[r.names[1 - i]]["state"] != "up", peers
    assert any(r.metrics(i)("derpd_client_cert_failures_total", reason="missing") > 0
               for i in range(2))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: reading other processes' memory")
def test_the_client_key_is_only_in_the_key_process(derp_server, keygen_bin, tmp_path,
                                                   connect):
    r = Region(derp_server, keygen_bin, tmp_path, n=2, mesh_client_cert=True)
    r.wait_meshed()
    needles = key_needles(Path(r.client_cert[1]))
    pids = derpd_pids(r.relays[0])
    assert {"master", "key", "worker 0", "worker 1"} <= set(pids)
    for role, pid in pids.items():
        hits, _ = scan_memory(pid, needles.values())
        found = {name for name, n in needles.items() if hits[n]}
        if role == "key":
            assert found & {"secret-be", "secret-le"}, "the scan missed the key"
        else:
            assert not found, f"{role} (pid {pid}) holds the mesh client key: {found}"


@pytest.mark.parametrize("flags,message", [
    (["-mesh-client-cert", "{crt}"], "-mesh-client-cert and -mesh-client-key go together"),
    (["-mesh-client-cert", "{crt}", "-mesh-client-key", "{key}", "-mesh-with", ""],
     "-mesh-client-cert needs -mesh-with"),
    (["-mesh-client-cert", "{crt}", "-mesh-client-key", "{other}"],
     "-mesh-client-key: the TLS key does not match the certificate"),
])
def test_settings_that_cannot_work_are_refused(derpd_bin, keygen_bin, tmp_path, flags,
                                               message):
    ca = MeshCA(tmp_path / "pki")
    d, other = ca.certdir("client.test"), ca.certdir("other.test")
    paths = {"crt": d / "client.test.crt", "key": d / "client.test.key",
             "other": other / "other.test.key"}
    keyfile = tmp_path / "derp.key"
    subprocess.run([keygen_bin, str(keyfile)], check=True, capture_output=True)
    write_mesh_key(tmp_path / "mesh.key", None)
    args = [derpd_bin, "-c", str(keyfile), "-a", f"127.0.0.1:{free_port()}",
            "-stun=false", "-http-port=-1", "-mesh-psk-file", str(tmp_path / "mesh.key"),
            "-mesh-with", f"derp1.test:{free_port()}/127.0.0.1",
            "-mesh-ca-file", str(ca.crt)]
    args += [f.format(**paths) for f in flags]
    out = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert message in out.stderr, out.stderr
