# ruff: noqa: F811 - pytest fixtures are imported from tests.rigs.sandbox and used as arguments
"""OutscaleClient over the product's mTLS transport (tlslite-ng + a software signer) against the sandbox."""

from __future__ import annotations

import datetime as dt

import pytest

from app.sandbox.server import Sandbox, SandboxInfo
from app.session import errors as E
from app.session.api import OutscaleClient
from app.session.model import Secret
from app.session.regions import resolve_endpoint
from app.tokens.signer import SoftwareSigner
from tests.rigs.sandbox import ClientPki, _shared_server_pki, client_pki, sandbox, sandbox_info  # noqa: F401

tls = pytest.importorskip("app.session.tls", reason="the mTLS transport (app.session.tls) is not available")


def _signer(pki: ClientPki, name: str) -> SoftwareSigner:
    issued = pki.issued[name]
    assert issued.key is not None
    return SoftwareSigner(issued.key, issued.certificate, description=f"{name} test key")  # type: ignore[arg-type]


def _client(info: SandboxInfo, signer: SoftwareSigner | None) -> tuple[OutscaleClient, object]:
    session = tls.make_session(
        signer, tls.TrustConfig(extra_ca_file=info.ca_file, include_defaults=False), timeout=20
    )
    return OutscaleClient(session, resolve_endpoint(info.region, info.endpoint), timeout=20), session


def test_card_like_key_passes_the_ca_and_cn_rule_and_resumes_without_signing(
    sandbox: Sandbox, sandbox_info: SandboxInfo, client_pki: ClientPki
) -> None:
    sandbox.add_ca_rule(client_pki.ca_pem, cns=["alice"])
    base, session = _client(sandbox_info, _signer(client_pki, "alice"))
    try:
        c = base.with_access_key(sandbox_info.access_key, Secret(sandbox_info.secret_key))
        assert len(c.read_vms()) == 3
        signed = session.signatures  # type: ignore[attr-defined]
        assert signed >= 1
        session.drop_connections()  # type: ignore[attr-defined]
        # a new connection resumes with a TLS 1.3 ticket: no card signature, identity still known
        assert c.read_accounts()[0].account_id == sandbox_info.account_id
        assert session.signatures == signed  # type: ignore[attr-defined]
        last = sandbox.tls_log[-1]
        assert last.resumed and last.client_certificate and last.client_cn == "alice"
    finally:
        session.close()  # type: ignore[attr-defined]


def test_other_cn_gets_code_14_and_unknown_ca_is_refused_in_tls(
    sandbox: Sandbox, sandbox_info: SandboxInfo, client_pki: ClientPki
) -> None:
    sandbox.add_ca_rule(client_pki.ca_pem, cns=["alice"])
    base, session = _client(sandbox_info, _signer(client_pki, "bob"))
    try:
        with pytest.raises(E.UnmatchedApiAccessRules):
            base.with_access_key(sandbox_info.access_key, Secret(sandbox_info.secret_key)).read_vms()
    finally:
        session.close()  # type: ignore[attr-defined]
    base, session = _client(sandbox_info, _signer(client_pki, "mallory"))
    try:
        with pytest.raises(E.TlsError):
            base.with_access_key(sandbox_info.access_key, Secret(sandbox_info.secret_key)).read_vms()
    finally:
        session.close()  # type: ignore[attr-defined]


def test_trusted_session_flow(sandbox: Sandbox, sandbox_info: SandboxInfo, client_pki: ClientPki) -> None:
    sandbox.add_ca_rule(client_pki.ca_pem)
    for k in sandbox.access_keys():
        sandbox.state.keys[k.access_key_id].expiration_date = "2099-01-01T00:00:00.000+0000"
    sandbox.set_policy(max_access_key_expiration_seconds=3_000_000_000, require_trusted_env=True)
    card, card_session = _client(sandbox_info, _signer(client_pki, "alice"))
    nocard, plain_session = _client(sandbox_info, None)
    try:
        login = card.with_password(sandbox_info.login, Secret(sandbox_info.password))
        assert login.read_api_access_policy().require_trusted_env
        key = login.create_access_key(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1), tag="session")
        temp = nocard.with_access_key(key.access_key_id, key.secret_key)
        assert len(temp.read_vms()) == 3  # the card is out: the trusted session still works
        with pytest.raises(E.UnmatchedApiAccessRules):
            temp.delete_access_key(key.access_key_id)  # one of the 14 calls: certificate needed
        card.with_access_key(key.access_key_id, key.secret_key).delete_access_key(key.access_key_id)
        assert key.access_key_id not in {k.access_key_id for k in sandbox.access_keys()}
    finally:
        card_session.close()  # type: ignore[attr-defined]
        plain_session.close()  # type: ignore[attr-defined]
