"""Error mapping by Code, retries, timeouts and request shapes of OutscaleClient (fake HTTP seam)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
import requests

from app.session import errors as E
from app.session.api import (
    ANONYMOUS_CALLS,
    BASIC_AUTH_CALLS,
    AccessKey,
    CreatedAccessKey,
    OutscaleClient,
    error_class_for,
    error_from_response,
    format_api_datetime,
    parse_api_datetime,
)
from app.session.model import AuthMethod, Secret
from app.session.regions import resolve_endpoint
from tests.rigs import oapi

# --- mapping ------------------------------------------------------------------------------------------


def _body(code: str, type_: str, details: str = "") -> bytes:
    return json.dumps(
        {
            "Errors": [{"Code": code, "Type": type_, "Details": details}],
            "ResponseContext": {"RequestId": "req-1"},
        }
    ).encode()


def test_every_gateway_error_code_maps_to_a_dedicated_type() -> None:
    families = {
        "InvalidParameterValue": E.InvalidParameter,
        "InvalidResource": E.ResourceNotFound,
        "ResourceConflict": E.ResourceConflict,
        "InvalidState": E.InvalidState,
        "TooManyResources (QuotaExceded)": E.QuotaExceeded,
    }
    codes = oapi.gateway_errors()
    assert len(codes) > 250
    for code, entry in codes.items():
        err = error_from_response(400, _body(str(code), entry["Type"]), call="X")
        assert type(err) is families[entry["Type"]], (code, entry)
        assert err.code == str(code) and err.type == entry["Type"] and err.request_id == "req-1"
        # the Code alone (no Type) still lands in the same family
        assert error_class_for(str(code), None) is families[entry["Type"]], code


@pytest.mark.parametrize(
    ("code", "status", "cls"),
    [
        ("1", 401, E.AuthenticationFailed),
        ("4", 401, E.UserNotAllowed),
        ("5", 401, E.UserNotAllowed),
        ("7", 401, E.UserNotAllowed),
        ("8", 403, E.WrongAuthenticationMethod),
        ("9", 401, E.WrongAuthenticationMethod),
        ("10", 403, E.WrongAuthenticationMethod),
        ("12", 401, E.WrongAuthenticationMethod),
        ("14", 401, E.UnmatchedApiAccessRules),
        ("20", 401, E.PasswordExpired),
        ("6", 503, E.Throttled),
        ("24", 429, E.Throttled),
        ("25", 429, E.Throttled),
        ("1001", 424, E.DependencyProblem),
        ("3001", 400, E.InvalidParameter),
        ("7000", 400, E.InvalidParameter),
        ("10005", 400, E.QuotaExceeded),
        ("0", 400, E.ApiError),
    ],
)
def test_public_codes(code: str, status: int, cls: type[E.ApiError]) -> None:
    err = error_from_response(status, _body(code, "T", "d"), call="ReadVms")
    assert type(err) is cls and err.http_status == status and err.call == "ReadVms" and err.details == "d"
    assert f"Code {code}" in str(err)


def test_locks() -> None:
    temp = error_from_response(
        401, _body("13", "AccessDenied", "Your access has been locked for 60 seconds.")
    )
    assert isinstance(temp, E.AuthLocked) and temp.retry_after == 60 and not temp.permanent
    hdr = error_from_response(401, _body("13", "AccessDenied", "locked"), headers={"Retry-After": "42"})
    assert isinstance(hdr, E.AuthLocked) and hdr.retry_after == 42
    plain = error_from_response(401, _body("13", "AccessDenied"))
    assert isinstance(plain, E.AuthLocked) and plain.retry_after == 60
    perm = error_from_response(401, _body("11", "AccessDenied"))
    assert isinstance(perm, E.AuthLocked) and perm.permanent and perm.retry_after is None
    assert "support" in str(perm)


def test_unparsable_answers() -> None:
    assert type(error_from_response(502, b"<html>bad gateway</html>")) is E.ApiUnavailable
    assert type(error_from_response(500, b"")) is E.ApiUnavailable
    assert type(error_from_response(429, b"slow down")) is E.Throttled
    assert type(error_from_response(404, b"nope")) is E.ApiUnavailable
    assert type(error_from_response(400, b'{"foo": 1}')) is E.ApiError


def test_dates() -> None:
    assert parse_api_datetime("2063-04-05T00:00:00.000+0000") == dt.datetime(2063, 4, 5, tzinfo=dt.UTC)
    assert parse_api_datetime("2020-06-14T01:02:03Z") == dt.datetime(2020, 6, 14, 1, 2, 3, tzinfo=dt.UTC)
    assert parse_api_datetime("2020-06-14") == dt.datetime(2020, 6, 14, tzinfo=dt.UTC)
    assert parse_api_datetime("2020-06-14T02:00:00.5+02:00") == dt.datetime(
        2020, 6, 14, 0, 0, 0, 500000, tzinfo=dt.UTC
    )
    assert parse_api_datetime(None) is None
    with pytest.raises(ValueError):
        parse_api_datetime("yesterday")
    d = dt.datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
    assert (
        format_api_datetime(d) == "2030-01-02T03:04:05.678+0000"
        and parse_api_datetime(format_api_datetime(d)) == d
    )


def test_call_sets_match_the_spec() -> None:
    paths = [p.strip("/") for p in oapi.spec()["paths"]]
    assert {c for c in paths if oapi.security(c) == ["ApiKeyAuthSec", "BasicAuth"]} == BASIC_AUTH_CALLS
    assert {c for c in paths if oapi.security(c) == []} == ANONYMOUS_CALLS
    assert len(BASIC_AUTH_CALLS) == 14


# --- the client over a fake HTTP session (the seam) ------------------------------------------------


class FakeHttp(requests.Session):
    """Records requests; answers from a script of (status, body, headers) or exceptions."""

    def __init__(self, script: list[Any]) -> None:
        super().__init__()
        self.script = list(script)
        self.sent: list[dict[str, Any]] = []

    def post(self, url: str | bytes, data: Any = None, json: Any = None, **kw: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append({"url": url, "body": data, **kw})
        item = self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        status, body, headers = item if len(item) == 3 else (*item, {})
        r = requests.Response()
        r.status_code = status
        r._content = body if isinstance(body, bytes) else __import__("json").dumps(body).encode()
        r.headers.update(headers)
        return r


OK = (200, {"ResponseContext": {"RequestId": "r"}})
EP = resolve_endpoint("eu-west-2")


def _client(script: list[Any], **kw: Any) -> tuple[OutscaleClient, FakeHttp, list[float]]:
    http = FakeHttp(script)
    sleeps: list[float] = []
    c = OutscaleClient(http, EP, sleep=sleeps.append, **kw)
    return c.with_access_key("AKTEST0000000000TEST", Secret("sk-hidden")), http, sleeps


def test_throttling_is_retried_a_bounded_number_of_times() -> None:
    c, http, sleeps = _client([(429, _body("25", "AccessDenied")), (429, _body("24", "AccessDenied")), OK])
    c.call("ReadVms")
    assert len(http.sent) == 3 and len(sleeps) == 2 and sleeps[0] < sleeps[1] + 1
    # each try is signed afresh
    assert all("Authorization" in s["headers"] for s in http.sent)
    c, http, sleeps = _client([(429, _body("25", "AccessDenied"))] * 10, max_retries=3)
    with pytest.raises(E.Throttled):
        c.call("ReadVms")
    assert len(http.sent) == 4 and len(sleeps) == 3
    c, http, sleeps = _client([(429, _body("25", "AccessDenied"), {"Retry-After": "2"}), OK])
    c.call("ReadVms")
    assert sleeps == [2.0]


@pytest.mark.parametrize("code", ["1", "11", "13", "14", "20", "7", "9"])
def test_authentication_and_access_errors_are_never_retried(code: str) -> None:
    c, http, sleeps = _client([(401, _body(code, "AccessDenied")), OK])
    with pytest.raises(E.ApiError):
        c.call("ReadVms")
    assert len(http.sent) == 1 and sleeps == []


def test_every_call_has_a_timeout() -> None:
    c, http, _ = _client([OK, OK], timeout=(2.0, 5.0))
    c.call("ReadVms")
    c.read_regions.__self__.call("ReadRegions")  # anonymous path too
    assert [s["timeout"] for s in http.sent] == [(2.0, 5.0), (2.0, 5.0)]
    with pytest.raises(ValueError):
        OutscaleClient(FakeHttp([]), EP, timeout=None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exc", "cls"),
    [
        (requests.exceptions.ConnectTimeout("t"), E.ConnectionTimeout),
        (requests.exceptions.ReadTimeout("t"), E.ConnectionTimeout),
        (requests.exceptions.ConnectionError("refused"), E.EndpointUnreachable),
        (
            requests.exceptions.SSLError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
            E.ServerNotTrusted,
        ),
        (requests.exceptions.SSLError("handshake failure"), E.TlsHandshakeError),
    ],
)
def test_network_errors_are_typed(exc: Exception, cls: type[Exception]) -> None:
    c, http, sleeps = _client([exc, OK])
    with pytest.raises(cls) as ei:
        c.call("CreateAccessKey")
    assert isinstance(ei.value.__cause__, requests.RequestException)
    assert len(http.sent) == 1 and sleeps == []  # never retried (CreateAccessKey is not idempotent)


def test_session_errors_from_the_transport_pass_through() -> None:
    rejected = E.ClientCertRejected("alert", host="h", alert="unknown_ca")
    c, _, _ = _client([rejected])
    with pytest.raises(E.ClientCertRejected) as ei:
        c.call("ReadVms")
    assert ei.value is rejected
    wrapped = requests.exceptions.ConnectionError("wrapped")
    wrapped.__cause__ = E.ServerNotTrusted("bad chain", host="h", reason="expired")
    c, _, _ = _client([wrapped])
    with pytest.raises(E.ServerNotTrusted, match="bad chain"):
        c.call("ReadVms")


def test_bad_success_bodies() -> None:
    c, _, _ = _client([(200, b"not json")])
    with pytest.raises(E.ApiUnavailable):
        c.call("ReadVms")
    c, _, _ = _client([(200, b"[1]")])
    with pytest.raises(E.ApiUnavailable):
        c.call("ReadVms")


def test_basic_auth_only_on_the_14_calls() -> None:
    http = FakeHttp([OK] * 3)
    c = OutscaleClient(http, EP, sleep=lambda s: None).with_password("ops@example.com", Secret("pw-hidden"))
    assert c.auth_method is AuthMethod.PASSWORD and c.identity == "ops@example.com"
    c.call("ReadAccessKeys")
    assert http.sent[0]["headers"]["Authorization"].startswith("Basic ")
    assert "X-Osc-Date" in http.sent[0]["headers"]
    with pytest.raises(E.WrongAuthenticationMethod):
        c.call("ReadVms")
    with pytest.raises(E.WrongAuthenticationMethod):
        c.call("CheckAuthentication")
    assert len(http.sent) == 1  # refused before sending
    c.call("ReadRegions")  # anonymous: no Authorization at all
    assert "Authorization" not in http.sent[1]["headers"]
    anon = OutscaleClient(http, EP)
    with pytest.raises(E.WrongAuthenticationMethod):
        anon.call("ReadVms")


def test_access_key_signature_covers_the_bytes_sent() -> None:
    from app.session import signing

    c, http, _ = _client([OK])
    c.call("CreateAccessKey", {"Tag": "été ☃"})
    sent = http.sent[0]
    body = sent["body"]
    assert isinstance(body, bytes) and body.decode("ascii")  # ASCII-escaped JSON, as osc-sdk-python sends
    h = sent["headers"]
    sig = signing.compute_signature(
        secret_key="sk-hidden",
        region="eu-west-2",
        host=EP.host,
        path="/api/v1/CreateAccessKey",
        body=body,
        date_iso=h["X-Osc-Date"],
    )
    assert h["Authorization"].endswith("Signature=" + sig)
    assert sent["url"] == "https://api.eu-west-2.outscale.com/api/v1/CreateAccessKey"
    assert sent["allow_redirects"] is False


def test_secrets_never_reach_repr_or_errors() -> None:
    c, _, _ = _client([(401, _body("1", "AccessDenied"))])
    assert "sk-hidden" not in repr(c)
    with pytest.raises(E.AuthenticationFailed) as ei:
        c.check_authentication("ops@example.com", Secret("pw-hidden"))
    text = str(ei.value) + repr(ei.value) + repr(vars(ei.value))
    assert "pw-hidden" not in text and "sk-hidden" not in text
    key = CreatedAccessKey("AK", "ACTIVE", secret_key=Secret("new-secret"))
    assert "new-secret" not in repr(key) and key.public() == AccessKey("AK", "ACTIVE")


# --- request and answer shapes against outscale.yaml --------------------------------------------------

CALLS: list[tuple[str, Callable[[OutscaleClient], Any]]] = [
    ("ReadRegions", lambda c: c.read_regions()),
    ("ReadApiAccessPolicy", lambda c: c.read_api_access_policy()),
    ("UpdateApiAccessPolicy", lambda c: c.update_api_access_policy(3600, True)),
    ("CreateAccessKey", lambda c: c.create_access_key(dt.datetime(2030, 1, 1, tzinfo=dt.UTC), tag="session")),
    ("CreateAccessKey", lambda c: c.create_access_key(dt.date(2030, 1, 1))),
    ("CreateAccessKey", lambda c: c.create_access_key()),
    ("DeleteAccessKey", lambda c: c.delete_access_key("AK")),
    ("ReadAccessKeys", lambda c: c.read_access_keys(["AK"], ["ACTIVE"])),
    ("ReadAccessKeys", lambda c: c.read_access_keys()),
    ("ReadAccounts", lambda c: c.read_accounts()),
    ("ReadVms", lambda c: c.read_vms()),
    ("ReadCas", lambda c: c.read_cas()),
    ("CreateCa", lambda c: c.create_ca("-----BEGIN CERTIFICATE-----", "d")),
    ("DeleteCa", lambda c: c.delete_ca("ca-1")),
    ("ReadApiAccessRules", lambda c: c.read_api_access_rules()),
    (
        "CreateApiAccessRule",
        lambda c: c.create_api_access_rule(
            ip_ranges=["10.0.0.0/8"], ca_ids=["ca-1"], cns=["alice"], description="x"
        ),
    ),
    ("DeleteApiAccessRule", lambda c: c.delete_api_access_rule("aar-1")),
    ("CheckAuthentication", lambda c: c.check_authentication("a@b.c", Secret("p"))),
]


@pytest.mark.parametrize(("call", "invoke"), CALLS, ids=[f"{c}-{i}" for i, (c, _) in enumerate(CALLS)])
def test_requests_match_the_spec_and_examples_parse(
    call: str, invoke: Callable[[OutscaleClient], Any]
) -> None:
    answers = oapi.examples(call) or [{"ResponseContext": {"RequestId": "r"}}]
    c, http, _ = _client([(200, a) for a in answers] * 2)
    result = None
    for _ in answers:
        result = invoke(c)
    for sent in http.sent:
        assert sent["url"].endswith("/" + call)
        assert oapi.validate_request(call, json.loads(sent["body"])) == []
    if call == "ReadVms":
        assert (
            result[0].vm_id == "i-12345678"
            and result[0].name is None
            and result[0].tags == (("env", "prod"),)
        )
        assert result[0].private_ip == "10.0.0.4" and result[0].subregion == "eu-west-2a"
    if call == "CreateAccessKey" and answers[0].get("AccessKey"):
        assert result.access_key_id == "ABCDEFGHIJ0123456789" and result.secret_key.reveal().startswith(
            "XXXX"
        )
        assert result.expiration_date == dt.datetime(2063, 4, 5, tzinfo=dt.UTC)
    if call == "ReadAccounts":
        assert result[0].account_id == "123456789012" and result[0].email == "example@example.com"
    if call == "ReadRegions":
        assert result[0].name == "eu-west-2"


def test_read_vms_follows_pages() -> None:
    c, http, _ = _client(
        [(200, {"Vms": [{"VmId": "i-1"}], "NextPageToken": "AA=="}), (200, {"Vms": [{"VmId": "i-2"}]})]
    )
    assert [v.vm_id for v in c.read_vms()] == ["i-1", "i-2"]
    assert json.loads(http.sent[1]["body"]) == {"NextPageToken": "AA=="}


def test_card_errors_from_the_transport_pass_through() -> None:
    from app.tokens.errors import TokenRemoved

    removed = TokenRemoved("the card was removed", token_label="PIV")
    c, http, sleeps = _client([removed, OK])
    with pytest.raises(TokenRemoved) as ei:
        c.call("ReadVms")
    assert ei.value is removed and len(http.sent) == 1 and sleeps == []
