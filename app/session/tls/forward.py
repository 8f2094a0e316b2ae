"""A lean POST over `MtlsSession`'s own connection pool, for the local API agent (no requests/urllib3 send).

The agent forwards thousands of small calls; `requests` preparing each one (merging settings, hooks,
cookies, header dicts) and urllib3 writing headers and body in two TLS records cost more than the TLS
itself on a local endpoint. This path takes a kept connection from the very pool `requests` uses (same
connections, same tickets: no card signature more than before), writes the request in one `sendall`
(one TLS record for an ordinary call), parses the answer with http.client, and keeps everything the
session guarantees: the overall deadline and Cancel (`Operation`), the answer bounded in size, typed
errors (session.py's translation), the signature accounting (`identity.settle`), no retry.
"""

from __future__ import annotations

import http.client
import zlib
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3

from app.session.errors import ApiUnavailable, SessionError
from app.session.tls.deadline import Operation, running
from app.session.tls.http1 import Answer, AnswerTooLarge, read_answer
from app.tokens.errors import TokenError

#: session.py's `_stopped` and `_translate`, handed in (this module must not import session.py back)
Stopped = Callable[[Operation, str], SessionError | None]
Translate = Callable[[BaseException, str, Any], SessionError | TokenError]


def _host_header(host: str, port: int) -> str:
    """The Host header http.client would send for this connection (port left out when 443)."""
    if ":" in host:
        host = f"[{host}]"
    return host if port == 443 else f"{host}:{port}"


def _pool(session: Any, url: str) -> Any:
    """The urllib3 pool `requests` itself would use for `url` (the adapter's keys: CERT_REQUIRED).

    Working the pool's key out costs more than the rest of a forwarded call's bookkeeping, so it is kept
    per URL; the pool itself is still looked up in the pool manager each time. urllib3's manager forgets
    its pools on clear() (logout, `drop_connections`) without closing them, so a pool kept here instead
    would go on serving connections the session has let go.
    """
    adapter: Any = session.get_adapter(url)
    manager = adapter.poolmanager
    key = session.raw_pool_keys.get(url)
    if key is not None:
        pool = manager.pools.get(key)
        if pool is not None:
            return pool
    prepared = requests.PreparedRequest()
    prepared.url = url
    host_params, pool_kwargs = adapter.build_connection_pool_key_attributes(prepared, True, None)
    pool = manager.connection_from_host(**host_params, pool_kwargs=pool_kwargs)
    held = list(manager.pools._container.items())  # (no public way to ask the manager for a pool's key)
    session.raw_pool_keys[url] = next((k for k, v in held if v is pool), None)
    return pool


def _decoded(answer: Answer, limit: int, host: str) -> bytes:
    """The answer's body, decoded if the server compressed it anyway (bounded again once inflated)."""
    status, data = answer.status, answer.body
    encoding = (answer.headers.get("content-encoding") or "identity").strip().lower()
    if encoding in ("gzip", "deflate"):
        inflater = zlib.decompressobj(47 if encoding == "gzip" else zlib.MAX_WBITS)
        try:
            data = inflater.decompress(data, limit + 1)
        except zlib.error as e:
            raise ApiUnavailable(f"The server at {host} sent an answer that does not decompress "
                                 f"(HTTP {status}).", http_status=status) from e
        if len(data) > limit:
            raise _too_large(host, limit, status)
    elif encoding != "identity":
        raise ApiUnavailable(f"The server at {host} answered with an unknown Content-Encoding "
                             f"(HTTP {status}).", http_status=status)
    return data


def _too_large(host: str, limit: int, status: int) -> ApiUnavailable:
    return ApiUnavailable(f"The server at {host} did not answer as the OUTSCALE API does: its answer is "
                          f"larger than {limit // 2**20} MiB (HTTP {status}).", http_status=status)


def _exchange(conn: Any, head: bytes, body: bytes, limit: int, host: str) -> Answer:
    """Send one request in one write and read its answer (typed errors for a short or oversized one)."""
    conn.sock.sendall(head + body)  # one TLS record for an ordinary call
    try:
        return read_answer(conn.sock.recv, limit)
    except AnswerTooLarge as e:
        raise _too_large(host, limit, e.status) from e
    except http.client.IncompleteRead as e:
        raise ApiUnavailable(f"The server at {host} did not answer as the OUTSCALE API does: its answer "
                             f"was cut short.") from e


def post(session: Any, url: str, body: bytes, headers: dict[str, str], timeout: float | tuple[float, float],
         stopped: Stopped, translate: Translate) -> tuple[int, bytes, str]:
    """POST `body` to `url` (https) over an MtlsSession's pool; (status, answer, Content-Type). No retry."""
    connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    pool = _pool(session, url)
    parts = urlsplit(url)
    op = Operation(session.deadline)
    with session._ops_lock:
        session._ops.add(op)
    signed = session.signatures
    answered = False
    conn = None
    try:
        with running(op):
            conn = pool._get_conn()  # a dropped kept connection is closed there (then reconnected)
            conn.timeout = op.clamp(connect)
            if conn.sock is None:
                conn.connect()  # the handshake runs under the operation (BoundedSocket)
            conn.sock.settimeout(read)  # each read: min(read timeout, time left)
            lines = [f"POST {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1",
                     f"Host: {_host_header(conn.host, conn.port)}", "Accept-Encoding: identity",
                     "Connection: keep-alive", f"Content-Length: {len(body)}"]
            lines += [f"{k}: {v}" for k, v in headers.items()
                      if k.lower() not in ("host", "content-length", "connection", "accept-encoding")]
            text = "\r\n".join(lines)
            if text.count("\n") != len(lines) - 1 or text.count("\r") != len(lines) - 1:
                raise ValueError("a header holds a line break")  # (one search each, not one per line)
            head = (text + "\r\n\r\n").encode("latin-1")
            host = parts.hostname or url
            answer = _exchange(conn, head, body, session.max_answer, host)
            answered = True
            data = _decoded(answer, session.max_answer, host)
            if answer.will_close or conn.sock.buffered():  # (more came than the answer: not reused)
                conn.close()
            else:
                pool._put_conn(conn)  # kept for the next call
                conn = None
            return answer.status, data, answer.headers.get("content-type") or "application/json"
    except (SessionError, TokenError, OSError, http.client.HTTPException, ValueError,
            urllib3.exceptions.HTTPError) as e:
        if conn is not None:
            conn.close()
        halted = stopped(op, url)
        if halted is not None:
            raise halted from e
        if isinstance(e, SessionError | TokenError):
            raise
        if isinstance(e, urllib3.exceptions.HTTPError):
            # as requests' adapter wraps them: a connect timeout, else a connection error
            timed_out = isinstance(e, urllib3.exceptions.ConnectTimeoutError) and not isinstance(
                e, urllib3.exceptions.NewConnectionError)
            wrapped = requests.exceptions.ConnectTimeout(e) if timed_out else requests.ConnectionError(e)
            raise translate(wrapped, url, timeout) from e
        if isinstance(e, http.client.HTTPException | ValueError):
            host = parts.hostname or url
            # what went wrong in our own words (http1's), never the server's bytes (a status line)
            said = "" if isinstance(e, http.client.BadStatusLine) else str(e)[:120]
            raise ApiUnavailable(f"The server at {host} did not answer as the OUTSCALE API does "
                                 f"({type(e).__name__}{': ' + said if said else ''}).") from e
        raise translate(e, url, timeout) from e
    finally:
        if conn is not None:
            pool._put_conn(None)  # the slot goes back (the connection was closed)
        with session._ops_lock:
            session._ops.discard(op)
        if session.identity is not None:
            session.identity.settle(session.signatures - signed, answered)
