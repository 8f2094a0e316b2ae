"""The PIN is asked only once the server is reached and has proved who it is (issue 15, point 6):
an unreachable or untrusted server costs no PIN; driven on the real windows, card and sandbox."""

from __future__ import annotations

import socket
from typing import Any

from PySide6.QtCore import Qt

from app.session.errors import EndpointUnreachable, ServerNotTrusted
from app.ui.login import LoginPrefill
from tests.rigs.softhsm import SoftHsmRig

TIMEOUT = 20000


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends: nothing listens there


def _log_in_with_the_card(qtbot: Any, app: Any, fingerprint: str) -> None:
    """Type the credentials, press Log in, choose the card's certificate in the picker."""
    w = app.login_window
    qtbot.keyClicks(w.identity_edit, app.sandbox.info.login)
    qtbot.keyClicks(w.secret_edit, app.sandbox.info.password)
    qtbot.mouseClick(w.login_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: app.picker is not None, timeout=TIMEOUT)
    picker = app.picker
    qtbot.waitUntil(lambda: any(r.fingerprint == fingerprint for r in picker.rows()), timeout=TIMEOUT)
    assert picker.select_fingerprint(fingerprint)
    qtbot.mouseClick(picker.use_button, Qt.MouseButton.LeftButton)


def test_an_unreachable_server_costs_no_pin(qtbot: Any, ui_app: Any, softhsm_rig: SoftHsmRig) -> None:
    app = ui_app
    app.start()
    app.login_window.prefill(LoginPrefill(endpoint=f"https://127.0.0.1:{_closed_port()}/api/v1"))
    with qtbot.waitSignal(app.login_failed, timeout=TIMEOUT) as failed:
        _log_in_with_the_card(qtbot, app, softhsm_rig.keys["second_p256"].fingerprint_sha256)
    assert isinstance(failed.args[0], EndpointUnreachable)
    assert app.pin_bridge.calls == 0 and app.pin_bridge.dialog is None
    assert app.login_window.message.isVisible()


def test_an_untrusted_server_costs_no_pin(qtbot: Any, ui_app: Any, softhsm_rig: SoftHsmRig) -> None:
    app = ui_app
    app.start()
    app.login_window.ca_file = None  # the sandbox's CA is not trusted: its certificate proves nothing
    with qtbot.waitSignal(app.login_failed, timeout=TIMEOUT) as failed:
        _log_in_with_the_card(qtbot, app, softhsm_rig.keys["second_p256"].fingerprint_sha256)
    assert isinstance(failed.args[0], ServerNotTrusted)
    assert app.pin_bridge.calls == 0


def test_the_pin_comes_after_the_server_is_verified(qtbot: Any, ui_app: Any, softhsm_rig: SoftHsmRig) -> None:
    app = ui_app
    steps: list[str] = []
    app.session_event.connect(lambda e: steps.append(str(e.data.get("step"))) if e.data.get("step") else None)
    app.pin_bridge.asked.connect(lambda _r: steps.append("pin"))
    app.start()
    with qtbot.waitSignal(app.logged_in, timeout=TIMEOUT):
        _log_in_with_the_card(qtbot, app, softhsm_rig.keys["second_p256"].fingerprint_sha256)
        qtbot.waitUntil(lambda: app.pin_bridge.dialog is not None, timeout=TIMEOUT)
        dialog = app.pin_bridge.dialog
        qtbot.keyClicks(dialog.pin_edit, app.card.token.user_pin)
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert steps == ["server", "card", "pin", "account"]
    assert app.session.info is not None and app.pin_bridge.calls == 1
