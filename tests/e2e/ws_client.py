# SPDX-License-Identifier: BSD-3-Clause
"""DERP over WebSocket, as browsers speak it: python3-websockets (asyncio, run
in a background thread) carries the DERP byte stream in binary messages, and
DerpClient's own handshake and frame code runs on top, unchanged."""
import asyncio
import concurrent.futures
import errno
import random
import ssl
import threading
import time

import websockets

from derp_client import ConnectionClosed, DerpClient, DerpError


class LoopThread:
    """An asyncio loop in a daemon thread; run() waits for one coroutine."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout):
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return fut.result(timeout)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise TimeoutError("timed out waiting for the server") from None

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class WsDerpClient(DerpClient):
    """A DerpClient whose transport is a WebSocket: each send_raw() is one
    binary message; received messages are concatenated into the stream.
    max_size: the reader's limit on a message (Tailscale's Go client reads
    at most 32 KiB), None for no limit."""

    def __init__(self, loop, host, port, max_size=None, **kw):
        super().__init__(host, port, **kw)
        self.loop = loop
        self.ws = None
        self.max_size = max_size
        self.close_code = None          # the server's close code, once closed
        self.messages = 0               # binary messages received
        self.not_one_frame = 0          # messages that were not one whole DERP frame

    def connect(self, handshake=True, subprotocols=("derp",)):
        sock = self.tcp_connect()
        sock.setblocking(False)

        tls = {}
        if self.tls:
            ctx = ssl.create_default_context(cafile=self.cafile)
            if self.client_cert is not None:
                ctx.load_cert_chain(*self.client_cert)
            tls = dict(ssl=ctx, server_hostname=self.server_hostname or self.host)
        scheme = "wss" if self.tls else "ws"

        async def open_ws():
            return await websockets.connect(
                f"{scheme}://{self.host}:{self.port}/derp", sock=sock,
                subprotocols=list(subprotocols), compression=None, max_size=self.max_size,
                ping_interval=None, open_timeout=self.timeout, close_timeout=2, **tls)

        try:
            self.ws = self.loop.run(open_ws(), self.timeout + 5)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self.status_line = "HTTP/1.1 101"
        self.headers = {k.lower(): v for k, v in self.ws.response_headers.raw_items()}
        if handshake:
            self.handshake()
        return self

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out waiting for the server")

        async def recv():
            return await asyncio.wait_for(self.ws.recv(), remaining)

        try:
            msg = self.loop.run(recv(), remaining + 5)
        except asyncio.TimeoutError:
            raise TimeoutError("timed out waiting for the server") from None
        except websockets.ConnectionClosed as e:
            self.close_code = e.rcvd.code if e.rcvd is not None else None
            raise ConnectionClosed(f"WebSocket closed: {e}") from e
        if isinstance(msg, str):
            raise DerpError(f"server sent a text message {msg[:40]!r}")
        self.messages += 1
        if len(msg) < 5 or 5 + int.from_bytes(msg[1:5], "big") != len(msg):
            self.not_one_frame += 1
        self.buf += msg

    def _send(self, msg):
        async def send():
            await self.ws.send(msg)
        try:
            self.loop.run(send(), self.timeout)
        except websockets.ConnectionClosed as e:
            raise ConnectionClosed(str(e)) from e

    def send_raw(self, data):
        self._send(bytes(data))

    def send_text(self, text):
        self._send(str(text))

    def send_fragmented(self, parts):
        """One binary message sent as len(parts) frames (continuations)."""
        self._send([bytes(p) for p in parts])

    def close(self):
        if self.ws is not None:
            ws, self.ws = self.ws, None
            try:
                self.loop.run(ws.close(), 5)
            except Exception:
                pass
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def ws_connect_on_worker(loop, host, port, worker, nworkers, attempts=50, tls=False,
                         cafile=None, server_hostname=None, max_size=None, **kw):
    """A logged-in WsDerpClient whose source port steers it onto `worker`."""
    rng = random.SystemRandom()
    for _ in range(attempts):
        base = rng.randrange(20000, 60000 - nworkers)
        client = WsDerpClient(loop, host, port, src_port=base - base % nworkers + worker,
                              tls=tls, cafile=cafile, server_hostname=server_hostname,
                              max_size=max_size)
        try:
            return client.connect(**kw)
        except OSError as e:
            client.close()
            if e.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
                raise
    raise RuntimeError(f"no free source port for worker {worker} of {nworkers}")
