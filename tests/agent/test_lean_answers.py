"""The agent's upstream without http.client: answers read by app.session.tls.http1, requests sealed by
TlsSocket's TLS 1.3 fast path. Real TLS on the loopback (Python's ssl, i.e. OpenSSL, as the server) with
scripted answers: what a real API or proxy may send must come through as it would through http.client,
and what it must not send must fail plainly (ApiUnavailable), never as a made-up answer."""

from __future__ import annotations

import gzip
import hashlib
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from app.session.errors import ApiUnavailable
from app.session.tls import TlsSocket, TrustConfig, make_session
from app.session.tls.session import MtlsSession
from tests.rigs.sandbox import _shared_server_pki  # noqa: F401 - fixture


@dataclass
class Scripted:
    """A TLS server answering each request with the next scripted bytes (then closing if asked)."""

    context: ssl.SSLContext
    answers: list[bytes | list[bytes] | None]  # None: close instead; a list: one TLS record each, one segment
    bodies: list[bytes] = field(default_factory=list)  # what the server received, in order
    connections: int = 0
    close_after_each: bool = False  # close the connection after each answer

    def __post_init__(self) -> None:
        self._lst = socket.create_server(("127.0.0.1", 0))
        self.port = self._lst.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                raw, _ = self._lst.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _request(self, tls: ssl.SSLSocket, buf: bytearray) -> bool:
        while b"\r\n\r\n" not in buf:
            chunk = tls.recv(65536)
            if not chunk:
                return False
            buf += chunk
        head, _, rest = bytes(buf).partition(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        while len(rest) < length:
            rest += tls.recv(65536)
        self.bodies.append(rest[:length])
        buf[:] = rest[length:]
        return True

    def _serve(self, raw: socket.socket) -> None:
        with self.context.wrap_socket(raw, server_side=True) as tls:
            buf = bytearray()
            while self.answers and self._request(tls, buf):
                answer = self.answers.pop(0)
                if answer is None:
                    return
                parts = answer if isinstance(answer, list) else [answer]
                tls.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)  # the records leave in one segment
                for part in parts:
                    tls.sendall(part)
                tls.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
                if self.close_after_each or b"Connection: close" in parts[-1]:
                    return

    def url(self) -> str:
        return f"https://localhost:{self.port}/api/v1/ReadVms"

    def close(self) -> None:
        self._lst.close()


@pytest.fixture
def http(_shared_server_pki: Path) -> Iterator[MtlsSession]:  # noqa: F811
    s = make_session(None, TrustConfig(extra_ca_file=str(_shared_server_pki / "ca.pem")), timeout=10.0,
                     deadline=10.0)
    yield s
    s.close()


@pytest.fixture
def scripted(server_ctx: ssl.SSLContext) -> Iterator[Scripted]:
    srv = Scripted(server_ctx, [])
    yield srv
    srv.close()


def _ok(body: bytes, *extra: str) -> bytes:
    head = ["HTTP/1.1 200 OK", "Content-Type: application/json", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def test_a_large_request_is_sealed_by_the_fast_path_and_arrives_whole(
        http: MtlsSession, scripted: Scripted, monkeypatch: pytest.MonkeyPatch) -> None:
    sealed: list[bool] = []
    original = TlsSocket._send_app_records

    def spy(self: TlsSocket, data: bytes) -> bool:
        sealed.append(original(self, data))
        return sealed[-1]

    monkeypatch.setattr(TlsSocket, "_send_app_records", spy)
    body = bytes(range(256)) * 400  # 102,400 bytes: seven records of at most 16 KiB
    scripted.answers += [_ok(b'{"n": 1}'), _ok(b'{"n": 2}')]
    assert http.post_raw(scripted.url(), body, {}, 10.0) == (200, b'{"n": 1}', "application/json")
    assert http.post_raw(scripted.url(), b"{}", {}, 10.0)[1] == b'{"n": 2}'  # same connection, next seq
    assert hashlib.sha256(scripted.bodies[0]).digest() == hashlib.sha256(body).digest()
    assert scripted.bodies[1] == b"{}" and scripted.connections == 1
    assert sealed == [True, True]


@pytest.mark.parametrize("answer,expected", [
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
     b"4;ext=1\r\n{\"a\"\r\n3\r\n: 1\r\n1\r\n}\r\n0\r\nTrailer: x\r\n\r\n", b'{"a": 1}'),
    (b"HTTP/1.1 100 Continue\r\n\r\n" + _ok(b'{"after": "continue"}'), b'{"after": "continue"}'),
    (_ok(gzip.compress(b'{"zipped": true}'), "Content-Encoding: gzip"), b'{"zipped": true}'),
    (b"HTTP/1.1 204 No Content\r\n\r\n", b""),
])
def test_answers_a_server_may_send_come_through(http: MtlsSession, scripted: Scripted, answer: bytes,
                                                expected: bytes) -> None:
    scripted.answers += [answer, _ok(b"{}")]
    assert http.post_raw(scripted.url(), b"{}", {}, 10.0)[1] == expected
    assert http.post_raw(scripted.url(), b"{}", {}, 10.0)[1] == b"{}"
    assert scripted.connections == 1  # the connection stayed usable


def test_an_answer_without_length_runs_to_the_end_and_the_connection_is_not_reused(
        http: MtlsSession, scripted: Scripted) -> None:
    scripted.close_after_each = True  # an HTTP/1.0 server ends such a body by closing
    no_length = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"to\": \"eof\"}"
    scripted.answers += [no_length, no_length]
    assert http.post_raw(scripted.url(), b"{}", {}, 10.0)[1] == b'{"to": "eof"}'
    assert http.post_raw(scripted.url(), b"{}", {}, 10.0)[1] == b'{"to": "eof"}'
    assert scripted.connections == 2  # a new connection, not the ended one


def test_connection_close_and_extra_bytes_mean_a_new_connection(http: MtlsSession,
                                                                scripted: Scripted) -> None:
    scripted.answers += [_ok(b'{"n": 1}', "Connection: close"), _ok(b'{"n": 2}') + b"HTTP/1.1 200 OK\r\n",
                         _ok(b'{"n": 3}')]
    assert http.post_raw(scripted.url(), b"{}", {}, 10.0)[1] == b'{"n": 1}'
    assert http.post_raw(scripted.url(), b"{}", {}, 10.0)[1] == b'{"n": 2}'
    assert http.post_raw(scripted.url(), b"{}", {}, 10.0)[1] == b'{"n": 3}'
    assert scripted.connections == 3  # closed as asked; then the trailing bytes made the second unusable


@pytest.mark.parametrize("answer,words", [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"short\": 1}", "cut short"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":", "cut short"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "cut short"),
    (b"SIP/2.0 200 OK\r\nContent-Length: 2\r\n\r\n{}", "BadStatusLine"),
    (b"HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\n{}", "BadStatusLine"),
    (b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 101 + b"Content-Length: 2\r\n\r\n{}", "HTTPException"),
    (b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70000 + b"\r\nContent-Length: 2\r\n\r\n{}", "LineTooLong"),
    (b"HTTP/1.1 200 OK\r\n folded: x\r\nContent-Length: 2\r\n\r\n{}", "HTTPException"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\n{}", "HTTPException"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n{}", "HTTPException"),
    (b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 2\r\n\r\n{}", "unknown Content-Encoding"),
    (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\n{}", "does not decompress"),
])
def test_answers_no_api_sends_fail_plainly(http: MtlsSession, scripted: Scripted, answer: bytes,
                                           words: str) -> None:
    scripted.close_after_each = True  # a short answer then ends with the connection
    scripted.answers += [answer]
    with pytest.raises(ApiUnavailable) as info:
        http.post_raw(scripted.url(), b"{}", {}, 10.0)
    assert words in str(info.value)


def test_a_kept_connection_closed_instead_of_an_answer_fails_plainly(http: MtlsSession,
                                                                    scripted: Scripted) -> None:
    scripted.answers += [_ok(b"{}"), None]  # the second request is read, then the server closes
    assert http.post_raw(scripted.url(), b"{}", {}, 10.0)[1] == b"{}"
    with pytest.raises(ApiUnavailable, match="RemoteDisconnected"):
        http.post_raw(scripted.url(), b"{}", {}, 10.0)


def test_a_chunked_answer_beyond_the_bound_is_refused(http: MtlsSession, scripted: Scripted) -> None:
    http.max_answer = 1000
    chunk = b"400\r\n" + b"x" * 1024 + b"\r\n"
    scripted.answers += [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 4 + b"0\r\n\r\n"]
    with pytest.raises(ApiUnavailable, match="larger than"):
        http.post_raw(scripted.url(), b"{}", {}, 10.0)


def test_an_extra_answer_in_a_record_of_its_own_is_never_taken_for_the_next(
        http: MtlsSession, scripted: Scripted) -> None:
    # the answer and a forged second one as two TLS records in one TCP segment: the second lands in the
    # TLS layer's buffers, not the reader's; the connection must not go back to the pool with it
    scripted.answers += [[_ok(b'{"n": 1}'), _ok(b'{"injected": "stale"}')], _ok(b'{"n": 2}')]
    assert http.post_raw(scripted.url(), b"{}", {}, 10.0)[1] == b'{"n": 1}'
    assert http.post_raw(scripted.url(), b"{}", {}, 10.0)[1] == b'{"n": 2}'
    assert scripted.connections == 2


@pytest.mark.parametrize("answer,expected,reused", [
    # 204 and 304 end at the blank line whatever their headers say (RFC 9112 6.3)
    (b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n", b"", True),
    # both framings: read as chunked, but the connection is not trusted after
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n2\r\n{}\r\n0\r\n\r\n", b"{}",
     False),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}", b"{}", True),  # same value twice
])
def test_framing_edge_cases(http: MtlsSession, scripted: Scripted, answer: bytes, expected: bytes,
                            reused: bool) -> None:
    scripted.answers += [answer, _ok(b'{"next": 1}'), _ok(b'{"next": 1}')]
    assert http.post_raw(scripted.url(), b"{}", {}, 10.0)[1] == expected
    assert http.post_raw(scripted.url(), b"{}", {}, 10.0)[1] == b'{"next": 1}'
    assert scripted.connections == (1 if reused else 2)


@pytest.mark.parametrize("answer,words", [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 30\r\n\r\n{}", "conflicting content-length"),
    (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n" + _ok(b"{}"), "101"),
    (b"HTTP/1.1 200 OK\r\nBad Name: v\r\nContent-Length: 2\r\n\r\n{}", "malformed header"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n+2\r\n{}\r\n0\r\n\r\n", "cut short"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n" + b"T: x\r\n" * 101 + b"\r\n",
     "trailers"),
])
def test_framings_that_could_desync_fail_plainly(http: MtlsSession, scripted: Scripted, answer: bytes,
                                                 words: str) -> None:
    scripted.close_after_each = True
    scripted.answers += [answer]
    with pytest.raises(ApiUnavailable) as info:
        http.post_raw(scripted.url(), b"{}", {}, 10.0)
    assert words in str(info.value) or words in repr(info.value.__cause__), (info.value, info.value.__cause__)


def test_tiny_chunks_cost_no_more_memory_than_the_answer(http: MtlsSession, scripted: Scripted) -> None:
    import tracemalloc

    chunks = b"1\r\nx\r\n" * 200_000  # a 200 KB body in one-byte chunks
    scripted.answers += [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"]
    tracemalloc.start()
    try:
        assert len(http.post_raw(scripted.url(), b"{}", {}, 10.0)[1]) == 200_000
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 12 * 200_000, peak  # a list of one-byte chunks alone would hold ~7 MB


def test_a_failed_sealed_write_closes_the_tls_connection(scripted: Scripted, _shared_server_pki: Path,  # noqa: F811
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from app.session.tls import deadline

    scripted.answers += [_ok(b"{}")]
    ctx_http = make_session(None, TrustConfig(extra_ca_file=str(_shared_server_pki / "ca.pem")), timeout=10.0)
    try:
        manager = ctx_http.adapters["https://"].poolmanager  # warm one connection, then break its next write
        assert ctx_http.post_raw(scripted.url(), b"{}", {}, 10.0)[1] == b"{}"
        pool = next(iter(manager.pools._container.values()))
        conn = pool.pool.queue[-1]
        tls_sock = conn.sock

        def broken(self: Any, data: Any, flags: int = 0) -> None:
            raise BrokenPipeError(32, "Broken pipe")

        monkeypatch.setattr(deadline.BoundedSocket, "sendall", broken)
        with pytest.raises(OSError):
            tls_sock.sendall(b"POST / HTTP/1.1\r\n\r\n")
        assert tls_sock._conn.closed  # sequence numbers moved on: never written to again
    finally:
        ctx_http.close()


def test_the_kept_pool_is_asked_for_again_once_closed(http: MtlsSession, scripted: Scripted) -> None:
    scripted.answers += [_ok(b'{"n": 1}'), _ok(b'{"n": 2}'), _ok(b'{"n": 3}')]
    assert http.post_raw(scripted.url(), b"{}", {}, 10.0)[1] == b'{"n": 1}'
    assert http.post_raw(scripted.url(), b"{}", {}, 10.0)[1] == b'{"n": 2}'  # the kept pool and connection
    http.drop_connections()  # closes the adapter's pools (as a logout does)
    assert http.post_raw(scripted.url(), b"{}", {}, 10.0)[1] == b'{"n": 3}'
    assert scripted.connections == 2
