# SPDX-License-Identifier: BSD-3-Clause
"""A minimal Debian 12 booted with systemd-nspawn, for testing the package
under a real systemd.

The tree comes from debootstrap, from the mirror this machine's apt uses,
with systemd and the package's dependencies, and is cached as a tarball in
/var/cache/derpd-test (DERPD_TEST_CACHE) under a name that hashes what went
into it. Each run unpacks a fresh copy and boots it with
`systemd-nspawn -b --keep-unit --register=no` in the host's network
namespace (tests bind 127.0.0.1 only). Without systemd-machined there is no
`machinectl shell` or `systemd-run -M`, so commands reach the container
through a directory bound into it: a small agent service inside runs each
cmd/N.sh it finds and leaves its output and exit status in out/.
"""
import glob
import hashlib
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

SUITE = "bookworm"
CACHE = Path(os.environ.get("DERPD_TEST_CACHE", "/var/cache/derpd-test"))
BASE_PACKAGES = ["systemd", "systemd-sysv"]
GUEST_DIR = "/derpd-test"

AGENT = """#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Runs each command file the test host drops in cmd/, one at a time.
d=%s
: > "$d/agent-ready"
while :; do
	for f in "$d"/cmd/*.sh; do
		[ -e "$f" ] || continue
		n=$(basename "$f" .sh)
		sh "$f" > "$d/out/$n.log" 2>&1
		echo $? > "$d/out/$n.tmp" && mv "$d/out/$n.tmp" "$d/out/$n.rc"
		rm -f "$f"
	done
	sleep 0.05
done
""" % GUEST_DIR

AGENT_UNIT = """[Unit]
Description=derpd package test agent

[Service]
ExecStart=/usr/local/sbin/derpd-test-agent

[Install]
WantedBy=multi-user.target
"""


def _run(*cmd, timeout=600, **kw):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    assert out.returncode == 0, f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout


def _sources():
    """(type, uri, suites, components) of every enabled apt source here."""
    entries = []
    for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
        if not os.path.isfile(path):
            continue
        for line in Path(path).read_text().splitlines():
            words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
            if len(words) >= 4:
                entries.append((words[0], words[1], [words[2]], words[3:]))
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        for stanza in re.split(r"\n\s*\n", Path(path).read_text()):
            fields, key = {}, None
            for line in stanza.splitlines():
                if line.startswith("#"):
                    continue
                if line[:1].isspace() and key:
                    fields[key] += " " + line.strip()
                elif ":" in line:
                    key, value = line.split(":", 1)
                    key = key.strip().lower()
                    fields[key] = value.strip()
            if fields.get("enabled", "yes").lower() == "no":
                continue
            for kind in fields.get("types", "").split():
                for uri in fields.get("uris", "").split():
                    entries.append((kind, uri, fields.get("suites", "").split(),
                                    fields.get("components", "").split()))
    return entries


def debian_mirror():
    """The mirror apt uses here for Debian 12's main archive."""
    if os.environ.get("DERPD_TEST_MIRROR"):
        return os.environ["DERPD_TEST_MIRROR"]
    for kind, uri, suites, components in _sources():
        if kind == "deb" and SUITE in suites and "main" in components:
            return uri
    raise AssertionError(f"no 'deb ... {SUITE} main' source in /etc/apt/sources.list*")


def deb_depends(deb):
    """Package names in the .deb's Depends (the first of each alternative)."""
    field = _run("dpkg-deb", "-f", deb, "Depends")
    return sorted({dep.split("|")[0].split("(")[0].split(":")[0].strip()
                   for dep in field.split(",") if dep.strip()})


def cached_tree(packages):
    """The cached tarball of a debootstrapped tree with `packages`; made if
    missing (then older ones are removed). Returns (path, seconds spent)."""
    mirror = debian_mirror()
    arch = _run("dpkg", "--print-architecture").strip()
    recipe = f"{SUITE} {arch} minbase {mirror} {','.join(sorted(packages))}"
    tarball = CACHE / f"{SUITE}-{hashlib.sha256(recipe.encode()).hexdigest()[:16]}.tar"
    if tarball.is_file():
        return tarball, 0.0
    start = time.monotonic()
    CACHE.mkdir(parents=True, exist_ok=True)
    work = CACHE / f"tmp-{os.getpid()}"
    try:
        for attempt in (1, 2):      # a mirror's hiccup should not fail the suite
            subprocess.run(["rm", "-rf", "--one-file-system", str(work)], check=False)
            try:
                _run("debootstrap", "--variant=minbase", f"--arch={arch}",
                     f"--include={','.join(sorted(packages))}", SUITE, str(work / "root"),
                     mirror, timeout=1800)
                break
            except AssertionError:
                if attempt == 2:
                    raise
        for deb in glob.glob(str(work / "root/var/cache/apt/archives/*.deb")):
            os.unlink(deb)
        _run("tar", "--numeric-owner", "-C", str(work / "root"), "-cf", str(work / "tree.tar"),
             ".")
        for old in CACHE.glob(f"{SUITE}-*.tar*"):
            old.unlink()
        os.replace(work / "tree.tar", tarball)
        (CACHE / f"{tarball.name}.recipe").write_text(recipe + "\n")
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", str(work)], check=False)
    return tarball, time.monotonic() - start


class Container:
    """A booted container; run() executes shell code inside it."""

    def __init__(self, tarball, workdir, name):
        self.workdir = Path(workdir)
        self.root = self.workdir / "root"
        self.shared = self.workdir / "shared"    # GUEST_DIR inside
        self.name = name
        self.seq = 0
        self.proc = None
        self.root.mkdir(parents=True)
        for sub in ("cmd", "out", "files"):
            (self.shared / sub).mkdir(parents=True)
        _run("tar", "--numeric-owner", "-C", str(self.root), "-xf", str(tarball))
        self._install_agent()

    def _install_agent(self):
        agent = self.root / "usr/local/sbin/derpd-test-agent"
        agent.parent.mkdir(parents=True, exist_ok=True)
        agent.write_text(AGENT)
        agent.chmod(0o755)
        unit = self.root / "etc/systemd/system/derpd-test-agent.service"
        unit.write_text(AGENT_UNIT)
        wants = self.root / "etc/systemd/system/multi-user.target.wants"
        wants.mkdir(parents=True, exist_ok=True)
        (wants / unit.name).symlink_to(f"/etc/systemd/system/{unit.name}")

    def boot(self, timeout=120):
        self.log = open(self.workdir / "console.log", "wb")
        self.proc = subprocess.Popen(
            ["systemd-nspawn", "--quiet", f"--directory={self.root}", "--boot",
             "--keep-unit", "--register=no", f"--machine={self.name}",
             f"--bind={self.shared}:{GUEST_DIR}", "--console=pipe"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not (self.shared / "agent-ready").exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the container did not boot:\n{self.console()}")
            time.sleep(0.05)
        rc, out = self.run("systemctl is-system-running --wait", timeout=timeout)
        assert out.strip() in ("running", "degraded"), out
        return self

    def console(self):
        return (self.workdir / "console.log").read_text(errors="replace")[-4000:]

    def put(self, name, data):
        """Makes `data` (bytes or str) readable inside as GUEST_DIR/files/name."""
        path = self.shared / "files" / name
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        return f"{GUEST_DIR}/files/{name}"

    def run(self, script, timeout=120):
        """Runs `script` with sh inside the container: (exit status, output)."""
        self.seq += 1
        n = f"{self.seq:04d}"
        tmp = self.shared / "cmd" / f".{n}.tmp"
        tmp.write_text(script + "\n")
        os.rename(tmp, self.shared / "cmd" / f"{n}.sh")
        rc = self.shared / "out" / f"{n}.rc"
        deadline = time.monotonic() + timeout
        while not rc.exists():
            if self.proc.poll() is not None:
                raise AssertionError(f"the container stopped:\n{self.console()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{script!r} did not finish within {timeout}s")
            time.sleep(0.02)
        return int(rc.read_text()), (self.shared / "out" / f"{n}.log").read_text()

    def check(self, script, timeout=120):
        """run(), asserting exit status 0; returns the output."""
        rc, out = self.run(script, timeout)
        assert rc == 0, f"{script!r} exited {rc}:\n{out}"
        return out

    def stop(self, timeout=30):
        """Powers the container off (SIGTERM asks nspawn to halt it), then
        removes its tree."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            self.log.close()
        subprocess.run(["rm", "-rf", "--one-file-system", str(self.workdir)], check=False)
        shutil.rmtree(f"/run/systemd/nspawn/propagate/{self.name}", ignore_errors=True)
