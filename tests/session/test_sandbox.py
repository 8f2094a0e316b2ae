# ruff: noqa: F811 - pytest fixtures are imported from tests.rigs.sandbox and used as arguments
"""The sandbox OUTSCALE API over real HTTPS (Python ssl server; requests with file client certificates).

Every answer the sandbox gives in these tests is validated against outscale.yaml (see `http`).
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

from app.sandbox.server import Sandbox, SandboxInfo
from app.session import errors as E
from app.session import signing
from app.session.api import OutscaleClient
from app.session.model import Secret
from app.session.regions import resolve_endpoint
from tests.rigs import oapi
from tests.rigs.sandbox import (  # noqa: F401 - fixtures
    ClientPki,
    _shared_server_pki,
    client_pki,
    make_sandbox,
    run_sandbox_process,
    sandbox,
    sandbox_info,
)

NOW = lambda: dt.datetime.now(dt.UTC)  # noqa: E731


class Checked(requests.Session):
    """A session that validates every sandbox answer against the OpenAPI description."""

    def __init__(self, ca_file: str) -> None:
        super().__init__()
        self.verify = ca_file
        self.problems: list[str] = []
        self.hooks["response"].append(self._check)

    def _check(self, r: requests.Response, *a: Any, **k: Any) -> None:
        call = r.url.rsplit("/", 1)[1]
        try:
            body = r.json()
        except ValueError:
            self.problems.append(f"{call}: not JSON")
            return
        errs = oapi.validate_response(call, r.status_code, body)
        if r.status_code >= 400 and "Errors" not in body:
            errs.append("error answer without Errors")
        if "RequestId" not in body.get("ResponseContext", {}):
            errs.append("no RequestId")
        self.problems += [f"{call} {r.status_code}: {e}" for e in errs]

    def __exit__(self, *exc: Any) -> None:
        super().__exit__(*exc)
        if exc[0] is None:  # leaving a `with` normally: every answer must have matched the description
            assert self.problems == []


@pytest.fixture
def http(sandbox_info: SandboxInfo) -> Iterator[Checked]:
    s = Checked(sandbox_info.ca_file)
    yield s
    assert s.problems == []


def _session(info: SandboxInfo, cert: tuple[str, str] | None = None) -> Checked:
    s = Checked(info.ca_file)
    s.cert = cert
    return s


def _client(info: SandboxInfo, http: requests.Session) -> OutscaleClient:
    return OutscaleClient(http, resolve_endpoint(info.region, info.endpoint), sleep=lambda s: None)


def _ak(
    info: SandboxInfo, http: requests.Session, ak: str | None = None, sk: str | None = None
) -> OutscaleClient:
    return _client(info, http).with_access_key(ak or info.access_key, Secret(sk or info.secret_key))


def _pw(info: SandboxInfo, http: requests.Session, password: str | None = None) -> OutscaleClient:
    return _client(info, http).with_password(info.login, Secret(password or info.password))


def _raw(
    info: SandboxInfo, call: str, headers: dict[str, str], body: bytes = b"{}", method: str = "POST"
) -> requests.Response:
    r = requests.request(
        method, f"{info.endpoint}/{call}", data=body, headers=headers, verify=info.ca_file, timeout=10
    )
    assert oapi.validate_response(call, r.status_code, r.json()) == []
    return r


# --- the calls ---------------------------------------------------------------------------------------


def test_typed_calls_against_the_sandbox(sandbox: Sandbox, sandbox_info: SandboxInfo, http: Checked) -> None:
    anon = _client(sandbox_info, http)
    assert {r.name for r in anon.read_regions()} >= {"eu-west-2", "us-east-2"}
    c = _ak(sandbox_info, http)
    (acc,) = c.read_accounts()
    assert acc.account_id == sandbox_info.account_id and acc.email == sandbox_info.login
    vms = c.read_vms()
    assert len(vms) == 3 and {v.name for v in vms} == {"web-1", "db-1", "batch"}
    assert c.read_api_access_policy().require_trusted_env is False
    (rule,) = c.read_api_access_rules()
    assert rule.ip_ranges == ("0.0.0.0/0",) and not rule.requires_certificate
    assert c.read_cas() == ()
    exp = NOW() + dt.timedelta(hours=1)
    key = c.create_access_key(exp, tag="session")
    assert key.expiration_date is not None and abs((key.expiration_date - exp).total_seconds()) < 1
    assert key.tag == "session" and key.secret_key.reveal()
    assert key.access_key_id in {k.access_key_id for k in c.read_access_keys()}
    assert [k.access_key_id for k in c.read_access_keys([key.access_key_id])] == [key.access_key_id]
    temp = _ak(sandbox_info, http, key.access_key_id, key.secret_key.reveal())
    assert temp.read_accounts()[0].account_id == sandbox_info.account_id
    c.check_authentication(sandbox_info.login, Secret(sandbox_info.password))
    with pytest.raises(E.AuthenticationFailed):
        c.check_authentication(sandbox_info.login, Secret("wrong"))
    temp.delete_access_key(key.access_key_id)
    with pytest.raises(E.AuthenticationFailed):
        temp.read_accounts()
    with pytest.raises(E.InvalidParameter):
        c.delete_access_key("NOSUCHKEY")


def test_password_client_creates_a_temporary_key(sandbox_info: SandboxInfo, http: Checked) -> None:
    pw = _pw(sandbox_info, http)
    key = pw.create_access_key(NOW() + dt.timedelta(minutes=30))
    assert key.expiration_date is not None
    assert len(pw.read_access_keys()) == 2
    assert pw.read_api_access_policy().max_access_key_expiration_seconds == 0
    pw.delete_access_key(key.access_key_id)
    assert len(pw.read_access_keys()) == 1


def test_ca_and_rule_calls(sandbox_info: SandboxInfo, http: Checked, client_pki: ClientPki) -> None:
    c = _pw(sandbox_info, http)
    ca = c.create_ca(client_pki.ca_pem.decode(), "test CA")
    assert ca.ca_id.startswith("ca-") and len(ca.fingerprint or "") == 40
    with pytest.raises(E.ApiError):
        c.create_api_access_rule(cns=["alice"])  # Cns needs CaIds
    with pytest.raises(E.ResourceNotFound):
        c.create_api_access_rule(ca_ids=["ca-nope"])
    rule = c.create_api_access_rule(ca_ids=[ca.ca_id], ip_ranges=["127.0.0.0/8"], cns=["alice"])
    assert rule.requires_certificate and rule.cns == ("alice",)
    assert len(c.read_api_access_rules()) == 2
    with pytest.raises(E.ResourceConflict):
        c.delete_ca(ca.ca_id)  # used by a rule
    # the IP-only default rule still allows us: delete the CA rule, then the last one is protected
    c.delete_api_access_rule(rule.rule_id)
    (last,) = c.read_api_access_rules()
    with pytest.raises(E.ResourceConflict):
        c.delete_api_access_rule(last.rule_id)
    c.delete_ca(ca.ca_id)
    with pytest.raises(E.InvalidParameter):
        c.create_ca("not a pem")


def test_call_parameters_match_the_description() -> None:
    """The sandbox accepts and requires exactly the parameters outscale.yaml gives each call."""
    from app.sandbox.state import CALL_PARAMS

    for call, (allowed, required) in CALL_PARAMS.items():
        sch = oapi.schema(f"{call}Request")
        assert (set(sch.get("properties", {})), set(sch.get("required", []))) == (allowed, required), call


def test_request_validation_and_methods(sandbox_info: SandboxInfo) -> None:
    hdr = signing.osc4_headers(
        access_key=sandbox_info.access_key,
        secret_key=sandbox_info.secret_key,
        region="eu-west-2",
        host=f"127.0.0.1:{sandbox_info.port}",
        path="/api/v1/ReadVms",
        body=b'{"Bogus": 1}',
    )
    r = _raw(sandbox_info, "ReadVms", hdr, b'{"Bogus": 1}')
    assert r.status_code == 400 and r.json()["Errors"][0]["Code"] == "3001"
    hdr = signing.osc4_headers(
        access_key=sandbox_info.access_key,
        secret_key=sandbox_info.secret_key,
        region="eu-west-2",
        host=f"127.0.0.1:{sandbox_info.port}",
        path="/api/v1/DeleteAccessKey",
        body=b"{}",
    )
    r = _raw(sandbox_info, "DeleteAccessKey", hdr)
    assert r.status_code == 400 and r.json()["Errors"][0]["Code"] == "7000"
    assert oapi.validate_response("DeleteAccessKey", 400, r.json()) == []
    r = _raw(sandbox_info, "ReadRegions", {}, method="GET")
    assert r.status_code == 405 and r.json()["Errors"][0]["Code"] == "2"


# --- authentication ----------------------------------------------------------------------------------


def test_wrong_secret_unknown_key_skew_and_scheme(sandbox_info: SandboxInfo, http: Checked) -> None:
    with pytest.raises(E.AuthenticationFailed) as ei:
        _ak(sandbox_info, http, sk="wrong").read_vms()
    assert ei.value.code == "1" and ei.value.http_status == 401 and ei.value.request_id
    with pytest.raises(E.AuthenticationFailed):
        _ak(sandbox_info, http, ak="AKNOTKNOWN0000000000").read_vms()
    old = OutscaleClient(
        http,
        resolve_endpoint("eu-west-2", sandbox_info.endpoint),
        clock=lambda: NOW() - dt.timedelta(hours=1),
    )
    with pytest.raises(E.AuthenticationFailed):
        old.with_access_key(sandbox_info.access_key, Secret(sandbox_info.secret_key)).read_vms()
    r = _raw(sandbox_info, "ReadVms", {"Authorization": "Bearer x", "X-Osc-Date": signing.osc_date()})
    assert r.json()["Errors"][0]["Code"] == "12"
    r = _raw(sandbox_info, "ReadVms", {})
    assert r.status_code == 401 and r.json()["Errors"][0]["Code"] == "1"


def test_basic_is_refused_on_other_calls(sandbox_info: SandboxInfo) -> None:
    hdr = signing.basic_headers(login=sandbox_info.login, password=Secret(sandbox_info.password))
    for call in ("ReadVms", "ReadAccounts", "CheckAuthentication"):
        r = _raw(sandbox_info, call, hdr)
        assert r.status_code == 401 and r.json()["Errors"][0]["Code"] == "9", call
        assert oapi.validate_response(call, 401, r.json()) == []
    assert _raw(sandbox_info, "ReadAccessKeys", hdr).status_code == 200
    assert _raw(sandbox_info, "ReadApiAccessPolicy", hdr).status_code == 200


def test_lockout_after_four_failures_grows_then_becomes_permanent(
    sandbox: Sandbox, sandbox_info: SandboxInfo, http: Checked
) -> None:
    # the client signs with the sandbox's (advanced) clock, or X-Osc-Date would be refused as too old
    base = OutscaleClient(
        http, resolve_endpoint("eu-west-2", sandbox_info.endpoint), clock=sandbox.state.now_dt
    )
    bad = base.with_password(sandbox_info.login, Secret("wrong"))
    good = base.with_password(sandbox_info.login, Secret(sandbox_info.password))
    for _ in range(4):
        with pytest.raises(E.AuthenticationFailed):
            bad.read_access_keys()
    with pytest.raises(E.AuthLocked) as ei:
        good.read_access_keys()  # even the right password
    assert ei.value.code == "13" and not ei.value.permanent and 59 <= (ei.value.retry_after or 0) <= 60
    with pytest.raises(E.AuthLocked):
        _ak(sandbox_info, http).read_vms()  # the account is locked, whatever the method
    sandbox.advance(61)
    assert good.read_access_keys()  # and a success resets the counter
    assert sandbox.lock_state()[0] == 0
    # consecutive failures: the k-th lock lasts k minutes, up to ten; then the lock is permanent
    for step in range(1, 12):
        for _ in range(4):
            with pytest.raises(E.AuthenticationFailed):
                bad.read_access_keys()
        with pytest.raises(E.AuthLocked) as ei:
            bad.read_access_keys()
        if step <= 10:
            assert not ei.value.permanent and ei.value.code == "13"
            assert 60 * step - 1 <= (ei.value.retry_after or 0) <= 60 * step
            sandbox.advance(60 * step + 1)
        else:
            assert ei.value.permanent and ei.value.code == "11"
    sandbox.advance(3600)
    with pytest.raises(E.AuthLocked) as ei:
        good.read_access_keys()
    assert ei.value.permanent


def test_password_expired(sandbox: Sandbox, sandbox_info: SandboxInfo, http: Checked) -> None:
    sandbox.set_password_expired()
    with pytest.raises(E.PasswordExpired):
        _pw(sandbox_info, http).read_access_keys()


def test_access_key_quota(sandbox_info: SandboxInfo, http: Checked) -> None:
    c = _pw(sandbox_info, http)
    for _ in range(9):
        c.create_access_key()
    with pytest.raises(E.QuotaExceeded) as ei:
        c.create_access_key()
    assert ei.value.code == "10005"
    assert len(c.read_access_keys()) == 10


def test_expired_and_inactive_keys_are_refused(
    sandbox: Sandbox, sandbox_info: SandboxInfo, http: Checked
) -> None:
    key = sandbox.create_access_key(expires_in=60)
    c = _ak(sandbox_info, http, key.access_key_id, key.secret_key)
    assert c.read_accounts()
    sandbox.advance(61)
    with pytest.raises(E.AuthenticationFailed):
        c.read_accounts()
    with pytest.raises(E.InvalidParameter):
        _pw(sandbox_info, http).create_access_key(NOW() - dt.timedelta(minutes=1))
    other = sandbox.create_access_key()
    sandbox.state.keys[other.access_key_id].state = "INACTIVE"
    with pytest.raises(E.AuthenticationFailed):
        _ak(sandbox_info, http, other.access_key_id, other.secret_key).read_accounts()


def test_policy_maximum_expiration(sandbox: Sandbox, sandbox_info: SandboxInfo, http: Checked) -> None:
    pw = _pw(sandbox_info, http)
    with pytest.raises(E.InvalidParameter):
        pw.update_api_access_policy(3600, False)  # the demo key never expires
    sandbox.set_policy(max_access_key_expiration_seconds=3600, force=True)
    with pytest.raises(E.InvalidParameter):
        pw.create_access_key()  # an ExpirationDate is now required
    with pytest.raises(E.InvalidParameter):
        pw.create_access_key(NOW() + dt.timedelta(hours=2))
    assert pw.create_access_key(NOW() + dt.timedelta(minutes=30)).expiration_date


def test_throttling_is_retried_by_the_client(
    sandbox: Sandbox, sandbox_info: SandboxInfo, http: Checked
) -> None:
    sandbox.throttle_next(2, "25")
    before = sandbox.request_count
    assert _ak(sandbox_info, http).read_accounts()
    assert sandbox.request_count - before == 3
    sandbox.throttle_next(10, "24")
    with pytest.raises(E.Throttled) as ei:
        _ak(sandbox_info, http).read_accounts()
    assert ei.value.code == "24" and ei.value.http_status == 429


# --- API access rules --------------------------------------------------------------------------------


def test_ca_rule_requires_a_certificate_from_the_ca(
    sandbox: Sandbox, sandbox_info: SandboxInfo, client_pki: ClientPki
) -> None:
    sandbox.add_ca_rule(client_pki.ca_pem)
    sandbox.add_ca(client_pki.other_ca_pem)  # known to the sandbox, but named by no rule
    with _session(sandbox_info) as none:
        with pytest.raises(E.UnmatchedApiAccessRules) as ei:
            _ak(sandbox_info, none).read_vms()
        assert ei.value.code == "14" and "certificate" in str(ei.value)
        with pytest.raises(E.UnmatchedApiAccessRules):
            _pw(sandbox_info, none).read_access_keys()
        assert _client(sandbox_info, none).read_regions()  # no authentication: no rules
        assert none.problems == []
    for name in ("alice", "bob"):  # EC and RSA certificates
        with _session(sandbox_info, client_pki.cert(name)) as s:
            assert len(_ak(sandbox_info, s).read_vms()) == 3
            assert _pw(sandbox_info, s).read_access_keys()
    with _session(sandbox_info, client_pki.cert("mallory")) as s, pytest.raises(E.UnmatchedApiAccessRules):
        _ak(sandbox_info, s).read_vms()


def test_certificate_from_an_unknown_ca_fails_the_handshake(
    sandbox: Sandbox, sandbox_info: SandboxInfo, client_pki: ClientPki
) -> None:
    sandbox.add_ca_rule(client_pki.ca_pem)  # other_ca is NOT uploaded
    with _session(sandbox_info, client_pki.cert("mallory")) as s, pytest.raises(E.TlsError):
        _ak(sandbox_info, s).read_vms()


def test_cn_rule(sandbox: Sandbox, sandbox_info: SandboxInfo, client_pki: ClientPki) -> None:
    sandbox.add_ca_rule(client_pki.ca_pem, cns=["alice"])
    with _session(sandbox_info, client_pki.cert("alice")) as s:
        assert _ak(sandbox_info, s).read_accounts()
    with _session(sandbox_info, client_pki.cert("bob")) as s, pytest.raises(E.UnmatchedApiAccessRules):
        _ak(sandbox_info, s).read_accounts()


def test_ip_rule(sandbox: Sandbox, sandbox_info: SandboxInfo, http: Checked) -> None:
    sandbox.set_rules([{"IpRanges": ["192.0.2.0/24", "10.0.0.0/8"]}])
    with pytest.raises(E.UnmatchedApiAccessRules):
        _ak(sandbox_info, http).read_accounts()
    sandbox.set_rules([{"IpRanges": ["127.0.0.1/32"]}])
    assert _ak(sandbox_info, http).read_accounts()


def test_ca_rule_combined_with_ip_range(
    sandbox: Sandbox, sandbox_info: SandboxInfo, client_pki: ClientPki
) -> None:
    sandbox.add_ca_rule(client_pki.ca_pem, ip_ranges=["10.0.0.0/8"])
    with _session(sandbox_info, client_pki.cert("alice")) as s, pytest.raises(E.UnmatchedApiAccessRules):
        _ak(sandbox_info, s).read_accounts()


# --- trusted environment -----------------------------------------------------------------------------


def _trusted(sandbox: Sandbox, client_pki: ClientPki) -> None:
    sandbox.add_ca_rule(client_pki.ca_pem)
    for k in sandbox.access_keys():  # every key must expire before the policy can be set through the API
        sandbox.state.keys[k.access_key_id].expiration_date = "2099-01-01T00:00:00.000+0000"
    sandbox.set_policy(max_access_key_expiration_seconds=10**9 * 3, require_trusted_env=True)


def test_trusted_env_lets_a_key_created_over_mtls_work_without_certificate(
    sandbox: Sandbox, sandbox_info: SandboxInfo, client_pki: ClientPki
) -> None:
    _trusted(sandbox, client_pki)
    with _session(sandbox_info, client_pki.cert("alice")) as mtls, _session(sandbox_info) as plain:
        pw = _pw(sandbox_info, mtls)
        assert pw.read_api_access_policy().require_trusted_env
        key = pw.create_access_key(NOW() + dt.timedelta(hours=1), tag="session")
        temp_plain = _ak(sandbox_info, plain, key.access_key_id, key.secret_key.reveal())
        assert len(temp_plain.read_vms()) == 3  # no certificate needed
        assert temp_plain.read_accounts()
        for fn in (
            temp_plain.read_access_keys,
            temp_plain.read_api_access_policy,
            temp_plain.read_cas,
            temp_plain.read_api_access_rules,
        ):
            with pytest.raises(E.UnmatchedApiAccessRules):
                fn()  # the 14 calls always need the certificate
        with pytest.raises(E.UnmatchedApiAccessRules):
            temp_plain.delete_access_key(key.access_key_id)
        with pytest.raises(E.UnmatchedApiAccessRules):
            _pw(sandbox_info, plain).read_access_keys()
        # a key that was not created over mTLS gets no bypass
        other = sandbox.create_access_key(expires_in=3600)
        with pytest.raises(E.UnmatchedApiAccessRules):
            _ak(sandbox_info, plain, other.access_key_id, other.secret_key).read_vms()
        temp_mtls = _ak(sandbox_info, mtls, key.access_key_id, key.secret_key.reveal())
        assert temp_mtls.read_access_keys()
        # trusted env off: the same key needs the certificate again
        sandbox.set_policy(require_trusted_env=False)
        with pytest.raises(E.UnmatchedApiAccessRules):
            temp_plain.read_vms()
        assert plain.problems == [] and mtls.problems == []


def test_trusted_env_needs_ca_rules_and_expiring_keys(
    sandbox: Sandbox, sandbox_info: SandboxInfo, client_pki: ClientPki, http: Checked
) -> None:
    pw = _pw(sandbox_info, http)
    with pytest.raises(E.InvalidParameter):
        pw.update_api_access_policy(0, True)
    for k in sandbox.access_keys():
        sandbox.state.keys[k.access_key_id].expiration_date = "2099-01-01T00:00:00.000+0000"
    with pytest.raises(E.InvalidParameter):
        pw.update_api_access_policy(3 * 10**9, True)  # the allow-all rule names no CA
    assert pw.update_api_access_policy(3 * 10**9, False).max_access_key_expiration_seconds == 3 * 10**9


# --- TLS: resumption keeps the client identity -----------------------------------------------------


def _raw_https(
    info: SandboxInfo,
    ctx: ssl.SSLContext,
    session: ssl.SSLSession | None,
    call: str,
    headers: dict[str, str],
    body: bytes,
) -> tuple[int, dict[str, Any], ssl.SSLSession, bool]:
    with (
        socket.create_connection(("127.0.0.1", info.port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1", session=session) as tls,
    ):
        lines = [
            f"POST /api/v1/{call} HTTP/1.1",
            f"Host: 127.0.0.1:{info.port}",
            "Connection: close",
            f"Content-Length: {len(body)}",
            *[f"{k}: {v}" for k, v in headers.items()],
            "",
            "",
        ]
        tls.sendall("\r\n".join(lines).encode() + body)
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
        head, _, payload = data.partition(b"\r\n\r\n")
        return int(head.split()[1]), json.loads(payload), tls.session, tls.session_reused  # type: ignore[return-value]


def test_tls13_resumed_connection_keeps_the_client_certificate(
    sandbox: Sandbox, sandbox_info: SandboxInfo, client_pki: ClientPki
) -> None:
    sandbox.add_ca_rule(client_pki.ca_pem, cns=["alice"])
    ctx = ssl.create_default_context(cafile=sandbox_info.ca_file)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(*client_pki.cert("alice"))

    def signed(later: int = 0) -> dict[str, str]:
        return signing.osc4_headers(
            access_key=sandbox_info.access_key,
            secret_key=sandbox_info.secret_key,
            region="eu-west-2",
            host=f"127.0.0.1:{sandbox_info.port}",
            path="/api/v1/ReadAccounts",
            body=b"{}",
            now=NOW() + dt.timedelta(seconds=later),
        )

    status, body, session, reused = _raw_https(sandbox_info, ctx, None, "ReadAccounts", signed(), b"{}")
    assert status == 200 and not reused
    # Tickets arrive after the handshake; ask again on a resumed connection (signed anew: the sandbox
    # refuses a replayed signature).
    status, body, _, reused = _raw_https(sandbox_info, ctx, session, "ReadAccounts", signed(1), b"{}")
    assert reused and status == 200, body
    log = sandbox.tls_log
    assert log[-1].resumed and log[-1].client_certificate and log[-1].client_cn == "alice"
    assert log[-1].version == "TLSv1.3"


# --- persistence, the command line, osc-sdk-python ---------------------------------------------------


def test_state_and_pki_persist_across_restarts(tmp_path: Path, _shared_server_pki: Path) -> None:
    first = make_sandbox(tmp_path / "s", _shared_server_pki)
    info1 = first.start()
    first.create_access_key(tag="kept")
    first.stop()
    ca_before = Path(info1.ca_file).read_bytes()
    second = make_sandbox(tmp_path / "s")
    info2 = second.start()
    try:
        assert (info2.access_key, info2.secret_key, info2.login, info2.password) == (
            info1.access_key,
            info1.secret_key,
            info1.login,
            info1.password,
        )
        assert Path(info2.ca_file).read_bytes() == ca_before
        assert "kept" in {k.tag for k in second.access_keys()}
        assert (tmp_path / "s" / "state.json").stat().st_mode & 0o077 == 0
    finally:
        second.stop()


def test_stop_closes_open_connections(sandbox: Sandbox, sandbox_info: SandboxInfo, http: Checked) -> None:
    c = _ak(sandbox_info, http)
    assert c.read_accounts()  # a pooled keep-alive connection is now open
    sandbox.stop()
    with pytest.raises((E.EndpointUnreachable, E.TlsError)):
        c.read_accounts()


def test_command_line(tmp_path: Path, client_pki: ClientPki) -> None:
    ca_file = client_pki.folder / "ca.pem"
    with run_sandbox_process(tmp_path / "cli", "--client-ca", str(ca_file), "--trusted-env") as info:
        assert set(info) >= {
            "endpoint",
            "ca_file",
            "login",
            "password",
            "access_key",
            "secret_key",
            "account_id",
        }
        assert info["endpoint"].startswith("https://127.0.0.1:") and info["trusted_env"] is True
        ep = resolve_endpoint("eu-west-2", info["endpoint"])
        with Checked(info["ca_file"]) as plain:
            client = OutscaleClient(plain, ep).with_access_key(info["access_key"], Secret(info["secret_key"]))
            with pytest.raises(E.UnmatchedApiAccessRules):
                client.read_vms()
        with Checked(info["ca_file"]) as mtls:
            mtls.cert = client_pki.cert("alice")
            client = OutscaleClient(mtls, ep).with_access_key(info["access_key"], Secret(info["secret_key"]))
            assert len(client.read_vms()) == 3
            assert client.read_api_access_policy().require_trusted_env
            assert mtls.problems == []
        first = info
    with run_sandbox_process(tmp_path / "cli") as again:  # same state: same PKI and demo credentials
        assert again["access_key"] == first["access_key"] and again["ca_file"] == first["ca_file"]


def test_osc_sdk_python_against_the_sandbox(
    sandbox_info: SandboxInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from osc_sdk_python import Gateway as OutscaleGateway

    for var in [v for v in list(__import__("os").environ) if v.startswith("OSC_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", sandbox_info.ca_file)
    cfg = tmp_path / "config.json"
    profile = {"region": "eu-west-2", "endpoints": {"api": sandbox_info.endpoint}}
    cfg.write_text(
        json.dumps(
            {
                "good": profile
                | {"access_key": sandbox_info.access_key, "secret_key": sandbox_info.secret_key},
                "bad": profile | {"access_key": sandbox_info.access_key, "secret_key": "not-the-secret"},
            }
        )
    )
    gw = OutscaleGateway(path=str(cfg), profile="good", max_retries=0)
    vms = gw.ReadVms()
    assert len(vms["Vms"]) == 3 and oapi.validate_response("ReadVms", 200, vms) == []
    key = gw.CreateAccessKey(
        ExpirationDate=(NOW() + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    )
    assert key["AccessKey"]["SecretKey"]
    gw.update_profile(path=str(cfg), profile="bad")
    with pytest.raises(requests.HTTPError) as ei:
        gw.ReadVms()
    assert ei.value.response.status_code == 401
    assert ei.value.response.json()["Errors"][0]["Code"] == "1"
    assert "code = 1" in str(ei.value)


@pytest.mark.skipif(__import__("shutil").which("curl") is None, reason="curl is not installed")
def test_curl_sigv4_osc_is_accepted(sandbox_info: SandboxInfo) -> None:
    """curl's own --aws-sigv4 "osc" signer (as OUTSCALE's documentation uses it): a third implementation."""
    import subprocess

    def curl(secret: str, *extra: str) -> dict[str, Any]:
        out = subprocess.run(
            [
                "curl",
                "-sS",
                "--cacert",
                sandbox_info.ca_file,
                "-X",
                "POST",
                f"{sandbox_info.endpoint}/ReadAccounts",
                "--user",
                f"{sandbox_info.access_key}:{secret}",
                "--aws-sigv4",
                "osc:osc:eu-west-2:api",
                *extra,
                "--data",
                "{}",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return json.loads(out.stdout)  # type: ignore[no-any-return]

    ok = curl(sandbox_info.secret_key, "-H", "Content-Type: application/json; charset=utf-8")
    assert ok["Accounts"][0]["AccountId"] == sandbox_info.account_id
    assert oapi.validate_response("ReadAccounts", 200, ok) == []
    assert curl(sandbox_info.secret_key, "-H", "X-Extra: signed too")["Accounts"]  # curl signs more headers
    assert curl("wrong-secret")["Errors"][0]["Code"] == "1"


def test_concurrent_requests(sandbox_info: SandboxInfo) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def one(_: int) -> int:
        with Checked(sandbox_info.ca_file) as s:
            n = len(_ak(sandbox_info, s).read_vms())
            assert s.problems == []
            return n

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(one, range(24))) == [3] * 24
