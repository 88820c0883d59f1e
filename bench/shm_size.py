#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Shared memory the derpd master maps, by worker count, as a Markdown table.

    bench/shm_size.py [-derpd build/derpd] [-keygen build/derpd-keygen] [N ...]

Starts the real binary with -workers N (plain HTTP on 127.0.0.1), waits for
every worker to be ready, and sums the sizes of the master's memfd mappings
in /proc/PID/smaps: the table (master region) and the workers' regions
(counters, ring positions, descriptor rings, packet pool). The mapping size
is what the memfds are truncated to; pages are only used once touched.
"""
import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

MAP_RE = re.compile(r"^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s+/memfd:(derpd-[a-z]+)\d* \(deleted\)$")
READY_RE = re.compile(rb"\[worker (\d+)\]: ready")
MIB = 1 << 20


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mapped(pid):
    """{region kind: bytes mapped} from /proc/pid/smaps."""
    sizes, kind = {}, None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = MAP_RE.match(line.strip())
            if m:
                kind = m.group(1)
            elif re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                kind = None
            elif kind and line.startswith("Size:"):
                sizes[kind] = sizes.get(kind, 0) + int(line.split()[1]) * 1024
    return sizes


def measure(derpd, key, n, log):
    args = [derpd, "-dev", "-a", f"127.0.0.1:{free_port()}", "-c", key,
            "-workers", str(n), "-stun=false", "-http-port=-1"]
    if os.geteuid() == 0:
        args += ["-user", "nobody"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(set(READY_RE.findall(open(log, "rb").read()))) < n:
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"derpd -workers {n} did not start:\n" + open(log).read())
            time.sleep(0.1)
        return mapped(proc.pid)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-derpd", default="build/derpd")
    ap.add_argument("-keygen", default="build/derpd-keygen")
    ap.add_argument("workers", nargs="*", type=int, default=[2, 8, 32, 64])
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        key = os.path.join(tmp, "derpd.key")
        subprocess.run([a.keygen, key], check=True, capture_output=True)
        print("| workers | master maps | worker regions | each worker | table and the rest |")
        print("|---:|---:|---:|---:|---:|")
        for n in a.workers:
            s = measure(a.derpd, key, n, os.path.join(tmp, f"derpd-{n}.log"))
            total, workers = sum(s.values()), s.get("derpd-worker", 0)
            print(f"| {n} | {total / MIB:,.1f} MiB | {workers / MIB:,.1f} MiB | "
                  f"{workers / n / MIB:,.2f} MiB | {(total - workers) / MIB:,.1f} MiB |")


if __name__ == "__main__":
    main()
