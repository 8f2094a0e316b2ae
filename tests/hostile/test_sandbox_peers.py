"""Class 9: the sandbox (the demo and the test double; people will point tools at it). It refuses a
replayed signature within the clock-skew window, never locks an account because of requests whose
signature did not verify, and answers malformed JSON, a missing body, a wrong content type, a chunked
body or a garbage request the OUTSCALE way (an `Errors` list), never a 500 or an HTML page.

Real path: the sandbox on loopback over real TLS, requests signed by the product's signing code, and
a raw TLS socket for what no HTTP library sends. Stated time: each case is one or a few requests
(well under a second each; the test ends within a minute at worst).

Property-based (Hypothesis): the sandbox's request parser and the handlers behind it, fed any call
name, headers and body, signed or not, always answer OUTSCALE-shaped, never raise.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.sandbox.server import Sandbox, SandboxInfo
from app.sandbox.state import CALL_PARAMS
from app.sandbox.wire import SandboxRequest
from app.session import signing
from app.session.api import OutscaleClient
from app.session.errors import AuthenticationFailed
from app.session.model import Secret
from app.session.regions import resolve_endpoint
from tests.rigs.sandbox import _shared_server_pki, make_sandbox  # noqa: F401 - fixture


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, _shared_server_pki: Path) -> Iterator[Sandbox]:  # noqa: F811
    sb = make_sandbox(tmp_path_factory.mktemp("hostile-sandbox"), _shared_server_pki)
    sb.start()
    yield sb
    sb.stop()


def _info(api: Sandbox) -> SandboxInfo:
    assert api.info is not None
    return api.info


_seconds = iter(range(10**9))


def unique_now() -> dt.datetime:
    """A signing time no other request here uses (within the skew window, behind the real clock: the
    product's client, signing at `now`, never meets one of these)."""
    return dt.datetime.now(dt.UTC) - dt.timedelta(seconds=840) + dt.timedelta(seconds=next(_seconds) % 800)


def signed(info: SandboxInfo, call: str, body: bytes, *, secret: str | None = None,
           now: dt.datetime | None = None, content_type: str = signing.CONTENT_TYPE) -> dict[str, str]:
    return signing.osc4_headers(access_key=info.access_key, secret_key=secret or info.secret_key,
                                region=info.region, host=f"127.0.0.1:{info.port}", path=f"/api/v1/{call}",
                                body=body, now=now or unique_now(), content_type=content_type)


def post(info: SandboxInfo, call: str, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(f"https://127.0.0.1:{info.port}/api/v1/{call}", data=body, headers=headers,
                         verify=info.ca_file, timeout=10)


def outscale_error(r: requests.Response) -> dict[str, Any]:
    """The first entry of an OUTSCALE error answer (fails on anything else: HTML, a 500, no Errors)."""
    assert r.status_code < 500, (r.status_code, r.text[:200])
    assert r.headers.get("Content-Type") == "application/json", r.headers
    errors = r.json()["Errors"]
    assert isinstance(errors, list) and errors[0]["Code"] and errors[0]["Type"], r.text
    return dict(errors[0])


def test_a_replayed_signature_is_refused(api: Sandbox) -> None:
    info = _info(api)
    headers = signed(info, "ReadAccounts", b"{}")
    assert post(info, "ReadAccounts", b"{}", headers).status_code == 200
    again = post(info, "ReadAccounts", b"{}", headers)  # the very same bytes, seconds later at most
    assert again.status_code == 401
    error = outscale_error(again)
    assert error["Code"] == "1" and "replay" in error["Details"]


def test_the_product_client_never_replays_itself(api: Sandbox) -> None:
    info = _info(api)
    http = requests.Session()
    http.verify = info.ca_file
    client = OutscaleClient(http, resolve_endpoint(info.region, info.endpoint)).with_access_key(
        info.access_key, Secret(info.secret_key))
    for _ in range(5):  # the same call and body, five times within a second or two
        assert client.read_accounts()


def test_requests_whose_signature_does_not_verify_never_lock_the_account(api: Sandbox) -> None:
    info = _info(api)
    for i in range(30):  # anyone who knows the access key id (no secret) could send these
        r = post(info, "ReadVms", b"{}", signed(info, "ReadVms", b"{}", secret=f"not-the-secret-{i}"))
        assert outscale_error(r)["Code"] == "1"
    assert api.lock_state() == (0, 0.0, False)
    good = post(info, "ReadVms", b"{}", signed(info, "ReadVms", b"{}"))
    assert good.status_code == 200, good.text


BAD_BODIES = {
    "malformed-json": (b'{"Filters": ', signing.CONTENT_TYPE),
    "not-an-object": (b"[1, 2]", signing.CONTENT_TYPE),
    "not-utf8": (b'{"a": "\xff"}', signing.CONTENT_TYPE),
    "deep-json": (b"[" * 50_000 + b"]" * 50_000, signing.CONTENT_TYPE),
    "wrong-content-type": (b"<xml/>", "application/xml"),
    "multipart": (b"--x\r\n\r\n--x--", "multipart/form-data; boundary=x"),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_a_bad_body_gets_an_outscale_error(api: Sandbox, case: str) -> None:
    info = _info(api)
    body, content_type = BAD_BODIES[case]
    r = post(info, "ReadVms", body, signed(info, "ReadVms", body, content_type=content_type))
    error = outscale_error(r)
    assert r.status_code == 400 and error["Type"] == "InvalidParameterValue", error


def test_a_missing_body_gets_an_outscale_error(api: Sandbox) -> None:
    info = _info(api)
    r = post(info, "DeleteAccessKey", b"", signed(info, "DeleteAccessKey", b""))
    assert r.status_code == 400 and outscale_error(r)["Code"] == "7000"  # MissingParameter


def test_parameters_of_the_wrong_type_get_an_outscale_error(api: Sandbox) -> None:
    info = _info(api)
    for call, params in [("CheckAuthentication", {"Login": ["x"], "Password": {"a": 1}}),
                         ("DeleteAccessKey", {"AccessKeyId": [1, 2]}),
                         ("ReadVms", {"Filters": "all", "ResultsPerPage": "many"})]:
        body = json.dumps(params).encode()
        r = post(info, call, body, signed(info, call, body))
        assert r.status_code < 500, r.text
        if r.status_code >= 400:
            outscale_error(r)


def _raw(info: SandboxInfo, data: bytes) -> bytes:
    ctx = ssl.create_default_context(cafile=info.ca_file)
    with socket.create_connection(("127.0.0.1", info.port), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(data)
        out = b""
        while chunk := tls.recv(65536):
            out += chunk
        return out


@pytest.mark.parametrize("request_bytes", [
    b"POST /api/v1/ReadVms HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    b"2\r\n{}\r\n0\r\n\r\n",
    b"GARBAGE\r\n\r\n",
    b"POST /api/v1/ReadVms HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\nConnection: close\r\n\r\n",
], ids=["chunked", "garbage-request-line", "bad-content-length"])
def test_what_no_http_library_sends_gets_an_outscale_error(api: Sandbox, request_bytes: bytes) -> None:
    info = _info(api)
    answer = _raw(info, request_bytes)
    if answer.startswith(b"HTTP/"):
        head, _, body = answer.partition(b"\r\n\r\n")
        status = int(head.split()[1])
        assert 400 <= status < 500 and b"application/json" in head, answer[:300]
    else:  # a request line without a version is HTTP/0.9: the answer is the body alone
        body = answer
    assert json.loads(body)["Errors"][0]["Code"], answer[:300]
    # and the sandbox still serves
    assert post(info, "ReadAccounts", b"{}", signed(info, "ReadAccounts", b"{}")).status_code == 200


# -- property-based: the request parser and the handlers behind it ---------------------------------

values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
READ_ONLY = sorted(c for c in CALL_PARAMS if c.startswith(("Read", "Check")))


@st.composite
def requests_(draw: st.DrawFn) -> tuple[str, bytes, str | None, bool]:
    call = draw(st.sampled_from([*READ_ONLY] * 3 + ["DeleteAccessKey", "NotACall", "", "Read Vms/../x"]))
    allowed = sorted(CALL_PARAMS.get(call, (frozenset(), frozenset()))[0]) or ["X"]
    params = draw(st.dictionaries(st.sampled_from(allowed), values, max_size=4)
                  | st.dictionaries(st.sampled_from([*allowed, "Unknown"]), values, max_size=4))
    json_body = json.dumps(params).encode()
    # mostly well-formed, signed JSON (to reach the handlers with parameters of any type), sometimes not
    body = draw(st.sampled_from([json_body] * 6 + [b"[" * 5000 + b"]" * 5000]) | st.binary(max_size=64))
    content_type = draw(st.sampled_from([signing.CONTENT_TYPE] * 6 + [None, "text/html", "application/json"]))
    return call, body, content_type, draw(st.sampled_from([True] * 5 + [False]))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(request=requests_())
def test_any_request_gets_an_outscale_shaped_answer(api: Sandbox, request: tuple[str, bytes, str | None,
                                                                                 bool]) -> None:
    info = _info(api)
    call, body, content_type, sign = request
    headers: dict[str, str] = {}
    if sign:  # a correctly signed request reaches the handlers (each signed a second apart: no replay)
        headers = {k.lower(): v for k, v in signed(info, call, body, content_type=content_type or "").items()}
    if content_type is None:
        headers.pop("content-type", None)
    headers["host"] = f"127.0.0.1:{info.port}"
    req = SandboxRequest(call=call, method="POST", headers=headers, body=body, client_ip="127.0.0.1",
                         path=f"/api/v1/{call}")
    resp = api.state.handle(req)
    assert resp.status < 500, resp.body
    assert "ResponseContext" in resp.body
    if resp.status >= 400:
        errors = resp.body["Errors"]
        assert errors[0]["Code"] and errors[0]["Type"] and isinstance(errors[0]["Details"], str)
    else:
        json.dumps(resp.body)  # an answer that can be sent


def test_a_wrong_secret_is_still_refused(api: Sandbox) -> None:
    info = _info(api)
    http = requests.Session()
    http.verify = info.ca_file
    client = OutscaleClient(http, resolve_endpoint(info.region, info.endpoint)).with_access_key(
        info.access_key, Secret("wrong"))
    with pytest.raises(AuthenticationFailed):
        client.read_accounts()

