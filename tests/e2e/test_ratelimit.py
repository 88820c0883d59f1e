# SPDX-License-Identifier: BSD-3-Clause
"""-rate-config (derper's flag): a JSON file {"PerClientRateLimitBytesPerSec",
"PerClientRateBurstBytes"} limits what each non-mesh client may send, and
ServerInfo tells the client its token bucket (derp.ServerInfo's
TokenBucketBytesPerSecond/TokenBucketBytesBurst, which derp.Client obeys).
The burst is raised to at least one full frame (MaxPacketSize + KeyLen); a
zero rate turns limiting off; SIGHUP reloads the file."""
import json
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from derp_client import client_info
from derp_helpers import exchange, varz, wait_metric, write_mesh_key

MIN_BURST = 64 * 1024 + 32      # derpserver.minRateLimitTokenBucketSize
WAITED = "derp_rate_limit_per_client_waited"


def write_rate_config(path, **fields):
    path.write_text(json.dumps(fields))
    path.chmod(0o644)
    return path


@pytest.fixture
def conf_dir():
    """A directory the unprivileged master (-user nobody) can read: SIGHUP
    rereads -rate-config after the privilege drop."""
    with tempfile.TemporaryDirectory(prefix="derpd-rate-") as d:
        os.chmod(d, 0o755)
        yield Path(d)


def rate_server(derp_server, tmp_path, extra_args=(), **fields):
    conf = write_rate_config(tmp_path / "rate.json", **fields)
    return derp_server(workers=2, extra_args=["-rate-config", conf, *extra_args]), conf


@pytest.mark.parametrize("bps,burst,want_burst", [
    (100000, 200000, 200000),
    (100000, 1000, MIN_BURST),          # raised to one full frame
    (100000, None, MIN_BURST),          # absent is zero, raised likewise
])
def test_server_info_carries_token_bucket(derp_server, connect, tmp_path,
                                          bps, burst, want_burst):
    fields = {"PerClientRateLimitBytesPerSec": bps}
    if burst is not None:
        fields["PerClientRateBurstBytes"] = burst
    srv, _ = rate_server(derp_server, tmp_path, **fields)
    for w in (0, 1):
        c = connect(srv, worker=w)
        assert c.server_info == {"version": 2, "TokenBucketBytesPerSecond": bps,
                                 "TokenBucketBytesBurst": want_burst}
    v = varz(srv)
    assert v["derp_rate_limit_per_client_bytes_per_second"] == bps
    assert v["derp_rate_limit_per_client_burst_bytes"] == want_burst


def test_zero_rate_means_no_limit(derp_server, connect, tmp_path):
    """A zero rate disables limiting: ServerInfo is plain {"version": 2}."""
    srv, _ = rate_server(derp_server, tmp_path, PerClientRateLimitBytesPerSec=0,
                         PerClientRateBurstBytes=500000)
    assert connect(srv, worker=0).server_info == {"version": 2}


def test_mesh_clients_are_exempt(derp_server, connect, tmp_path):
    """Mesh peers are never rate limited, so their ServerInfo has no bucket;
    a client with a wrong mesh key is an ordinary, limited client."""
    key = write_mesh_key(tmp_path / "mesh.key")
    srv, _ = rate_server(derp_server, tmp_path,
                         extra_args=["-mesh-psk-file", tmp_path / "mesh.key"],
                         PerClientRateLimitBytesPerSec=100000)
    m = connect(srv, worker=0, info=client_info(mesh_key=key))
    assert m.server_info == {"version": 2}
    wrong = connect(srv, worker=1, info=client_info(mesh_key=os.urandom(32)))
    assert wrong.server_info["TokenBucketBytesPerSecond"] == 100000


def test_sighup_reloads_rate_config(derp_server, connect, conf_dir):
    """SIGHUP rereads the file; clients that log in afterwards are told the
    new bucket.  A file that no longer parses keeps the old values."""
    srv, conf = rate_server(derp_server, conf_dir, PerClientRateLimitBytesPerSec=100000,
                            PerClientRateBurstBytes=200000)
    before = connect(srv, worker=0)
    assert before.server_info["TokenBucketBytesPerSecond"] == 100000

    write_rate_config(conf, PerClientRateLimitBytesPerSec=300000,
                      PerClientRateBurstBytes=400000)
    mark = srv.log_mark()
    os.kill(srv.pid, signal.SIGHUP)
    srv.wait_log(r"rate config applied: client-rate=300000 bytes/sec, "
                 r"client-burst=400000 bytes", since=mark)
    for w in (0, 1):
        assert connect(srv, worker=w).server_info == {
            "version": 2, "TokenBucketBytesPerSecond": 300000,
            "TokenBucketBytesBurst": 400000}

    conf.write_text("{not json")
    mark = srv.log_mark()
    os.kill(srv.pid, signal.SIGHUP)
    srv.wait_log(r"rate config .*rate\.json: .*line 1", since=mark)
    assert connect(srv, worker=1).server_info["TokenBucketBytesPerSecond"] == 300000

    write_rate_config(conf, PerClientRateLimitBytesPerSec=0)
    mark = srv.log_mark()
    os.kill(srv.pid, signal.SIGHUP)
    srv.wait_log(r"rate config applied: client-rate=0 bytes/sec", since=mark)
    assert connect(srv, worker=0).server_info == {"version": 2}
    exchange(before, connect(srv, worker=1))


def test_bad_rate_config_refused_at_start(derpd_bin, keyfile, tmp_path):
    """derper: log.Fatalf("loading rate config") for a file that does not parse."""
    from conftest import free_port
    conf = tmp_path / "rate.json"
    conf.write_text('{"PerClientRateLimitBytesPerSec": "fast"}')
    args = [derpd_bin, "-a", f"127.0.0.1:{free_port()}", "-c", str(keyfile),
            "-workers", "1", "-stun=false", "-http-port=-1", "-rate-config", str(conf)]
    if os.geteuid() == 0:
        args += ["-user", "nobody"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=20,
                         start_new_session=True)
    assert out.returncode != 0
    assert "rate-config" in out.stderr or "rate config" in out.stderr, out.stderr


def test_sender_over_its_rate_is_slowed_not_dropped(derp_server, connect, tmp_path):
    """A client that sends more than its burst waits for tokens (the server
    stops reading it; derp_rate_limit_per_client_waited counts it), and every
    packet still arrives intact.  A mesh client is not limited."""
    key = write_mesh_key(tmp_path / "mesh.key")
    rate = 100000
    srv, _ = rate_server(derp_server, tmp_path,
                         extra_args=["-mesh-psk-file", tmp_path / "mesh.key"],
                         PerClientRateLimitBytesPerSec=rate)
    a, b = connect(srv, worker=0), connect(srv, worker=1)
    packets = [os.urandom(64 * 1024) for _ in range(4)]
    start = time.monotonic()
    for p in packets:
        a.send_packet(b.pub, p)
    for p in packets:
        assert b.recv_packet(timeout=30) == (a.pub, p)
    elapsed = time.monotonic() - start
    # 4 frames of 65568 bytes against a 65568-byte burst: 3 frames' worth
    # must wait for refill at `rate` (a lower bound: load only adds to it).
    assert elapsed >= 3 * MIN_BURST / rate * 0.9, f"took only {elapsed:.2f}s"
    waited = wait_metric(srv, WAITED, lambda v: v >= 1)

    m = connect(srv, worker=0, info=client_info(mesh_key=key))
    for p in packets:
        m.send_packet(b.pub, p)
    for p in packets:
        assert b.recv_packet(timeout=30) == (m.pub, p)
    assert varz(srv)[WAITED] == waited, "a mesh client was rate limited"


def test_every_frame_counts_against_the_rate(derp_server, connect, tmp_path):
    """derper charges each frame's length before handling it, whatever its
    type: frames it skips still cost (at most one full frame each), so a
    Ping behind four 64 KiB unknown frames is answered only once the bucket
    has refilled for three of them."""
    rate = 100000
    srv, _ = rate_server(derp_server, tmp_path, PerClientRateLimitBytesPerSec=rate)
    a = connect(srv, worker=1)
    start = time.monotonic()
    for _ in range(4):
        a.send_frame(0x7F, bytes(MIN_BURST))
    assert a.ping(b"afterjnk", timeout=30) == b"afterjnk"
    elapsed = time.monotonic() - start
    assert elapsed >= 3 * MIN_BURST / rate * 0.9, f"took only {elapsed:.2f}s"
    wait_metric(srv, WAITED, lambda v: v >= 1)
