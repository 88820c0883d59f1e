#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""make bench: start derpd (TLS, 2 workers) on loopback, run derpbench over a
standard matrix and print one table; then two relays meshed with each other
(-mesh-with), 32 pairs each split across them, against the same pairs on
one relay.  Standard library only.

Environment: BENCH_SECONDS (seconds per throughput run, default 5),
BENCH_IDLE (idle clients, default 10000), BENCH_OUT (also write the table
to this file).
"""
import json
import os
import platform
import re
import resource
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DERPD = Path(os.environ.get("DERPD_BIN", REPO / "build" / "derpd"))
KEYGEN = Path(os.environ.get("DERPD_KEYGEN", REPO / "build" / "derpd-keygen"))
BENCH = Path(os.environ.get("DERPBENCH", REPO / "build" / "derpbench"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
IDLE = int(os.environ.get("BENCH_IDLE", "10000"))
WORKERS = 2
SIZES = (100, 1024, 16384)
PAIRS = (1, 32)
PLACEMENTS = ("same", "cross")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_nofile():
    """derpd and derpbench inherit this: 10,000 clients need 10,000+ fds."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < IDLE + 256:
        print(f"warning: RLIMIT_NOFILE hard limit {hard} < {IDLE + 256}", file=sys.stderr)


class Server:
    """One derpd with a throwaway key and self-signed certificate for 127.0.0.1."""

    def __init__(self, tmp, name, port=None, extra_args=(), key="derpd.key"):
        self.tmp = Path(tmp)
        self.port = port or free_port()
        certs = self.tmp / "certs"
        if not certs.exists():
            certs.mkdir()
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                 "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                 "-keyout", str(certs / "127.0.0.1.key"),
                 "-out", str(certs / "127.0.0.1.crt")],
                check=True, capture_output=True, timeout=60)
            os.chmod(certs / "127.0.0.1.key", 0o600)
            subprocess.run([str(KEYGEN), str(self.tmp / "derpd.key")], check=True,
                           capture_output=True, timeout=30)
        if not (self.tmp / key).exists():
            subprocess.run([str(KEYGEN), str(self.tmp / key)], check=True,
                           capture_output=True, timeout=30)
        args = [str(DERPD), "-a", f"127.0.0.1:{self.port}", "-c", str(self.tmp / key),
                "-workers", str(WORKERS), "-stun=false", "-http-port=-1",
                "-certmode", "manual", "-certdir", str(certs), "-hostname", "127.0.0.1",
                # derpbench puts pairs on the same or different workers by port
                "-placement", "source-port"]
        if os.geteuid() == 0:
            args += ["-user", "nobody"]
        args += list(extra_args)
        self.log_path = self.tmp / f"derpd-{name}.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 20
        while len(set(re.findall(r"\[worker (\d+)\]: ready", self.log_text()))) < WORKERS:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                sys.exit(f"derpd did not start:\n{self.log_text()}")
            time.sleep(0.05)
        self.url = f"https://127.0.0.1:{self.port}"
        self.started = time.monotonic()

    def log_text(self):
        return self.log_path.read_text(errors="replace")

    def metrics(self):
        """derpd's counters (Prometheus text) as {name{labels}: value}."""
        ctx = ssl.create_default_context(cafile=str(self.tmp / "certs" / "127.0.0.1.crt"))
        with urllib.request.urlopen(self.url + "/metrics", context=ctx, timeout=10) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                try:
                    out[name] = float(value)
                except ValueError:
                    pass
        return out

    def drops(self):
        return sum(v for k, v in self.metrics().items()
                   if k.startswith("derp_packets_dropped"))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(5)
        self.log.close()


def derpbench(server, *args, timeout=120, rx=None):
    cmd = [str(BENCH), "-j", "-k", "-W", str(WORKERS), "-p", str(server.proc.pid),
           *map(str, args)]
    if rx is not None:     # receivers on a meshed relay
        cmd += ["--rx-url", rx.url, "--rx-pid", str(rx.proc.pid), "--settle", "0.5"]
    cmd.append(server.url)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0 or not r.stdout.strip():
        sys.exit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr}\n"
                 f"derpd log tail:\n{server.log_text()[-3000:]}")
    return json.loads(r.stdout)


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    ossl = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
    return (f"{cpu}, {os.cpu_count()} CPUs, {mem:.0f} GiB, Linux {platform.release()}, "
            f"{ossl}")


def dropped(relays):
    """derp_packets_dropped by reason, summed over the relays."""
    out = {}
    for r in relays:
        for k, v in r.metrics().items():
            m = re.fullmatch(r'derp_packets_dropped\{reason="([^"]+)"\}', k)
            if m:
                out[m.group(1)] = out.get(m.group(1), 0) + v
    return out


def mesh_rows(tmp, lines):
    """Two relays meshed over TLS on loopback: 32 pairs with every sender on
    the first and every receiver on the second, so each packet is forwarded
    once; then the same 32 pairs on the first alone."""
    key = Path(tmp) / "mesh.key"
    key.write_text(os.urandom(32).hex() + "\n")
    os.chmod(key, 0o600)
    ports = [free_port(), free_port()]
    mesh = ["-mesh-psk-file", str(key), "-mesh-ca-file",
            str(Path(tmp) / "certs" / "127.0.0.1.crt"),
            "-mesh-with", ",".join(f"127.0.0.1:{p}" for p in ports)]
    relays = [Server(tmp, f"mesh{i}", port=p, extra_args=mesh, key=f"mesh{i}.key")
              for i, p in enumerate(ports)]
    try:
        deadline = time.monotonic() + 20
        while not all(r.metrics().get(f'derpd_mesh_peer_up{{peer="127.0.0.1:{p}"}}') == 1
                      for r in relays for p in ports if p != r.port):
            if time.monotonic() > deadline:
                sys.exit("the relays did not mesh:\n" + relays[0].log_text())
            time.sleep(0.1)
        drops0 = dropped(relays)
        meshed = derpbench(relays[0], "-P", 32, "-s", 1024, "-d", SECONDS, rx=relays[1])
        meshed["drops"] = {k: v - drops0.get(k, 0) for k, v in dropped(relays).items()
                           if v > drops0.get(k, 0)}
        one = derpbench(relays[0], "-P", 32, "-s", 1024, "-d", SECONDS)
    finally:
        for r in relays:
            r.stop()
    for what, r in (("2 meshed relays", meshed), ("1 relay", one)):
        lines.append(f"{what:>15}, 32 pairs, 1 KiB: {r['pps']:.0f} packets/s, "
                     f"delivered {r['delivery_pct']:.3f} %, "
                     f"{'in order' if r['reordered'] == 0 else 'REORDERED'}, "
                     f"p50 {r['lat_p50_us']:.0f} us, p99 {r['lat_p99_us']:.0f} us, "
                     f"server CPU {r['server_cpu_ns_per_pkt'] / 1000:.2f} us/packet "
                     f"(all relays)" + (f"; drops {r['drops']}" if r.get("drops") else ""))


def respawn_ms(server, worker):
    """kill -9 of a worker that ran long enough to restart at once, to its
    successor's "ready" in the log, in ms (the log polled every 0.2 ms)."""
    text = server.log_text()
    pid = int(re.findall(rf"worker {worker} started, pid (\d+)", text)[-1])
    before = len(re.findall(rf"\[worker {worker}\]: ready", text))
    t0 = time.monotonic()
    os.kill(pid, 9)
    while len(re.findall(rf"\[worker {worker}\]: ready", server.log_text())) == before:
        if time.monotonic() - t0 > 10:
            sys.exit(f"worker {worker} did not come back:\n{server.log_text()[-3000:]}")
        time.sleep(0.0002)
    return (time.monotonic() - t0) * 1000


def respawn_row(server):
    # Workers that lived 10 s restart at once (master/supervise.c), else
    # after a back-off that this would measure instead.
    time.sleep(max(0.0, server.started + 10.5 - time.monotonic()))
    times = [respawn_ms(server, w) for w in range(WORKERS)]
    return ("worker respawn (kill -9 to the new worker's ready, each worker once): " +
            ", ".join(f"{t:.0f} ms" for t in times))


def fmt_size(n):
    return f"{n // 1024} KiB" if n >= 1024 else f"{n} B"


def main():
    for p in (DERPD, KEYGEN, BENCH):
        if not os.access(p, os.X_OK):
            sys.exit(f"{p} missing: run make all build/derpbench")
    raise_nofile()
    lines = [f"derpd {WORKERS} workers, TLS, loopback; derpbench 1 thread, "
             f"{SECONDS:g} s per run; {machine()}", ""]
    t0 = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="derpd-bench-")
    try:
        # Memory first, on a fresh server, so no earlier run's freed memory hides it.
        srv = Server(tmp, "idle")
        try:
            idle = derpbench(srv, "-m", "idle", "-N", IDLE, "-c", 128, timeout=240)
        finally:
            srv.stop()
        srv = Server(tmp, "run")
        try:
            rows = []
            hdr = (f"{'size':>7} {'pairs':>5} {'worker':>6} {'packets/s':>10} {'MB/s':>8} "
                   f"{'delivered':>10} {'in order':>8} {'p50 us':>7} {'p99 us':>7} "
                   f"{'p99.9 us':>8} {'srv CPU us/pkt':>14}")
            lines += [hdr, "-" * len(hdr)]
            for size in SIZES:
                for pairs in PAIRS:
                    for place in PLACEMENTS:
                        r = derpbench(srv, "-P", pairs, "-s", size, "-x", place,
                                      "-d", SECONDS)
                        rows.append(r)
                        lines.append(
                            f"{fmt_size(size):>7} {pairs:>5} {place:>6} {r['pps']:>10.0f} "
                            f"{r['mbps']:>8.1f} {r['delivery_pct']:>9.3f}% "
                            f"{'yes' if r['reordered'] == 0 else 'NO':>8} "
                            f"{r['lat_p50_us']:>7.0f} {r['lat_p99_us']:>7.0f} "
                            f"{r['lat_p999_us']:>8.0f} "
                            f"{r['server_cpu_ns_per_pkt'] / 1000:>14.2f}")
            lines.append("")
            for pairs in PAIRS:
                same = next(r for r in rows if r["size"] == 1024 and r["pairs"] == pairs
                            and r["placement"] == "same")
                cross = next(r for r in rows if r["size"] == 1024 and r["pairs"] == pairs
                             and r["placement"] == "cross")
                slower = 100 * (1 - cross["pps"] / same["pps"]) if same["pps"] else 0
                cpu = (100 * (cross["server_cpu_ns_per_pkt"] / same["server_cpu_ns_per_pkt"] - 1)
                       if same["server_cpu_ns_per_pkt"] else 0)
                lines.append(f"cross-worker vs same-worker at 1 KiB, {pairs} pair(s): "
                             f"{slower:+.1f} % slower (bar: <= 15 %), "
                             f"{cpu:+.1f} % server CPU per packet")
            drops0 = srv.drops()
            ov = derpbench(srv, "-P", 32, "-s", 1024, "-x", "cross", "-w", 0, "-d", SECONDS)
            drops = srv.drops() - drops0
            lines.append(
                f"overload (32 pairs, 1 KiB, no window, cross-worker): sent {ov['sent']}, "
                f"delivered {ov['delivery_pct']:.2f} %, lost {ov['lost']} "
                f"(derpd counted {drops:.0f} drops), reordered {ov['reordered']}, "
                f"server peak RSS {ov['peak_rss_kib'] / 1024:.0f} MiB")
            hs = derpbench(srv, "-m", "handshake", "-c", 32, "-d", SECONDS)
            lines.append(f"TLS logins (connect to ServerInfo, 32 at a time): "
                         f"{hs['per_sec']:.0f}/s, p50 {hs['login_p50_ms']:.1f} ms, "
                         f"p99 {hs['login_p99_ms']:.1f} ms, {hs['failed']} failed")
            lines.append(respawn_row(srv))
        finally:
            srv.stop()
        mesh_rows(tmp, lines)
        lines.append(
            f"idle TLS clients: {idle['logged_in']} of {idle['clients']} logged in; "
            f"server memory per client: RSS {idle['rss_per_client'] / 1024:.1f} KiB, "
            f"PSS {idle['pss_per_client'] / 1024:.1f} KiB (bar: <= 16 KiB), "
            f"{idle['procs']} processes")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lines.append(f"(took {time.monotonic() - t0:.0f} s)")
    text = "\n".join(lines)
    print(text)
    if os.environ.get("BENCH_OUT"):
        Path(os.environ["BENCH_OUT"]).write_text(text + "\n")


if __name__ == "__main__":
    main()
