"""The whole desktop flow on real parts: login window -> picker -> PIN (wrong, then right) -> session
window -> card pulled out (banner) -> put back (PIN again) -> logout; and a session that runs out."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from PySide6.QtCore import Qt

from app.session.model import CertificateChoice, EndReason
from app.tokens.pin import PinPurpose
from app.ui.login import LoginPrefill, PickedCertificate
from app.ui.workers import StallMeter
from tests.rigs.softhsm import SoftHsmRig
from tests.ui.conftest import record

WRONG_PIN = "000000"
TIMEOUT = 20000


def _type_credentials(qtbot: Any, app: Any) -> None:
    w = app.login_window
    info = app.sandbox.info
    qtbot.keyClicks(w.identity_edit, info.login)
    qtbot.keyClicks(w.secret_edit, info.password)


def _pin_dialog(qtbot: Any, app: Any, purpose: PinPurpose = PinPurpose.LOGIN) -> Any:
    def asked() -> bool:
        d = app.pin_bridge.dialog
        return d is not None and d.request.purpose is purpose and not d.checking

    try:
        qtbot.waitUntil(asked, timeout=TIMEOUT)
    except Exception as e:  # say where the flow stood, not just "timed out"
        w = app.login_window
        raise AssertionError(
            f"no {purpose.value} PIN prompt: bridge calls={app.pin_bridge.calls}, session={app.session!r}, "
            f"busy={w.busy}, status={w.status.text()!r}, message={w.message.text()!r}, "
            f"session window={app.session_window!r}"
        ) from e
    return app.pin_bridge.dialog


def _answer_pin(qtbot: Any, dialog: Any, pin: str) -> None:
    # A PIN dialog always starts empty: nothing is ever filled in or re-sent for the user.
    assert dialog.pin_edit.text() == ""
    assert not dialog.ok_button.isEnabled()
    qtbot.keyClicks(dialog.pin_edit, pin)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)


def _active_keys(app: Any) -> set[str]:
    return {k.access_key_id for k in app.sandbox.access_keys() if k.state == "ACTIVE"}


def test_full_flow_wrong_pin_removal_reinsertion_logout(
    qtbot: Any, ui_app: Any, softhsm_rig: SoftHsmRig
) -> None:
    app = ui_app
    w = app.login_window
    card = app.card
    pin = card.token.user_pin
    fingerprint = softhsm_rig.keys["second_p256"].fingerprint_sha256
    meter = StallMeter(5)
    app.start()
    qtbot.waitExposed(w)
    meter.start()
    _type_credentials(qtbot, app)

    # Login without a certificate opens the picker, which lists the card's certificate.
    qtbot.mouseClick(w.login_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: app.picker is not None, timeout=TIMEOUT)
    picker = app.picker
    qtbot.waitUntil(lambda: any(r.fingerprint == fingerprint for r in picker.rows()), timeout=TIMEOUT)
    row = next(r for r in picker.rows() if r.fingerprint == fingerprint)
    assert row.usable and row.group_kind == "card" and row.matches_account
    assert picker.rows()[0].matches_account  # account-CA matches come first
    assert picker.select_fingerprint(fingerprint)
    qtbot.mouseClick(picker.use_button, Qt.MouseButton.LeftButton)

    # The login continues on its own once the certificate is chosen: the server is reached and
    # verified, then the PIN is asked. A wrong PIN comes back into the same dialog with the error; it
    # is not re-sent (the field is empty again) and the login goes on once the user types the right one.
    dialog = _pin_dialog(qtbot, app)
    assert dialog.request.token_label == card.token.label
    assert "PIN" in w.status.text() and w.busy
    keys_before = _active_keys(app)
    _answer_pin(qtbot, dialog, WRONG_PIN)
    assert _pin_dialog(qtbot, app) is dialog  # the same dialog, open all along
    assert dialog.isVisible() and dialog.error_label.isVisible()
    assert "incorrect" in dialog.error_label.text().lower()
    assert dialog.request.last_error and app.pin_bridge.calls == 2  # one wrong try spent, nothing re-sent
    assert app.session is not None and _active_keys(app) == keys_before  # no key was created
    with qtbot.waitSignal(app.logged_in, timeout=TIMEOUT) as logged:
        _answer_pin(qtbot, dialog, pin)
    info = logged.args[0]
    assert app.pin_bridge.calls == 2 and app.pin_bridge.dialog is None
    sw = app.session_window
    qtbot.waitExposed(sw)
    assert not w.isVisible()
    assert w.secret_edit.text() == ""  # the password is forgotten once the temporary key exists
    qtbot.waitUntil(lambda: sw.vm_table.rowCount() == 3, timeout=TIMEOUT)
    stall = meter.stop()
    record("max_ui_stall_ms_login_and_enumeration", round(stall, 1))
    print(f"longest UI event-loop stall during enumeration + login: {stall:.1f} ms")
    assert info.temporary_key_id in _active_keys(app)
    assert sw.key_id.text() == info.temporary_key_id
    assert sw.card.text() == card.token.label
    assert "5 minutes" in sw.grace.text()

    # Pull the card out: the countdown banner appears.
    card.remove()
    qtbot.waitUntil(lambda: sw.banner.isVisible(), timeout=TIMEOUT)
    qtbot.waitUntil(lambda: re.fullmatch(r"0[45]:\d\d", sw.countdown_text()) is not None, timeout=TIMEOUT)

    # Put it back: the card lost its login, so its PIN is asked again; then the banner goes.
    card.insert()
    _answer_pin(qtbot, _pin_dialog(qtbot, app, PinPurpose.RELOGIN), pin)
    qtbot.waitUntil(lambda: not sw.banner.isVisible(), timeout=TIMEOUT)
    assert app.session is not None and app.session_info is not None

    # Logout revokes the temporary key and brings the login window back.
    with qtbot.waitSignal(app.session_ended, timeout=TIMEOUT) as ended:
        qtbot.mouseClick(sw.logout_button, Qt.MouseButton.LeftButton)
    assert ended.args[0].reason is EndReason.LOGOUT
    qtbot.waitExposed(w)
    assert "Logged out" in w.message.text() and "revoked" in w.message.text()
    assert info.temporary_key_id not in _active_keys(app)


def test_session_runs_out_after_removal_and_returns_to_login(qtbot: Any, ui_app: Any) -> None:
    app = ui_app
    w = app.login_window
    card = app.card
    uri = f"pkcs11:token={quote(card.token.label)};object={quote('second p256')};type=cert"
    app.start()
    w.prefill(
        LoginPrefill(
            identity=app.sandbox.info.login,
            secret=app.sandbox.info.password,
            certificate=PickedCertificate(
                CertificateChoice(uri, module_path=card.client_module_path),
                "second card p256",
                card.token.label,
            ),
            grace_override_seconds=1.0,
        )
    )
    with qtbot.waitSignal(app.logged_in, timeout=TIMEOUT) as logged:
        qtbot.mouseClick(w.login_button, Qt.MouseButton.LeftButton)
        _answer_pin(qtbot, _pin_dialog(qtbot, app), card.token.user_pin)
    info = logged.args[0]
    assert info.grace_seconds == 1.0
    sw = app.session_window
    with qtbot.waitSignal(app.session_ended, timeout=TIMEOUT) as ended:
        card.remove()
    assert ended.args[0].reason is EndReason.CARD_REMOVED
    qtbot.waitExposed(w)
    assert not sw.isVisible()
    assert "card removed" in w.message.text().lower()
    assert "revoked" in w.message.text()
    assert info.temporary_key_id not in _active_keys(app)
    assert app.session is None


def test_picker_follows_card_removal_and_insertion(qtbot: Any, ui_app: Any, softhsm_rig: SoftHsmRig) -> None:
    app = ui_app
    fingerprint = softhsm_rig.keys["second_p256"].fingerprint_sha256
    app.start()
    app.open_picker()
    picker = app.picker

    def listed() -> bool:
        return any(r.fingerprint == fingerprint for r in picker.rows())

    qtbot.waitUntil(listed, timeout=TIMEOUT)
    app.card.remove()
    qtbot.waitUntil(lambda: not listed(), timeout=TIMEOUT)
    app.card.insert()
    qtbot.waitUntil(listed, timeout=TIMEOUT)
    picker.reject()
    qtbot.waitUntil(lambda: app.picker is None)


def test_cancel_at_the_pin_prompt_cancels_the_login(qtbot: Any, ui_app: Any) -> None:
    app = ui_app
    w = app.login_window
    card = app.card
    uri = f"pkcs11:token={quote(card.token.label)};object={quote('second p256')};type=cert"
    app.start()
    w.prefill(
        LoginPrefill(
            identity=app.sandbox.info.login,
            secret=app.sandbox.info.password,
            certificate=PickedCertificate(
                CertificateChoice(uri, module_path=card.client_module_path),
                "second card p256",
                card.token.label,
            ),
        )
    )
    qtbot.mouseClick(w.login_button, Qt.MouseButton.LeftButton)
    dialog = _pin_dialog(qtbot, app)
    assert w.busy and w.cancel_button.isVisible()
    with qtbot.waitSignal(app.login_failed, timeout=TIMEOUT):
        dialog.reject()
    assert "cancelled" in w.message.text().lower()
    assert app.session is None and not w.busy


def test_add_file_with_password_then_log_in_with_it(
    qtbot: Any, ui_app: Any, softhsm_rig: SoftHsmRig, tmp_path: Any
) -> None:
    app = ui_app
    w = app.login_window
    issued = softhsm_rig.ca.issue_client("file operator", key_kind="p256")
    p12 = tmp_path / "operator.p12"
    p12.write_bytes(issued.pkcs12(b"file-pass"))
    app.start()
    _type_credentials(qtbot, app)
    app.open_picker()
    picker = app.picker

    # A wrong password is said in plain words and asked again; the right one adds the certificate.
    dlg = picker.ask_file_password(str(p12))
    dlg.setTextValue("wrong")
    dlg.accept()
    qtbot.waitUntil(lambda: picker.password_dialog is not None, timeout=TIMEOUT)
    assert "password" in picker.password_dialog.labelText().lower()
    picker.password_dialog.setTextValue("file-pass")
    picker.password_dialog.accept()
    qtbot.waitUntil(lambda: any(r.group_kind == "file" for r in picker.rows()), timeout=TIMEOUT)
    row = next(r for r in picker.rows() if r.group_kind == "file")
    assert row.title == "file operator" and row.usable and "file-pass" not in repr(row)
    assert picker.use_button.isEnabled()
    qtbot.mouseClick(picker.use_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: app.picker is None)
    assert "file operator" in w.cert_value.text()

    with qtbot.waitSignal(app.logged_in, timeout=TIMEOUT) as logged:
        qtbot.mouseClick(w.login_button, Qt.MouseButton.LeftButton)
    info = logged.args[0]
    assert app.pin_bridge.calls == 0  # a file certificate needs no PIN
    assert info.card_label is None and "file operator" in (info.certificate_subject or "")
    assert "not watched" in app.session_window.grace.text()


def test_cancelled_relogin_keeps_the_countdown_and_unlock_resumes(qtbot: Any, ui_app: Any) -> None:
    app = ui_app
    w = app.login_window
    card = app.card
    uri = f"pkcs11:token={quote(card.token.label)};object={quote('second p256')};type=cert"
    app.start()
    w.prefill(
        LoginPrefill(
            identity=app.sandbox.info.login,
            secret=app.sandbox.info.password,
            certificate=PickedCertificate(
                CertificateChoice(uri, module_path=card.client_module_path),
                "second card p256",
                card.token.label,
            ),
        )
    )
    with qtbot.waitSignal(app.logged_in, timeout=TIMEOUT):
        qtbot.mouseClick(w.login_button, Qt.MouseButton.LeftButton)
        _answer_pin(qtbot, _pin_dialog(qtbot, app), card.token.user_pin)
    sw = app.session_window
    card.remove()
    qtbot.waitUntil(lambda: sw.banner.isVisible(), timeout=TIMEOUT)
    card.insert()
    # The user cancels the re-login prompt: the countdown goes on, and "Unlock card..." is offered.
    _pin_dialog(qtbot, app, PinPurpose.RELOGIN).reject()
    qtbot.waitUntil(lambda: sw.unlock_button.isVisible(), timeout=TIMEOUT)
    assert sw.banner.isVisible() and sw.notice.isVisible()
    calls = app.pin_bridge.calls
    qtbot.mouseClick(sw.unlock_button, Qt.MouseButton.LeftButton)
    _answer_pin(qtbot, _pin_dialog(qtbot, app, PinPurpose.RELOGIN), card.token.user_pin)
    qtbot.waitUntil(lambda: not sw.banner.isVisible(), timeout=TIMEOUT)
    assert app.pin_bridge.calls == calls + 1 and not sw.unlock_button.isVisible()
