# ruff: noqa: F811 - pytest fixtures are imported from tests.rigs.sandbox and used as arguments
"""`osc-trusted-login mfa-setup` with a card (SoftHSM2) against the sandbox: dry run, set-up, a card
session afterwards, Code 14 without a certificate (our client and OUTSCALE's own osc-sdk-python), the
wrong CA refused, removal."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.serialization import NoEncryption, pkcs12

from app.__main__ import build_parser
from app.cli import mfa_setup
from app.sandbox.server import Sandbox, SandboxInfo
from app.session import errors as E
from app.session.lifecycle import SessionSettings, TrustedSession
from app.session.model import AuthMethod, CertificateChoice, Credentials, LoginRequest, Secret
from app.tokens.pin import Pin, PinRequest
from app.tokens.uri import build_uri
from tests.rigs.sandbox import ClientPki, _shared_server_pki, client_pki, sandbox, sandbox_info  # noqa: F401
from tests.rigs.softhsm import SoftHsmRig
from tests.setup.conftest import plain_client


def _env(info: SandboxInfo, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSC_")}
    (tmp / "empty-osc.json").write_text('{"default": {}}')  # never the developer's ~/.osc
    env.update(OSC_LOGIN=info.login, OSC_PASSWORD=info.password, OSC_CONFIG_FILE=str(tmp / "empty-osc.json"))
    return env


def _uri(rig: SoftHsmRig, key: str = "p256") -> str:
    return build_uri(token=rig.card.label, id=rig.keys[key].cka_id, type="cert")


def _cli(info: SandboxInfo, rig: SoftHsmRig, tmp: Path, *extra: str,
         issuer: bytes | None = None) -> tuple[int, dict[str, Any], str]:
    """Run mfa-setup --json in-process with the card; returns (exit code, JSON answer, stderr)."""
    ca = tmp / "issuer.pem"
    ca.write_bytes(issuer if issuer is not None else rig.ca.cert_pem())
    argv = ["mfa-setup", "--json", "--pin-stdin", "--cert", _uri(rig), "--module", rig.module_path,
            "--endpoint", info.endpoint, "--region", info.region, "--ca-file", info.ca_file,
            "--issuer-ca", str(ca), *extra]
    args = build_parser("mfa-setup").parse_args(argv)
    out, err = io.StringIO(), io.StringIO()
    pin = io.StringIO(rig.card.user_pin + "\n")
    code = mfa_setup.run(args, env=_env(info, tmp), stdin=pin, out=out, err=err)
    return code, json.loads(out.getvalue()), err.getvalue()


def _osc_sdk_read_vms(info: SandboxInfo, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """ReadVms with OUTSCALE's own Python SDK, access key and no client certificate."""
    from osc_sdk_python import Gateway

    for var in [v for v in os.environ if v.startswith("OSC_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", info.ca_file)
    cfg = tmp / "osc-config.json"
    cfg.write_text(json.dumps({"p": {"region": info.region, "endpoints": {"api": info.endpoint},
                                     "access_key": info.access_key, "secret_key": info.secret_key}}))
    return Gateway(path=str(cfg), profile="p", max_retries=0).ReadVms()  # type: ignore[no-any-return]


def _card_session(info: SandboxInfo, rig: SoftHsmRig) -> TrustedSession:
    request = LoginRequest(
        credentials=Credentials(AuthMethod.PASSWORD, info.login, Secret(info.password)),
        region=info.region, endpoint=info.endpoint, ca_file=info.ca_file,
        certificate=CertificateChoice(_uri(rig), module_path=rig.module_path))

    def pins(req: PinRequest) -> Pin:
        return Pin(rig.card.user_pin)

    return TrustedSession(request, pin_callback=pins, on_event=lambda e: None,
                          settings=SessionSettings(watch_interval=0.05))


def test_card_setup_end_to_end(sandbox: Sandbox, sandbox_info: SandboxInfo, softhsm_rig: SoftHsmRig,
                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    softhsm_rig.module()  # loaded with the rig's SOFTHSM2_CONF before the CLI opens the card
    rules_before = sorted(r.rule_id for r in sandbox.state.access.rules.values())
    code, dry, _ = _cli(sandbox_info, softhsm_rig, tmp_path, "--dry-run")
    assert code == mfa_setup.EXIT_OK, dry
    assert dry["plan"]["problems"] == [] and "report" not in dry
    assert dry["plan"]["rule"]["cns"] == ["test p256"]
    assert sorted(r.rule_id for r in sandbox.state.access.rules.values()) == rules_before
    assert not sandbox.state.access.cas  # the dry run changed nothing

    code, done, err = _cli(sandbox_info, softhsm_rig, tmp_path)
    assert code == mfa_setup.EXIT_OK, (done, err)
    assert done["report"]["ok"] and done["report"]["certificate_required"] is True
    assert [s["name"] for s in done["report"]["steps"]][:3] == [
        "Upload the CA", "Prove the certificate (mutual TLS, old rules in place)", "Create the rule"]

    session = _card_session(sandbox_info, softhsm_rig)  # a session with the card works
    try:
        info = session.login()
        assert info.account_id == sandbox_info.account_id
    finally:
        session.logout()
    with pytest.raises(E.UnmatchedApiAccessRules):
        plain_client(sandbox_info).read_vms()
    with pytest.raises(requests.HTTPError) as ei:  # OUTSCALE's own client, no certificate
        _osc_sdk_read_vms(sandbox_info, tmp_path, monkeypatch)
    assert ei.value.response.json()["Errors"][0]["Code"] == "14"

    code, removed, err = _cli(sandbox_info, softhsm_rig, tmp_path, "--remove")
    assert code == mfa_setup.EXIT_OK, (removed, err)
    assert not sandbox.state.access.cas
    assert len(_osc_sdk_read_vms(sandbox_info, tmp_path, monkeypatch)["Vms"]) == 3


def test_card_wrong_ca_refused_before_anything(sandbox: Sandbox, sandbox_info: SandboxInfo,
                                               softhsm_rig: SoftHsmRig, client_pki: ClientPki,
                                               tmp_path: Path) -> None:
    softhsm_rig.module()
    seen = sandbox.request_count
    code, answer, err = _cli(sandbox_info, softhsm_rig, tmp_path, issuer=client_pki.other_ca_pem)
    assert code == mfa_setup.EXIT_REFUSED and "did not issue your certificate" in answer["error"]
    assert "nothing was changed" in err
    assert sandbox.request_count == seen and not sandbox.state.access.cas


def test_card_failure_after_create_rule_rolls_back(sandbox: Sandbox, sandbox_info: SandboxInfo,
                                                   softhsm_rig: SoftHsmRig, tmp_path: Path) -> None:
    softhsm_rig.module()
    sandbox.fail_after("CreateApiAccessRule")
    code, answer, _ = _cli(sandbox_info, softhsm_rig, tmp_path)
    assert code == mfa_setup.EXIT_FAILED
    report = answer["report"]
    assert not report["ok"] and report["not_undone"] == [] and len(report["undone"]) == 2
    assert report["account"]["cas"] == [] and len(report["account"]["rules"]) == 1
    assert plain_client(sandbox_info).read_vms()


def test_file_key_setup_then_file_session(sandbox: Sandbox, sandbox_info: SandboxInfo, client_pki: ClientPki,
                                          tmp_path: Path) -> None:
    """A PKCS#12 file with its chain: no issuer to give; afterwards a file-key session works."""
    p12 = tmp_path / "alice.p12"
    issued = client_pki.issued["alice"]
    p12.write_bytes(pkcs12.serialize_key_and_certificates(  # the CA travels with the certificate
        b"alice", issued.key, issued.certificate, [client_pki.ca.certificate], NoEncryption()))
    argv = ["mfa-setup", "--json", "--cert", str(p12), "--endpoint", sandbox_info.endpoint,
            "--region", sandbox_info.region, "--ca-file", sandbox_info.ca_file]
    out, err = io.StringIO(), io.StringIO()
    code = mfa_setup.run(build_parser("mfa-setup").parse_args(argv), env=_env(sandbox_info, tmp_path),
                         stdin=io.StringIO(""), out=out, err=err)
    answer = json.loads(out.getvalue())
    assert code == mfa_setup.EXIT_OK, (answer, err.getvalue())
    assert answer["report"]["certificate_required"] is True
    request = LoginRequest(
        credentials=Credentials(AuthMethod.PASSWORD, sandbox_info.login, Secret(sandbox_info.password)),
        region=sandbox_info.region, endpoint=sandbox_info.endpoint, ca_file=sandbox_info.ca_file,
        certificate=CertificateChoice(str(p12)))
    session = TrustedSession(request, pin_callback=lambda r: None, on_event=lambda e: None)
    try:
        assert session.login().account_id == sandbox_info.account_id
    finally:
        session.logout()
    with pytest.raises(E.UnmatchedApiAccessRules):
        plain_client(sandbox_info).read_vms()
