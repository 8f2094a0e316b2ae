"""The set-up dialog is reachable from the login window and from the session window (the real app)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from PySide6.QtCore import Qt

from app.session.model import CertificateChoice
from app.ui.login import LoginPrefill, PickedCertificate
from tests.rigs.softhsm import SoftHsmRig
from tests.ui.test_flow import TIMEOUT, _answer_pin, _pin_dialog


def test_reachable_from_login_and_session_windows(qtbot: Any, ui_app: Any, softhsm_rig: SoftHsmRig,
                                                  tmp_path: Path) -> None:
    app = ui_app
    w, card, info = app.login_window, app.card, app.sandbox.info
    uri = f"pkcs11:token={quote(card.token.label)};object={quote('second p256')};type=cert"
    app.start()
    qtbot.mouseClick(w.mfa_button, Qt.MouseButton.LeftButton)  # an empty form: no dialog
    assert app.mfa_dialog is None
    w.prefill(LoginPrefill(identity=info.login, secret=info.password, certificate=PickedCertificate(
        CertificateChoice(uri, module_path=card.client_module_path), "second card p256", card.token.label)))
    qtbot.mouseClick(w.mfa_button, Qt.MouseButton.LeftButton)
    dialog = app.mfa_dialog
    assert dialog is not None and dialog.isVisible() and dialog.secret_edit.isHidden()
    assert info.login in dialog.who_label.text()
    dialog.reject()

    with qtbot.waitSignal(app.logged_in, timeout=TIMEOUT):
        qtbot.mouseClick(w.login_button, Qt.MouseButton.LeftButton)
        _answer_pin(qtbot, _pin_dialog(qtbot, app), card.token.user_pin)
    sw = app.session_window
    qtbot.mouseClick(sw.mfa_button, Qt.MouseButton.LeftButton)
    dialog = app.mfa_dialog
    assert dialog is not None and dialog.isVisible()
    assert not dialog.secret_edit.isHidden()  # the form's password was cleared at login: asked again
    dialog.secret_edit.setText(info.password)
    (tmp_path / "ca.pem").write_bytes(softhsm_rig.ca.cert_pem())  # the card holds only the leaf
    dialog.issuer_edit.setText(str(tmp_path / "ca.pem"))
    dialog.cn_check.setChecked(False)  # the sandbox's rule names the rig's CA, any CN, any IPv4 address
    with qtbot.waitSignal(dialog.planned, timeout=TIMEOUT) as planned:
        qtbot.mouseClick(dialog.check_button, Qt.MouseButton.LeftButton)
    plan = planned.args[0]
    assert plan is not None and plan.ok and not plan.changes_anything, dialog.text.toPlainText()
    assert "Everything is already in place" in dialog.text.toPlainText()
    assert app.pin_bridge.dialog is None  # the live session's card login was shared: no second PIN
    dialog.reject()
    assert app.session is not None and app.session.card_present  # the session goes on
