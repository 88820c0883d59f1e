# SPDX-License-Identifier: BSD-3-Clause
"""The load generator (bench/, build/derpbench) still works: short runs
against a real derpd, checked against what the generator must report."""
import pytest

from derp_helpers import run_bench


@pytest.mark.parametrize("placement", ["same", "cross"])
def test_two_pairs_plain_all_delivered_in_order(derp_server, derpbench_bin, placement):
    srv = derp_server(workers=2)
    rc, rep, err = run_bench(derpbench_bin, "-P", 2, "-n", 3000, "-d", 60, "-s", 200,
                             "-x", placement, "-W", 2, "--strict", "-p", srv.pid,
                             f"http://127.0.0.1:{srv.port}")
    assert rc == 0, err
    assert rep["mode"] == "throughput" and rep["pairs"] == 2 and rep["size"] == 200
    assert rep["sent"] == 6000 and rep["received"] == 6000
    assert rep["delivery_pct"] == 100.0 and rep["min_pair_delivery_pct"] == 100.0
    assert rep["lost"] == 0 and rep["reordered"] == 0 and rep["foreign"] == 0
    assert rep["pps"] > 0 and 0 < rep["lat_p50_us"] <= rep["lat_p99_us"] <= rep["lat_p999_us"]
    assert rep["peak_rss_kib"] > 0      # it found and read derpd's processes


def test_derpd_counts_what_the_generator_sent(derp_server, derpbench_bin):
    """The server's own counters agree with the generator's report."""
    from derp_client import http_get
    srv = derp_server(workers=2)
    rc, rep, err = run_bench(derpbench_bin, "-P", 2, "-n", 500, "-d", 60, "-x", "cross",
                             "--strict", f"http://127.0.0.1:{srv.port}")
    assert rc == 0, err
    _, _, body = http_get("127.0.0.1", srv.port, "/metrics")
    metrics = dict(line.rsplit(" ", 1) for line in body.decode().splitlines()
                   if line and not line.startswith("#"))
    assert int(float(metrics["derp_packets_received"])) == rep["sent"] == 1000
    assert int(float(metrics["derp_packets_sent"])) == rep["received"] == 1000


def test_tls_with_verification(tls_server, derpbench_bin):
    srv, cafile = tls_server
    url = f"https://127.0.0.1:{srv.port}"
    rc, rep, err = run_bench(derpbench_bin, "-P", 2, "-n", 500, "-d", 60, "--strict",
                             "--cafile", cafile, "--servername", "derp.test", url)
    assert rc == 0, err
    assert rep["tls"] == 1 and rep["received"] == rep["sent"] == 1000
    # Without the CA the self-signed certificate is refused, and it says so.
    rc, rep, err = run_bench(derpbench_bin, "-P", 1, "-n", 10, "--servername", "derp.test", url)
    assert rc == 1 and rep is None
    assert "certificate" in err


def test_idle_and_handshake_modes(derp_server, derpbench_bin):
    srv = derp_server(workers=2)
    url = f"http://127.0.0.1:{srv.port}"
    rc, rep, err = run_bench(derpbench_bin, "-m", "idle", "-N", 50, "-p", srv.pid, url)
    assert rc == 0, err
    assert rep["logged_in"] == 50 and rep["failed"] == 0
    assert rep["procs"] >= 1 + srv.workers       # master, workers (and helpers)
    assert rep["rss_kib"] > 0 and rep["pss_kib"] > 0
    rc, rep, err = run_bench(derpbench_bin, "-m", "handshake", "-c", 4, "-d", 1, url)
    assert rc == 0, err
    assert rep["logins"] > 0 and rep["failed"] == 0


def test_fails_when_nobody_listens(derpbench_bin):
    from conftest import free_port
    rc, rep, err = run_bench(derpbench_bin, "-P", 1, "-n", 10,
                             f"http://127.0.0.1:{free_port()}", timeout=60)
    assert rc == 1 and rep is None
    assert "refused" in err.lower()
