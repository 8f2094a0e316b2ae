"""The desktop flow on the operators' stack (offscreen): OpenSC over the private pcscd with an emulated
PIV card -> picker -> PIN -> session window -> card pulled (banner) -> back (PIN again) -> logout; and a
reader plugged in while the picker is open shows its card."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from app.session.model import EndReason
from app.tokens.pin import PinPurpose
from tests.rigs.pcsc.rig import PcscRig, RigCard
from tests.rigs.sandbox import _shared_server_pki, make_sandbox  # noqa: F401 - fixture
from tests.ui.conftest import FAST
from tests.ui.test_flow import TIMEOUT, _answer_pin, _pin_dialog, _type_credentials


@pytest.fixture
def piv_ui_app(qtbot: Any, tmp_path: Path, _shared_server_pki: Path,  # noqa: F811
               pcsc_rig: PcscRig, piv: RigCard) -> Iterator[Any]:
    """The application's controller wired to OpenSC on the rig and a sandbox requiring the PIV CA."""
    from app.ui.app import AppOptions, TrustedLoginApp, ensure_qapplication
    from app.ui.inventory import InventoryConfig
    from app.ui.login import LoginPrefill

    assert pcsc_rig.ca is not None
    sb = make_sandbox(tmp_path / "sandbox", _shared_server_pki, client_ca_pem=pcsc_rig.ca.cert_pem())
    sb.start()
    assert sb.info is not None
    ensure_qapplication()
    options = AppOptions(
        inventory=InventoryConfig(module_paths=(pcsc_rig.module_path,),
                                  account_ca_subjects=frozenset({pcsc_rig.ca.certificate.subject.rfc4514_string()})),
        prefill=LoginPrefill(endpoint=sb.info.endpoint, ca_file=sb.info.ca_file),
        session_settings=FAST, use_keyring=False, quit_on_close=False, inventory_poll_ms=200)
    app = TrustedLoginApp(options)
    qtbot.addWidget(app.login_window)
    app.sandbox = sb
    yield app
    session = app.session
    if session is not None:
        session.logout()
        session.wait_ended(20)
    app.shutdown()
    if app.session_window is not None:
        app.session_window.allow_close()
        app.session_window.close()
    sb.stop()


def test_piv_flow_login_removal_back_logout(qtbot: Any, piv_ui_app: Any, pcsc_rig: PcscRig,
                                           piv: RigCard) -> None:
    app = piv_ui_app
    w = app.login_window
    app.start()
    qtbot.waitExposed(w)
    _type_credentials(qtbot, app)
    qtbot.mouseClick(w.login_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: app.picker is not None, timeout=TIMEOUT)
    picker = app.picker
    fpr = piv.fingerprints["9A"]
    qtbot.waitUntil(lambda: any(r.fingerprint == fpr for r in picker.rows()), timeout=TIMEOUT)
    listed = {r.fingerprint for r in picker.rows()}
    assert set(piv.fingerprints.values()) <= listed  # 9A, 9C, 9D, 9E

    # a reader plugged in while the picker is open: its card appears
    bob = pcsc_rig.cards["bob"]
    pcsc_rig.set_readers(2)
    pcsc_rig.insert(bob, 2)
    qtbot.waitUntil(lambda: any(r.fingerprint == bob.fingerprints["9A"] for r in picker.rows()),
                    timeout=TIMEOUT)

    assert picker.select_fingerprint(fpr)
    qtbot.mouseClick(picker.use_button, Qt.MouseButton.LeftButton)
    dialog = _pin_dialog(qtbot, app)
    assert "count" not in dialog.request.__repr__().lower() or not dialog.request.count_low
    with qtbot.waitSignal(app.logged_in, timeout=TIMEOUT) as logged:
        _answer_pin(qtbot, dialog, piv.pin)
    info = logged.args[0]
    sw = app.session_window
    qtbot.waitExposed(sw)

    pcsc_rig.remove(0)
    qtbot.waitUntil(lambda: sw.banner.isVisible(), timeout=TIMEOUT)
    pcsc_rig.insert(piv, 0)
    _answer_pin(qtbot, _pin_dialog(qtbot, app, PinPurpose.RELOGIN), piv.pin)
    qtbot.waitUntil(lambda: not sw.banner.isVisible(), timeout=TIMEOUT)

    with qtbot.waitSignal(app.session_ended, timeout=TIMEOUT) as ended:
        qtbot.mouseClick(sw.logout_button, Qt.MouseButton.LeftButton)
    assert ended.args[0].reason is EndReason.LOGOUT
    assert info.temporary_key_id not in {k.access_key_id for k in app.sandbox.access_keys()
                                         if k.state == "ACTIVE"}
    assert pcsc_rig.tries(piv) == 3


def test_the_pin_dialog_says_only_what_opensc_reports(qtbot: Any, pcsc_rig: PcscRig, piv: RigCard) -> None:
    from app.tokens.p11.registry import load_module
    from app.tokens.pin import PinRequest
    from app.ui.pin import PinDialog
    from tests.rigs.pcsc.rig import wait_until

    mod = load_module(pcsc_rig.module_path)
    wait_until(lambda: piv.serial in mod.present_serials(), what="OpenSC seeing the card")
    for tries, expect in ((2, ""), (1, "one more wrong PIN locks the card")):
        pcsc_rig.set_tries(piv, tries)
        flags = mod.token_flags(piv.serial)  # as OpenSC reports them: FINAL_TRY, never COUNT_LOW
        req = PinRequest.for_token("alice 9A", PinPurpose.LOGIN, flags)
        assert not req.count_low
        d = PinDialog(req)
        qtbot.addWidget(d)
        text = d.warning.text()
        assert (expect in text) if expect else text == ""  # two tries left is not known: nothing said
