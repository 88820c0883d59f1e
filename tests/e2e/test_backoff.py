# SPDX-License-Identifier: BSD-3-Clause
"""A child that keeps dying is restarted with back-off: 100 ms, doubling,
capped at 30 s (SECURITY.md, "Syscall policy"), and at once after a healthy
run.

Real time would make this a minute-long test, so it runs the test build
with DERPD_TEST_BACKOFF_SCALE=100 (master/supervise.c, DERPD_TEST_HOOKS
only), which divides every wait of the back-off (and the healthy-run
threshold) by that number, logs "back-off times divided by N (test build)"
at start, and leaves the logged delays in real (unscaled) milliseconds."""
import os
import re
import signal
import time

SCALE = 100
DELAY_RE = re.compile(r"worker 0 died after \d+ ms; restarting it in (\d+) ms")


def test_restart_backoff_doubles_to_a_30_second_cap(derp_server, derpd_test_bin,
                                                   monkeypatch):
    monkeypatch.setenv("DERPD_TEST_BACKOFF_SCALE", str(SCALE))
    srv = derp_server(workers=2, binary=derpd_test_bin)
    assert f"back-off times divided by {SCALE} (test build)" in srv.log_text()
    delays = []
    while len(delays) < 12:
        pid = srv.worker_pid(0)
        mark = srv.log_mark()
        os.kill(pid, signal.SIGKILL)
        delays.append(int(srv.wait_log(DELAY_RE, since=mark).group(1)))
        srv.wait_log(r"worker 0 started, pid (?!%d\b)\d+" % pid, since=mark,
                     timeout=30000 / SCALE / 1000 + 10)
    assert delays == [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600,
                      30000, 30000, 30000], delays
    # A healthy run (10 s, scaled) resets it: the next death restarts at once.
    time.sleep(10 / SCALE + 0.5)
    mark = srv.log_mark()
    pid = srv.worker_pid(0)
    os.kill(pid, signal.SIGKILL)
    srv.wait_log(r"worker 0 started, pid (?!%d\b)\d+" % pid, since=mark)
    assert not DELAY_RE.search(srv.log_text(), mark), "restarted with back-off"
