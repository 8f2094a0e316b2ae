"""An overall deadline and a Cancel for each network operation (connect + handshake + request + body).

A socket timeout bounds one read; a server that sends one byte every few seconds never trips it and
keeps a login (or a logout) waiting forever. So each HTTP request made through `MtlsSession` runs as an
`Operation`: every read and write on its TLS socket gets `min(read timeout, time left)`, fails with
`TimeoutError` once the time is up, and `cancel()` from another thread shuts the socket down, which
wakes a blocked read at once. The TCP connect itself is bounded by the connect timeout, clamped to the
time left (`Operation.clamp`); name resolution (getaddrinfo) cannot be interrupted.

The current operation is per thread (a pooled connection serves one request, on one thread, at a time).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_current = threading.local()


class OperationCancelled(OSError):
    """Raised inside the socket layer when the operation was cancelled (translated by the session)."""


class Operation:
    """One network operation with an overall deadline (monotonic) and a cancel flag."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.cancelled = False
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []

    def left(self) -> float:
        """Seconds left (never negative)."""
        return max(0.0, self.deadline - time.monotonic())

    def clamp(self, timeout: float | None) -> float:
        """A socket timeout no later than the deadline (0.001 s at least: 0 would mean non-blocking)."""
        left = self.left()
        return max(0.001, left if timeout is None else min(timeout, left))

    def check(self) -> None:
        """Raise if the operation was cancelled or its time is up."""
        if self.cancelled:
            raise OperationCancelled("the operation was cancelled")
        if time.monotonic() >= self.deadline:
            self.expired = True
            raise TimeoutError(f"the operation did not finish within {self.seconds:g} s")

    def attach(self, sock: socket.socket) -> None:
        """Remember a socket this operation uses, so that cancel() can wake it."""
        with self._lock:
            if sock not in self._sockets:
                self._sockets.append(sock)
            cancelled = self.cancelled
        if cancelled:
            _shutdown(sock)

    def cancel(self) -> None:
        """Stop the operation now: its sockets are shut down (a blocked read returns at once)."""
        with self._lock:
            self.cancelled = True
            socks = list(self._sockets)
        for s in socks:
            _shutdown(s)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)


def current() -> Operation | None:
    """The operation running on this thread, if any."""
    op: Operation | None = getattr(_current, "op", None)
    return op


@contextmanager
def running(op: Operation) -> Iterator[Operation]:
    """Make `op` this thread's current operation for the duration."""
    previous = current()
    _current.op = op
    try:
        yield op
    finally:
        _current.op = previous


class BoundedSocket:
    """A connected socket whose reads and writes obey the current thread's Operation (if any).

    tlslite and http.client only call recv/send/sendall/settimeout/... on it; everything else is
    forwarded to the real socket.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._timeout = sock.gettimeout()

    def _arm(self) -> None:
        op = current()
        if op is None:
            self._sock.settimeout(self._timeout)
            return
        op.attach(self._sock)
        op.check()
        self._sock.settimeout(op.clamp(self._timeout))

    def _io(self, fn: Any, *args: Any) -> Any:
        self._arm()
        try:
            return fn(*args)
        except OSError:
            op = current()
            if op is not None:
                op.check()  # a cancel (shutdown) or the deadline says it better than EPIPE/EBADF
            raise

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        data: bytes = self._io(self._sock.recv, bufsize, flags)
        op = current()
        if not data and op is not None and op.cancelled:
            raise OperationCancelled("the operation was cancelled")
        return data

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        n: int = self._io(self._sock.recv_into, buffer, nbytes, flags)
        return n

    def send(self, data: Any, flags: int = 0) -> int:
        n: int = self._io(self._sock.send, data, flags)
        return n

    def sendall(self, data: Any, flags: int = 0) -> None:
        self._io(self._sock.sendall, data, flags)

    def settimeout(self, timeout: float | None) -> None:
        self._timeout = timeout
        self._sock.settimeout(timeout)

    def gettimeout(self) -> float | None:
        return self._timeout

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)
