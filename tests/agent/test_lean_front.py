"""The agent's own request parsing (no email package): bounded like http.server's, stricter on odd
lines, same answers on what tools send. A real AgentServer on the loopback, raw sockets; the upstream is
a recorder (nothing may reach it from a malformed request)."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from email.utils import parsedate_to_datetime

import pytest

from app.session.agent import http1
from app.session.agent.pair import new_local_pair
from app.session.agent.server import AgentServer, ForwardAnswer
from app.session.agent.verify import RequestVerifier
from app.session.signing import osc4_headers


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.bodies: list[bytes] = []

    def forward(self, call: str, body: bytes) -> ForwardAnswer:
        self.calls.append(call)
        self.bodies.append(body)
        return ForwardAnswer(200, f'{{"Call": "{call}"}}'.encode(), "application/json")


@pytest.fixture
def agent() -> Iterator[tuple[AgentServer, Recorder]]:
    rec = Recorder()
    pair = new_local_pair()
    server = AgentServer(RequestVerifier(pair, "eu-west-2"), rec)
    server.pair = pair  # type: ignore[attr-defined]  # the tests below sign with it
    server.start()
    yield server, rec
    server.close()


def exchange(server: AgentServer, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(raw)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def request(server: AgentServer, *headers: str, line: str = "POST /api/v1/ReadVms HTTP/1.1") -> bytes:
    head = [line, f"Host: {server.host_header}", *headers, "Content-Length: 2"]
    return ("\r\n".join(head) + "\r\n\r\n{}").encode("latin-1")


def status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def test_too_many_headers_are_refused(agent: tuple[AgentServer, Recorder]) -> None:
    server, rec = agent
    answer = exchange(server, request(server, *[f"X-A{i}: v" for i in range(101)]))
    assert status(answer) == 431 and rec.calls == []


def test_a_header_line_too_long_is_refused(agent: tuple[AgentServer, Recorder]) -> None:
    server, rec = agent
    answer = exchange(server, request(server, "X-Long: " + "a" * 70000))
    assert status(answer) == 431 and rec.calls == []


@pytest.mark.parametrize("line", [" folded: continuation", "No colon here", "Bad Name: v"])
def test_odd_header_lines_are_refused(agent: tuple[AgentServer, Recorder], line: str) -> None:
    server, rec = agent
    answer = exchange(server, request(server, "X-Ok: v", line))
    assert status(answer) == 400 and rec.calls == []


@pytest.mark.parametrize("line", ["POST /api/v1/ReadVms HTTP/2.0", "POST /api/v1/ReadVms HTTP/x",
                                  "POST /api/v1/ReadVms", "POST /a b HTTP/1.1"])
def test_bad_request_lines_are_refused(agent: tuple[AgentServer, Recorder], line: str) -> None:
    server, rec = agent
    answer = exchange(server, request(server, line=line))  # as http.server: no status line before a version
    assert (b"Error code: 400" in answer or b"Error code: 505" in answer) and rec.calls == []


@pytest.mark.parametrize("order", ["evil first", "own first"])
def test_a_repeated_host_header_is_refused(agent: tuple[AgentServer, Recorder], order: str) -> None:
    # the Host check and the signature check must read the same Host: a second one is refused outright
    server, rec = agent
    raw = request(server).replace(f"Host: {server.host_header}\r\n".encode(), b"", 1)
    own = f"Host: {server.host_header}\r\n".encode()
    both = b"Host: evil.example\r\n" + own if order == "evil first" else own + b"Host: evil.example\r\n"
    answer = exchange(server, raw.replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\n" + both, 1))
    assert status(answer) == 400 and b"Repeated Host" in answer and rec.calls == []


def test_an_unsigned_request_parses_and_is_refused_with_401(agent: tuple[AgentServer, Recorder]) -> None:
    server, rec = agent
    answer = exchange(server, request(server, "Content-Type: application/json"))
    assert status(answer) == 401 and b'"Code"' in answer and rec.calls == []


def test_expect_100_continue_is_answered(agent: tuple[AgentServer, Recorder]) -> None:
    server, rec = agent
    answer = exchange(server, request(server, "Expect: 100-continue"))
    assert answer.startswith(b"HTTP/1.1 100") and b"\r\n\r\nHTTP/1.1 401" in answer and rec.calls == []


# --- the bulk reading: pipelining, split packets, closing, the answer's head -------------------------


def signed(server: AgentServer, body: bytes, *, call: str = "ReadVms", version: str = "HTTP/1.1",
           extra: tuple[str, ...] = ()) -> bytes:
    """A request signed with the agent's local pair as osc-sdk-python signs (host without the port)."""
    pair = server.pair  # type: ignore[attr-defined]
    h = osc4_headers(access_key=pair.access_key, secret_key=pair.secret_key, region="eu-west-2",
                     host="127.0.0.1", path=f"/api/v1/{call}", body=body)
    head = [f"POST /api/v1/{call} {version}", f"Host: {server.host_header}",
            *(f"{k}: {v}" for k, v in h.items()), *extra, f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def answers(raw: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """The answers in a byte stream: (status, headers lower-cased, body), each framed by Content-Length."""
    out = []
    while raw:
        head, _, raw = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        n = int(headers["content-length"])
        out.append((int(lines[0].split(" ")[1]), headers, raw[:n]))
        raw = raw[n:]
    return out


def read_until_closed(s: socket.socket) -> bytes:
    """Everything the agent sends until it closes (the socket's timeout fails a connection left open)."""
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    return out


def test_two_pipelined_requests_get_two_answers_in_order(agent: tuple[AgentServer, Recorder]) -> None:
    server, rec = agent
    first, second = signed(server, b'{"a": 1}'), signed(server, b'{"b": 2}', call="ReadSubnets")
    got = answers(exchange(server, first + second))  # one send: both in the agent's first recv
    assert [(a[0], a[2]) for a in got] == [(200, b'{"Call": "ReadVms"}'), (200, b'{"Call": "ReadSubnets"}')]
    assert rec.bodies == [b'{"a": 1}', b'{"b": 2}']


def test_a_body_sent_byte_by_byte_after_its_head_is_read_whole(agent: tuple[AgentServer, Recorder]) -> None:
    server, rec = agent
    body = b'{"Filters": {"VmIds": ["i-12345678"]}}'
    raw = signed(server, body)
    head = raw[: -len(body)]
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(head)
        for i in range(len(body)):
            s.sendall(body[i:i + 1])
        s.shutdown(socket.SHUT_WR)
        got = answers(read_until_closed(s))
    assert [a[0] for a in got] == [200] and rec.bodies == [body]


def test_a_head_sent_byte_by_byte_is_parsed(agent: tuple[AgentServer, Recorder]) -> None:
    server, rec = agent
    raw = signed(server, b"{}")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(raw)):
            s.sendall(raw[i:i + 1])
        s.shutdown(socket.SHUT_WR)
        got = answers(read_until_closed(s))
    assert [a[0] for a in got] == [200] and rec.calls == ["ReadVms"]


def test_a_request_line_over_the_limit_is_refused_with_414(agent: tuple[AgentServer, Recorder]) -> None:
    server, rec = agent
    line = "POST /api/v1/ReadVms?" + "a" * 65536 + " HTTP/1.1"
    answer = exchange(server, request(server, line=line))
    assert answer.startswith(b"HTTP/1.1 414 ") and rec.calls == []


def test_a_request_line_at_the_limit_is_not_refused_as_too_long(agent: tuple[AgentServer, Recorder]) -> None:
    server, rec = agent
    line = "POST /api/v1/ReadVms?a HTTP/1.1"
    line = line.replace("?a", "?" + "a" * (65536 - 2 - len(line) + 1))  # 65536 bytes with its CRLF
    assert len(line) + 2 == 65536
    answer = exchange(server, request(server, line=line))
    assert status(answer) == 401 and rec.calls == []  # parsed, then refused as unsigned


def test_http_1_0_without_keep_alive_is_closed_after_the_answer(agent: tuple[AgentServer, Recorder]) -> None:
    server, rec = agent
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(signed(server, b"{}", version="HTTP/1.0"))  # no shutdown: the agent must close
        got = answers(read_until_closed(s))
    assert [a[0] for a in got] == [200] and got[0][1].get("connection") == "close"
    assert rec.calls == ["ReadVms"]


def test_http_1_0_with_keep_alive_stays_open(agent: tuple[AgentServer, Recorder]) -> None:
    server, rec = agent
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(signed(server, b"{}", version="HTTP/1.0", extra=("Connection: keep-alive",)))
        s.sendall(signed(server, b"{}", version="HTTP/1.0"))  # the same connection serves a second one
        got = answers(read_until_closed(s))
    assert [a[0] for a in got] == [200, 200] and "connection" not in got[0][1] and len(rec.calls) == 2


def test_connection_close_is_honoured(agent: tuple[AgentServer, Recorder]) -> None:
    server, rec = agent
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(signed(server, b"{}", extra=("Connection: close",)) + signed(server, b"{}"))
        got = answers(read_until_closed(s))
    assert [a[0] for a in got] == [200] and got[0][1]["connection"] == "close" and len(rec.calls) == 1


_DATE = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                   r"\d{4} \d\d:\d\d:\d\d GMT")


def test_the_answer_carries_a_well_formed_date(agent: tuple[AgentServer, Recorder]) -> None:
    server, _ = agent
    got = answers(exchange(server, signed(server, b"{}") + signed(server, b"{}")))
    for _, headers, _ in got:
        assert _DATE.fullmatch(headers["date"]), headers
        assert parsedate_to_datetime(headers["date"]).utcoffset() is not None
        assert headers["content-type"] == "application/json" and headers["cache-control"] == "no-store"
        assert headers["server"].startswith("BaseHTTP/")


@pytest.mark.parametrize(("size", "expected"), [(65536, 401), (65537, 431)])
def test_a_header_line_is_bounded_at_65536_bytes(agent: tuple[AgentServer, Recorder], size: int,
                                                 expected: int) -> None:
    server, rec = agent
    line = "X-Long: " + "a" * (size - len("X-Long: ") - 2)  # `size` bytes with its CRLF, as readline counted
    answer = exchange(server, request(server, line))
    assert status(answer) == expected and rec.calls == []  # 401: parsed, then refused as unsigned


def _line_by_line(block: str) -> list[tuple[str, str]]:
    """The former reading's result for well-formed lines: value after the colon, leading blanks and
    trailing CRs dropped, trailing spaces kept."""
    out = []
    for line in block.split("\n"):
        name, _, value = line.rstrip("\r").partition(":")
        out.append((name, value.lstrip(" \t")))
    return out


@pytest.mark.parametrize("block", [
    "Host: 127.0.0.1:1\r\nX-A: v",
    "X-Trailing: v  \r\nX-Tab:\t\tv\t\r\nX-Empty:\r\nX-None:",
    "X-CR-Inside: a\rb\r\nX-CRs: c\r\r\r\nX-Bare-LF: d\nX-Last: e",
    "X-Blank-Value:  \r\nX-Dup: 1\r\nx-dup: 2\r\nX-Colons: a:b: c",
])
def test_the_bulk_header_parse_equals_the_line_by_line_one(block: str) -> None:
    headers = http1.parse_headers(block)
    assert headers.items() == _line_by_line(block)
    assert headers.get("X-DUP") == ("1" if "X-Dup" in block else None)  # first occurrence, any case


@pytest.mark.parametrize("line", ["POST  /api/v1/ReadVms  HTTP/1.1", "POST /api/v1/ReadVms HTTP/1.01",
                                  "POST\t/api/v1/ReadVms HTTP/1.1"])
def test_request_lines_http_server_splits_are_parsed(agent: tuple[AgentServer, Recorder], line: str) -> None:
    server, rec = agent
    answer = exchange(server, request(server, line=line))
    assert status(answer) == 401 and rec.calls == []  # parsed (not 400), then refused as unsigned


@pytest.mark.parametrize("name", ["X-Osc-Date", "Authorization", "Content-Type"])
def test_a_repeated_signed_header_is_refused(agent: tuple[AgentServer, Recorder], name: str) -> None:
    server, rec = agent
    raw = signed(server, b"{}")
    raw = raw.replace(f"{name}:".encode(), f"{name}: other\r\n{name}:".encode(), 1)
    answer = exchange(server, raw)
    assert status(answer) == 400 and b"Repeated" in answer and rec.calls == []


def test_a_signed_request_with_a_repeated_harmless_header_goes_through(
        agent: tuple[AgentServer, Recorder]) -> None:
    server, rec = agent
    raw = signed(server, b"{}", extra=("Accept: */*", "Accept: application/json"))
    assert [a[0] for a in answers(exchange(server, raw))] == [200] and rec.calls == ["ReadVms"]


@pytest.mark.parametrize("length", ["+2", "0_2", " 2x", "\u0662", "-1"])
def test_a_malformed_content_length_is_refused(agent: tuple[AgentServer, Recorder], length: str) -> None:
    server, rec = agent
    raw = signed(server, b"{}").replace(b"Content-Length: 2", f"Content-Length: {length}".encode())
    answer = exchange(server, raw)
    assert status(answer) in (400, 413) and rec.calls == [], answer[:200]


@pytest.mark.parametrize("te", ["Transfer-Encoding: ", "Transfer-Encoding: \r\nTransfer-Encoding: chunked"])
def test_any_transfer_encoding_is_refused(agent: tuple[AgentServer, Recorder], te: str) -> None:
    server, rec = agent
    raw = signed(server, b"{}", extra=(te,))
    answer = exchange(server, raw)
    assert status(answer) in (400, 413) and rec.calls == [], answer[:200]


def test_a_bad_request_target_gets_400_not_a_dropped_connection(agent: tuple[AgentServer, Recorder]) -> None:
    server, rec = agent
    answer = exchange(server, request(server, line="POST http://[x/api/v1/ReadVms HTTP/1.1"))
    assert status(answer) == 400 and rec.calls == []


@pytest.mark.timeout(20)  # a hang guard, not a speed check: linear is ~1 ms here, the quadratic regex ~25 s
def test_a_long_run_of_carriage_returns_parses_in_linear_time() -> None:
    # the former header regex was quadratic on this (65 KB of "\r" held the GIL: the whole app stopped);
    # the value is the line-by-line reading's
    from app.session.agent.http1 import parse_headers

    for n in (100, 65_000):
        block = "X: " + "\r" * n + "a\nY: b\r"
        assert parse_headers(block).items() == [("X", "\r" * n + "a"), ("Y", "b")]


def test_a_request_arriving_as_the_session_ends_gets_session_ended(
        agent: tuple[AgentServer, Recorder]) -> None:
    server, rec = agent
    raw = signed(server, b"{}")
    server.pair.secret_key.wipe()  # type: ignore[attr-defined]  # (end() wipes it just after `ended` is set)
    answer = exchange(server, raw)
    assert status(answer) == 401 and b"TrustedSessionEnded" in answer and rec.calls == []


def test_connections_beyond_the_cap_get_a_plain_503_and_the_rest_go_on(
        agent: tuple[AgentServer, Recorder], monkeypatch: pytest.MonkeyPatch) -> None:
    import app.session.agent.server as server_module

    monkeypatch.setattr(server_module, "MAX_CONNECTIONS", 3)
    server, rec = agent
    held = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(3)]
    try:
        held[0].sendall(signed(server, b"{}"))  # the first three are served (kept alive)
        assert held[0].recv(65536).startswith(b"HTTP/1.1 200")
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as extra:
            answer = read_until_closed(extra)
        assert status(answer) == 503 and b"TooManyConnections" in answer
    finally:
        for s in held:
            s.close()
    # once they are closed (their handler threads end), a new connection is served again
    for _ in range(200):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as again:
            again.sendall(signed(server, b"{}"))
            first = again.recv(65536)
        if first.startswith(b"HTTP/1.1 200"):
            break
        threading.Event().wait(0.05)  # (not a timing assertion: bounded retries while threads end)
    assert first.startswith(b"HTTP/1.1 200") and rec.calls == ["ReadVms", "ReadVms"]
