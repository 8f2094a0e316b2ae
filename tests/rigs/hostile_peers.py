"""Hostile network peers on loopback, for tests/hostile: a server that dribbles one byte at a time (raw
TCP, or after a real TLS handshake), and a TCP relay in front of a real server that can turn into a
dribbler mid-session.

Each runs its own accept thread, counts what it saw, and closes everything it holds on exit.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

# A TLS record header announcing a 16 KiB handshake message: the client then waits for its body, one
# byte at a time (a full record would take 16384 intervals).
TLS_RECORD_HEADER = b"\x16\x03\x03\x40\x00"
HTTP_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"


@dataclass
class Peer:
    """A listening loopback server; `port`, connections accepted, and the stop switch."""

    port: int = 0
    accepted: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    held: list[socket.socket] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hold(self, s: socket.socket, count: bool = True) -> None:
        with self.lock:
            self.held.append(s)
            self.accepted += int(count)

    def close_all(self) -> None:
        with self.lock:
            socks, self.held = self.held, []
        for s in socks:
            with contextlib.suppress(OSError):
                s.close()


def _dribble(conn: socket.socket, prefix: bytes, interval: float, stop: threading.Event) -> None:
    """Send `prefix` one byte per `interval`, then filler bytes the same way, until stopped."""
    i = 0
    try:
        while not stop.wait(interval):
            conn.sendall(prefix[i:i + 1] if i < len(prefix) else b"0")
            i += 1
    except OSError:
        return


@contextlib.contextmanager
def _serve(handle: Callable[[socket.socket, Peer], None]) -> Iterator[Peer]:
    srv = socket.create_server(("127.0.0.1", 0))
    peer = Peer(port=srv.getsockname()[1])

    def accept() -> None:
        srv.settimeout(0.1)
        while not peer.stop.is_set():
            try:
                conn, _ = srv.accept()
            except (TimeoutError, OSError):
                continue
            peer.hold(conn)
            threading.Thread(target=handle, args=(conn, peer), daemon=True).start()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield peer
    finally:
        peer.stop.set()
        t.join(2)
        peer.close_all()
        srv.close()


@contextlib.contextmanager
def tcp_dribbler(interval: float) -> Iterator[Peer]:
    """Accepts, then sends a TLS record header and its body one byte per `interval` s (the handshake
    never ends, and no read ever waits longer than `interval`)."""
    def handle(conn: socket.socket, peer: Peer) -> None:
        _dribble(conn, TLS_RECORD_HEADER, interval, peer.stop)

    with _serve(handle) as peer:
        yield peer


@contextlib.contextmanager
def tls_dribbler(context: ssl.SSLContext, interval: float) -> Iterator[Peer]:
    """A real TLS server (client certificate as `context` says) that reads the request, then sends
    its answer one byte per `interval` s."""
    def handle(conn: socket.socket, peer: Peer) -> None:
        try:
            conn.settimeout(10)
            tls = context.wrap_socket(conn, server_side=True)
            tls.recv(65536)
            _dribble(tls, HTTP_HEAD, interval, peer.stop)  # type: ignore[arg-type]
        except (OSError, ssl.SSLError):
            return

    with _serve(handle) as peer:
        yield peer


@dataclass
class Relay:
    """A TCP relay to a real server; `slow()` turns it into a dribbler: the server's answers on open
    connections are dropped and a TLS record is dribbled in their place, and new connections meet a
    dribbler from their first byte."""

    peer: Peer
    target: tuple[str, int]
    dribbling: threading.Event = field(default_factory=threading.Event)

    def slow(self) -> None:
        self.dribbling.set()


# An application-data record header announcing 16 KiB: a client mid-session waits for all of it.
APP_RECORD_HEADER = b"\x17\x03\x03\x40\x00"


def _pipe(src: socket.socket, dst: socket.socket, open_: Callable[[], bool]) -> None:
    try:
        while data := src.recv(65536):
            if open_():
                dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            src.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def relay(target: tuple[str, int], interval: float) -> Iterator[Relay]:
    """A relay to `target` on a loopback port (see Relay)."""
    box: list[Relay] = []

    def turn_slow(conn: socket.socket, peer: Peer) -> None:
        while not peer.stop.is_set():
            if box[0].dribbling.wait(0.1):
                _dribble(conn, APP_RECORD_HEADER, interval, peer.stop)
                return

    def handle(conn: socket.socket, peer: Peer) -> None:
        hop = box[0]
        if hop.dribbling.is_set():
            _dribble(conn, TLS_RECORD_HEADER, interval, peer.stop)
            return
        try:
            up = socket.create_connection(target, timeout=5)
        except OSError:
            conn.close()
            return
        up.settimeout(None)
        peer.hold(up, count=False)
        threading.Thread(target=_pipe, args=(up, conn, lambda: not hop.dribbling.is_set()),
                         daemon=True).start()
        threading.Thread(target=turn_slow, args=(conn, peer), daemon=True).start()
        _pipe(conn, up, lambda: not hop.dribbling.is_set())  # a slow server never hears the request

    with _serve(handle) as peer:
        box.append(Relay(peer, target))
        yield box[0]
