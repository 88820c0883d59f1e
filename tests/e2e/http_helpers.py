# SPDX-License-Identifier: BSD-3-Clause
"""HTTP requests on raw sockets (so the test sees every byte derpd sends),
optionally steered onto one worker, and a strict Prometheus text parser."""
import json
import os
import re
import socket
import time

import pytest

from derp_client import ConnectionClosed, DerpClient, connect_on_worker
from procfs import socket_worker


class Response:
    def __init__(self, raw, method="GET"):
        self.raw = raw
        head, sep, self.body = raw.partition(b"\r\n\r\n")
        assert sep, f"no end of the response head in {raw[:200]!r}"
        lines = head.decode("latin-1").split("\r\n")
        self.status_line = lines[0]
        m = re.fullmatch(r"HTTP/1\.1 (\d{3}) (.+)", self.status_line)
        assert m, f"bad status line {self.status_line!r}"
        self.status = int(m.group(1))
        self.header_list = []
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            assert colon and name == name.strip(), f"bad header line {line!r}"
            self.header_list.append((name.lower(), value.strip()))
        self.headers = dict(self.header_list)
        names = [n for n, _ in self.header_list]
        dups = {n for n in names if names.count(n) > 1}
        assert not dups, f"duplicate headers {dups} in {self.status_line}"
        if "content-length" in self.headers and method != "HEAD":
            assert int(self.headers["content-length"]) == len(self.body), \
                f"Content-Length {self.headers['content-length']} but {len(self.body)} bytes"

    def text(self):
        return self.body.decode("utf-8")


def _open(port, worker=None, nworkers=1, tls=False, cafile=None, server_hostname=None,
          host="127.0.0.1", srv=None, client_cert=None):
    """A connection, steered onto `worker` if given (and, with the server
    `srv`, checked to be there: tests that use it claim a placement)."""
    kw = dict(tls=tls, cafile=cafile, server_hostname=server_hostname,
              client_cert=client_cert)
    if worker is None:
        return DerpClient(host, port, **kw).connect(upgrade=False)
    client = connect_on_worker(host, port, worker, nworkers, upgrade=False, **kw)
    if srv is not None:
        try:
            assert_conn_on_worker(srv, client.local_port, worker, server_port=port)
        except BaseException:
            client.close()
            raise
    return client


def read_to_eof(client, timeout=10.0):
    """Everything the server sends until it closes; derpd closes after each answer."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            client._fill(deadline)
    except ConnectionClosed:
        pass
    return bytes(client.buf)


def request(port, path, method="GET", headers=(), host_header="derp.test", body=b"",
            raw=None, **kw):
    """One HTTP/1.1 request; returns the Response (the whole answer, up to EOF)."""
    client = _open(port, **kw)
    try:
        if raw is None:
            req = f"{method} {path} HTTP/1.1\r\n"
            if host_header is not None:
                req += f"Host: {host_header}\r\n"
            req += "".join(f"{k}: {v}\r\n" for k, v in headers)
            if body:
                req += f"Content-Length: {len(body)}\r\n"
            raw = (req + "\r\n").encode() + body
        client.send_raw(raw)
        return Response(read_to_eof(client), raw.split(b" ", 1)[0].decode("latin-1"))
    finally:
        client.close()


def get(srv, path, **kw):
    kw.setdefault("nworkers", srv.workers)
    return request(srv.port, path, srv=srv, **kw)


# --- Prometheus text ----------------------------------------------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE_RE = re.compile(rf"({NAME})(\{{[^}}]*\}})? (\S+)")
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def _family(name, types):
    """The family a sample belongs to: its own name, or a summary's or
    histogram's name for its _sum, _count and _bucket samples."""
    for suffix in ("_sum", "_count", "_bucket"):
        base = name[:-len(suffix)]
        if name.endswith(suffix) and types.get(base) in ("summary", "histogram"):
            return base
    return name


def parse_prometheus(text):
    """{(name, frozenset of (label, value)): value}, (types), (helps) after
    checking the format: every family has one # HELP line, then one # TYPE
    line, then its samples, all together; values are numbers."""
    samples, types, helps = {}, {}, {}
    current, done = None, set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            parts = line.split(" ", 3)
            assert len(parts) == 4 and parts[3].strip(), f"empty help: {line!r}"
            name = parts[2]
            assert re.fullmatch(NAME, name), line
            assert name not in helps, f"second # HELP for {name}"
            helps[name] = parts[3]
            done.add(current)
            current = None
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert re.fullmatch(NAME, name), line
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
            assert name not in types, f"second # TYPE for {name}"
            assert name in helps and current is None and name not in done, \
                f"# TYPE {name} not right after its # HELP"
            types[name] = kind
            current = name
            continue
        if line.startswith("#") or not line:
            continue
        m = SAMPLE_RE.fullmatch(line)
        assert m, f"bad sample line {line!r}"
        name, labels, value = m.groups()
        family = _family(name, types)
        assert family in types, f"sample {name} without # HELP and # TYPE before it"
        assert family == current, f"sample {name} apart from the rest of {family}"
        lab = frozenset()
        if labels:
            inner = labels[1:-1]
            pairs = LABEL_RE.findall(inner)
            assert ",".join(f'{k}="{v}"' for k, v in pairs) == inner, line
            lab = frozenset(pairs)
        key = (name, lab)
        assert key not in samples, f"duplicate sample {line!r}"
        samples[key] = float(value)
    empty = set(types) - {_family(n, types) for n, _ in samples}
    assert not empty, f"families without samples: {empty}"
    return samples, types, helps


class Metrics:
    def __init__(self, text):
        self.text = text
        self.samples, self.types, self.helps = parse_prometheus(text)

    def __call__(self, name, **labels):
        key = (name, frozenset(labels.items()))
        assert key in self.samples, f"no sample {name}{labels or ''} in:\n{self.text}"
        return self.samples[key]


def metrics(srv, worker=None, path="/metrics", **kw):
    """The metrics page, as served by `worker` (default: whichever)."""
    r = get(srv, path, worker=worker, **kw)
    assert r.status == 200, r.status_line
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4"), r.headers
    return Metrics(r.text())


def wait_metrics(srv, cond, timeout=15.0, what="condition", **kw):
    """Polls the metrics until cond(Metrics) is true; returns that Metrics."""
    deadline = time.monotonic() + timeout
    while True:
        m = metrics(srv, **kw)
        if cond(m):
            return m
        if time.monotonic() > deadline:
            pytest.fail(f"metrics never met {what} within {timeout}s:\n{m.text}")
        time.sleep(0.1)


def udp_port():
    """A UDP port on 127.0.0.1 (and, we hope, ::1) that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]



# --- placement ----------------------------------------------------------------

def served_by(srv, pub, **kw):
    """The worker serving key `pub`, from derpd's loopback-only /debug/route
    (None if the key is not connected): tests that claim a placement assert it."""
    r = get(srv, f"/debug/route?key=nodekey:{bytes(pub).hex()}", **kw)
    if r.status == 404:
        return None
    assert r.status == 200, f"/debug/route: {r.status_line} {r.body!r}"
    return json.loads(r.body)["worker"]


def assert_on_worker(srv, client, worker):
    """Fails unless derpd says `client`'s key is served by `worker` (asked
    over TLS when the client uses TLS)."""
    tls = dict(tls=True, cafile=client.cafile, server_hostname=client.server_hostname) \
        if getattr(client, "tls", False) else {}
    got = served_by(srv, client.pub, **tls)
    assert got == worker, f"client {client.pub.hex()[:8]} is on worker {got}, not {worker}"


def assert_conn_on_worker(srv, local_port, worker, server_port=None):
    """Fails unless the process of `worker` holds the server side of the
    connection from local_port (to server_port, default srv's): placement of
    a connection that has not logged in (or never will), read from /proc.
    Needs root to read the workers' descriptors; as another user it checks
    nothing."""
    if os.geteuid() != 0:
        return
    got = socket_worker(srv, local_port, server_port)
    assert got == worker, f"connection from port {local_port} is on worker {got}, not {worker}"
