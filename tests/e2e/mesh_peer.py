# SPDX-License-Identifier: BSD-3-Clause
"""A DERP relay in Python that meshes the way derper does, written from
derper's source (cmd/derper/mesh.go; derp/derphttp's RunWatchConnectionLoop
and Client.connect; derp/derpserver's accept, addWatcher,
broadcastPeerStateChangeLocked, Add/RemovePacketForwarder, lookupDest,
handleFrameSendPacket, handleFrameForwardPacket; derp/derp_client.go's
ClientInfo and Recv), so that derper's side of every exchange with derpd is
exercised without a Go toolchain. Threads and blocking sockets; small, not
fast. It records what it learns, for the tests to look at.

As a server it accepts TLS clients (derpd's mesh link among them): the HTTP
upgrade, ServerKey, ClientInfo, ServerInfo, then SendPacket, ForwardPacket
(mesh key only), WatchConns (the dump of every connected key, then changes,
with derper's PeerPresent flags), Ping. As a client it logs in to one derpd
with its own key and the mesh key (CanAckPings false, as derper's mesh
client), sends WatchConns, turns PeerPresent/PeerGone into forwarders, and
when the connection breaks forgets all of them at once (MeshConnBroke)
before reconnecting."""
import json
import socket
import ssl
import struct
import threading
import time

from nacl.public import Box, PrivateKey, PublicKey
from nacl.utils import random as nacl_random

from derp_client import (CLIENT_INFO, DISCO_MAGIC, FORWARD_PACKET, KEEP_ALIVE, KEY_LEN,
                         MAGIC, NONCE_LEN, PEER_GONE, PEER_GONE_DISCONNECTED,
                         PEER_GONE_NOT_HERE, PEER_PRESENT, PING, PONG, PRESENT_MESH_PEER,
                         PRESENT_NOT_IDEAL, PRESENT_PROBER, PRESENT_REGULAR, RECV_PACKET,
                         SEND_PACKET, SERVER_INFO, SERVER_KEY, WATCH_CONNS)

RETRY_INTERVAL = 0.5    # derphttp's retryInterval is 5 s; tests are impatient


def frame(ftype, payload=b""):
    return struct.pack(">BI", ftype, len(payload)) + payload


def looks_like_disco(pkt):
    """disco.LooksLikeDiscoWrapper: the magic, a key and a nonce at least."""
    return len(pkt) >= len(DISCO_MAGIC) + KEY_LEN + NONCE_LEN and \
        pkt.startswith(DISCO_MAGIC)


class Stream:
    """Frames over one socket: a reader with a buffer, a locked writer."""

    def __init__(self, sock):
        self.sock, self.buf, self.wlock = sock, bytearray(), threading.Lock()

    def fill(self):
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError("EOF")
        self.buf += data

    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 16384:
                raise ConnectionError("HTTP head too long")
            self.fill()
        head, _, rest = bytes(self.buf).partition(b"\r\n\r\n")
        self.buf = bytearray(rest)
        return head.decode("latin-1").split("\r\n")

    def read_frame(self):
        while len(self.buf) < 5:
            self.fill()
        ftype, n = struct.unpack(">BI", self.buf[:5])
        if n > 1 << 20:
            raise ConnectionError("frame too large")
        while len(self.buf) < 5 + n:
            self.fill()
        payload = bytes(self.buf[5:5 + n])
        del self.buf[:5 + n]
        return ftype, payload

    def write(self, data):
        with self.wlock:
            self.sock.sendall(data)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class SClient:
    """One accepted connection (derpserver's sclient)."""

    def __init__(self, stream, addr):
        self.stream, self.addr = stream, addr
        self.key, self.can_mesh, self.info = None, False, {}
        self.not_ideal = False

    def present_flags(self):
        """sclient.presentFlags."""
        f = 0
        if self.info.get("IsProber"):
            f |= PRESENT_PROBER
        if self.can_mesh:
            f |= PRESENT_MESH_PEER
        if self.not_ideal:
            f |= PRESENT_NOT_IDEAL
        return f or PRESENT_REGULAR

    def peer_present(self):
        ip = bytes(10) + b"\xff\xff" + socket.inet_aton(self.addr[0])
        return frame(PEER_PRESENT, self.key + ip + struct.pack(">H", self.addr[1]) +
                     bytes([self.present_flags()]))


class MeshPeer:
    """The relay: listens on 127.0.0.1, meshes with one derpd."""

    def __init__(self, certfile, keyfile, mesh_key, cafile=None):
        self.priv = PrivateKey.generate()
        self.pub = bytes(self.priv.public_key)
        self.mesh_key = mesh_key
        self.cafile = cafile
        self.lock = threading.Lock()
        self.clients = {}           # key -> SClient (the newest connection wins)
        self.watchers = set()
        self.forwarders = {}        # key -> [link streams], first preferred
        self.learned = []           # what our link to derpd saw, in order
        self.link = None            # our Stream to derpd while connected
        self.link_gen = 0
        self.forwarded_in = []      # (src, dst, packet) derpd forwarded to us
        self.stopping = False
        self.server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server_ctx.load_cert_chain(certfile, keyfile)
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.threads = [threading.Thread(target=self._accept_loop, daemon=True)]
        self.threads[0].start()

    # --- the server side ------------------------------------------------------

    def _accept_loop(self):
        while not self.stopping:
            try:
                sock, addr = self.lsock.accept()
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(sock, addr), daemon=True)
            t.start()

    def _login(self, st, addr):
        """derpserver's handler and accept: upgrade, ServerKey, ClientInfo, ServerInfo."""
        lines = st.read_head()
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines[1:])}
        if headers.get("upgrade", "").lower() != "derp":
            raise ConnectionError("not a DERP upgrade")
        if headers.get("derp-fast-start") != "1":
            st.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: DERP\r\n"
                      "Connection: Upgrade\r\nDerp-Version: 2\r\n"
                      f"Derp-Public-Key: {self.pub.hex()}\r\n\r\n").encode())
        st.write(frame(SERVER_KEY, MAGIC + self.pub))
        ftype, p = st.read_frame()
        if ftype != CLIENT_INFO or len(p) < KEY_LEN + NONCE_LEN:
            raise ConnectionError("no ClientInfo")
        c = SClient(st, addr)
        c.key = p[:KEY_LEN]
        box = Box(self.priv, PublicKey(c.key))
        c.info = json.loads(box.decrypt(p[KEY_LEN + NONCE_LEN:], p[KEY_LEN:KEY_LEN + NONCE_LEN]))
        c.can_mesh = c.info.get("meshKey") == self.mesh_key.hex()
        c.not_ideal = bool(headers.get("ideal-node"))
        nonce = nacl_random(NONCE_LEN)
        st.write(frame(SERVER_INFO, nonce +
                       box.encrypt(json.dumps({"version": 2}).encode(), nonce).ciphertext))
        return c

    def _serve(self, sock, addr):
        st = c = None
        try:
            sock = self.server_ctx.wrap_socket(sock, server_side=True)
            st = Stream(sock)
            c = self._login(st, addr)
            self._register(c)
            while True:
                ftype, p = st.read_frame()
                self._frame(c, ftype, p)
        except (OSError, ConnectionError, ValueError, ssl.SSLError):
            pass
        finally:
            if c is not None:
                self._unregister(c)
            if st is not None:
                st.close()
            else:
                sock.close()

    def _broadcast(self, data):
        for w in list(self.watchers):
            try:
                w.stream.write(data)
            except OSError:
                pass

    def _register(self, c):
        with self.lock:
            self.clients[c.key] = c
            self._broadcast(c.peer_present())

    def _unregister(self, c):
        with self.lock:
            self.watchers.discard(c)
            if self.clients.get(c.key) is c:
                del self.clients[c.key]
                self._broadcast(frame(PEER_GONE, c.key + bytes([PEER_GONE_DISCONNECTED])))

    def _frame(self, c, ftype, p):
        if ftype == SEND_PACKET and len(p) >= KEY_LEN:
            self._send(c, c.key, p[:KEY_LEN], p[KEY_LEN:], forward=True)
        elif ftype == FORWARD_PACKET:
            if not c.can_mesh:
                raise ConnectionError("insufficient permissions")
            src, dst, pkt = p[:KEY_LEN], p[KEY_LEN:2 * KEY_LEN], p[2 * KEY_LEN:]
            self.forwarded_in.append((src, dst, pkt))
            self._send(c, src, dst, pkt, forward=False)    # never re-forwarded
        elif ftype == WATCH_CONNS:
            if not c.can_mesh:
                raise ConnectionError("insufficient permissions")
            if c.key != self.pub:                          # addWatcher
                with self.lock:
                    dump = b"".join(x.peer_present() for x in self.clients.values())
                    self.watchers.add(c)
                    c.stream.write(dump)
        elif ftype == PING and len(p) >= 8:
            c.stream.write(frame(PONG, p[:8]))

    def _send(self, c, src, dst, pkt, forward):
        """lookupDest: a local client first, then (for SendPacket) a forwarder."""
        with self.lock:
            d = self.clients.get(dst)
            fwd = self.forwarders.get(dst, [None])[0] if forward else None
        if d is not None:
            d.stream.write(frame(RECV_PACKET, src + pkt))
        elif fwd is not None:
            fwd.write(frame(FORWARD_PACKET, src + dst + pkt))
        elif looks_like_disco(pkt):
            c.stream.write(frame(PEER_GONE, dst + bytes([PEER_GONE_NOT_HERE])))

    def announce(self, key):
        """Tells watchers a key is here that is not (a stale announcement)."""
        fake = SClient(None, ("127.0.0.1", 1))
        fake.key = bytes(key)
        with self.lock:
            self._broadcast(fake.peer_present())

    # --- the mesh client: RunWatchConnectionLoop ------------------------------

    def mesh_with(self, host, port, server_hostname):
        t = threading.Thread(target=self._watch_loop, args=(host, port, server_hostname),
                             daemon=True)
        t.start()
        self.threads.append(t)

    def _connect(self, host, port, server_hostname):
        """derphttp.Client.connect: TCP, TLS, GET /derp, derp.NewClient, WatchConns."""
        sock = socket.create_connection((host, port), timeout=10)
        ctx = ssl.create_default_context(cafile=self.cafile)
        sock = ctx.wrap_socket(sock, server_hostname=server_hostname)
        st = Stream(sock)
        st.write((f"GET /derp HTTP/1.1\r\nHost: {server_hostname}:{port}\r\n"
                  "User-Agent: Go-http-client/1.1\r\nConnection: Upgrade\r\n"
                  "Upgrade: DERP\r\n\r\n").encode())
        lines = st.read_head()
        if not lines[0].startswith("HTTP/1.1 101"):
            raise ConnectionError(lines[0])
        ftype, p = st.read_frame()
        if ftype != SERVER_KEY or p[:len(MAGIC)] != MAGIC:
            raise ConnectionError("invalid server greeting")
        server_pub = p[len(MAGIC):len(MAGIC) + KEY_LEN]
        info = json.dumps({"meshKey": self.mesh_key.hex(), "version": 2,
                           "CanAckPings": False}, separators=(",", ":")).encode()
        nonce = nacl_random(NONCE_LEN)
        box = Box(self.priv, PublicKey(server_pub))
        st.write(frame(CLIENT_INFO, self.pub + nonce + box.encrypt(info, nonce).ciphertext))
        st.write(frame(WATCH_CONNS))
        sock.settimeout(120)        # derp.Client.Recv's deadline
        return st, server_pub

    def _clear(self):
        """Every forwarder this link added goes (PeerGoneReasonMeshConnBroke)."""
        with self.lock:
            n = sum(1 for v in self.forwarders.values() if self.link in v)
            for k in list(self.forwarders):
                self.forwarders[k] = [f for f in self.forwarders[k] if f is not self.link]
                if not self.forwarders[k]:
                    del self.forwarders[k]
            self.learned.append(("clear", n))

    def _watch_loop(self, host, port, server_hostname):
        while not self.stopping:
            try:
                st, server_pub = self._connect(host, port, server_hostname)
            except (OSError, ConnectionError, ssl.SSLError):
                time.sleep(RETRY_INTERVAL)
                continue
            if server_pub == self.pub:
                return                              # self-connect
            with self.lock:
                self.link, self.link_gen = st, self.link_gen + 1
            try:
                while True:
                    self._link_frame(st, *st.read_frame())
            except (OSError, ConnectionError, ValueError, ssl.SSLError):
                pass
            self._clear()
            with self.lock:
                self.link = None
            st.close()
            time.sleep(RETRY_INTERVAL)

    def _link_frame(self, st, ftype, p):
        """derp.Client.Recv's cases, as RunWatchConnectionLoop uses them."""
        if ftype == PEER_PRESENT and len(p) >= KEY_LEN:
            key = p[:KEY_LEN]
            flags = p[KEY_LEN + 18] if len(p) > KEY_LEN + 18 else None
            port = struct.unpack(">H", p[KEY_LEN + 16:KEY_LEN + 18])[0] \
                if len(p) >= KEY_LEN + 18 else None
            with self.lock:
                fw = self.forwarders.setdefault(key, [])
                if st not in fw:
                    fw.append(st)
                self.learned.append(("present", key, flags, port))
        elif ftype == PEER_GONE and len(p) >= KEY_LEN:
            key = p[:KEY_LEN]
            reason = p[KEY_LEN] if len(p) > KEY_LEN else PEER_GONE_DISCONNECTED
            with self.lock:
                fw = [f for f in self.forwarders.get(key, []) if f is not st]
                if fw:
                    self.forwarders[key] = fw
                else:
                    self.forwarders.pop(key, None)
                self.learned.append(("gone", key, reason))
        elif ftype in (SERVER_INFO, KEEP_ALIVE, PING, PONG, RECV_PACKET):
            pass                                    # a mesh client ignores these

    def drop_link_from(self, key):
        """Closes the accepted connection of key (derpd's link to us)."""
        with self.lock:
            c = self.clients.get(bytes(key))
        if c is not None:
            c.stream.close()

    def close(self):
        self.stopping = True
        self.lsock.close()
        with self.lock:
            streams = [c.stream for c in self.clients.values()]
            if self.link is not None:
                streams.append(self.link)
        for st in streams:
            st.close()
