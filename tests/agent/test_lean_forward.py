"""The agent's lean upstream path (`MtlsSession.post_raw`) keeps the session's guarantees: the overall
deadline against a dribbling server, Cancel, and the answer's size bound. Real TLS on the loopback."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.session.errors import ApiUnavailable, ConnectionTimeout, EndpointUnreachable, RequestCancelled
from app.session.tls import TrustConfig, make_session
from app.session.tls.session import MtlsSession
from tests.rigs.hostile_peers import tls_dribbler
from tests.rigs.sandbox import _shared_server_pki  # noqa: F401 - fixture

BEAT = 0.5  # seconds between two bytes: no read ever times out (10 s)
BOUND = 20.0


@pytest.fixture
def http(_shared_server_pki: Path) -> Iterator[MtlsSession]:  # noqa: F811
    s = make_session(None, TrustConfig(extra_ca_file=str(_shared_server_pki / "ca.pem")), timeout=10.0,
                     deadline=2.0)
    yield s
    s.close()


def _post(http: MtlsSession, port: int) -> tuple[threading.Thread, list[object]]:
    box: list[object] = []

    def run() -> None:
        try:
            box.append(http.post_raw(f"https://localhost:{port}/api/v1/ReadVms", b"{}", {}, 10.0))
        except BaseException as e:  # the test inspects it
            box.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box


def test_a_dribbled_answer_ends_at_the_deadline(http: MtlsSession, server_ctx: ssl.SSLContext) -> None:
    with tls_dribbler(server_ctx, BEAT) as peer:
        t, box = _post(http, peer.port)
        t.join(BOUND)
        assert not t.is_alive(), f"still waiting after {BOUND} s"
        assert isinstance(box[0], ConnectionTimeout), box


def test_cancel_stops_a_dribbled_answer(server_ctx: ssl.SSLContext, _shared_server_pki: Path) -> None:  # noqa: F811
    http = make_session(None, TrustConfig(extra_ca_file=str(_shared_server_pki / "ca.pem")), timeout=10.0,
                        deadline=60.0)
    with tls_dribbler(server_ctx, BEAT) as peer:
        t, box = _post(http, peer.port)
        t.join(1.5)  # connected and reading (the dribbler's first bytes)
        http.cancel()
        t.join(BOUND)
        assert not t.is_alive(), f"still waiting {BOUND} s after cancel"
        assert isinstance(box[0], RequestCancelled), box
    http.close()


def test_an_answer_beyond_the_bound_is_refused(http: MtlsSession, server_ctx: ssl.SSLContext) -> None:
    import socket

    lst = socket.create_server(("127.0.0.1", 0))
    port = lst.getsockname()[1]

    def serve() -> None:
        raw, _ = lst.accept()
        with server_ctx.wrap_socket(raw, server_side=True) as tls:
            tls.recv(65536)
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 3000\r\n\r\n"
                        + b"x" * 3000)

    threading.Thread(target=serve, daemon=True).start()
    http.max_answer = 1000
    t, box = _post(http, port)
    t.join(BOUND)
    lst.close()
    assert isinstance(box[0], ApiUnavailable) and "larger than" in str(box[0]), box


def test_a_closed_port_is_unreachable(http: MtlsSession) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as lst:
        port = lst.getsockname()[1]  # closed when the block ends: nothing listens there then
    t, box = _post(http, port)
    t.join(BOUND)
    assert isinstance(box[0], EndpointUnreachable) and "refused" in str(box[0]).lower(), box
