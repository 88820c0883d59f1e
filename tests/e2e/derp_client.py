# SPDX-License-Identifier: BSD-3-Clause
"""A small, independent DERP v2 client for derpd's end-to-end tests.

Written from the protocol description (tailscale.com/derp), not from derpd's
C code, so the server cannot merely agree with itself.  Blocking sockets with
deadlines: no call waits forever.
"""
import errno
import ipaddress
import json
import random
import socket
import ssl
import struct
import time

from nacl.public import Box, PrivateKey, PublicKey
from nacl.utils import random as nacl_random

MAGIC = b"DERP\xf0\x9f\x94\x91"
DISCO_MAGIC = b"TS\xf0\x9f\x92\xac"   # "TS" + U+1F4AC; a disco packet is >= 62 bytes
KEY_LEN = 32
NONCE_LEN = 24
MAX_PACKET = 65536
PROTOCOL_VERSION = 2

SERVER_KEY, CLIENT_INFO, SERVER_INFO = 0x01, 0x02, 0x03
SEND_PACKET, RECV_PACKET, KEEP_ALIVE = 0x04, 0x05, 0x06
NOTE_PREFERRED, PEER_GONE, PEER_PRESENT = 0x07, 0x08, 0x09
FORWARD_PACKET, WATCH_CONNS, CLOSE_PEER = 0x0A, 0x10, 0x11
PING, PONG, HEALTH, RESTARTING = 0x12, 0x13, 0x14, 0x15

PEER_GONE_DISCONNECTED, PEER_GONE_NOT_HERE = 0, 1

# PeerPresent flag bits (derp.PeerPresentFlags); a current server always sets one.
PRESENT_REGULAR, PRESENT_MESH_PEER, PRESENT_PROBER, PRESENT_NOT_IDEAL = 1, 2, 4, 8
PEER_PRESENT_LEN = KEY_LEN + 16 + 2 + 1     # key, IPv6 (v4-mapped) address, port, flags
RESTARTING_LEN = 8                          # reconnect-in ms, try-for ms (big-endian)


class DerpError(Exception):
    """The server said or did something the protocol does not allow."""


class ConnectionClosed(DerpError):
    """The server closed (or reset) the connection."""


class UnexpectedFrame(DerpError):
    """A frame other than the one waited for; carries it."""

    def __init__(self, ftype, payload):
        super().__init__(f"unexpected frame type {ftype:#04x}, {len(payload)} bytes")
        self.ftype, self.payload = ftype, payload


def client_info(*, mesh_key=None, can_ack_pings=True, is_prober=False,
                version=PROTOCOL_VERSION):
    """ClientInfo JSON as derp.Client marshals derp.ClientInfo: "meshKey" is the
    key as 64 hex digits (key.DERPMesh), "CanAckPings" and "IsProber" have no
    JSON tags.  A str mesh_key is sent as given (negative tests)."""
    info = {}
    if mesh_key is not None:
        info["meshKey"] = mesh_key if isinstance(mesh_key, str) else bytes(mesh_key).hex()
    info["version"] = version
    info["CanAckPings"] = can_ack_pings
    if is_prober:
        info["IsProber"] = True
    return info


class PeerPresent:
    """A parsed PeerPresent payload: 32-byte key, 16-byte IP, 2-byte BE port, flags."""

    def __init__(self, payload):
        if len(payload) < PEER_PRESENT_LEN:
            raise DerpError(f"short PeerPresent frame ({len(payload)} bytes)")
        self.raw = payload
        self.key = payload[:KEY_LEN]
        self.ip16 = payload[KEY_LEN:KEY_LEN + 16]
        self.ip = ipaddress.IPv6Address(self.ip16)
        self.port = struct.unpack(">H", payload[KEY_LEN + 16:KEY_LEN + 18])[0]
        self.flags = payload[KEY_LEN + 18]

    def __repr__(self):
        return (f"PeerPresent({self.key.hex()[:8]}, [{self.ip}]:{self.port}, "
                f"flags={self.flags:#04x}, {len(self.raw)} bytes)")


def parse_restarting(payload):
    """Restarting payload -> (reconnect-in ms, try-for ms)."""
    if len(payload) < RESTARTING_LEN:
        raise DerpError(f"short Restarting frame ({len(payload)} bytes)")
    return struct.unpack(">II", payload[:RESTARTING_LEN])


def disco_packet(size=62, fill=b"\x00"):
    """A packet derper's disco.LooksLikeDiscoWrapper accepts (magic, >= 62 bytes)."""
    assert size >= 62
    return DISCO_MAGIC + fill * (size - len(DISCO_MAGIC))


class DerpClient:
    def __init__(self, host, port, *, private_key=None, tls=False, cafile=None,
                 server_hostname=None, src_port=None, timeout=10.0, info=None,
                 extra_headers=(), tls_version=None, client_cert=None, alpn=None):
        self.host, self.port = host, port
        self.info = info                            # ClientInfo JSON for handshake()
        self.extra_headers = tuple(extra_headers)   # (name, value) on GET /derp
        self.priv = private_key if private_key is not None else PrivateKey.generate()
        self.pub = bytes(self.priv.public_key)
        self.tls, self.cafile, self.server_hostname = tls, cafile, server_hostname
        self.tls_version = tls_version              # an ssl.TLSVersion to force
        self.client_cert = client_cert              # (certificate file, key file)
        self.alpn = alpn                            # ALPN protocols to offer
        self.src_port, self.timeout = src_port, timeout
        self.sock = None
        self.buf = bytearray()
        self.status_line, self.headers = None, {}   # header names lower-cased
        self.server_key = None                      # from the ServerKey frame
        self.server_info = None                     # decrypted ServerInfo JSON
        self.discarded = []                         # frames is_closed_by_server skipped

    # --- connection set-up ---------------------------------------------------

    def tcp_connect(self):
        """A connected TCP socket, from `src_port` if one was given."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.src_port is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("127.0.0.1", self.src_port))
            sock.settimeout(self.timeout)
            sock.connect((self.host, self.port))
        except BaseException:
            sock.close()
            raise
        return sock

    def connect(self, upgrade=True, handshake=True, fast_start=False):
        """TCP (or TLS) connect, then optionally the HTTP upgrade and DERP login."""
        sock = self.tcp_connect()
        try:
            if self.tls:
                if self.cafile:
                    ctx = ssl.create_default_context(cafile=self.cafile)
                else:
                    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE
                if self.tls_version is not None:
                    ctx.minimum_version = ctx.maximum_version = self.tls_version
                if self.client_cert is not None:
                    ctx.load_cert_chain(*self.client_cert)
                if self.alpn is not None:
                    ctx.set_alpn_protocols(self.alpn)
                sock = ctx.wrap_socket(sock, server_hostname=self.server_hostname or self.host)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        if upgrade:
            self.upgrade(fast_start=fast_start)
            if handshake:
                self.handshake()
        return self

    def upgrade(self, fast_start=False):
        """Sends GET /derp; without fast start, reads and checks the 101 answer."""
        req = (f"GET /derp HTTP/1.1\r\nHost: {self.server_hostname or self.host}\r\n"
               "Connection: Upgrade\r\nUpgrade: DERP\r\n")
        if fast_start:
            req += "Derp-Fast-Start: 1\r\n"
        req += "".join(f"{k}: {v}\r\n" for k, v in self.extra_headers)
        self.sock.sendall((req + "\r\n").encode())
        if fast_start:
            return
        self.status_line, self.headers = self.read_http_head()
        if not self.status_line.startswith("HTTP/1.1 101 "):
            raise DerpError(f"upgrade refused: {self.status_line!r}")

    def read_http_head(self, timeout=None):
        """Reads a status line and headers; later bytes stay buffered as frames."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 65536:
                raise DerpError("HTTP response head too long")
            self._fill(deadline)
        head, _, rest = bytes(self.buf).partition(b"\r\n\r\n")
        self.buf = bytearray(rest)
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return lines[0], headers

    def handshake(self, client_info=None):
        """ServerKey, then ClientInfo, then ServerInfo; returns the ServerInfo JSON."""
        self.read_server_key()
        self.send_client_info(client_info if client_info is not None else self.info)
        return self.read_server_info()

    def read_server_key(self, timeout=None):
        ftype, payload = self.recv_frame(timeout)
        if ftype != SERVER_KEY:
            raise UnexpectedFrame(ftype, payload)
        if len(payload) < len(MAGIC) + KEY_LEN or payload[:len(MAGIC)] != MAGIC:
            raise DerpError(f"bad ServerKey frame {payload[:16].hex()}")
        self.server_key = payload[len(MAGIC):len(MAGIC) + KEY_LEN]
        advertised = self.headers.get("derp-public-key")
        if advertised is not None and advertised != self.server_key.hex():
            raise DerpError("ServerKey frame differs from Derp-Public-Key header")
        return self.server_key

    def client_info_payload(self, info=None, server_key=None):
        """ClientInfo payload: our key, a nonce, and the JSON boxed to server_key."""
        if info is None:
            info = {"version": PROTOCOL_VERSION, "CanAckPings": True}
        msg = info if isinstance(info, bytes) else json.dumps(info).encode()
        box = Box(self.priv, PublicKey(server_key or self.server_key))
        nonce = nacl_random(NONCE_LEN)
        return self.pub + nonce + box.encrypt(msg, nonce).ciphertext

    def send_client_info(self, info=None, payload=None):
        """Sends ClientInfo; `payload` replaces the whole frame payload (negative tests)."""
        self.send_frame(CLIENT_INFO, payload if payload is not None
                        else self.client_info_payload(info))

    def read_server_info(self, timeout=None):
        ftype, payload = self.recv_frame(timeout)
        if ftype != SERVER_INFO:
            raise UnexpectedFrame(ftype, payload)
        box = Box(self.priv, PublicKey(self.server_key))
        plain = box.decrypt(payload[NONCE_LEN:], payload[:NONCE_LEN])
        self.server_info = json.loads(plain)
        if self.server_info.get("version") != PROTOCOL_VERSION:
            raise DerpError(f"ServerInfo {self.server_info!r} is not version 2")
        return self.server_info

    # --- frames ----------------------------------------------------------------

    def send_frame(self, ftype, payload=b""):
        self.send_raw(struct.pack(">BI", ftype, len(payload)) + payload)

    def send_raw(self, data):
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as e:
            raise ConnectionClosed(str(e)) from e

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out waiting for the server")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(1 << 18)
        except socket.timeout:
            raise TimeoutError("timed out waiting for the server") from None
        except (ConnectionResetError, BrokenPipeError) as e:
            raise ConnectionClosed(str(e)) from e
        except ssl.SSLError as e:      # e.g. a TLS close without close_notify
            raise ConnectionClosed(str(e)) from e
        if not data:
            raise ConnectionClosed("EOF")
        self.buf += data

    def peek(self, n, timeout=None):
        """The next n bytes of the stream, left in the buffer."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while len(self.buf) < n:
            self._fill(deadline)
        return bytes(self.buf[:n])

    def recv_frame(self, timeout=None):
        """The next frame as (type, payload); TimeoutError after `timeout` seconds."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while len(self.buf) < 5:
            self._fill(deadline)
        ftype, length = struct.unpack(">BI", self.buf[:5])
        while len(self.buf) < 5 + length:
            self._fill(deadline)
        payload = bytes(self.buf[5:5 + length])
        del self.buf[:5 + length]
        return ftype, payload

    def recv_until(self, wanted, timeout=None):
        """Waits for a frame of type `wanted`, answering Pings and skipping KeepAlives;
        any other frame raises UnexpectedFrame.  Returns the payload."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            ftype, payload = self.recv_frame(max(deadline - time.monotonic(), 0.001))
            if ftype == wanted:
                return payload
            if ftype == KEEP_ALIVE:
                continue
            if ftype == PING:                # we said CanAckPings: answer
                self.send_frame(PONG, payload[:8])
                continue
            raise UnexpectedFrame(ftype, payload)

    def send_packet(self, dst_pub, data):
        assert len(dst_pub) == KEY_LEN
        self.send_frame(SEND_PACKET, bytes(dst_pub) + data)

    def recv_packet(self, timeout=None):
        """The next RecvPacket as (source key, data)."""
        payload = self.recv_until(RECV_PACKET, timeout)
        if len(payload) < KEY_LEN:
            raise DerpError("short RecvPacket frame")
        return payload[:KEY_LEN], payload[KEY_LEN:]

    def recv_peer_gone(self, timeout=None):
        """The next PeerGone as (key, reason)."""
        payload = self.recv_until(PEER_GONE, timeout)
        if len(payload) < KEY_LEN + 1:
            raise DerpError(f"short PeerGone frame ({len(payload)} bytes)")
        return payload[:KEY_LEN], payload[KEY_LEN]

    def recv_peer_present(self, timeout=None):
        """The next PeerPresent, parsed."""
        return PeerPresent(self.recv_until(PEER_PRESENT, timeout))

    def recv_restarting(self, timeout=None):
        """The next Restarting as (reconnect-in ms, try-for ms)."""
        return parse_restarting(self.recv_until(RESTARTING, timeout))

    def watch_conns(self):
        self.send_frame(WATCH_CONNS)

    def close_peer(self, key):
        assert len(key) == KEY_LEN
        self.send_frame(CLOSE_PEER, bytes(key))

    def forward_packet(self, src_pub, dst_pub, data):
        assert len(src_pub) == KEY_LEN and len(dst_pub) == KEY_LEN
        self.send_frame(FORWARD_PACKET, bytes(src_pub) + bytes(dst_pub) + data)

    @property
    def local_port(self):
        """Our TCP source port (what the server sees as the client's port)."""
        return self.sock.getsockname()[1]

    def note_preferred(self, preferred=True):
        self.send_frame(NOTE_PREFERRED, b"\x01" if preferred else b"\x00")

    def ping(self, data, timeout=None):
        """Sends Ping(data) and waits for the Pong that echoes it."""
        assert len(data) == 8
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        self.send_frame(PING, data)
        while True:
            if self.recv_until(PONG, max(deadline - time.monotonic(), 0.001)) == data:
                return data

    def is_closed_by_server(self, timeout=5.0):
        """True once the server closes (EOF or reset) within `timeout`, else False.
        Frames received meanwhile are kept in self.discarded."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.discarded.append(self.recv_frame(max(deadline - time.monotonic(), 0.001)))
            except ConnectionClosed:
                return True
            except TimeoutError:
                return False

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None


def connect_on_worker(host, port, worker, nworkers, *, attempts=50, upgrade=True,
                      handshake=True, fast_start=False, **kw):
    """A DerpClient whose source port p (20000..60000) has p % nworkers == worker,
    which derpd uses to pick the worker; retries ports that are busy."""
    rng = random.SystemRandom()
    for _ in range(attempts):
        base = rng.randrange(20000, 60000 - nworkers)
        client = DerpClient(host, port, src_port=base - base % nworkers + worker, **kw)
        try:
            return client.connect(upgrade=upgrade, handshake=handshake, fast_start=fast_start)
        except BaseException as e:
            client.close()
            if getattr(e, "errno", None) not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
                raise
    raise RuntimeError(f"no free source port for worker {worker} of {nworkers}")


def http_get(host, port, path, headers=(), timeout=10.0):
    """A one-shot HTTP/1.1 GET; returns (status line, {lower-cased name: value}, body)."""
    client = DerpClient(host, port, timeout=timeout).connect(upgrade=False)
    try:
        req = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
        req += "".join(f"{k}: {v}\r\n" for k, v in headers)
        client.send_raw((req + "\r\n").encode())
        status, hdrs = client.read_http_head()
        deadline = time.monotonic() + timeout
        want = int(hdrs.get("content-length", -1))
        try:
            while want < 0 or len(client.buf) < want:
                client._fill(deadline)
        except ConnectionClosed:
            pass
        return status, hdrs, bytes(client.buf)
    finally:
        client.close()
