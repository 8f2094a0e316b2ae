"""HTTP/1.1 for the agent's loopback front: request heads read in bulk, answers prebuilt in one write.

http.server reads a head line by line through a BufferedReader (17 ``readline`` calls for a typical
tool's request) and formats each answer header separately, with ``email.utils.formatdate`` for every
Date; the agent is CPU-bound Python, and that front cost about a fifth of a forwarded call. Here each
connection keeps one bytearray: ``recv`` fills it, the head is split once, and what follows the head
stays there for the body and for a pipelined next request.

The bounds are http.server's (and http.client's): a request line over 65536 bytes, a header line over
65536 bytes, more than 100 headers. No more than those bounds allow is ever buffered: the reading stops
at the first line that crosses one and hands the lines so far to the parser, which refuses them in line
order exactly as the line-by-line reading did.
"""

from __future__ import annotations

import re
import socket
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from operator import itemgetter
from typing import Any

MAX_LINE = 65536  # a line, its "\n" included, longer than this is refused (http.server's readline bound)
MAX_HEADERS = 100  # as http.client
_RECV = 64 * 1024
_BODY_RECV = 1024 * 1024  # a large body is received in pieces this size at most (recv allocates its size)
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# One header line at a line start: (name, value), the value after the colon with spaces and tabs before it
# skipped and "\r"s after it dropped, as the line-by-line parser below does. Anchored at line starts, a
# match covers its whole line; so when there are as many matches as lines, every line is well-formed.
# One regex pass in C instead of a Python loop per line. The value is written so that only one split of
# a line can match (it never ends with "\r"): a lazy value followed by "\r*" made a long run of "\r"
# quadratic (65 KB of them held the GIL, so the whole app, for ~25 s). It stays linear (tested).
_LINE = re.compile(r"^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([^\r\n]*(?:\r+[^\r\n]+)*)\r*(?:\n|\Z)",
                   re.MULTILINE)
#: headers whose repetition would let two readers of one request disagree (the Host check and the
#: signature check, the body's framing): a request repeating one is refused
SINGLE = frozenset({"host", "content-length", "transfer-encoding", "authorization", "x-osc-date",
                    "content-type"})
_NAME, _VALUE = itemgetter(0), itemgetter(1)


class BadRequest(Exception):
    """A head the agent refuses: `status` and http.server's message for send_error."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Headers:
    """A request's headers, parsed without the email package (a third of the agent's own time).

    `get` is case-insensitive and returns the first occurrence, as http.client's message does; `first`
    is the same as a dict keyed by lower-case names, for the handler's checks and the verifier (a
    request repeating a header either reads differently is refused: `repeated`).
    """

    __slots__ = ("_items", "first")

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._items = items
        # map and zip iterate in C (a comprehension is a Python loop); dict() keeps the last occurrence,
        # so only a request repeating a name (rare) needs the first-wins pass
        names = map(str.lower, map(_NAME, items))
        first: dict[str, str] = dict(zip(names, map(_VALUE, items), strict=True))
        self.first = first if len(first) == len(items) else {k.lower(): v for k, v in reversed(items)}

    def get(self, name: str, default: Any = None) -> Any:
        """The first value of `name` (any case), else `default`."""
        return self.first.get(name.lower(), default)

    def repeated(self, names: frozenset[str]) -> str | None:
        """The first of `names` that the request carries more than once, else None."""
        if len(self.first) == len(self._items):  # no name repeated at all (the usual case)
            return None
        seen: set[str] = set()
        for name, _ in self._items:
            key = name.lower()
            if key in names and key in seen:
                return key
            seen.add(key)
        return None

    def items(self) -> list[tuple[str, str]]:
        """Every (name, value) in arrival order."""
        return list(self._items)


NO_HEADERS = Headers([])


def parse_headers(block: str) -> Headers:
    """The header lines between the request line and the blank line (LF-separated, CRs kept).

    Checked in line order as the former line-by-line reading did: length, count, then syntax. Folded
    lines (obs-fold), spaces before the colon and nameless lines are refused.
    """
    if not block:
        return NO_HEADERS
    if len(block) < MAX_LINE - 1:  # then no line can be too long
        pairs = _LINE.findall(block)
        if len(pairs) == block.count("\n") + 1 <= MAX_HEADERS:  # every line well-formed, not too many
            return Headers(pairs)
    items: list[tuple[str, str]] = []
    for line in block.split("\n"):  # a fault somewhere: find the first, as the line-by-line reading did
        if len(line) >= MAX_LINE:  # its "\n" makes it longer than MAX_LINE
            raise BadRequest(431, "Line too long")
        if len(items) >= MAX_HEADERS:
            raise BadRequest(431, "Too many headers")
        name, sep, value = line.rstrip("\r").partition(":")
        if not sep or not _TOKEN.match(name):
            raise BadRequest(400, "Bad header line")
        items.append((name, value.lstrip(" \t")))  # as email's parser: trailing spaces kept
    return Headers(items)


class Receiver:
    """One connection's receive buffer: request heads and bodies, pipelined requests kept in order."""

    __slots__ = ("_buf", "_sock")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buf = bytearray()

    def _more(self, size: int = _RECV) -> bool:
        """Append what the socket has (up to `size`); False at EOF or when the tool reset the connection.

        A timeout (the idle keep-alive bound) propagates: the handler logs and closes.
        """
        try:
            data = self._sock.recv(size)
        except (ConnectionResetError, ConnectionAbortedError):
            return False
        if not data:
            return False
        self._buf += data
        return True

    def head(self) -> str | None:
        """The next head, request line first, lines LF-separated (CRs kept); None at a clean EOF.

        The blank line ending the head is not included; the head's bytes leave the buffer. At EOF in the
        middle of a head, what came is the head, as readline handed it over.
        """
        buf = self._buf
        if not buf and not self._more():
            return None
        # The common case: the whole head already here, CRLF line ends throughout. The two other finds
        # rule out an earlier blank line written with a bare LF (http.server accepts those too).
        p = buf.find(b"\r\n\r\n")
        if p > 0 and buf.find(b"\n\n", 0, p + 2) < 0 and buf.find(b"\n\r\n", 0, p + 2) < 0:
            return self._take(p, p + 4)
        return self._scan()

    def _scan(self) -> str:
        """The head line by line as the bytes arrive, stopping at the first bound crossed."""
        buf = self._buf
        start = 0  # where the current line starts
        look = 0  # where to look for its "\n" (bytes before were already looked at)
        lines = 0  # complete lines so far, the request line included
        while True:
            nl = buf.find(b"\n", look)
            if nl < 0:
                if len(buf) - start > MAX_LINE:  # this line is already too long: the parser says so
                    return self._take(start + MAX_LINE + 1, start + MAX_LINE + 1)
                look = len(buf)
                if not self._more():
                    return self._take(len(buf) - buf.endswith(b"\n"), len(buf))
                continue
            if nl + 1 - start > MAX_LINE:
                return self._take(nl, nl + 1)
            if lines and (nl == start or (nl == start + 1 and buf[start] == 0x0D)):
                return self._take(max(start - 1, 0), nl + 1)  # the blank line: the head's end
            lines += 1
            start = look = nl + 1
            if lines > MAX_HEADERS + 1:  # the request line and 101 headers: the parser refuses the last
                return self._take(nl, nl + 1)

    def _take(self, end: int, consumed: int) -> str:
        """buf[:end] as text; drop buf[:consumed]."""
        text = self._buf[:end].decode("iso-8859-1")
        del self._buf[:consumed]
        return text

    def continue_(self) -> None:
        """Answer ``Expect: 100-continue`` at once (the tool may wait for it before sending the body)."""
        self._sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")

    def body(self, length: int) -> bytes:
        """`length` bytes: first those already buffered, then received; fewer if the tool closed first."""
        buf = self._buf
        while len(buf) < length and self._more(min(max(length - len(buf), _RECV), _BODY_RECV)):
            pass
        if len(buf) <= length:
            body = bytes(buf)
            buf.clear()
            return body
        body = bytes(buf[:length])
        del buf[:length]  # the next pipelined request's bytes stay
        return body


# What http.server's send_response writes first: the status line, Server, Date. Server is kept as
# http.server sends it (BaseHTTP/0.6 Python/3.x): answers stay byte-compatible with the former front.
_SERVER = f"{BaseHTTPRequestHandler.server_version} {BaseHTTPRequestHandler.sys_version}"
_PHRASES = BaseHTTPRequestHandler.responses
_date: tuple[int, str] = (0, "")


def http_date() -> str:
    """The Date header's value, formatted once per second (formatdate cost more than the rest of a head)."""
    global _date
    now = int(time.time())
    cached = _date
    if cached[0] != now:
        cached = _date = (now, formatdate(now, usegmt=True))  # a race only formats twice
    return cached[1]


def answer_head(status: int, content_type: str, length: int, close: bool) -> bytes:
    """An answer's head as http.server's send_response plus the agent's headers, in one string."""
    phrase = _PHRASES[status][0] if status in _PHRASES else ""
    closing = "Connection: close\r\n" if close else ""  # so that the client does not reuse it
    return (f"HTTP/1.1 {status} {phrase}\r\nServer: {_SERVER}\r\nDate: {http_date()}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {length}\r\nCache-Control: no-store\r\n"
            f"{closing}\r\n").encode("latin-1", "strict")
