"""Class 8: answers the client does not expect. A server that answers HTML, a truncated body, a huge
body, or JSON of the wrong shape gets one plain message ("the server at X did not answer as the
OUTSCALE API does", with the HTTP status), never a traceback, a KeyError or all the memory.

Real path: a real HTTPS server on loopback (Python ssl) answering each case to the product's mTLS
transport and OutscaleClient. Stated time: each case ends within the transport's deadline (60 s); the
huge one stops reading at MAX_ANSWER_BYTES (32 MiB) instead of reading 1 GiB.

Property-based (Hypothesis): any status and any body, bytes or JSON, at the client's seam (a fake
requests.Session), gives a typed SessionError or a typed value, nothing else.
"""

from __future__ import annotations

import http.server
import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.session.api import OutscaleClient
from app.session.errors import ApiError, ApiUnavailable, SessionError
from app.session.model import Secret
from app.session.regions import resolve_endpoint
from app.session.tls import TrustConfig, make_session
from app.session.tls.session import MAX_ANSWER_BYTES
from tests.rigs.sandbox import _shared_server_pki  # noqa: F401 - fixture

BIG = 2**30  # what the huge answer claims (1 GiB); the client must stop at MAX_ANSWER_BYTES


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json"
    length: int | None = None  # a Content-Length other than len(body): a truncated answer
    endless: bool = False  # zeros until the client hangs up


class HostileApi:
    """HTTPS on 127.0.0.1 answering every POST with `self.answer`; counts bytes it managed to send."""

    def __init__(self, pki: Path) -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki / "server.pem", pki / "server-key.pem")
        self.answer = Answer(200, b"{}")
        self.sent = 0
        rig = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                a = rig.answer
                self.send_response(a.status)
                self.send_header("Content-Type", a.content_type)
                self.send_header("Content-Length", str(BIG if a.endless else a.length or len(a.body)))
                if a.length is not None or a.endless:
                    self.send_header("Connection", "close")
                self.end_headers()
                try:
                    if a.endless:
                        chunk = b"0" * 65536
                        while rig.sent < BIG:
                            self.wfile.write(chunk)
                            rig.sent += len(chunk)
                    else:
                        self.wfile.write(a.body)
                except OSError:
                    return
                if a.length is not None:
                    self.close_connection = True

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        inner = self.server.socket
        self.server.socket = ctx.wrap_socket(inner, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HostileApi, OutscaleClient]]:
    from app.sandbox.server import ensure_server_pki

    state = tmp_path_factory.mktemp("hostile-api")
    ca, _, _ = ensure_server_pki(state, ["localhost", "127.0.0.1"])
    srv = HostileApi(state / "pki")
    http = make_session(None, TrustConfig(extra_ca_file=str(ca)), timeout=10.0)
    endpoint = resolve_endpoint("eu-west-2", f"https://localhost:{srv.port}/api/v1")
    client = OutscaleClient(http, endpoint, max_retries=0).with_access_key("AK", Secret("SK"))
    yield srv, client
    http.close()
    srv.close()


PLAIN = "did not answer as the OUTSCALE API does"

CASES = {
    "html-200": Answer(200, b"<html><body>Welcome to nginx!</body></html>", "text/html"),
    "html-502": Answer(502, b"<html><h1>502 Bad Gateway</h1></html>", "text/html"),
    "truncated": Answer(200, b'{"AccessKeys": [{"AccessKeyId": "AK', length=4096),
    "wrong-shape-list": Answer(200, b'{"AccessKeys": {"AccessKeyId": 1}}'),
    "wrong-shape-value": Answer(200, b'{"AccessKeys": [{"AccessKeyId": 12, "Tag": []}]}'),
    "top-level-array": Answer(200, b"[1, 2, 3]"),
    "deep-json": Answer(200, b"[" * 100_000 + b"]" * 100_000),
    "not-utf8": Answer(200, b'{"AccessKeys": "\xff\xfe"}'),
}


@pytest.mark.parametrize("case", list(CASES))
def test_an_unexpected_answer_is_one_plain_message(hostile: tuple[HostileApi, OutscaleClient],
                                                   case: str) -> None:
    srv, client = hostile
    srv.answer = CASES[case]
    with pytest.raises(ApiError) as caught:
        client.read_access_keys()
    message = str(caught.value)
    assert PLAIN in message and "localhost" in message, message
    assert f"HTTP {CASES[case].status}" in message, message
    assert caught.value.http_status == CASES[case].status


def test_a_huge_answer_is_not_read_whole(hostile: tuple[HostileApi, OutscaleClient]) -> None:
    srv, client = hostile
    srv.sent = 0
    srv.answer = Answer(200, b"", endless=True)
    with pytest.raises(ApiUnavailable) as caught:
        client.read_access_keys()
    assert PLAIN in str(caught.value) and "HTTP 200" in str(caught.value)
    assert "larger than 32 MiB" in str(caught.value)
    assert srv.sent < BIG // 4  # the client hung up near MAX_ANSWER_BYTES, far from the 1 GiB claimed
    assert MAX_ANSWER_BYTES == 32 * 2**20


def test_an_honest_answer_still_reads(hostile: tuple[HostileApi, OutscaleClient]) -> None:
    srv, client = hostile
    body = {"AccessKeys": [{"AccessKeyId": "AKID", "State": "ACTIVE", "Tag": "t"}],
            "ResponseContext": {"RequestId": "r"}}
    srv.answer = Answer(200, json.dumps(body).encode())
    keys = client.read_access_keys()
    assert [k.access_key_id for k in keys] == ["AKID"] and keys[0].active


# -- property-based: the client's seam -------------------------------------------------------------


class _Canned(requests.Session):
    """A requests.Session whose every POST answers `status`/`body` (no network)."""

    def __init__(self) -> None:
        super().__init__()
        self.status, self.body = 200, b"{}"

    def post(self, url: Any, data: Any = None, json: Any = None, **kw: Any) -> requests.Response:
        r = requests.Response()
        r.status_code, r._content, r.url = self.status, self.body, str(url)
        r.headers["Content-Type"] = "application/json"
        return r


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=30,
)
KEYS = ["AccessKeys", "AccessKey", "ApiAccessPolicy", "Accounts", "Vms", "Cas", "Ca", "ApiAccessRules",
        "ApiAccessRule", "Regions", "NextPageToken", "Tags", "Placement", "AccessKeyId", "SecretKey",
        "ExpirationDate", "Tag", "VmId", "CaIds", "Cns", "IpRanges", "MaxAccessKeyExpirationSeconds",
        "RequireTrustedEnv", "Errors", "Code", "Type", "Details"]
# JSON objects whose keys are the API's own, nested: the shapes a confused or hostile server gives
api_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=5),
    max_leaves=25,
)
api_objects = st.dictionaries(st.sampled_from(KEYS), api_like, max_size=5)
bodies = st.one_of(api_objects.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200),
                   json_values.map(lambda v: json.dumps(v).encode()))
statuses = st.one_of(st.just(200), st.sampled_from([201, 204, 301, 400, 401, 403, 404, 409, 429, 500, 502]))

CALLS = {
    "read_access_keys": lambda c: c.read_access_keys(),
    "read_api_access_policy": lambda c: c.read_api_access_policy(),
    "read_accounts": lambda c: c.read_accounts(),
    "read_vms": lambda c: c.read_vms(max_pages=2),
    "read_cas": lambda c: c.read_cas(),
    "read_api_access_rules": lambda c: c.read_api_access_rules(),
    "read_regions": lambda c: c.read_regions(),
    "create_access_key": lambda c: c.create_access_key(tag="t"),
    "delete_access_key": lambda c: c.delete_access_key("AK"),
    "create_ca": lambda c: c.create_ca("PEM"),
    "create_api_access_rule": lambda c: c.create_api_access_rule(ca_ids=["x"]),
    "update_api_access_policy": lambda c: c.update_api_access_policy(0, False),
}


@pytest.mark.parametrize("call", list(CALLS))
def test_any_answer_gives_a_typed_error_or_a_typed_value(call: str) -> None:
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(status=statuses, body=bodies)
    def check(status: int, body: bytes) -> None:
        http = _Canned()
        http.status, http.body = status, body
        client = OutscaleClient(http, resolve_endpoint("eu-west-2", None), max_retries=0,
                                sleep=lambda s: None).with_access_key("AK", Secret("SK"))
        try:
            CALLS[call](client)
        except SessionError as e:
            assert str(e) and "Traceback" not in str(e)

    check()
