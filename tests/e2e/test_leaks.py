# SPDX-License-Identifier: BSD-3-Clause
"""LeakSanitizer runs in every process of the ASan build, inside its
sandbox (common/sandbox.c keeps an ASan-only list of what LSan's exit-time
check needs): a block each role loses on purpose (DERPD_TEST_LEAK, a hook
of the ASan build only) is reported when that process exits, so any real
leak would be too (conftest fails a test on any sanitizer report). Runs in
`make test-asan`; the production build has neither hook nor report."""
import os
import re

import pytest

from conftest import free_port
from derp_helpers import write_mesh_key
from verify_standins import open_dir  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(os.environ.get("DERPD_ASAN") != "1",
                                reason="the ASan build's LeakSanitizer (make test-asan)")

ROLE_LOG = {"worker": r"worker 0", "key": r"key process", "stun": r"STUN server",
            "dns": r"bootstrap DNS resolver", "verify": r"verifier", "acme": r"ACME client",
            "mesh-dialer": r"mesh dialer"}


@pytest.mark.parametrize("role", sorted(ROLE_LOG))
def test_leak_in_each_role_is_reported(derp_server, tls_certdir, open_dir, role):
    certdir, crt = tls_certdir
    acme = ["-certmode", "letsencrypt", "-hostname", "derp.test", "-certdir",
            certdir / "acme", "-acme-ca-file", crt,
            "-acme-directory", f"https://127.0.0.1:{free_port()}/dir"] if role == "acme" else []
    mesh = []
    if role == "mesh-dialer":
        write_mesh_key(open_dir / "mesh.key")
        mesh = ["-mesh-with", f"derp1.test:{free_port()}/127.0.0.1",
                "-mesh-psk-file", open_dir / "mesh.key", "-mesh-ca-file", crt]
    (open_dir / "allow").write_text("")      # -allow-keys: a verifier too
    srv = derp_server(workers=1, env={"DERPD_TEST_LEAK": role}, extra_args=[
        "-stun=true", "-stun-port", str(free_port()), "-bootstrap-dns-names", "localhost",
        "-allow-keys", open_dir / "allow", *acme, *mesh])
    srv.expect_sanitizer = True
    pid = int(srv.wait_log(rf"{ROLE_LOG[role]} started, pid (\d+)").group(1))
    from procfs import wait_sandboxed
    assert wait_sandboxed(pid)["Seccomp"] == "2"
    srv.stop()
    log = srv.log_text()
    report = re.search(rf"=={pid}==ERROR: LeakSanitizer: detected memory leaks.*?"
                       r"SUMMARY: AddressSanitizer: (\d+) byte", log, re.S)
    assert report, log
    assert report.group(1) == "4242", log
    assert "leak_for_test" in report.group(0)
    # Only that process leaked, and it was not killed by its sandbox on the way.
    assert len(re.findall(r"ERROR: LeakSanitizer", log)) == 1, log
    assert "seccomp policy violation" not in log, log
