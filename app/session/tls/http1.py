"""One HTTP/1.1 answer read from a kept-alive connection, without http.client (the agent's upstream).

http.client parses an answer's headers with the email package: about half of what the agent spent on
each forwarded call's answer. This reader takes the socket's bytes in bulk, splits the head once and
reads the body by Content-Length or chunks (or to the end when the server gives neither). Bounds as
http.client's: 64 KiB per line, 100 headers; the body bounded by the caller's limit. A malformed answer
raises http.client's own exception types, so callers and their tests see the same errors as before.
"""

from __future__ import annotations

import http.client
import re
from collections.abc import Callable
from dataclasses import dataclass

_MAX_LINE = 65536  # http.client._MAXLINE
_MAX_HEADERS = 100  # http.client._MAXHEADERS
_MAX_HEAD = _MAX_LINE + _MAX_HEADERS * (_MAX_LINE + 2)
_NO_BODY = (204, 304)

Recv = Callable[[int], bytes]


class AnswerTooLarge(Exception):
    """The body is larger than the caller's limit (nothing more is read)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"answer larger than the limit (HTTP {status})")
        self.status = status


@dataclass(frozen=True)
class Answer:
    """A status, the headers (lower-case names, first occurrence kept), the body, and whether the
    connection must be closed after it (the server said so, or the body ran to the end)."""

    status: int
    headers: dict[str, str]
    body: bytes
    will_close: bool


class _Reader:
    """Bytes from `recv`, buffered: the head by its blank line, the body by size."""

    def __init__(self, recv: Recv) -> None:
        self._recv = recv
        self._buf = bytearray()
        self.eof = False

    @property
    def pending(self) -> bool:
        """Whether bytes beyond what was read are buffered."""
        return bool(self._buf)

    def _more(self) -> bool:
        chunk = self._recv(65536)
        if not chunk:
            self.eof = True
            return False
        self._buf += chunk
        return True

    def head(self) -> bytes:
        """Up to (not including) the blank line that ends a head."""
        start = 0
        while True:
            end = self._buf.find(b"\r\n\r\n", start)
            if end >= 0:
                head = bytes(self._buf[:end])
                del self._buf[:end + 4]
                return head
            if len(self._buf) > _MAX_HEAD:
                raise http.client.HTTPException(f"got more than {_MAX_HEADERS} headers")
            start = max(0, len(self._buf) - 3)
            if not self._more():
                if not self._buf:
                    raise http.client.RemoteDisconnected("Remote end closed connection without response")
                raise http.client.IncompleteRead(bytes(self._buf))

    def line(self) -> bytes:
        """One CRLF-ended line (chunk sizes and trailers), bounded."""
        while True:
            end = self._buf.find(b"\r\n")
            if end >= 0:
                line = bytes(self._buf[:end])
                del self._buf[:end + 2]
                return line
            if len(self._buf) > _MAX_LINE:
                raise http.client.LineTooLong("chunk size")
            if not self._more():
                raise http.client.IncompleteRead(bytes(self._buf))

    def exactly(self, n: int) -> bytes:
        """`n` bytes (IncompleteRead when the connection ends first)."""
        while len(self._buf) < n:
            if not self._more():
                raise http.client.IncompleteRead(bytes(self._buf), n - len(self._buf))
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def rest(self, limit: int, status: int) -> bytes:
        """Everything up to the end of the connection, at most `limit` bytes."""
        while self._more():
            if len(self._buf) > limit:
                raise AnswerTooLarge(status)
        data = bytes(self._buf)
        self._buf.clear()
        return data


def _status_line(line: bytes) -> tuple[int, int]:
    """(minor version, status) of ``HTTP/1.x NNN reason``; BadStatusLine otherwise."""
    version, _, rest = line.partition(b" ")
    code = rest[:3]
    if version not in (b"HTTP/1.1", b"HTTP/1.0") or len(code) != 3 or not code.isdigit() or (
            len(rest) > 3 and rest[3:4] != b" "):
        raise http.client.BadStatusLine(line.decode("latin-1", "replace")[:100])
    return (1 if version == b"HTTP/1.1" else 0), int(code)


_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_FRAMING = ("content-length", "transfer-encoding")


def _parse_head(head: bytes) -> tuple[int, int, dict[str, str]]:
    lines = head.split(b"\r\n")
    if len(head) > _MAX_LINE and any(len(line) > _MAX_LINE for line in lines):
        raise http.client.LineTooLong("header line")
    if len(lines) - 1 > _MAX_HEADERS:
        raise http.client.HTTPException(f"got more than {_MAX_HEADERS} headers")
    minor, status = _status_line(lines[0])
    headers: dict[str, str] = {}
    for raw in lines[1:]:
        name, sep, value = raw.partition(b":")
        if not sep or not _TOKEN.fullmatch(name):
            raise http.client.HTTPException("malformed header line")
        key, text = name.decode("ascii").lower(), value.strip(b" \t").decode("latin-1")
        if key in headers:
            if key in _FRAMING and headers[key] != text:  # two framings: the next answer could be misread
                raise http.client.HTTPException(f"conflicting {key} headers")
            continue
        headers[key] = text
    return minor, status, headers


def _chunked(reader: _Reader, limit: int, status: int) -> bytes:
    body = bytearray()  # one buffer: a list of tiny chunks costs ~50 bytes of Python per chunk
    while True:
        text = reader.line().split(b";", 1)[0].strip()
        if not text or len(text) > 16 or not all(c in b"0123456789abcdefABCDEF" for c in text):
            raise http.client.IncompleteRead(b"")  # (int() would also take "+1", "-0" or "1_0")
        n = int(text, 16)
        if n == 0:
            for _ in range(_MAX_HEADERS + 1):  # trailers, up to the blank line (bounded as headers are)
                if not reader.line():
                    return bytes(body)
            raise http.client.HTTPException(f"got more than {_MAX_HEADERS} trailers")
        if len(body) + n > limit:
            raise AnswerTooLarge(status)
        body += reader.exactly(n)
        if reader.exactly(2) != b"\r\n":
            raise http.client.IncompleteRead(b"")


def read_answer(recv: Recv, limit: int) -> Answer:
    """Read one answer to a POST (100/102/103 skipped); the body at most `limit` bytes."""
    reader = _Reader(recv)
    while True:
        minor, status, headers = _parse_head(reader.head())
        if status == 101:  # nobody asked to switch protocols: what follows is not an answer to us
            raise http.client.HTTPException("unexpected 101 Switching Protocols")
        if not 100 <= status < 200:
            break
    connection = headers.get("connection", "").lower()
    will_close = "close" in connection or (minor == 0 and "keep-alive" not in connection)
    encoding = headers.get("transfer-encoding")
    length = headers.get("content-length")
    if status in _NO_BODY:  # ends at the blank line whatever the headers say (RFC 9112 6.3)
        body = b""
    elif encoding is not None:
        if encoding.strip().lower() != "chunked":
            raise http.client.HTTPException(f"unsupported Transfer-Encoding {encoding[:40]!r}")
        body = _chunked(reader, limit, status)
        # both framings, or chunks from HTTP/1.0: read as chunked, but the connection is not trusted after
        will_close = will_close or length is not None or minor == 0
    elif length is not None:
        if not length.strip().isdigit():
            raise http.client.HTTPException("malformed Content-Length")
        n = int(length)
        if n > limit:
            raise AnswerTooLarge(status)
        body = reader.exactly(n)
    else:
        body = reader.rest(limit, status)
        will_close = True
    if reader.pending:  # bytes nobody asked for: the next answer on this connection could not be trusted
        will_close = True
    return Answer(status, headers, body, will_close)
