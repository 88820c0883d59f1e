# SPDX-License-Identifier: BSD-3-Clause
"""A DERP-aware TCP proxy in front of a plain-HTTP relay, for tests that need
a lossy relay or the bytes a relay sees, without server code.

Bytes are forwarded both ways.  Once a client's request head is a DERP
upgrade (GET /derp, Upgrade: DERP), the client's side is parsed as DERP
frames and each SendPacket is dropped with probability `drop` (a seeded
RNG, so a run is repeatable).  With `record`, every byte in both directions
is kept.  Upstream connections come from random source ports, as
derpd-client's do, so the relay's worker choice varies.
"""
import random
import socket
import struct
import threading

SEND_PACKET = 0x04
HEAD_MAX = 65536


class DerpProxy:
    def __init__(self, upstream_port, drop=0.0, seed=1, record=False):
        self.upstream_port = upstream_port
        self.drop = drop
        self.rng = random.Random(seed)
        self.record = record
        self.lock = threading.Lock()
        self.to_relay = bytearray()      # what clients sent (recorded)
        self.from_relay = bytearray()    # what the relay sent (recorded)
        self.forwarded = 0               # SendPacket frames passed on
        self.dropped = 0                 # SendPacket frames dropped
        self.socks = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    # --- plumbing ---------------------------------------------------------

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = self._dial()
            except OSError:
                client.close()
                continue
            with self.lock:
                self.socks += [client, upstream]
            for target, args in ((self._client_side, (client, upstream)),
                                 (self._relay_side, (upstream, client))):
                t = threading.Thread(target=target, args=args, daemon=True)
                t.start()
                self.threads.append(t)

    def _dial(self):
        rng = random.SystemRandom()
        for _ in range(20):
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", rng.randrange(20000, 60000)))
                s.connect(("127.0.0.1", self.upstream_port))
                return s
            except OSError:
                s.close()
        return socket.create_connection(("127.0.0.1", self.upstream_port))

    def _keep(self, buf, data):
        if self.record:
            with self.lock:
                buf += data

    @staticmethod
    def _shut(a, b):
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _relay_side(self, src, dst):
        """Relay to client: bytes as they come."""
        try:
            while data := src.recv(1 << 16):
                self._keep(self.from_relay, data)
                dst.sendall(data)
        except OSError:
            pass
        self._shut(src, dst)

    def _client_side(self, src, dst):
        """Client to relay: the request head, then frames (or raw bytes)."""
        buf = bytearray()
        framed = None
        try:
            while data := src.recv(1 << 16):
                self._keep(self.to_relay, data)
                buf += data
                if framed is None:
                    end = buf.find(b"\r\n\r\n")
                    if end < 0:
                        if len(buf) > HEAD_MAX:
                            break
                        continue
                    head = bytes(buf[:end + 4])
                    framed = self._is_derp_upgrade(head)
                    dst.sendall(head)
                    del buf[:end + 4]
                if framed:
                    self._frames(buf, dst)
                else:
                    dst.sendall(buf)
                    buf.clear()
        except OSError:
            pass
        self._shut(src, dst)

    @staticmethod
    def _is_derp_upgrade(head):
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines[1:] if line)}
        return (lines[0].startswith("GET /derp ") and
                headers.get("upgrade", "").lower() == "derp")

    def _frames(self, buf, dst):
        """Forwards the whole frames in buf, dropping SendPackets by chance."""
        while len(buf) >= 5:
            ftype, length = struct.unpack(">BI", buf[:5])
            if len(buf) < 5 + length:
                return
            frame = bytes(buf[:5 + length])
            del buf[:5 + length]
            if ftype == SEND_PACKET:
                with self.lock:
                    lose = self.rng.random() < self.drop
                    if lose:
                        self.dropped += 1
                    else:
                        self.forwarded += 1
                if lose:
                    continue
            dst.sendall(frame)

    def recorded(self):
        with self.lock:
            return bytes(self.to_relay) + bytes(self.from_relay)

    def stop(self):
        try:
            self.listener.shutdown(socket.SHUT_RDWR)   # wakes accept()
        except OSError:
            pass
        self.listener.close()
        with self.lock:
            socks = list(self.socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        for t in self.threads:
            t.join(5)
