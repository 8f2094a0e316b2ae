"""The UI's pieces on their own: the PIN bridge across threads, keyboard use, validation, remembering
the login in a keyring, and quitting (which logs out and says so when the key could not be revoked)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel

from app.session.model import AuthMethod, CertificateChoice, EndReason
from app.tokens.pin import PinPurpose, PinRequest
from app.ui.login import LoginPrefill, LoginWindow, PickedCertificate
from app.ui.pin import PinBridge


def _ask_in_thread(bridge: PinBridge, request: PinRequest) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    t = threading.Thread(target=lambda: out.append(bridge(request)), daemon=True)
    t.start()
    return t, out


def test_pin_bridge_blocks_the_worker_until_the_user_answers(qtbot: Any) -> None:
    bridge = PinBridge()
    t, out = _ask_in_thread(bridge, PinRequest("Card A", PinPurpose.LOGIN, tries_left=3))
    qtbot.waitUntil(lambda: bridge.dialog is not None)
    assert t.is_alive() and out == []  # the worker waits; the UI thread does not
    dlg = bridge.dialog
    assert dlg.pin_edit.text() == "" and "3" in dlg.warning.text()
    qtbot.keyClicks(dlg.pin_edit, "4321")
    qtbot.keyClick(dlg.pin_edit, Qt.Key.Key_Return)  # Enter = the default button
    t.join(5)
    assert not t.is_alive()
    pin = out[0]
    assert pin.reveal() == "4321" and "4321" not in repr(pin)
    assert bridge.calls == 1


def test_pin_bridge_cancel_and_shutdown_answer_none(qtbot: Any) -> None:
    bridge = PinBridge()
    t, out = _ask_in_thread(bridge, PinRequest("Card A", PinPurpose.LOGIN))
    qtbot.waitUntil(lambda: bridge.dialog is not None)
    qtbot.keyClicks(bridge.dialog.pin_edit, "1234")
    qtbot.keyClick(bridge.dialog, Qt.Key.Key_Escape)
    t.join(5)
    assert out == [None]
    # On quit, a worker blocked in a prompt is released with 'cancelled'.
    t2, out2 = _ask_in_thread(bridge, PinRequest("Card A", PinPurpose.RELOGIN))
    qtbot.waitUntil(lambda: bridge.dialog is not None)
    bridge.cancel_all()
    t2.join(5)
    assert out2 == [None]
    t3, out3 = _ask_in_thread(bridge, PinRequest("Card A", PinPurpose.LOGIN))
    t3.join(5)
    assert out3 == [None]  # closed until reopen()


def test_pin_pad_prompt_does_not_block_and_has_no_field(qtbot: Any) -> None:
    bridge = PinBridge()
    t, out = _ask_in_thread(bridge, PinRequest("Pad card", PinPurpose.LOGIN, protected_path=True))
    t.join(5)
    assert out == [None]  # C_Login goes on and waits for the keypad
    qtbot.waitUntil(lambda: bridge.dialog is not None)
    assert not bridge.dialog.pin_edit.isVisible() and "keypad" in bridge.dialog.prompt.text()
    cancelled: list[bool] = []
    bridge.keypad_cancelled.connect(lambda: cancelled.append(True))
    bridge.close_keypad_prompt()  # the card answered: not a cancel
    qtbot.waitUntil(lambda: bridge.dialog is None)
    assert cancelled == []
    # The user cancels a keypad prompt: the controller is told, so it can cancel the login.
    t2, _ = _ask_in_thread(bridge, PinRequest("Pad card", PinPurpose.LOGIN, protected_path=True))
    t2.join(5)
    qtbot.waitUntil(lambda: bridge.dialog is not None)
    with qtbot.waitSignal(bridge.keypad_cancelled):
        bridge.dialog.reject()


def test_pin_bridge_refuses_the_ui_thread(qtbot: Any) -> None:
    with pytest.raises(RuntimeError):
        PinBridge()(PinRequest("Card", PinPurpose.LOGIN))


def test_last_try_warning(qtbot: Any) -> None:
    from app.ui.pin import PinDialog

    d = PinDialog(PinRequest("Card", PinPurpose.LOGIN, tries_left=1, final_try=True))
    qtbot.addWidget(d)
    assert "one more wrong PIN locks the card" in d.warning.text()


def test_login_window_keyboard_only(qtbot: Any) -> None:
    w = LoginWindow()
    qtbot.addWidget(w)
    requests: list[Any] = []
    w.login_requested.connect(requests.append)
    w.prefill(LoginPrefill(certificate=PickedCertificate(CertificateChoice("/tmp/x.p12"), "x", "file")))
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is w.identity_edit)
    qtbot.keyClicks(QApplication.focusWidget(), "operator@example.com")
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is w.secret_edit
    qtbot.keyClicks(QApplication.focusWidget(), "s3cret")
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)
    assert len(requests) == 1
    req = requests[0]
    assert req.credentials.method is AuthMethod.PASSWORD
    assert req.credentials.identity == "operator@example.com" and req.credentials.secret.reveal() == "s3cret"
    assert req.region == "eu-west-2" and req.endpoint is None
    assert "s3cret" not in repr(req)
    # Every field label has a mnemonic and a buddy (Alt+letter reaches the field).
    for label in w.findChildren(QLabel):
        if "&" in label.text() and not label.text().startswith("<"):
            assert label.buddy() is not None, label.text()
    assert w.login_button.isDefault()


def test_login_validation_next_to_the_fields(qtbot: Any) -> None:
    w = LoginWindow()
    qtbot.addWidget(w)
    w.show()
    requests: list[Any] = []
    w.login_requested.connect(requests.append)
    w.method_key.setChecked(True)
    w.region_combo.setCurrentIndex(w.region_combo.count() - 1)  # custom endpoint
    qtbot.keyClicks(w.identity_edit, "short")
    qtbot.keyClicks(w.endpoint_edit, "http://api.example.com")
    w.submit()
    assert requests == []
    assert w.identity_error.isVisible() and "access key" in w.identity_error.text()
    assert w.secret_error.isVisible() and "secret key" in w.secret_error.text()
    assert w.endpoint_error.isVisible() and "https://" in w.endpoint_error.text()


class MemoryKeyring:
    """An in-memory keyring backend (the tests never touch the real one)."""

    priority = 1

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, user: str) -> str | None:
        return self.data.get((service, user))

    def set_password(self, service: str, user: str, password: str) -> None:
        self.data[(service, user)] = password

    def delete_password(self, service: str, user: str) -> None:
        import keyring.errors

        if (service, user) not in self.data:
            raise keyring.errors.PasswordDeleteError(user)
        del self.data[(service, user)]


@pytest.fixture
def memory_keyring() -> Any:
    import keyring
    from keyring.backend import KeyringBackend

    class Backend(MemoryKeyring, KeyringBackend):
        pass

    old = keyring.get_keyring()
    kr = Backend()
    keyring.set_keyring(kr)
    yield kr
    keyring.set_keyring(old)


def test_remember_login_password_only_on_opt_in(memory_keyring: Any) -> None:
    from app.ui import remember

    assert remember.save("password", "op@example.com", "eu-west-2", None, None) is None
    r = remember.load()
    assert r is not None and r.identity == "op@example.com" and r.password is None
    assert not any("secret:" in user for _, user in memory_keyring.data)
    assert remember.save("password", "op@example.com", "eu-west-2", None, "pw") is None
    r = remember.load()
    assert r is not None and r.password == "pw" and "pw" not in repr(r)
    remember.forget("op@example.com")
    assert remember.load() is None and memory_keyring.data == {}


def test_remember_without_a_keyring_is_not_an_error() -> None:
    # The tests' default backend is keyring's null backend (see tests/conftest.py); a missing
    # Secret Service behaves like it: nothing remembered, and saving reports a plain problem.
    import keyring
    from keyring.backends import fail

    from app.ui import remember

    old = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        assert remember.load() is None
        problem = remember.save("password", "op", None, None, "pw")
        assert problem and "keyring" in problem and "pw" not in problem
    finally:
        keyring.set_keyring(old)


@dataclass(frozen=True)
class _Revocation:
    key_id: str | None
    revoked: bool
    expires: str | None = None
    message: str | None = None


class FakeSession:
    """A session at the seam: logs in at once; its logout cannot revoke the key."""

    def __init__(self, request: Any, *, pin_callback: Any, on_event: Any, settings: Any = None) -> None:
        self.request = request
        self.on_event = on_event
        self.revocation = None
        self.card_present = True
        self.logouts: list[EndReason] = []

    def login(self) -> Any:
        from app.session.model import SessionInfo

        return SessionInfo(
            account_id="1",
            account_email=None,
            method=AuthMethod.PASSWORD,
            identity="op",
            region="eu-west-2",
            endpoint="https://x/api/v1",
            certificate_subject="CN=x",
            certificate_fingerprint="00",
            card_label=None,
            temporary_key_id="AKTEMP",
            temporary_key_expires="2030-01-01T00:00:00Z",
            trusted_env=False,
            grace_seconds=300,
        )

    @property
    def client(self) -> Any:
        class C:
            def read_vms(self) -> tuple[()]:
                return ()

        return C()

    def logout(self, reason: EndReason = EndReason.LOGOUT) -> _Revocation:
        self.logouts.append(reason)
        self.revocation = _Revocation("AKTEMP", False, "2030-01-01T00:00:00Z", "network down")
        return self.revocation

    def retry_card_login(self) -> None:  # the seam's whole shape (app.ui.flows.seam.SessionHandle)
        pass

    def wait_ended(self, timeout: float | None = None) -> bool:
        return True  # it ends within logout()


def test_quit_logs_out_and_says_when_the_key_could_not_be_revoked(qtbot: Any) -> None:
    from app.ui.app import AppOptions, TrustedLoginApp

    sessions: list[FakeSession] = []

    def factory(request: Any, **kw: Any) -> FakeSession:
        sessions.append(FakeSession(request, **kw))
        return sessions[-1]

    app = TrustedLoginApp(AppOptions(session_factory=factory, use_keyring=False, quit_on_close=False))
    qtbot.addWidget(app.login_window)
    try:
        app.start()
        app.login_window.prefill(
            LoginPrefill(
                identity="op",
                secret="pw",
                certificate=PickedCertificate(CertificateChoice("/tmp/x.p12"), "x", "file"),
            )
        )
        with qtbot.waitSignal(app.logged_in):
            app.login_window.submit()
        sw = app.session_window
        # Closing the session window asks first (no tray here): keeping the session changes nothing,
        # "Log out and quit" logs out first.
        sw.close()
        box = app.session_view.close_box
        assert box is not None and box.isVisible() and sessions[0].logouts == []
        keep = next(b for b in box.buttons() if "Keep" in b.text())
        qtbot.mouseClick(keep, Qt.MouseButton.LeftButton)
        assert sw.isVisible() and app.session is not None and sessions[0].logouts == []
        sw.close()
        box = app.session_view.close_box
        qtbot.mouseClick(next(b for b in box.buttons() if "quit" in b.text()), Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: getattr(app, "not_revoked_box", None) is not None)
        assert sessions[0].logouts == [EndReason.QUIT]
        box = app.not_revoked_box
        assert "AKTEMP" in box.text() and "2030-01-01" in box.text()
        with qtbot.waitSignal(app.quit_finished) as done:
            box.accept()
        assert done.args[0].revoked is False
    finally:
        app.shutdown()


def test_settings_dialog_saves_and_the_app_uses_them(qtbot: Any, tmp_path: Any) -> None:
    import json

    from app.ui.app import AppOptions, TrustedLoginApp
    from app.ui.settings import SettingsStore

    store = SettingsStore(tmp_path / "settings.json")
    folder = tmp_path / "certs"
    folder.mkdir()
    bundle = tmp_path / "corp-ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    app = TrustedLoginApp(AppOptions(settings_store=store, use_keyring=False, quit_on_close=False))
    qtbot.addWidget(app.login_window)
    try:
        app.open_settings()
        dlg = app.settings_dialog
        qtbot.waitUntil(lambda: "found" in dlg.found_label.text())  # discovery ran on the cards worker
        dlg._add_item("/opt/vendor/libvendor-pkcs11.so", manual=True)
        dlg.store_edit.setText(str(tmp_path / "missing"))
        dlg._save()
        assert dlg.error.isVisible() and "does not exist" in dlg.error.text()  # said next to the form
        dlg.store_edit.setText(str(folder))
        dlg.ca_edit.setText(str(bundle))
        dlg.language.setCurrentIndex(dlg.language.findData("fr"))
        with qtbot.waitSignal(dlg.finished):
            dlg._save()
        saved = json.loads((tmp_path / "settings.json").read_text())
        assert saved["pkcs11_modules"] == ["/opt/vendor/libvendor-pkcs11.so"]
        assert saved["store_folders"] == [str(folder)] and saved["extra_ca_bundle"] == str(bundle)
        assert saved["language"] == "fr"
        assert "/opt/vendor/libvendor-pkcs11.so" in app.options.inventory.module_paths
        assert app.options.inventory.store_paths == (str(folder),)
        assert app.login_window.ca_file == str(bundle)
    finally:
        app.shutdown()


def test_remembered_login_prefills_the_next_start(qtbot: Any, memory_keyring: Any) -> None:
    from app.ui.app import AppOptions, TrustedLoginApp

    def factory(request: Any, **kw: Any) -> FakeSession:
        return FakeSession(request, **kw)

    options = AppOptions(session_factory=factory, quit_on_close=False)
    first = TrustedLoginApp(options)
    qtbot.addWidget(first.login_window)
    try:
        first.start()
        w = first.login_window
        w.prefill(
            LoginPrefill(
                identity="op@example.com",
                secret="pw",
                remember=True,
                certificate=PickedCertificate(
                    CertificateChoice("pkcs11:token=A;object=b", module_path="/m.so"), "b", "A"
                ),
            )
        )
        with qtbot.waitSignal(first.logged_in):
            w.submit()
        qtbot.waitUntil(lambda: any(user == "last-login" for _, user in memory_keyring.data))
        assert not any("secret:" in user for _, user in memory_keyring.data)  # no password without opt-in
    finally:
        first.shutdown()
        if first.session_window is not None:
            first.session_window.allow_close()
            first.session_window.close()

    second = TrustedLoginApp(options)
    qtbot.addWidget(second.login_window)
    try:
        second.start()
        w2 = second.login_window
        qtbot.waitUntil(lambda: w2.identity_edit.text() == "op@example.com")
        assert w2.secret_edit.text() == "" and w2.remember_check.isChecked()
        assert w2.certificate is not None and w2.certificate.choice.ref == "pkcs11:token=A;object=b"
        assert w2.certificate.choice.module_path == "/m.so"
    finally:
        second.shutdown()


def test_the_remembered_password_waits_as_a_secret_until_the_keyring_call(
    qtbot: Any, memory_keyring: Any
) -> None:
    from app.session.model import Secret
    from app.ui.app import AppOptions, TrustedLoginApp

    factory = FakeSession  # builds one per login, as the product's factory does
    app = TrustedLoginApp(AppOptions(session_factory=factory, quit_on_close=False))
    qtbot.addWidget(app.login_window)
    try:
        w = app.login_window
        w.prefill(
            LoginPrefill(
                identity="op",
                secret="hunter2-pw",
                remember=True,
                remember_secret=True,
                certificate=PickedCertificate(CertificateChoice("/tmp/x.p12"), "x", "file"),
            )
        )
        with qtbot.waitSignal(app.logged_in):
            w.submit()
            pending = app.login_flow._remember_pending  # the login is queued; its result not yet handled
            assert pending is not None and isinstance(pending.password, Secret)
            assert "hunter2-pw" not in repr(pending)
        qtbot.waitUntil(lambda: ("osc-trusted-login", "secret:op") in memory_keyring.data)
        assert memory_keyring.data[("osc-trusted-login", "secret:op")] == "hunter2-pw"
    finally:
        app.shutdown()
        if app.session_window is not None:
            app.session_window.allow_close()
            app.session_window.close()


def test_quit_without_a_temporary_key_does_not_warn(qtbot: Any) -> None:
    from app.ui.app import AppOptions, TrustedLoginApp

    class NoKeySession(FakeSession):
        def login(self) -> Any:  # an access-key session that fell back to the given key
            import dataclasses

            return dataclasses.replace(super().login(), temporary_key_id=None, temporary_key_expires=None)

        def logout(self, reason: EndReason = EndReason.LOGOUT) -> _Revocation:
            self.logouts.append(reason)
            self.revocation = _Revocation(None, False, None, "no temporary key to revoke")
            return self.revocation

    app = TrustedLoginApp(
        AppOptions(
            session_factory=lambda r, **kw: NoKeySession(r, **kw), use_keyring=False, quit_on_close=False
        )
    )
    qtbot.addWidget(app.login_window)
    try:
        app.start()
        app.login_window.prefill(
            LoginPrefill(
                identity="op",
                secret="pw",
                certificate=PickedCertificate(CertificateChoice("/tmp/x.p12"), "x", "file"),
            )
        )
        with qtbot.waitSignal(app.logged_in):
            app.login_window.submit()
        with qtbot.waitSignal(app.quit_finished):
            app.quit()  # (closing the window asks first: see the test above)
        assert getattr(app, "not_revoked_box", None) is None
    finally:
        app.shutdown()


def test_quit_during_login_says_when_the_key_made_meanwhile_could_not_be_revoked(qtbot: Any) -> None:
    # Quit while the login runs: the login stops at its next step and deletes the key it may already
    # have made. If that deletion fails, the user must be told before the app goes away.
    import threading

    from app.session.lifecycle import LoginCancelled
    from app.ui.app import AppOptions, TrustedLoginApp

    class SlowLoginSession(FakeSession):
        def __init__(self, request: Any, **kw: Any) -> None:
            super().__init__(request, **kw)
            self.in_login = threading.Event()
            self.cancel = threading.Event()
            self.ended = threading.Event()

        def login(self) -> Any:
            self.in_login.set()
            self.cancel.wait(10)
            self.revocation = _Revocation("AKTEMP", False, "2030-01-01T00:00:00Z", "network down")
            self.ended.set()
            raise LoginCancelled("The login was cancelled.")

        def logout(self, reason: EndReason = EndReason.LOGOUT) -> _Revocation:
            self.logouts.append(reason)
            self.cancel.set()
            return _Revocation(None, False, None, "the login was cancelled")

        def wait_ended(self, timeout: float | None = None) -> bool:
            return self.ended.wait(timeout)

    sessions: list[SlowLoginSession] = []

    def factory(request: Any, **kw: Any) -> SlowLoginSession:
        sessions.append(SlowLoginSession(request, **kw))
        return sessions[-1]

    app = TrustedLoginApp(AppOptions(session_factory=factory, use_keyring=False, quit_on_close=False))
    qtbot.addWidget(app.login_window)
    try:
        app.start()
        app.login_window.prefill(
            LoginPrefill(
                identity="op",
                secret="pw",
                certificate=PickedCertificate(CertificateChoice("/tmp/x.p12"), "x", "file"),
            )
        )
        app.login_window.submit()
        qtbot.waitUntil(lambda: bool(sessions) and sessions[0].in_login.is_set())
        app.quit()
        qtbot.waitUntil(lambda: getattr(app, "not_revoked_box", None) is not None)
        assert sessions[0].logouts == [EndReason.QUIT]
        assert "AKTEMP" in app.not_revoked_box.text()
        with qtbot.waitSignal(app.quit_finished):
            app.not_revoked_box.accept()
    finally:
        app.shutdown()


def test_a_corrupt_osc_config_is_said_at_start_not_silently_ignored(
    tmp_path: Any, monkeypatch: Any, capsys: Any
) -> None:
    # The profile list comes from ~/.osc/config.json: a broken file used to leave it empty, silently.
    import argparse

    import app.ui.app as ui_app
    from app.cli import gui

    bad = tmp_path / "config.json"
    bad.write_text("{not json", encoding="utf-8")
    monkeypatch.setenv("OSC_CONFIG_FILE", str(bad))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setattr(gui, "display_problem", lambda: None)
    seen: list[Any] = []
    monkeypatch.setattr(ui_app, "run", lambda options, language=None: seen.append(options) or 0)
    parser = argparse.ArgumentParser()
    gui.configure(parser)
    assert gui.run(parser.parse_args([])) == 0
    assert seen and seen[0].profiles == ()
    err = capsys.readouterr().err
    assert str(bad) in err and "not valid JSON" in err


def test_a_corrupt_osc_config_is_explained_in_the_login_window(qtbot: Any, tmp_path: Any,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse
    import dataclasses

    import app.ui.app as ui_app
    from app.cli import gui

    corrupt = tmp_path / "config.json"
    corrupt.write_text('{"default": {"access_key": ')  # cut short
    monkeypatch.setenv("OSC_CONFIG_FILE", str(corrupt))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(gui, "display_problem", lambda: None)
    captured: list[Any] = []
    monkeypatch.setattr(ui_app, "run", lambda options, language=None: captured.append(options) or 0)
    parser = argparse.ArgumentParser()
    gui.configure(parser)
    assert gui.run(parser.parse_args([])) == 0
    options = dataclasses.replace(captured[0], use_keyring=False, quit_on_close=False)
    assert any("osc profiles were not read" in w for w in options.startup_warnings)

    controller = ui_app.TrustedLoginApp(options)
    qtbot.addWidget(controller.login_window)
    try:
        controller.start()
        message = controller.login_window.message
        assert message.isVisible()
        assert "osc profiles were not read" in message.text() and "left as it is" in message.text()
        assert corrupt.read_text() == '{"default": {"access_key": '  # never rewritten
    finally:
        controller.shutdown()
