"""The requests side: `MtlsAdapter`, `MtlsSession` (errors come out typed) and `make_session`."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from app.session.errors import (
    ApiUnavailable,
    ConnectionTimeout,
    EndpointUnreachable,
    RequestCancelled,
    SessionError,
    TlsError,
    TlsHandshakeError,
)
from app.session.tls.connection import ConnectionInfo
from app.session.tls.context import TlsContext
from app.session.tls.deadline import Operation, running
from app.session.tls.forward import post
from app.session.tls.keys import TlsIdentity
from app.session.tls.tickets import TicketStore
from app.session.tls.tlssocket import TlsSocketError
from app.session.tls.trust import TrustConfig
from app.tokens.errors import TokenError
from app.tokens.signer import Signer

#: Seconds one request may take in all (connect + handshake + request + answer): a server dribbling
#: bytes never trips a read timeout, this it does.
DEFAULT_DEADLINE = 60.0

#: No honest OUTSCALE answer comes near this (a ReadVms page of 1000 VMs is about 5 MiB).
MAX_ANSWER_BYTES = 32 * 2**20


class MtlsAdapter(HTTPAdapter):
    """An HTTPAdapter whose HTTPS connections use TlsContext (pooled, keep-alive, http/1.1)."""

    #: the local agent forwards on at most 4 at once (AgentOptions.upstream_slots); two more keep the key
    #: renewal's and the window's own calls from opening a connection the full pool would then drop
    def __init__(self, context: TlsContext, pool_maxsize: int = 6) -> None:
        self.tls_context = context
        super().__init__(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=0)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False,
                         **pool_kwargs: Any) -> None:
        pool_kwargs["ssl_context"] = self.tls_context
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        proxy_kwargs["ssl_context"] = self.tls_context
        return super().proxy_manager_for(proxy, **proxy_kwargs)

    def build_connection_pool_key_attributes(self, request: Any, verify: Any,
                                             cert: Any = None) -> Any:
        if cert:
            raise ValueError("client certificates come from the session's signer")
        host_params, _ = super().build_connection_pool_key_attributes(request, True, None)
        return host_params, {"cert_reqs": "CERT_REQUIRED"}

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        if cert:
            raise ValueError("client certificates come from the session's signer")
        conn.cert_reqs = "CERT_REQUIRED"  # requests' `verify` is ignored on purpose
        conn.ca_certs = None
        conn.ca_cert_dir = None


def _linked(exc: BaseException) -> Iterator[BaseException]:
    """The error, then what urllib3/requests wrapped in it (args, `reason`, cause, context), each once."""
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        e = todo.pop(0)
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [*e.args, getattr(e, "reason", None), e.__cause__, e.__context__]


def _find_typed(exc: BaseException) -> SessionError | TokenError | None:
    for e in _linked(exc):
        if isinstance(e, SessionError | TokenError):
            return e
        if isinstance(e, TlsSocketError):
            return e.error
    return None


class MtlsSession(requests.Session):
    """A requests.Session whose https:// traffic is mutual TLS through a Signer; errors come out typed.

    Raises ServerNotTrusted, ClientCertRejected, TlsHandshakeError, ConnectionTimeout,
    EndpointUnreachable (app.session.errors) or the signer's TokenError (e.g. TokenRemoved).
    """

    def __init__(self, signer: Signer | None, trust: TrustConfig | None = None,
                 timeout: float = 30.0, deadline: float = DEFAULT_DEADLINE,
                 max_answer: int = MAX_ANSWER_BYTES) -> None:
        super().__init__()
        self.deadline = deadline
        self.max_answer = max_answer
        self._ops_lock = threading.Lock()
        self._ops: set[Operation] = set()
        self.raw_pool_keys: dict[str, Any] = {}  # post_raw's pool key per URL (tls.forward._pool)
        self.identity = TlsIdentity(signer) if signer is not None else None
        self.trust = trust or TrustConfig()
        self.trust.store()  # fail early (ConfigError) on an unreadable CA file
        self.timeout = timeout
        self.tickets = TicketStore()
        self.tls_context = TlsContext(self.identity, self.trust, self.tickets)
        self.mount("https://", MtlsAdapter(self.tls_context))
        # No REQUESTS_CA_BUNDLE and no .netrc (which would replace our Authorization headers); the
        # proxy variables (HTTPS_PROXY, NO_PROXY) are still honoured, in request().
        self.trust_env = False

    @property
    def connection_info(self) -> ConnectionInfo | None:
        """The last completed handshake (full or resumed) of this session."""
        return self.tls_context.last_info

    @property
    def signatures(self) -> int:
        """Signatures the card/file key made for this session's handshakes."""
        return self.identity.signatures if self.identity else 0

    @property
    def handshakes(self) -> int:
        """Completed TLS handshakes (full or resumed)."""
        return self.tls_context.handshakes

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        if kwargs.get("proxies") is None and not self.proxies:
            proxies = requests.utils.get_environ_proxies(url if isinstance(url, str) else url.decode())
            if proxies:
                kwargs["proxies"] = proxies
        return super().request(method, url, *args, **kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """One operation: connect + handshake + request + answer, within `deadline` s, cancellable."""
        timeout = kwargs.get("timeout")
        if timeout is None:
            timeout = self.timeout
        kwargs["verify"] = True
        kwargs["cert"] = None
        stream = bool(kwargs.get("stream"))
        kwargs["stream"] = True  # the answer is read here, bounded, inside the operation
        op = Operation(self.deadline)
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        kwargs["timeout"] = (op.clamp(connect), read)
        with self._ops_lock:
            self._ops.add(op)
        url = request.url or ""
        signed = self.signatures
        answered = False
        try:
            with running(op):
                response = super().send(request, **kwargs)
                answered = True
                if not stream:
                    _read_bounded(response, self.max_answer, url)
                return response
        except (SessionError, TokenError, requests.RequestException, OSError) as e:
            stopped = _stopped(op, url)
            if stopped is not None:
                raise stopped from e
            if isinstance(e, SessionError | TokenError):
                raise
            raise _translate(e, url, timeout) from e
        finally:
            with self._ops_lock:
                self._ops.discard(op)
            if self.identity is not None:
                self.identity.settle(self.signatures - signed, answered)

    def post_raw(self, url: str, body: bytes, headers: dict[str, str],
                 timeout: float | tuple[float, float]) -> tuple[int, bytes, str]:
        """POST without requests (the agent's path, app.session.tls.forward): same pool, deadline, errors."""
        return post(self, url, body, headers, timeout, _stopped, _translate)

    def cancel(self) -> None:
        """Cancel the operations running now, from any thread (later requests are not affected)."""
        with self._ops_lock:
            ops = list(self._ops)
        for op in ops:
            op.cancel()

    def drop_connections(self) -> None:
        """Close pooled connections (tickets are kept: the next connection resumes)."""
        for adapter in self.adapters.values():
            adapter.close()

    def close(self) -> None:
        """Drop pooled connections and forget every TLS ticket (logout)."""
        super().close()
        self.tickets.clear()


def _stopped(op: Operation, url: str) -> SessionError | None:
    """The error for an operation that was cancelled or ran out of time (None if it was neither)."""
    host = urlsplit(url).hostname or url
    if op.cancelled:
        return RequestCancelled(f"The request to {host} was cancelled.", host=host)
    if op.expired or op.left() <= 0:
        return ConnectionTimeout(f"The server {host} did not finish answering within {op.seconds:g} s "
                                 "(it may be overloaded, or sending very slowly on purpose).", host=host)
    return None


def _read_bounded(response: requests.Response, limit: int, url: str) -> None:
    """Read the whole answer into `response` (so `.content` works), refusing more than `limit` bytes."""
    host = urlsplit(url).hostname or url
    status = response.status_code
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(65536):
            size += len(chunk)
            if size > limit:
                response.close()
                raise ApiUnavailable(
                    f"The server at {host} did not answer as the OUTSCALE API does: its answer is larger "
                    f"than {limit // 2**20} MiB (HTTP {status}).", http_status=status)
            chunks.append(chunk)
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as e:
        if _find_typed(e) is not None:
            raise
        response.close()
        raise ApiUnavailable(f"The server at {host} did not answer as the OUTSCALE API does: its answer "
                             f"was cut short (HTTP {status}).", http_status=status) from e
    response._content = b"".join(chunks)
    response._content_consumed = True  # type: ignore[attr-defined]


def _translate(e: BaseException, url: str, timeout: Any) -> SessionError | TokenError:
    typed = _find_typed(e)
    if typed is not None:
        return typed
    host = urlsplit(url).hostname or url
    if isinstance(e, requests.Timeout) or isinstance(_root(e), TimeoutError):
        return ConnectionTimeout(f"The server {host} did not answer within {timeout} s.", host=host)
    if isinstance(e, requests.exceptions.SSLError):
        return TlsHandshakeError(f"TLS error with {host}: {_root(e)}", host=host)
    if isinstance(e, requests.ConnectionError | OSError):
        parts = urlsplit(url)
        where = f"{host}:{parts.port}" if parts.port else host
        return EndpointUnreachable(f"Cannot reach {where}: {_os_reason(e) or _root(e)}", host=host)
    return TlsError(f"Request to {host} failed: {e}", host=host)


def _os_reason(e: BaseException) -> str | None:
    """The operating system's words ("Connection refused", "Name or service not known") under the
    urllib3/requests wrappers (which keep it in args, `reason` or the cause), if there are any."""
    for cur in _linked(e):
        if isinstance(cur, OSError) and isinstance(cur.strerror, str) and cur.strerror:
            return cur.strerror
    return None


def _root(e: BaseException) -> BaseException:
    seen = set()
    while id(e) not in seen:
        seen.add(id(e))
        nxt = getattr(e, "reason", None) or e.__cause__
        if not isinstance(nxt, BaseException):
            break
        e = nxt
    return e


def make_session(signer: Signer | None, trust: TrustConfig | None = None,
                 timeout: float = 30.0, deadline: float = DEFAULT_DEADLINE) -> MtlsSession:
    """A requests.Session doing mutual TLS with `signer` (None: no client certificate)."""
    return MtlsSession(signer, trust, timeout, deadline)
