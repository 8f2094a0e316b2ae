# ruff: noqa: F811 - pytest fixtures are imported from tests.rigs.sandbox and used as arguments
"""What the sandbox models for the MFA set-up (issue 17): CreateCa parses the certificate, DeleteCa of a
CA in use is refused, any matching rule lets a request in, and a failure can be injected after a call."""

from __future__ import annotations

import pytest
import requests

from app.sandbox.server import Sandbox, SandboxInfo
from app.session import errors as E
from app.session.api import OutscaleClient
from app.session.model import Secret
from app.session.regions import resolve_endpoint
from tests.rigs.sandbox import ClientPki, _shared_server_pki, client_pki, sandbox, sandbox_info  # noqa: F401


def _pw(info: SandboxInfo, cert: tuple[str, str] | None = None) -> OutscaleClient:
    s = requests.Session()
    s.verify = info.ca_file
    s.cert = cert
    base = OutscaleClient(s, resolve_endpoint(info.region, info.endpoint), max_retries=0)
    return base.with_password(info.login, Secret(info.password))


def test_create_ca_parses_the_certificate(sandbox_info: SandboxInfo, client_pki: ClientPki) -> None:
    c = _pw(sandbox_info)
    with pytest.raises(E.InvalidParameter) as ei:
        c.create_ca("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n")
    assert "not a PEM certificate" in (ei.value.details or "")
    with pytest.raises(E.InvalidParameter) as ei:
        c.create_ca(client_pki.issued["alice"].cert_pem().decode())  # a leaf is no CA
    assert "not a CA certificate" in (ei.value.details or "")
    ca = c.create_ca(client_pki.ca_pem.decode(), "test")
    assert ca.fingerprint and len(ca.fingerprint) == 40
    rule = c.create_api_access_rule(ca_ids=[ca.ca_id], cns=["alice"], ip_ranges=["127.0.0.1/32"])
    with pytest.raises(E.ResourceConflict):
        c.delete_ca(ca.ca_id)  # a rule names it
    updated = c.update_api_access_rule(rule.rule_id, cns=["alice", "bob"])
    assert updated.cns == ("alice", "bob") and updated.ca_ids == (ca.ca_id,)
    assert c.update_ca(ca.ca_id, "renamed").description == "renamed"


def test_any_matching_rule_lets_a_request_in(
    sandbox: Sandbox, sandbox_info: SandboxInfo, client_pki: ClientPki
) -> None:
    ca_id = sandbox.add_ca(client_pki.ca_pem)
    sandbox.set_rules([{"IpRanges": ["10.0.0.0/8"]}, {"CaIds": [ca_id], "Cns": ["alice"]}])
    with pytest.raises(E.UnmatchedApiAccessRules):
        _pw(sandbox_info).read_api_access_rules()  # no rule matches: not the IP, no certificate
    with pytest.raises(E.UnmatchedApiAccessRules):
        _pw(sandbox_info, client_pki.cert("bob")).read_api_access_rules()  # right CA, wrong CN
    assert len(_pw(sandbox_info, client_pki.cert("alice")).read_api_access_rules()) == 2
    sandbox.set_rules([{"IpRanges": ["127.0.0.0/8"]}, {"CaIds": [ca_id], "Cns": ["alice"]}])
    assert _pw(sandbox_info).read_api_access_rules()  # the IP-only rule alone is enough


def test_failure_injected_after_a_call(sandbox: Sandbox, sandbox_info: SandboxInfo) -> None:
    c = _pw(sandbox_info)
    sandbox.fail_after("ReadCas", count=2)
    c.read_api_access_rules()  # not armed yet: ReadCas has not been called
    assert c.read_cas() == ()
    for _ in range(2):
        with pytest.raises(E.ApiUnavailable):
            c.read_api_access_policy()
    assert c.read_api_access_policy().max_access_key_expiration_seconds == 0
    assert sandbox.state.faults.injected == 2
