# ruff: noqa: F811 - pytest fixtures are imported from tests.rigs.sandbox and used as arguments
"""The guided set-up dialog driven on its real widgets against the sandbox with a SoftHSM2 card: check,
apply (then Code 14 without the certificate), remove; a wrong CA refused; the password asked again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from app.sandbox.server import Sandbox, SandboxInfo
from app.session import errors as E
from app.session.model import AuthMethod, CertificateChoice, Credentials, LoginRequest, Secret
from app.tokens.pin import Pin, PinRequest
from app.tokens.uri import build_uri
from tests.rigs.sandbox import ClientPki, _shared_server_pki, client_pki, sandbox, sandbox_info  # noqa: F401
from tests.rigs.softhsm import SoftHsmRig
from tests.setup.conftest import plain_client


def _request(info: SandboxInfo, rig: SoftHsmRig, password: str | None = None) -> LoginRequest:
    uri = build_uri(token=rig.card.label, id=rig.keys["p256"].cka_id, type="cert")
    secret = Secret(info.password if password is None else password)
    return LoginRequest(credentials=Credentials(AuthMethod.PASSWORD, info.login, secret), region=info.region,
                        endpoint=info.endpoint, ca_file=info.ca_file,
                        certificate=CertificateChoice(uri, module_path=rig.module_path))


def _dialog(qtbot: Any, request: LoginRequest, rig: SoftHsmRig, issuer: Path) -> Any:
    from app.ui.mfa_setup_dialog import MfaSetupDialog

    rig.module()
    pins: list[PinRequest] = []

    def pin(req: PinRequest) -> Pin:
        pins.append(req)
        return Pin(rig.card.user_pin)

    dialog = MfaSetupDialog(request, pin)
    qtbot.addWidget(dialog)
    dialog.issuer_edit.setText(str(issuer))
    dialog.pins_asked = pins
    return dialog


def _click(qtbot: Any, signal: Any, button: Any) -> Any:
    with qtbot.waitSignal(signal, timeout=60000) as blocker:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    return blocker.args[0]


def test_dialog_sets_up_and_removes(qtbot: Any, sandbox: Sandbox, sandbox_info: SandboxInfo,
                                    softhsm_rig: SoftHsmRig, tmp_path: Path) -> None:
    issuer = tmp_path / "issuer.pem"
    issuer.write_bytes(softhsm_rig.ca.cert_pem())
    dialog = _dialog(qtbot, _request(sandbox_info, softhsm_rig), softhsm_rig, issuer)
    dialog.show()
    assert dialog.secret_edit.isHidden() and not dialog.apply_button.isEnabled()
    plan = _click(qtbot, dialog.planned, dialog.check_button)
    assert plan is not None and plan.ok
    text = dialog.text.toPlainText()
    assert "The account now:" in text and "Upload the CA that issued your certificate" in text
    assert "lets in any request from 0.0.0.0/0, with or without a certificate" in text
    assert dialog.apply_button.isEnabled() and len(dialog.pins_asked) == 1
    steps: list[Any] = []
    dialog.step_done.connect(steps.append)
    with qtbot.waitSignal(dialog.run_finished, timeout=60000) as finished:
        dialog.apply()  # what the Apply button does; the run's end comes through the event loop
        dialog.reject()  # refused while the account is changing
        assert dialog.isVisible() and "Still working" in dialog.text.toPlainText()
    report = finished.args[0]
    assert report is not None and report.ok, report.lines() if report else None
    assert [s.name for s in steps] == [s.name for s in report.steps]  # shown as they came
    assert "Done." in dialog.text.toPlainText() and "refused (Code 14)" in dialog.text.toPlainText()
    with pytest.raises(E.UnmatchedApiAccessRules):
        plain_client(sandbox_info).read_vms()
    report = _click(qtbot, dialog.run_finished, dialog.remove_button)
    assert report is not None and report.ok
    assert "Removed." in dialog.text.toPlainText()
    assert plain_client(sandbox_info).read_vms()
    assert len(dialog.pins_asked) == 1  # the card was opened once for the whole dialog
    dialog.reject()
    assert not dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.released, timeout=20000)  # the card let go, the worker stopped


def test_dialog_refuses_a_wrong_ca_and_asks_the_password(
    qtbot: Any, sandbox: Sandbox, sandbox_info: SandboxInfo, softhsm_rig: SoftHsmRig, client_pki: ClientPki,
    tmp_path: Path,
) -> None:
    issuer = tmp_path / "other.pem"
    issuer.write_bytes(client_pki.other_ca_pem)
    request = _request(sandbox_info, softhsm_rig, password="")  # the form was cleared after a login
    dialog = _dialog(qtbot, request, softhsm_rig, issuer)
    dialog.show()
    assert not dialog.secret_edit.isHidden()
    dialog.secret_edit.setText(sandbox_info.password)
    seen = sandbox.request_count
    assert _click(qtbot, dialog.planned, dialog.check_button) is None
    assert "did not issue your certificate" in dialog.text.toPlainText()
    assert sandbox.request_count == seen and not dialog.apply_button.isEnabled()
    issuer.write_bytes(softhsm_rig.ca.cert_pem())
    plan = _click(qtbot, dialog.planned, dialog.check_button)  # the typed password is used
    assert plan is not None and plan.ok
    dialog.reject()
