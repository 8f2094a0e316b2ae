"""The loopback HTTP server: browser refusals, the local signature check, then the forwarding.

Bound to 127.0.0.1 only (port 0: the system picks a free one). A web page must never reach it: a
request carrying ``Origin``, browser fetch metadata (``Sec-Fetch-*``) or a CORS preflight is refused,
no CORS header is ever sent (so a browser never lets a page read an answer), and the ``Host`` header
must be the agent's own ``127.0.0.1:PORT`` (a DNS-rebinding page sends its own name there). Only then is
the signature checked (app.session.agent.verify) and the call forwarded through an `Upstream`.

After the session ends, `end()` keeps the port answering every request with TrustedSessionEnded until
`close()`: a tool gets a clear error rather than a refused connection while the app still runs.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import urlsplit

import app.session.agent.http1 as http1  # not "from app.session.agent import": the package imports us
from app.session.agent.verify import LocalRequest, Refused, RequestVerifier
from app.session.agent.wire import (
    METHOD_REFUSED,
    NOT_FOUND,
    SESSION_ENDED,
    TOO_LARGE,
    TOO_MANY_CONNECTIONS,
    AgentError,
    browser_refused,
)
from app.tokens.secret import SecretWiped

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024 * 1024
#: connections open at once (each has its thread): far above what tools open (20 tools in the tests),
#: low enough that a local process opening thousands cannot exhaust the app's threads
MAX_CONNECTIONS = 128
_CALL_PATH = re.compile(r"^/api/(?:v1|latest)/(?P<call>[A-Za-z][A-Za-z0-9]{0,99})$")  # latest: osc-cli
_BROWSER_HEADERS = ("origin", "sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest", "sec-fetch-user",
                    "access-control-request-method", "access-control-request-headers")
_BROWSER_SET = frozenset(_BROWSER_HEADERS)


@dataclass(frozen=True)
class ForwardAnswer:
    """The API's answer, passed to the tool unchanged."""

    status: int
    body: bytes
    content_type: str


class UpstreamRefused(Exception):
    """The upstream could not forward (session ended or paused, endpoint unreachable)."""

    def __init__(self, error: AgentError) -> None:
        super().__init__(error.details)
        self.error = error


class Upstream(Protocol):
    """Where verified calls go (SessionUpstream in the product)."""

    def forward(self, call: str, body: bytes) -> ForwardAnswer:
        """Send `body` as `call` to the real endpoint; raise UpstreamRefused when it cannot."""
        ...


@dataclass(frozen=True)
class AgentStats:
    """Counters since the agent started."""

    forwarded: int  # calls the API answered (errors from the API included)
    refused: int  # refused by the agent itself, nothing forwarded
    failed: int  # verified but not forwarded (session ended or paused, endpoint unreachable)


_HTTP_VERSION = re.compile(r"^HTTP/(\d{1,10})\.(\d{1,10})$")
_PLAIN_HTTP11 = re.compile(r"([!-~]+) ([!-~]+) HTTP/1\.1")  # printable ASCII, single spaces: split() agrees


class _Handler(BaseHTTPRequestHandler):
    """One connection: heads read in bulk (app.session.agent.http1), answers written in one sendall."""

    protocol_version = "HTTP/1.1"  # keep-alive: tools reuse their connection
    server: _Server
    timeout = 120  # idle keep-alive connections are closed after this
    wbufsize = 0  # answers leave in one sendall of prebuilt bytes; send_error's (rare) writes go straight out

    _h: http1.Headers  # self.headers, typed (http.server declares an email Message)

    def setup(self) -> None:
        super().setup()
        # Without this, an answer's last segment waits for the tool's delayed ACK (~40 ms a call).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._in = http1.Receiver(self.connection)

    def handle_one_request(self) -> None:
        """http.server's, reading from the connection's buffer instead of rfile's readline."""
        try:
            head = self._in.head()
            if head is None:  # EOF between requests: the tool closed its connection
                self.close_connection = True
                return
            if not self._parse(head):
                return
            method = getattr(self, "do_" + self.command, None)
            if method is None:
                self.send_error(501, f"Unsupported method ({self.command!r})")
                return
            method()
        except TimeoutError as e:  # idle past `timeout`
            self.log_error("Request timed out: %r", e)
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True  # the tool went away mid-answer: nobody to tell

    def _parse(self, head: str) -> bool:
        """http.server's parse_request on the head (same answers, the headers by http1)."""
        self.command = None  # type: ignore[assignment]
        self.request_version = self.default_request_version
        self.close_connection = True
        line, _, block = head.partition("\n")
        if len(line) >= http1.MAX_LINE:  # as http.server: 414, its status line sent
            self.requestline, self.request_version, self.command = "", "", ""
            self.send_error(414)
            return False
        self.requestline = line.rstrip("\r")
        try:
            version = self._request_line()
            if version is None:
                return False
            self.headers = self._h = http1.NO_HEADERS  # type: ignore[assignment]
            self.headers = self._h = http1.parse_headers(block)  # type: ignore[assignment]
        except http1.BadRequest as e:
            self.send_error(e.status, str(e))
            return False
        twice = self._h.repeated(http1.SINGLE)
        if twice is not None:  # the Host check and the verifier (or the framing) could read different ones
            self.send_error(400, f"Repeated {twice.title()} header")
            return False
        first = self._h.first  # lower-case names, first occurrence: self.headers.get without a call
        conntype = (first.get("connection") or "").lower()
        if conntype == "close":
            self.close_connection = True
        elif conntype == "keep-alive":
            self.close_connection = False
        if (first.get("expect") or "").lower() == "100-continue" and version >= (1, 1):
            self._in.continue_()
        return True

    def _request_line(self) -> tuple[int, int] | None:
        """Command, path and version from self.requestline as http.server splits it; None when blank."""
        m = _PLAIN_HTTP11.fullmatch(self.requestline)
        if m is not None:  # what every tool sends: the general split below gives the same, slower
            words = [m[1], m[2], "HTTP/1.1"]
            version = (1, 1)
        else:
            words = self.requestline.split()
            if not words:
                return None
            if len(words) != 3:
                raise http1.BadRequest(400, "Bad request syntax")
            v = _HTTP_VERSION.match(words[2])
            if v is None:
                raise http1.BadRequest(400, "Bad request version")
            version = int(v[1]), int(v[2])
            if version >= (2, 0):
                raise http1.BadRequest(505, "Invalid HTTP version")
        self.request_version = words[2]
        self.close_connection = version < (1, 1)
        self.command, self.path = words[0], words[1]
        if self.path.startswith("//"):
            self.path = "/" + self.path.lstrip("/")
        return version

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("agent: " + format, *args)  # request lines only: never headers or bodies

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        head = http1.answer_head(status, content_type, len(body), self.close_connection)
        self.connection.sendall(head + body)  # one write: a copy of the body costs less than a second send
        if log.isEnabledFor(logging.DEBUG):  # log_request formats even when nothing is logged
            self.log_request(status)

    def _refuse(self, error: AgentError, *, close: bool = False) -> None:
        self.server.agent.count("refused")
        if close:
            self.close_connection = True
        self._send(error.status, error.body())

    def _browser_trait(self) -> str | None:
        first = self._h.first
        if not _BROWSER_SET.isdisjoint(first):  # one set operation; the name is looked for only then
            name = next(n for n in _BROWSER_HEADERS if n in first)
            return f"requests from web pages are refused ({name.title()} header)."
        host = first.get("host", "")
        if host != self.server.agent.host_header:
            return f"Host must be {self.server.agent.host_header} (DNS rebinding protection)."
        return None

    def do_POST(self) -> None:
        agent = self.server.agent
        trait = self._browser_trait()
        if trait is not None:
            self._refuse(browser_refused(trait), close=True)
            return
        length = self._length()
        if length is None:
            self._refuse(TOO_LARGE, close=True)
            return
        if length < 0:
            self.send_error(400, "Bad Content-Length")  # (closes: the body's end is unknown)
            return
        body = self._in.body(length) if length else b""
        try:
            parts = urlsplit(self.path)
        except ValueError:  # e.g. "http://[x/..."
            self.send_error(400, "Bad request target")
            return
        m = _CALL_PATH.match(parts.path)
        if m is None:
            self._refuse(NOT_FOUND)
            return
        if agent.ended:
            self._refuse(SESSION_ENDED)
            return
        req = LocalRequest("POST", parts.path, parts.query, self._h.first, body)  # names lower-case
        try:
            agent.verifier.check(req, m["call"])
        except Refused as r:
            self._refuse(r.error)
            return
        except SecretWiped:  # the local secret was wiped between the `ended` check and here: it ended
            self._refuse(SESSION_ENDED)
            return
        answer = agent.forward(m["call"], body)
        if isinstance(answer, AgentError):
            self._send(answer.status, answer.body())
        else:
            self._send(answer.status, answer.body, answer.content_type)

    def _length(self) -> int | None:
        """The body's length; None when refused as too large or chunked, -1 when malformed."""
        first = self._h.first
        if "transfer-encoding" in first:
            return None  # chunked bodies are not signed the way OUTSCALE signs: refuse plainly
        text = first.get("content-length", "0")
        if not (text.isascii() and text.isdigit()):  # int() would take "+2", "0_2", " 2", "٢"
            return -1
        length = int(text)
        return length if length <= MAX_BODY else None

    def _not_post(self) -> None:
        if self.command == "OPTIONS" or self.headers.get("origin") is not None:
            self._refuse(browser_refused("CORS preflights and web pages are refused."), close=True)
        else:
            self._refuse(METHOD_REFUSED, close=True)

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _not_post


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, agent: AgentServer) -> None:
        self.agent = agent
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            full = len(self._open) >= MAX_CONNECTIONS
            if not full:
                self._open.add(request)
        if full:  # a thread per connection: beyond the cap, a plain answer and no thread
            self.agent.count("refused")
            error = TOO_MANY_CONNECTIONS
            body = error.body()
            with contextlib.suppress(OSError):
                request.settimeout(1.0)
                request.sendall(http1.answer_head(error.status, "application/json", len(body), True) + body)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_open(self) -> None:
        """Shut the kept-alive connections (their handler threads then end)."""
        with self._open_lock:
            conns = list(self._open)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)


class AgentServer:
    """The agent's HTTP endpoint: `start()`, `end()` when the session ends, `close()` to stop listening."""

    def __init__(self, verifier: RequestVerifier, upstream: Upstream, *,
                 on_forwarded: Callable[[int], None] | None = None) -> None:
        self.verifier = verifier
        self._upstream = upstream
        self._on_forwarded = on_forwarded
        self._counts = {"forwarded": 0, "refused": 0, "failed": 0}
        self._lock = threading.Lock()
        self._ended = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.host_header = ""

    @property
    def port(self) -> int:
        """The TCP port (0 before start)."""
        return self._server.server_address[1] if self._server else 0

    @property
    def endpoint(self) -> str:
        """The URL the tools use as their API endpoint (osc-sdk-python's endpoints.api)."""
        return f"http://127.0.0.1:{self.port}/api/v1"

    @property
    def ended(self) -> bool:
        """Whether the session ended (every request then gets TrustedSessionEnded)."""
        return self._ended.is_set()

    def stats(self) -> AgentStats:
        """The counters."""
        with self._lock:
            return AgentStats(self._counts["forwarded"], self._counts["refused"], self._counts["failed"])

    def count(self, what: str) -> int:
        """Add one to a counter; returns its new value."""
        with self._lock:
            self._counts[what] += 1
            return self._counts[what]

    def forward(self, call: str, body: bytes) -> ForwardAnswer | AgentError:
        """Forward one verified call; an AgentError when it could not be."""
        try:
            answer = self._upstream.forward(call, body)
        except UpstreamRefused as r:
            self.count("failed")
            return r.error
        n = self.count("forwarded")
        log.debug("agent: %s forwarded (HTTP %d)", call, answer.status)
        if self._on_forwarded is not None:
            try:
                self._on_forwarded(n)
            except Exception:  # a display's bug never fails a tool's call
                log.exception("agent: the forwarded-call receiver failed")
        return answer

    def start(self) -> str:
        """Listen on 127.0.0.1 (a free port) and serve in a daemon thread; returns the endpoint."""
        if self._server is None:
            self._server = _Server(self)
            self.host_header = f"127.0.0.1:{self.port}"
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                            name=f"agent-{self.port}", daemon=True)
            self._thread.start()
        return self.endpoint

    def end(self) -> None:
        """The session ended: answer TrustedSessionEnded from now on and forget the replay cache."""
        self._ended.set()
        self.verifier.forget_all()

    def close(self) -> None:
        """Stop listening and close kept-alive connections (also ends)."""
        self.end()
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_open()
        server.server_close()
        if self._thread is not None:
            self._thread.join(5)
