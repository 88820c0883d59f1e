# SPDX-License-Identifier: BSD-3-Clause
"""The test build's probes (common/probe.h): SIGUSR1 with a queued value
makes a sandboxed process attempt one forbidden (or allowed) call.  The
numbers are read from the header, so the two cannot drift."""
import ctypes
import os
import re
import signal
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _probe_numbers():
    text = (REPO / "common" / "probe.h").read_text()
    body = re.search(r"enum probe \{(.*?)\};", text, re.S).group(1)
    numbers, n = {}, 0
    for name, value in re.findall(r"PROBE_(\w+)\s*(?:=\s*(\d+))?\s*,", body):
        n = int(value) if value else n + 1
        numbers[name.lower()] = n
    return numbers


PROBES = _probe_numbers()


class _Sigval(ctypes.Union):
    _fields_ = [("sival_int", ctypes.c_int), ("sival_ptr", ctypes.c_void_p)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.sigqueue.argtypes = [ctypes.c_int, ctypes.c_int, _Sigval]


def probe(pid, name, target=0):
    """Asks process pid (a test build) to attempt probe `name`, against
    process `target` where the probe has one."""
    val = _Sigval()
    val.sival_int = PROBES[name] | target << 8
    if _libc.sigqueue(pid, signal.SIGUSR1, val) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"sigqueue({pid}): {os.strerror(err)}")
