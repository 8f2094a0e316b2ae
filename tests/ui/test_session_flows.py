"""Issue 15's session flows on real widgets: the key renewed before it expires (no new PIN), closing the
window into the tray or asking, the one-minute reminder, the expiry in people's words."""

from __future__ import annotations

import dataclasses
import time
from typing import Any
from urllib.parse import quote

from PySide6.QtCore import Qt

from app.session.model import CertificateChoice
from app.ui.login import LoginPrefill, PickedCertificate
from tests.ui.conftest import FAST

TIMEOUT = 20000


def _log_in(qtbot: Any, app: Any) -> Any:
    card = app.card
    uri = f"pkcs11:token={quote(card.token.label)};object={quote('second p256')};type=cert"
    app.start()
    app.login_window.prefill(LoginPrefill(
        identity=app.sandbox.info.login, secret=app.sandbox.info.password,
        certificate=PickedCertificate(CertificateChoice(uri, module_path=card.client_module_path),
                                      "second card p256", card.token.label)))
    with qtbot.waitSignal(app.logged_in, timeout=TIMEOUT) as logged:
        qtbot.mouseClick(app.login_window.login_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: app.pin_bridge.dialog is not None, timeout=TIMEOUT)
        qtbot.keyClicks(app.pin_bridge.dialog.pin_edit, card.token.user_pin)
        qtbot.mouseClick(app.pin_bridge.dialog.ok_button, Qt.MouseButton.LeftButton)
    return logged.args[0]


def _active_keys(app: Any) -> set[str]:
    return {k.access_key_id for k in app.sandbox.access_keys() if k.state == "ACTIVE"}


def test_the_key_is_renewed_before_it_expires_without_a_new_pin(qtbot: Any, ui_app: Any) -> None:
    app = ui_app
    # a key of 5 minutes: the 10-minute warning shows from the start
    app.login_flow._settings = dataclasses.replace(FAST, key_lifetime_seconds=300.0)
    info = _log_in(qtbot, app)
    sw = app.session_window
    notice = sw.expiry_notice
    qtbot.waitUntil(lambda: notice.isVisible(), timeout=TIMEOUT)
    assert "min" in notice.label.text() and notice.renew_button.isEnabled()
    assert "(in 4 min)" in sw.key_expires.text() or "(in 5 min)" in sw.key_expires.text()
    old, calls = info.temporary_key_id, app.pin_bridge.calls
    qtbot.mouseClick(notice.renew_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: sw.key_id.text() != old, timeout=TIMEOUT)
    new = sw.key_id.text()
    qtbot.waitUntil(lambda: old not in _active_keys(app), timeout=TIMEOUT)  # the old key was deleted
    assert new in _active_keys(app) and app.pin_bridge.calls == calls  # no new PIN
    assert app.session is not None and app.session.state.value == "active"


def test_closing_the_window_keeps_the_session_in_the_tray(qtbot: Any, ui_app: Any) -> None:
    from PySide6.QtWidgets import QSystemTrayIcon

    app = ui_app
    _log_in(qtbot, app)
    sv, sw = app.session_view, app.session_window
    if sv.tray is None:  # no tray on this display (offscreen): give the flow one, as a desktop would
        sv.tray = QSystemTrayIcon()
    sw.close()
    assert not sw.isVisible() and app.session is not None and sv.close_box is None
    assert sv.notifications and "tray" in sv.notifications[-1][1]
    sv._raise_window()  # the tray's "Show the session"
    assert sw.isVisible()
    sv.close_to_tray = lambda: False  # the setting off: closing asks
    sw.close()
    assert sv.close_box is not None and sv.close_box.isVisible() and sw.isVisible()
    sv.close_box.reject()
    assert app.session is not None


def test_one_minute_left_is_said_once(qtbot: Any) -> None:
    from app.ui.session_window import SessionWindow

    now = [1000.0]
    sw = SessionWindow(monotonic=lambda: now[0])
    qtbot.addWidget(sw)
    reminders: list[bool] = []
    sw.last_minute.connect(lambda: reminders.append(True))
    sw.start_countdown(now[0] + 300)
    assert reminders == [] and "stays usable" in sw.banner_label.text()
    now[0] += 241
    sw._tick()
    now[0] += 5
    sw._tick()
    assert reminders == [True]
    sw.offer_unlock("The card's PIN was not given: the countdown goes on.")
    assert "not unlocked" in sw.banner_label.text()  # the banner no longer says "Unlocking it..."
    sw.allow_close()


def test_expiry_in_local_time_and_words(qapp: Any) -> None:
    from app.ui.key_expiry import expiry_text, in_words, parse_expiry

    assert in_words(3 * 3600 + 12 * 60 + 30) == "in 3 h 12 min"
    assert in_words(8 * 60) == "in 8 min" and in_words(20) == "in less than a minute"
    assert in_words(0) == "expired"
    now = time.time()
    when = parse_expiry(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3 * 3600 + 12 * 60 + 30)))
    assert when is not None
    local = time.strftime("%H:%M", time.localtime(when))
    text = expiry_text(when, now)
    assert local in text and "in 3 h 12 min" in text and "Z" not in text.split("(")[0].strip()[-1:]


def _prefill_card(app: Any, password: str | None = None) -> None:
    card = app.card
    uri = f"pkcs11:token={quote(card.token.label)};object={quote('second p256')};type=cert"
    app.login_window.prefill(LoginPrefill(
        identity=app.sandbox.info.login, secret=password or app.sandbox.info.password,
        certificate=PickedCertificate(CertificateChoice(uri, module_path=card.client_module_path),
                                      "second card p256", card.token.label)))


def test_a_card_inserted_after_a_failed_try_is_seen_by_the_next(qtbot: Any, ui_app: Any) -> None:
    from app.tokens.errors import TokenNotPresent

    app = ui_app
    w = app.login_window
    app.start()
    _prefill_card(app)
    app.card.remove()
    with qtbot.waitSignal(app.login_failed, timeout=TIMEOUT) as failed:
        qtbot.mouseClick(w.login_button, Qt.MouseButton.LeftButton)
    assert isinstance(failed.args[0], TokenNotPresent) and w.message.isVisible()
    app.card.insert()
    qtbot.mouseClick(w.login_button, Qt.MouseButton.LeftButton)
    assert not w.message.isVisible()  # the new attempt does not wear the last one's words
    qtbot.waitUntil(lambda: app.pin_bridge.dialog is not None or app.session is None, timeout=TIMEOUT)
    assert app.pin_bridge.dialog is not None, w.message.text()  # the card was found: its PIN is asked
    app.pin_bridge.dialog.reject()
    qtbot.waitUntil(lambda: app.session is None, timeout=TIMEOUT)


def test_a_refused_login_names_the_method_and_the_region_and_focuses_the_password(
    qtbot: Any, ui_app: Any
) -> None:
    app = ui_app
    w = app.login_window
    app.start()
    _prefill_card(app, password="wrong password")
    with qtbot.waitSignal(app.login_failed, timeout=TIMEOUT):
        qtbot.mouseClick(w.login_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: app.pin_bridge.dialog is not None, timeout=TIMEOUT)
        qtbot.keyClicks(app.pin_bridge.dialog.pin_edit, app.card.token.user_pin)
        qtbot.mouseClick(app.pin_bridge.dialog.ok_button, Qt.MouseButton.LeftButton)
    text = w.message.text()
    assert "login and password" in text and "Region" in text and app.sandbox.info.endpoint in text
    assert w.focusWidget() is w.secret_edit


def test_the_language_applies_at_once(qtbot: Any, tmp_path: Any) -> None:
    from app.ui.app import AppOptions, TrustedLoginApp
    from app.ui.i18n import install_language
    from app.ui.settings import SettingsStore

    install_language("en")
    app = TrustedLoginApp(AppOptions(settings_store=SettingsStore(tmp_path / "s.json"), use_keyring=False,
                                     quit_on_close=False))
    w = app.login_window
    qtbot.addWidget(w)
    try:
        qtbot.keyClicks(w.identity_edit, "operator@example.com")
        w.show_message("Something the user must still read", "kept as it is")
        assert w.windowTitle() == "Log in"
        app.apply_language("fr")
        assert w.windowTitle() == "Connexion" and w.settings_button.text() != "&Settings..."
        assert w.identity_edit.text() == "operator@example.com"  # the user's input is not touched
        assert "Something the user must still read" in w.message.text()
        app.apply_language("en")
        assert w.windowTitle() == "Log in" and w.settings_button.text() == "&Settings..."
    finally:
        install_language("en")
        app.shutdown()


def test_message_boxes_and_the_countdown_have_accessible_words(qtbot: Any) -> None:
    from app.ui.login import LoginWindow
    from app.ui.session_window import SessionWindow

    w = LoginWindow()
    qtbot.addWidget(w)
    w.show_message("Wrong PIN", "The PIN is incorrect.")
    assert w.message.accessibleName() == "Wrong PIN"
    assert w.message.accessibleDescription() == "The PIN is incorrect."
    now = [50.0]
    sw = SessionWindow(monotonic=lambda: now[0])
    qtbot.addWidget(sw)
    sw.start_countdown(now[0] + 90)
    assert sw.countdown_label.accessibleName() and "01:30" in sw.countdown_label.accessibleDescription()
    assert sw.banner_label.accessibleName()
    sw.allow_close()
