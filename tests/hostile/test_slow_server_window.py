"""Class 2 in the window: Cancel during "Connecting..." against a server that dribbles one byte at a
time ends the login at once (the request in flight is cut short, not left to its 60 s deadline).

Real parts: the application's controller and login window (offscreen), the SoftHSM2 card, and a
loopback server dribbling a TLS record. Stated time: the window says "cancelled" within 20 s of the
click (it takes well under a second); without the Cancel reaching the socket it would take 60 s.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from PySide6.QtCore import Qt

from app.session.model import CertificateChoice
from tests.rigs.hostile_peers import Peer, tcp_dribbler
from tests.rigs.softhsm import CARD_LABEL, SoftHsmRig

BEAT = 0.5
BOUND_MS = 20000


@pytest.fixture
def dribbler() -> Iterator[Peer]:
    with tcp_dribbler(BEAT) as peer:
        yield peer


@pytest.fixture
def window_app(qtbot: Any, softhsm_rig: SoftHsmRig, dribbler: Peer) -> Iterator[Any]:
    from app.ui.app import AppOptions, TrustedLoginApp, ensure_qapplication
    from app.ui.inventory import InventoryConfig
    from app.ui.login import LoginPrefill, PickedCertificate

    ensure_qapplication()
    softhsm_rig.module()
    uri = f"pkcs11:token={quote(CARD_LABEL)};object={quote('test p256')};type=cert"
    options = AppOptions(
        inventory=InventoryConfig(module_paths=(softhsm_rig.module_path,),
                                  init_envs={softhsm_rig.module_path: softhsm_rig.env}),
        prefill=LoginPrefill(
            identity="demo", secret="not-a-real-password", endpoint=f"https://127.0.0.1:{dribbler.port}",
            certificate=PickedCertificate(CertificateChoice(uri, module_path=softhsm_rig.module_path),
                                          "test p256", CARD_LABEL)),
        use_keyring=False,
        quit_on_close=False,
    )
    app = TrustedLoginApp(options)
    qtbot.addWidget(app.login_window)
    yield app
    if app.session is not None:
        app.session.logout()
        app.session.wait_ended(20)
    app.shutdown()


def test_cancel_during_connecting_ends_the_login_at_once(qtbot: Any, window_app: Any, dribbler: Peer,
                                                         softhsm_rig: SoftHsmRig) -> None:
    app = window_app
    w = app.login_window
    app.start()
    qtbot.mouseClick(w.login_button, Qt.MouseButton.LeftButton)
    # a bare URI: the card opens first (its PIN), then the window connects
    qtbot.waitUntil(lambda: app.pin_bridge.dialog is not None or dribbler.accepted >= 1, timeout=BOUND_MS)
    dialog = app.pin_bridge.dialog
    if dialog is not None:
        qtbot.keyClicks(dialog.pin_edit, softhsm_rig.card.user_pin)
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dribbler.accepted >= 1 and w.busy, timeout=BOUND_MS)
    assert w.cancel_button.isVisible()
    with qtbot.waitSignal(app.login_failed, timeout=BOUND_MS):
        qtbot.mouseClick(w.cancel_button, Qt.MouseButton.LeftButton)
    assert "cancelled" in w.message.text().lower()
    assert app.session is None and not w.busy
    assert dribbler.accepted == 1  # and nothing was tried again behind the user's back
