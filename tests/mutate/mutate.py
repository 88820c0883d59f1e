#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""make mutate: does the suite notice when the code is wrong?

Each mutation in tests/mutate/mutations.py changes one thing in a scratch
copy of the tree (build-mutate/tree: the tracked files as they are in the
working tree), rebuilds what its tests need and runs them; every named test
must fail ("killed"). A mutation that every named test survives, or that no
longer applies to the code, fails the run. The named tests are first run on
the unmutated copy, where they must pass.

    make mutate                     all of them
    make mutate MUTATE=name,...     some
"""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from mutations import MUTATIONS

REPO = Path(__file__).resolve().parents[2]
SCRATCH = REPO / "build-mutate" / "tree"
PYTHON = "/usr/bin/python3"
TIMEOUT = 900


def sh(cmd, env=None, timeout=TIMEOUT):
    """(exit status, last lines of output) of cmd run in the scratch tree."""
    try:
        out = subprocess.run(cmd, cwd=SCRATCH, env=env, capture_output=True, text=True,
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {timeout}s"
    tail = "\n".join((out.stdout + out.stderr).splitlines()[-15:])
    return out.returncode, tail


def copy_tree():
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                           check=True).stdout.decode().split("\0")
    if SCRATCH.exists():
        shutil.rmtree(SCRATCH)
    for f in filter(None, files):
        src = REPO / f
        if src.is_file():
            dst = SCRATCH / f
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def e2e_env():
    b = SCRATCH / "build"
    return dict(os.environ, DERPD_BIN=str(b / "derpd"), DERPD_KEYGEN=str(b / "derpd-keygen"),
                DERPD_CLIENT=str(b / "derpd-client"), DERPBENCH=str(b / "derpbench"),
                DERPD_TEST_BIN=str(SCRATCH / "build-test" / "derpd"))


def run_test(test):
    """Builds what test needs and runs it: (passed, output)."""
    kind, name = test
    if kind == "e2e":
        rc, out = sh(["make", "-s", "-j2", "all", "build-test/derpd", "build/derpbench"])
        if rc != 0:
            return None, "build failed:\n" + out
        rc, out = sh([PYTHON, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                      f"tests/e2e/{name}"], env=e2e_env())
    elif kind == "unit":
        rc, out = sh(["make", "-s", f"build/tests/{name}"])
        if rc != 0:
            return None, "build failed:\n" + out
        rc, out = sh([f"./build/tests/{name}"])
    elif kind in ("fuzz-regress", "fuzz-short"):
        rc, out = sh(["make", "-s", kind, f"FUZZ_TARGETS={name}"])
    else:
        raise ValueError(kind)
    return rc == 0, out


def apply(m):
    path = SCRATCH / m["file"]
    text = path.read_text()
    if text.count(m["old"]) != 1:
        return None
    path.write_text(text.replace(m["old"], m["new"]))
    return text


def check_applies():
    """Every mutation still finds its one spot in the tree (for make check)."""
    stale = [m["name"] for m in MUTATIONS
             if (REPO / m["file"]).read_text().count(m["old"]) != 1]
    for name in stale:
        print(f"mutation {name}: its code is not in the tree exactly once")
    return 1 if stale else 0


def main():
    if sys.argv[1:] == ["--check"]:
        return check_applies()
    only = set(filter(None, os.environ.get("MUTATE", "").split(",")))
    chosen = [m for m in MUTATIONS if not only or m["name"] in only]
    if only - {m["name"] for m in chosen}:
        print(f"no such mutation: {sorted(only - {m['name'] for m in chosen})}")
        return 2
    copy_tree()
    print(f"mutate: {len(chosen)} mutations in {SCRATCH}")
    tests = sorted({tuple(t) for m in chosen for t in m["tests"]})
    for t in tests:
        ok, out = run_test(t)
        if not ok:
            print(f"baseline: {t[0]} {t[1]} does not pass on the unmutated tree:\n{out}")
            return 1
    rows, bad = [], 0
    for m in chosen:
        t0 = time.monotonic()
        original = apply(m)
        if original is None:
            rows.append((m["name"], "-", "DOES NOT APPLY"))
            bad += 1
            continue
        try:
            for kind, name in m["tests"]:
                ok, out = run_test((kind, name))
                verdict = "killed" if ok is False else \
                    "SURVIVED" if ok else "BUILD FAILED"
                if ok is not False:
                    bad += 1
                    print(f"--- {m['name']}: {kind} {name}: {verdict}\n{out}")
                rows.append((m["name"], f"{kind} {name}", verdict))
        finally:
            (SCRATCH / m["file"]).write_text(original)
        print(f"  {m['name']}: {time.monotonic() - t0:.0f}s", flush=True)
    width = max(len(r[0]) for r in rows)
    twidth = max(len(r[1]) for r in rows)
    print()
    for name, test, verdict in rows:
        print(f"{name:<{width}}  {test:<{twidth}}  {verdict}")
    for m in chosen:
        print(f"  {m['name']}: {m['what']}")
    print(f"mutate: {len(chosen)} mutations, {bad} not killed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
