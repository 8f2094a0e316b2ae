"""The agent's own request parsing (no email package): bounded like http.server's, stricter on odd
lines, same answers on what tools send. A real AgentServer on the loopback, raw sockets; the upstream is
a recorder (nothing may reach it from a malformed request)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from app.session.agent.pair import new_local_pair
from app.session.agent.server import AgentServer, ForwardAnswer
from app.session.agent.verify import RequestVerifier


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def forward(self, call: str, body: bytes) -> ForwardAnswer:
        self.calls.append(call)
        return ForwardAnswer(200, b"{}", "application/json")


@pytest.fixture
def agent() -> Iterator[tuple[AgentServer, Recorder]]:
    rec = Recorder()
    server = AgentServer(RequestVerifier(new_local_pair(), "eu-west-2"), rec)
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


def test_the_first_host_header_is_the_one_checked(agent: tuple[AgentServer, Recorder]) -> None:
    server, rec = agent
    raw = request(server).replace(f"Host: {server.host_header}\r\n".encode(), b"", 1)
    own = f"Host: {server.host_header}\r\n".encode()
    raw = raw.replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\nHost: evil.example\r\n" + own, 1)
    answer = exchange(server, raw)
    assert status(answer) == 403 and rec.calls == []


def test_an_unsigned_request_parses_and_is_refused_with_401(agent: tuple[AgentServer, Recorder]) -> None:
    server, rec = agent
    answer = exchange(server, request(server, "Content-Type: application/json"))
    assert status(answer) == 401 and b'"Code"' in answer and rec.calls == []


def test_expect_100_continue_is_answered(agent: tuple[AgentServer, Recorder]) -> None:
    server, rec = agent
    answer = exchange(server, request(server, "Expect: 100-continue"))
    assert answer.startswith(b"HTTP/1.1 100") and b"\r\n\r\nHTTP/1.1 401" in answer and rec.calls == []
