"""The session window shows the local API agent: its endpoint and local access key, a button that copies
the `env` lines, and the count of calls it forwarded (the real GUI flow, card and sandbox)."""

from __future__ import annotations

import json
from typing import Any

import requests
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.session.agent.runtime import RUNTIME_NAME, read_runtime, runtime_dir
from app.session.signing import osc4_headers
from tests.ui.test_flow import TIMEOUT, _answer_pin, _pin_dialog, _type_credentials


def _log_in(qtbot: Any, app: Any, fingerprint: str) -> Any:
    w = app.login_window
    app.start()
    qtbot.waitExposed(w)
    _type_credentials(qtbot, app)
    qtbot.mouseClick(w.login_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: app.picker is not None, timeout=TIMEOUT)
    picker = app.picker
    qtbot.waitUntil(lambda: any(r.fingerprint == fingerprint for r in picker.rows()), timeout=TIMEOUT)
    assert picker.select_fingerprint(fingerprint)
    qtbot.mouseClick(picker.use_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(app.logged_in, timeout=TIMEOUT) as logged:
        _answer_pin(qtbot, _pin_dialog(qtbot, app), app.card.token.user_pin)
    return logged.args[0]


def test_the_session_window_shows_the_agent_and_counts_its_calls(qtbot: Any, ui_app: Any,
                                                                  softhsm_rig: Any) -> None:
    app = ui_app
    info = _log_in(qtbot, app, softhsm_rig.keys["second_p256"].fingerprint_sha256)
    flow = app.session_view
    panel = flow.agent_panel
    assert panel is not None and flow.agent is not None
    assert panel.endpoint.text() == flow.agent.endpoint and flow.agent.endpoint.startswith("http://127.0.0.1:")
    assert panel.access_key.text() == flow.agent.access_key and len(flow.agent.access_key) == 20
    assert panel.forwarded.text() == "0"
    qtbot.mouseClick(panel.copy_button, Qt.MouseButton.LeftButton)
    copied = QApplication.clipboard().text()
    assert f"export OSC_ACCESS_KEY='{flow.agent.access_key}';" in copied
    assert f"export OSC_ENDPOINT_API='{flow.agent.endpoint}';" in copied
    assert info.temporary_key_id not in copied

    # a tool's call through the agent shows up in the count
    body = json.dumps({"ResultsPerPage": 1}).encode()
    headers = osc4_headers(access_key=flow.agent.access_key, secret_key=flow.agent.pair.secret_key,
                           region=info.region, host="127.0.0.1", path="/api/v1/ReadVms", body=body)
    resp = requests.post(f"{flow.agent.endpoint}/ReadVms", data=body, headers=headers, timeout=30)
    assert resp.status_code == 200 and len(resp.json()["Vms"]) == 1
    qtbot.waitUntil(lambda: panel.forwarded.text() == "1", timeout=TIMEOUT)
    assert read_runtime(runtime_dir()) is not None

    with qtbot.waitSignal(app.session_ended, timeout=TIMEOUT):
        qtbot.mouseClick(app.session_window.logout_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not (runtime_dir() / RUNTIME_NAME).exists(), timeout=TIMEOUT)
    after = requests.post(f"{flow.agent.endpoint}/ReadVms", data=body, headers=headers, timeout=30)
    assert after.status_code == 401 and after.json()["Errors"][0]["Type"] == "TrustedSessionEnded"


def test_the_settings_turn_the_agent_off_and_name_the_profile(qtbot: Any, tmp_path: Any) -> None:
    from app.ui.agent_panel import agent_options_from
    from app.ui.app import ensure_qapplication
    from app.ui.settings import SettingsDialog, SettingsStore

    ensure_qapplication()
    store = SettingsStore(tmp_path / "settings.json")
    assert agent_options_from(store).enabled and agent_options_from(store).publish_profile is None
    dlg = SettingsDialog(store)
    qtbot.addWidget(dlg)
    assert dlg.local_agent.isChecked() and dlg.publish_profile.text() == ""
    dlg.local_agent.setChecked(False)
    qtbot.keyClicks(dlg.publish_profile, "tl")
    dlg._save()
    options = agent_options_from(store)
    assert not options.enabled and options.publish_profile == "tl"
