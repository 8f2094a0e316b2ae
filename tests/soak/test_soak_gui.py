"""The real desktop app, over and over (offscreen, real widgets, the controller's own timers sped up):
login -> session window -> card pulled (banner, countdown ticking) -> same card back (PIN again) ->
logout; and the certificate picker left open while the inventory is polled. Pass = every figure flat
after the warm-up, None's reference count first of all (issue 20)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from PySide6.QtCore import Qt

from app.session.model import CertificateChoice, EndReason
from app.tokens.pin import PinPurpose
from app.ui.login import LoginPrefill, PickedCertificate
from tests.soak.sampler import Sampler, run_cycles, soak_seconds
from tests.ui.conftest import ARTIFACTS

TIMEOUT = 20000
WARMUP = 3
# pytest-qt keeps every Qt warning it captures (the offscreen plugin writes one per window shown): that
# list would grow with the cycles and hide the product's own figures.
pytestmark = pytest.mark.no_qt_log


def _answer_pin(qtbot: Any, app: Any, purpose: PinPurpose, pin: str) -> None:
    def asked() -> bool:
        d = app.pin_bridge.dialog
        return d is not None and d.request.purpose is purpose

    qtbot.waitUntil(asked, timeout=TIMEOUT)
    dialog = app.pin_bridge.dialog
    qtbot.keyClicks(dialog.pin_edit, pin)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)


def _write(name: str, sampler: Sampler, cycles: int) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / name).write_text(json.dumps(
        {"cycles": cycles, "per_hour": sampler.per_hour(WARMUP),
         "samples": [s.as_dict() for s in sampler.samples]}, indent=1))


def test_the_desktop_app_all_day(qtbot: Any, ui_app: Any) -> None:
    app = ui_app
    app.sandbox.set_log_limit(64)  # the sandbox's records of calls are the rig's, not the client's growth
    w = app.login_window
    card = app.card
    pin = card.token.user_pin
    uri = f"pkcs11:token={quote(card.token.label)};object={quote('second p256')};type=cert"
    app.start()
    qtbot.waitExposed(w)

    def cycle(n: int) -> None:
        w.prefill(LoginPrefill(
            identity=app.sandbox.info.login, secret=app.sandbox.info.password,
            certificate=PickedCertificate(CertificateChoice(uri, module_path=card.client_module_path),
                                          "second card p256", card.token.label)))
        with qtbot.waitSignal(app.logged_in, timeout=TIMEOUT):
            qtbot.mouseClick(w.login_button, Qt.MouseButton.LeftButton)
            _answer_pin(qtbot, app, PinPurpose.LOGIN, pin)
        sw = app.session_window
        qtbot.waitUntil(lambda: sw.vm_table.rowCount() == 3, timeout=TIMEOUT)
        card.remove()
        qtbot.waitUntil(lambda: sw.banner.isVisible(), timeout=TIMEOUT)
        first = sw.countdown_text()
        qtbot.waitUntil(lambda: sw.countdown_text() != first, timeout=TIMEOUT)  # the tick runs
        card.insert()
        _answer_pin(qtbot, app, PinPurpose.RELOGIN, pin)
        qtbot.waitUntil(lambda: not sw.banner.isVisible(), timeout=TIMEOUT)
        with qtbot.waitSignal(app.session_ended, timeout=TIMEOUT) as ended:
            qtbot.mouseClick(sw.logout_button, Qt.MouseButton.LeftButton)
        assert ended.args[0].reason is EndReason.LOGOUT
        qtbot.waitExposed(w)

    sampler = Sampler()
    cycles = run_cycles(cycle, sampler, soak_seconds(30.0), min_cycles=WARMUP + 4)
    _write("soak-gui.json", sampler, cycles)
    assert sampler.problems(WARMUP) == [], sampler.samples[WARMUP:]


def test_the_picker_left_open(qtbot: Any, softhsm_rig: Any) -> None:
    # The reported crash: the picker left open on a card with many certificates, the inventory polled.
    from app.ui.app import AppOptions, TrustedLoginApp
    from app.ui.inventory import InventoryConfig

    app = TrustedLoginApp(AppOptions(
        inventory=InventoryConfig(module_paths=(softhsm_rig.module_path,),
                                  init_envs={softhsm_rig.module_path: softhsm_rig.env}),
        use_keyring=False, quit_on_close=False, inventory_poll_ms=50))
    qtbot.addWidget(app.login_window)
    try:
        app.start()
        app.open_picker()
        picker = app.picker
        qtbot.waitUntil(lambda: len(picker.rows()) >= 8, timeout=TIMEOUT)  # usable and greyed rows
        polls: list[int] = []
        app.inventory_loaded.connect(lambda snapshot: polls.append(len(snapshot.rows)))

        def cycle(n: int) -> None:
            start = len(polls)
            qtbot.waitUntil(lambda: len(polls) >= start + 3, timeout=TIMEOUT)  # three polls per sample

        sampler = Sampler()
        cycles = run_cycles(cycle, sampler, soak_seconds(10.0), min_cycles=WARMUP + 6)
        _write("soak-picker.json", sampler, cycles)
        assert len(polls) >= 3 * cycles and app.picker is picker
        assert sampler.problems(WARMUP) == [], sampler.samples[WARMUP:]
        picker.reject()
    finally:
        app.shutdown()
