#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""make bench: derpd (TLS, 2 workers) on loopback, measured by derpbench
over a standard matrix beside a BASELINE: the same matrix against derpd
built from a named commit (BENCH_BASELINE, default ec08114), both servers
up at once and their runs interleaved, so that every ratio comes from one
run on one (noisy, shared) machine.  Then logins (ECDSA P-256 and
RSA-2048 certificates), the spread of -placement hash over workers, two
relays meshed with each other, and memory per idle TLS client.
Standard library only.

Environment: BENCH_SECONDS (seconds per throughput run, default 3),
BENCH_IDLE (idle clients, default 10000), BENCH_BASELINE (a commit, or
"none"), BENCH_OUT (also write the table to this file).
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
TLSMEM = REPO / "build" / "tlsmem"
SECONDS = float(os.environ.get("BENCH_SECONDS", "3"))
IDLE = int(os.environ.get("BENCH_IDLE", "10000"))
BASELINE = os.environ.get("BENCH_BASELINE", "ec08114")
WORKERS = 2
# (size, pairs, placement, window; 0: derpbench's default)
MATRIX = [(size, pairs, place, 0) for size in (100, 1024, 16384) for pairs in (1, 32)
          for place in ("same", "cross")]
# Large packets, deep window: 16 x 64 KiB in flight a pair (a Go client's burst).
MATRIX += [(65536, pairs, place, 16) for pairs in (1, 4) for place in ("same", "cross")]
PLACEMENT_CONNS = 4000


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

    def __init__(self, tmp, name, port=None, extra_args=(), key="derpd.key",
                 derpd=None, workers=WORKERS, cert="ec", placement="source-port"):
        self.tmp = Path(tmp)
        self.port = port or free_port()
        self.workers = workers
        certs = self.tmp / ("certs" if cert == "ec" else f"certs-{cert}")
        if not certs.exists():
            certs.mkdir()
            newkey = (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
                      if cert == "ec" else ["-newkey", "rsa:2048"])
            subprocess.run(
                ["openssl", "req", "-x509", *newkey, "-nodes", "-days", "2",
                 "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                 "-keyout", str(certs / "127.0.0.1.key"),
                 "-out", str(certs / "127.0.0.1.crt")],
                check=True, capture_output=True, timeout=60)
            os.chmod(certs / "127.0.0.1.key", 0o600)
        self.cafile = certs / "127.0.0.1.crt"
        if not (self.tmp / key).exists():
            subprocess.run([str(KEYGEN), str(self.tmp / key)], check=True,
                           capture_output=True, timeout=30)
        args = [str(derpd or DERPD), "-a", f"127.0.0.1:{self.port}",
                "-c", str(self.tmp / key),
                "-workers", str(workers), "-stun=false", "-http-port=-1",
                "-certmode", "manual", "-certdir", str(certs), "-hostname", "127.0.0.1",
                # derpbench puts pairs on the same or different workers by port
                "-placement", placement]
        if os.geteuid() == 0:
            args += ["-user", "nobody"]
        args += list(extra_args)
        self.log_path = self.tmp / f"derpd-{name}.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 20
        while len(set(re.findall(r"\[worker (\d+)\]: ready", self.log_text()))) < workers:
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
        ctx = ssl.create_default_context(cafile=str(self.cafile))
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


def build_baseline(notes):
    """derpd and derpd-keygen built from BASELINE's source (git archive, so
    the checkout is untouched) into build/baseline-SHA, kept for the next
    run; None, with a note, if there is no such commit here."""
    if BASELINE in ("", "none"):
        return None
    r = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--verify", "-q",
                        f"{BASELINE}^{{commit}}"], capture_output=True, text=True)
    if r.returncode != 0:
        notes.append(f"baseline {BASELINE}: not in this checkout's history "
                     "(a shallow clone?); no baseline column")
        return None
    sha = r.stdout.strip()
    dest = REPO / "build" / f"baseline-{sha[:12]}"
    binary = dest / "build" / "derpd"
    if not os.access(binary, os.X_OK):
        work = dest.with_name(dest.name + ".tmp")
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        archive = subprocess.Popen(["git", "-C", str(REPO), "archive", sha],
                                   stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", str(work)], stdin=archive.stdout, check=True)
        archive.stdout.close()
        if archive.wait() != 0:
            sys.exit(f"git archive {sha} failed")
        b = subprocess.run(["make", "-C", str(work), f"-j{os.cpu_count() or 2}",
                            "build/derpd", "build/derpd-keygen"],
                           capture_output=True, text=True, timeout=600)
        if b.returncode != 0:
            notes.append(f"baseline {BASELINE}: does not build here; no baseline column")
            print(b.stdout[-2000:] + b.stderr[-2000:], file=sys.stderr)
            return None
        shutil.rmtree(dest, ignore_errors=True)
        work.rename(dest)
    return dest / "build" / "derpd", sha[:12]


def tput(server, size, pairs, place, window, *extra):
    args = ["-P", pairs, "-s", size, "-x", place, "-d", SECONDS, *extra]
    if window:
        args += ["-w", window]
    return derpbench(server, *args)


def pct(new, old):
    return 100 * (new / old - 1) if old else 0.0


def matrix(cur, base, lines):
    """Every cell against both servers, interleaved (the order alternating),
    so that machine load hits both alike.  Returns {cell: (cur, base)}."""
    hdr = (f"{'size':>6} {'pairs':>5} {'worker':>6} {'window':>6} | {'packets/s':>9} "
           f"{'(base)':>8} | {'delivered':>9} {'order':>5} | {'p50 us':>7} {'p99 us':>7} "
           f"{'(base)':>7} {'p99.9 us':>8} | {'pair p99 us lo-hi':>17} | "
           f"{'CPU us/pkt':>10} {'(base)':>6} {'diff':>6}")
    lines += [hdr, "-" * len(hdr)]
    out = {}
    for n, cell in enumerate(MATRIX):
        size, pairs, place, window = cell
        if base is None:
            c, b = tput(cur, *cell), None
        elif n % 2 == 0:
            b = tput(base, *cell)
            c = tput(cur, *cell)
        else:
            c = tput(cur, *cell)
            b = tput(base, *cell)
        out[cell] = (c, b)
        bp = lambda k, f: format(b[k], f) if b else "-"
        cpu, bcpu = c["server_cpu_ns_per_pkt"] / 1000, b and b["server_cpu_ns_per_pkt"] / 1000
        lines.append(
            f"{fmt_size(size):>6} {pairs:>5} {place:>6} {window or 'auto':>6} | "
            f"{c['pps']:>9.0f} {bp('pps', '>8.0f'):>8} | "
            f"{c['delivery_pct']:>8.3f}% {'yes' if c['reordered'] == 0 else 'NO':>5} | "
            f"{c['lat_p50_us']:>7.0f} {c['lat_p99_us']:>7.0f} {bp('lat_p99_us', '>7.0f'):>7} "
            f"{c['lat_p999_us']:>8.0f} | "
            f"{c['pair_p99_us_min']:>8.0f}-{c['pair_p99_us_max']:<8.0f} | "
            f"{cpu:>10.2f} {bcpu if bcpu is not None else 0:>6.2f} "
            f"{(format(pct(cpu, bcpu), '+.0f') + '%') if b else '-':>6}")
    return out


def cpu_rounds(cur, base, lines, rounds=4):
    """Server CPU per 1 KiB packet, current against baseline: on a shared
    machine one run's figure can be off by a third, so ROUNDS alternating
    runs of each server, 1 and 32 pairs, and the median of the rounds'
    ratios."""
    if base is None:
        return
    for pairs in (1, 32):
        ratios, cc, bb = [], [], []
        for i in range(rounds):
            order = ((cur, cc), (base, bb)) if i % 2 else ((base, bb), (cur, cc))
            for srv, out in order:
                out.append(derpbench(srv, "-P", pairs, "-s", 1024, "-x", "same",
                                     "-d", 2)["server_cpu_ns_per_pkt"] / 1000)
            ratios.append(cc[-1] / bb[-1])
        ratios.sort()
        med = (ratios[(rounds - 1) // 2] + ratios[rounds // 2]) / 2
        lines.append(
            f"server CPU per 1 KiB packet, TLS, {pairs:>2} pair(s), {rounds} alternating rounds: "
            f"current {' '.join(f'{x:.2f}' for x in cc)} us, baseline "
            f"{' '.join(f'{x:.2f}' for x in bb)} us; median ratio {100 * (med - 1):+.0f} % "
            f"(target: -25 % or better)")


def syscall_rows(cur, base, lines):
    """Syscalls the workers make per relayed 1 KiB packet (perf's syscall
    tracepoints; a count, which a shared machine does not blur as it does
    CPU time). Skipped without perf or its permission."""
    if base is None or shutil.which("perf") is None:
        lines.append("syscalls per packet: not measured (no perf, or no baseline)")
        return
    events = ("raw_syscalls:sys_enter,syscalls:sys_enter_read,"
              "syscalls:sys_enter_write,syscalls:sys_enter_epoll_wait")
    for pairs in (1, 32):
        got = []
        for name, srv in (("current", cur), ("baseline", base)):
            pids = ",".join(re.findall(r"worker \d+ started, pid (\d+)", srv.log_text()))
            perf = subprocess.Popen(["perf", "stat", "-x,", "-e", events, "-p", pids],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    text=True)
            time.sleep(0.3)
            r = derpbench(srv, "-P", pairs, "-s", 1024, "-x", "same",
                          "-n", 100000 // pairs, "-d", 60)
            perf.send_signal(2)
            out = perf.communicate(timeout=30)[1]
            n = {}
            for line in out.splitlines():
                f = line.split(",")
                if len(f) > 2 and f[0].isdigit():
                    n[f[2].split(":")[-1].replace("sys_enter_", "")] = \
                        int(f[0]) / r["received"]
            if "sys_enter" not in n:
                lines.append(f"syscalls per packet: perf could not count ({out.strip()[:200]})")
                return
            got.append(f"{name} {n['sys_enter']:.2f} (read {n.get('read', 0):.2f}, "
                       f"write {n.get('write', 0):.2f}, epoll_wait {n.get('epoll_wait', 0):.2f})")
        lines.append(f"syscalls per relayed 1 KiB packet, workers, {pairs} pair(s), "
                     f"same worker: " + "; ".join(got))


def matrix_summary(res, base, lines):
    lines.append("")
    for pairs in (1, 32):
        same = res[(1024, pairs, "same", 0)][0]
        cross = res[(1024, pairs, "cross", 0)][0]
        slower = 100 * (1 - cross["pps"] / same["pps"]) if same["pps"] else 0
        lines.append(f"cross-worker vs same-worker at 1 KiB, {pairs} pair(s): "
                     f"{slower:+.1f} % slower (bar: <= 15 %), "
                     f"{pct(cross['server_cpu_ns_per_pkt'], same['server_cpu_ns_per_pkt']):+.1f} "
                     f"% server CPU per packet")
    if base is None:
        return
    kib = [v for k, v in res.items() if k[0] == 1024]
    cur_cpu = sum(c["server_cpu_ns_per_pkt"] for c, _ in kib) / len(kib) / 1000
    base_cpu = sum(b["server_cpu_ns_per_pkt"] for _, b in kib) / len(kib) / 1000
    lines.append(f"server CPU per 1 KiB packet over TLS, mean of the matrix's 4 cells: "
                 f"{cur_cpu:.2f} us against the baseline's {base_cpu:.2f} us: "
                 f"{pct(cur_cpu, base_cpu):+.0f} %")
    worse = [k for k, (c, b) in res.items()
             if c["lat_p99_us"] > b["lat_p99_us"] * 1.10]
    lines.append(f"p99 latency within 10 % of the baseline's or better in "
                 f"{len(res) - len(worse)} of {len(res)} cells" +
                 ("" if not worse else "; worse in " + ", ".join(
                     f"{fmt_size(k[0])}/{k[1]}/{k[2]}" for k in worse)))


def spread_rows(cur, base, lines):
    """Whose is the spread between pairs: 32 pairs of 100 B with derpbench
    on 1 and on 2 threads, and overloaded (no window: the server's queues
    full, its share of each turn what decides)."""
    lines.append("")
    for what, extra in (("derpbench 1 thread", ()), ("derpbench 2 threads", ("-t", 2)),
                        ("no window (overload), 1 thread", ("-w", 0))):
        for name, srv in (("current", cur), ("baseline", base)):
            if srv is None:
                continue
            r = derpbench(srv, "-P", 32, "-s", 100, "-x", "same", "-d", SECONDS, *extra)
            lines.append(
                f"32 pairs x 100 B, same worker, {what}, {name}: {r['pps']:.0f} packets/s, "
                f"p50 {r['lat_p50_us']:.0f} us, p99 {r['lat_p99_us']:.0f} us; "
                f"between pairs packets/s {r['pair_pps_min']:.0f}-{r['pair_pps_max']:.0f}, "
                f"p99 {r['pair_p99_us_min']:.0f}-{r['pair_p99_us_max']:.0f} us")


def overload_row(srv, lines):
    drops0 = srv.drops()
    ov = derpbench(srv, "-P", 32, "-s", 1024, "-x", "cross", "-w", 0, "-d", SECONDS)
    drops = srv.drops() - drops0
    lines.append(
        f"overload (32 pairs, 1 KiB, no window, cross-worker): sent {ov['sent']}, "
        f"delivered {ov['delivery_pct']:.2f} %, lost {ov['lost']} "
        f"(derpd counted {drops:.0f} drops), reordered {ov['reordered']}, "
        f"server peak RSS {ov['peak_rss_kib'] / 1024:.0f} MiB")


def login_rows(tmp, cur, base, base_bin, lines):
    """Full TLS handshakes + DERP logins, 32 at a time: ECDSA P-256 (the
    servers above, two alternating runs each) and RSA-2048."""
    lines.append("")

    def runs(servers, n):
        got = {name: [] for name, _ in servers}
        for i in range(n):
            for name, srv in (servers if i % 2 == 0 else servers[::-1]):
                got[name].append(derpbench(srv, "-m", "handshake", "-c", 32, "-d", SECONDS))
        return got

    def line(cert, got):
        parts = []
        for name, rs in got.items():
            rate = sum(r["per_sec"] for r in rs) / len(rs)
            cpu = sum(r["server_cpu_us_per_login"] for r in rs) / len(rs)
            parts.append((name, rate, cpu))
        text = "; ".join(f"{n} {r:.0f}/s, server CPU {c:.0f} us a login" for n, r, c in parts)
        if len(parts) == 2:
            (_, r1, c1), (_, r0, c0) = parts
            text += f" (logins/s {pct(r1, r0):+.0f} %, server CPU a login {pct(c1, c0):+.0f} %)"
        lines.append(f"TLS logins, {cert}, 32 at a time: {text}")

    servers = [("current", cur)] + ([("baseline", base)] if base else [])
    line("ECDSA P-256", runs(servers, 2))
    rsa = [("current", Server(tmp, "rsa-cur", cert="rsa"))]
    if base_bin:
        rsa.append(("baseline", Server(tmp, "rsa-base", cert="rsa", derpd=base_bin)))
    try:
        line("RSA-2048", runs(rsa, 1))
    finally:
        for _, s in rsa:
            s.stop()


def socket_inodes(pid):
    out = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            out.add(target)
    return out


def placement_rows(tmp, lines):
    """-placement hash (the default): PLACEMENT_CONNS TCP connections from
    ports the kernel picks, counted per worker from /proc/PID/fd (root)."""
    if os.geteuid() != 0:
        lines.append("placement spread: not measured (reading the workers' "
                     "/proc/PID/fd needs root)")
        return
    for n in (2, 4):
        srv = Server(tmp, f"place{n}", workers=n, placement="hash",
                     extra_args=["-handshake-timeout", "60s"])
        conns = []
        try:
            text = srv.log_text()
            pids = [int(re.findall(rf"worker {w} started, pid (\d+)", text)[-1])
                    for w in range(n)]
            before = [socket_inodes(p) for p in pids]
            for _ in range(PLACEMENT_CONNS):
                conns.append(socket.create_connection(("127.0.0.1", srv.port), timeout=10))
            deadline = time.monotonic() + 20
            while True:
                got = [len(socket_inodes(p) - b) for p, b in zip(pids, before)]
                if sum(got) >= PLACEMENT_CONNS or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        finally:
            for c in conns:
                c.close()
            srv.stop()
        share = PLACEMENT_CONNS / n
        lines.append(f"placement spread (-placement hash, {PLACEMENT_CONNS} connections "
                     f"from kernel-chosen ports), {n} workers: "
                     f"{'/'.join(map(str, got))}, largest deviation from an even share "
                     f"{max(abs(g - share) for g in got) / share * 100:.1f} %")


def idle_rows(tmp, base_bin, lines):
    """Memory per logged-in idle TLS client, each on a fresh server (so no
    earlier run's freed memory hides it)."""
    out = []
    for name, binary in (("current", None), ("baseline", base_bin)):
        if name == "baseline" and not base_bin:
            continue
        srv = Server(tmp, f"idle-{name}", derpd=binary)
        try:
            out.append((name, derpbench(srv, "-m", "idle", "-N", IDLE, "-c", 128,
                                        timeout=240)))
        finally:
            srv.stop()
    r = subprocess.run([str(TLSMEM)], capture_output=True, text=True, timeout=60)
    if r.returncode == 0:
        m = json.loads(r.stdout)
        lines.append(
            f"OpenSSL's state for one idle TLS 1.3 server connection (bench/tlsmem.c), "
            f"freed by derpd after the handshake: "
            f"{m['bytes'] / 1024:.1f} KiB in {m['allocations']} allocations; largest " +
            ", ".join(f"{a['bytes']} B at {a['at'].split('/')[-1]}" for a in m["largest"]) +
            f"; derpd's record layer instead: {m['own_bytes'] / 1024:.1f} KiB in "
            f"{m['own_allocations']} allocations")
    for name, idle in out:
        lines.append(
            f"idle TLS clients, {name}: {idle['logged_in']} of {idle['clients']} logged in; "
            f"server memory per client: RSS {idle['rss_per_client'] / 1024:.1f} KiB, "
            f"PSS {idle['pss_per_client'] / 1024:.1f} KiB, {idle['procs']} processes")


def shm_rows(base_bin, lines):
    """Shared memory the master maps at 2, 8, 32 and 64 workers, current
    and baseline (bench/shm_size.py: the memfd mappings in smaps)."""
    for name, binary in (("current", DERPD), ("baseline", base_bin)):
        if binary is None:
            continue
        out = subprocess.run([sys.executable, str(REPO / "bench" / "shm_size.py"),
                              "-derpd", str(binary), "-keygen", str(KEYGEN)],
                             capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            lines.append(f"shared memory by workers, {name}: failed: "
                         f"{out.stderr.strip()[-200:]}")
            continue
        lines.append(f"shared memory the master maps, by workers, {name}:")
        lines += out.stdout.rstrip().splitlines()


def main():
    for p in (DERPD, KEYGEN, BENCH, TLSMEM):
        if not os.access(p, os.X_OK):
            sys.exit(f"{p} missing: run make all build/derpbench build/tlsmem")
    raise_nofile()
    t0 = time.monotonic()
    notes = []
    built = build_baseline(notes)
    base_bin, base_name = built if built else (None, None)
    lines = [f"derpd {WORKERS} workers, TLS, loopback; derpbench 1 thread, "
             f"{SECONDS:g} s per run; {machine()}",
             f"baseline: {BASELINE} ({base_name}), measured in this run, interleaved"
             if base_bin else "baseline: none", *notes, ""]
    tmp = tempfile.mkdtemp(prefix="derpd-bench-")
    try:
        idle = []
        idle_rows(tmp, base_bin, idle)
        cur = Server(tmp, "run")
        base = Server(tmp, "base", derpd=base_bin) if base_bin else None
        try:
            res = matrix(cur, base, lines)
            matrix_summary(res, base, lines)
            cpu_rounds(cur, base, lines)
            syscall_rows(cur, base, lines)
            spread_rows(cur, base, lines)
            overload_row(cur, lines)
            login_rows(tmp, cur, base, base_bin, lines)
            lines.append(respawn_row(cur))
        finally:
            cur.stop()
            if base:
                base.stop()
        lines.append("")
        placement_rows(tmp, lines)
        mesh_rows(tmp, lines)
        shm_rows(base_bin, lines)
        lines += idle
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lines.append(f"(took {time.monotonic() - t0:.0f} s)")
    text = "\n".join(lines)
    print(text)
    if os.environ.get("BENCH_OUT"):
        Path(os.environ["BENCH_OUT"]).write_text(text + "\n")


if __name__ == "__main__":
    main()
