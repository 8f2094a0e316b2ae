"""The desktop application: wires the windows to the core through workers; the UI thread never waits.

Threads: `net` runs the session's blocking calls (login, ReadVms, keyring); `control` runs logout and
cancel (so they never queue behind a slow request); `cards` runs inventory scans. The session delivers
its events from its own threads; they are re-emitted as a Qt signal and handled on the UI thread.
"""

from __future__ import annotations

import importlib
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication, QWidget

from app import APP_NAME
from app.session.model import (
    AuthMethod,
    CertificateChoice,
    EndReason,
    EventKind,
    LoginRequest,
    SessionEvent,
    SessionInfo,
    SessionState,
)
from app.ui.errors import describe, describe_end
from app.ui.inventory import InventoryConfig
from app.ui.login import LoginPrefill, LoginWindow, PickedCertificate
from app.ui.pin import PinBridge
from app.ui.workers import Worker

if TYPE_CHECKING:
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QSystemTrayIcon

    from app.ui.picker import CertificatePicker
    from app.ui.session_window import SessionWindow

# The picker, the session window and the token layer are imported when first needed: the login
# window must come up as fast as a bare window (see bench/startup.py).

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
ICON = ROOT / "resources" / "icons" / "osc-trusted-login.svg"
STYLE = ROOT / "resources" / "style.qss"


@dataclass(frozen=True)
class AppOptions:
    """How the application is wired (the demo and the tests pass their own modules, CA file...)."""

    inventory: InventoryConfig = field(default_factory=InventoryConfig)
    prefill: LoginPrefill | None = None
    profiles: tuple[str, ...] = ()
    session_settings: Any = None  # app.session.lifecycle.SessionSettings (watch interval, ticks)
    session_factory: Callable[..., Any] | None = None  # builds a TrustedSession; the product's by default
    use_keyring: bool = True
    inventory_poll_ms: int = 1500  # picker live refresh while it is open
    settings_store: Any = None  # app.ui.settings.SettingsStore (the default settings file when None)
    profile: str | None = None  # osc profile to prefill the form with at start
    quit_on_close: bool = True
    # Problems found before the window existed (a corrupt settings or osc config file): shown on it,
    # since a user who started the app from the desktop never sees stderr.
    startup_warnings: tuple[str, ...] = ()


def _default_session_factory(request: LoginRequest, **kw: Any) -> Any:
    from app.session.lifecycle import TrustedSession

    return TrustedSession(request, **kw)


class TrustedLoginApp(QObject):
    """The application's controller: one login window, at most one session window and one session."""

    session_event = Signal(object)  # SessionEvent of the current session, on the UI thread
    _raw_event = Signal(object, object)  # (session tag, SessionEvent) from the session's threads
    logged_in = Signal(object)  # SessionInfo
    login_failed = Signal(object)  # the error
    session_ended = Signal(object)  # SessionEvent (state ENDED)
    vms_loaded = Signal(object)  # tuple of Vm
    inventory_loaded = Signal(object)  # InventorySnapshot
    quit_finished = Signal(object)  # RevocationResult | None

    def __init__(self, options: AppOptions | None = None) -> None:
        super().__init__()
        self.options = options or AppOptions()
        self.net = Worker("network", self)
        self.control = Worker("session-control", self)
        self.cards = Worker("cards", self)
        self.pin_bridge = PinBridge()
        self.session: Any = None
        self.session_info: SessionInfo | None = None
        self.session_window: SessionWindow | None = None
        self.picker: CertificatePicker | None = None
        self.tray: QSystemTrayIcon | None = None
        self.last_end: SessionEvent | None = None
        self.last_revocation: Any = None
        self._quitting = False
        self._remember_pending: tuple[Any, ...] | None = None

        self.login_window = LoginWindow(profiles=self.options.profiles)
        self.pin_bridge.set_parent_widget(self.login_window)
        self.pin_bridge.keypad_cancelled.connect(self.cancel_login)
        self.login_window.login_requested.connect(self.start_login)
        self.login_window.choose_certificate.connect(self.open_picker)
        self.login_window.cancel_requested.connect(self.cancel_login)
        self.login_window.settings_requested.connect(self.open_settings)
        self.login_window.profile_selected.connect(self._profile_selected)
        if self.options.prefill is not None:
            self.login_window.prefill(self.options.prefill)
        self._raw_event.connect(self._on_raw_event)
        self._session_tag: object | None = None

        self._inventory_timer = QTimer(self)
        self._inventory_timer.setInterval(self.options.inventory_poll_ms)
        self._inventory_timer.timeout.connect(self.refresh_inventory)
        self._scan_running = False

    # -- start ----------------------------------------------------------------------------------------

    def start(self) -> None:
        """Show the login window; load a remembered login in the background."""
        self.login_window.show()
        if self.options.startup_warnings:
            self.login_window.show_message(self.tr("Some configuration could not be read"),
                                           " ".join(self.options.startup_warnings))
        # After the first paint, while the user reads the form: the icon, then the modules the next
        # screens need, one per event-loop turn, so that no single step stalls the window (each costs
        # 5-20 ms of PySide6 type set-up) and opening the picker or the PIN prompt does not pay it.
        steps = [
            lambda: self.login_window.setWindowIcon(app_icon()),
            lambda: importlib.import_module("PySide6.QtCore").Qt,
            lambda: importlib.import_module("app.ui.picker"),
            lambda: importlib.import_module("app.ui.pin_dialog"),
            lambda: importlib.import_module("app.ui.session_window"),
        ]
        for i, step in enumerate(steps):
            QTimer.singleShot(i * 20, step)
        if self.options.profile:
            self._profile_selected(self.options.profile)
        elif self.options.use_keyring and self.options.prefill is None:
            # After the first paint: importing keyring and asking the OS keyring takes a while,
            # and the window should not wait for it.
            QTimer.singleShot(100, self._load_remembered)

    def _load_remembered(self) -> None:
        from app.ui import remember

        self.net.submit(remember.load, self._remembered, name="keyring-load")

    def _remembered(self, r: Any) -> None:
        w = self.login_window
        if r is None or w.identity_edit.text():
            return  # nothing stored, or the user already started typing
        method = AuthMethod.ACCESS_KEY if r.method == AuthMethod.ACCESS_KEY.value else AuthMethod.PASSWORD
        w.prefill(
            LoginPrefill(
                method=method,
                identity=r.identity,
                secret=r.password,
                region=r.region,
                endpoint=r.endpoint,
                certificate=_certificate_from_memory(r.certificate),
                remember=True,
                remember_secret=r.password is not None,
            )
        )

    def _profile_selected(self, name: str) -> None:
        def read() -> Any:
            from app.session import config

            return config.resolve_profile(name)

        self.net.submit(read, self._apply_profile, self._profile_error, name="profile")

    def _apply_profile(self, p: Any) -> None:
        method = AuthMethod.ACCESS_KEY if getattr(p, "access_key", None) else AuthMethod.PASSWORD
        secret = (
            getattr(p, "secret_key", None)
            if method is AuthMethod.ACCESS_KEY
            else getattr(p, "password", None)
        )
        secret_text = secret.reveal() if hasattr(secret, "reveal") else secret
        self.login_window.prefill(
            LoginPrefill(
                method=method,
                identity=(getattr(p, "access_key", None) or getattr(p, "login", None) or ""),
                secret=secret_text,
                region=getattr(p, "region", None),
                endpoint=getattr(p, "endpoint_api", None),
                certificate=_certificate_of_profile(p),
                profile=getattr(p, "name", None),
            )
        )

    def _profile_error(self, e: BaseException) -> None:
        self.login_window.show_message(*describe(e))

    # -- certificates ---------------------------------------------------------------------------------

    def open_picker(self) -> None:
        """Open the certificate picker; it refreshes itself while open."""
        if self.picker is not None:
            self.picker.raise_()
            return
        from app.ui.picker import CertificatePicker

        picker = CertificatePicker(self.login_window)
        self.picker = picker
        picker.refresh_requested.connect(self.refresh_inventory)
        picker.file_added.connect(self._add_file)
        picker.finished.connect(lambda result: self._picker_closed(picker, result))
        picker.open()
        self.refresh_inventory()
        self._inventory_timer.start()

    def _picker_closed(self, picker: CertificatePicker, result: int) -> None:
        self._inventory_timer.stop()
        self.picker = None
        chosen = picker.chosen if result else None
        picker.deleteLater()
        if chosen is not None:
            self.login_window.set_certificate(chosen.picked())
        else:
            self.login_window.set_certificate(
                self.login_window.certificate
            )  # keeps it; drops a pending login

    def refresh_inventory(self) -> None:
        """Scan cards and stores on the cards worker (skipped while a scan is running)."""
        if self._scan_running:
            return
        self._scan_running = True
        cfg = self.options.inventory
        from app.ui.inventory import read_snapshot

        self.cards.submit(
            lambda: read_snapshot(cfg), self._inventory_done, self._inventory_error, name="inventory"
        )

    def _inventory_done(self, snapshot: Any) -> None:
        self._scan_running = False
        if self.picker is not None:
            self.picker.set_snapshot(snapshot)
        self.inventory_loaded.emit(snapshot)

    def _inventory_error(self, e: BaseException) -> None:
        self._scan_running = False
        if self.picker is not None:
            self.picker.set_status(" ".join(describe(e)))

    def _add_file(self, path: str, password: Any) -> None:
        ca = self.options.inventory.account_ca_subjects

        def done(rows: Any) -> None:
            if self.picker is not None:
                self.picker.set_status("")
                self.picker.add_file_rows(rows)

        def failed(e: BaseException) -> None:
            if self.picker is None:
                return
            title, text = describe(e)
            from app.tokens.errors import StorePasswordIncorrect

            if isinstance(e, StorePasswordIncorrect):
                self.picker.set_status(text)
                self.picker.ask_file_password(path, error=text)
            else:
                self.picker.set_status(f"{title}: {text}")

        from app.ui.inventory import read_file

        self.cards.submit(lambda: read_file(path, password, ca), done, failed, name="read-file")

    # -- login ----------------------------------------------------------------------------------------

    def start_login(self, request: LoginRequest) -> None:
        """Build the session and log in on the network worker."""
        w = self.login_window
        if self.session is not None:
            return
        w.set_busy(True, self.tr("Connecting to %1...").replace("%1", request.endpoint or request.region))
        if w.remember_check.isChecked():
            secret = w.secret_edit.text() if w.remember_secret_check.isChecked() else None
            self._remember_pending = (
                request.credentials.method.value,
                request.credentials.identity,
                request.region if request.endpoint is None else None,
                request.endpoint,
                secret,
                _certificate_to_remember(w.certificate),
            )
        else:
            self._remember_pending = None
        self.pin_bridge.reopen()
        self.pin_bridge.set_parent_widget(w)
        factory = self.options.session_factory or _default_session_factory
        # Each session's events carry a tag: a late event of a session that already failed (its
        # ENDED arrives after login_failed) must not touch the next one (e.g. close its PIN prompt).
        tag = object()
        self._session_tag = tag
        kwargs: dict[str, Any] = {
            "pin_callback": self.pin_bridge,
            "on_event": lambda event: self._raw_event.emit(tag, event),
        }
        if self.options.session_settings is not None:
            kwargs["settings"] = self.options.session_settings
        try:
            session = factory(request, **kwargs)
        except Exception as e:
            w.set_busy(False)
            w.show_message(*describe(e))
            return
        self.session = session
        self.net.submit(
            session.login,
            lambda info: self._login_done(session, info),
            lambda e: self._login_error(session, e),
            name="login",
        )

    def cancel_login(self) -> None:
        """Stop a login in progress (the session cancels at its next step; a PIN prompt is closed)."""
        session = self.session
        if session is None or self.session_info is not None:
            return
        self.login_window.set_busy(True, self.tr("Cancelling..."))
        self.pin_bridge.cancel_all()
        self.control.submit(lambda: session.logout(EndReason.LOGOUT), name="cancel-login")

    def _login_done(self, session: Any, info: SessionInfo) -> None:
        self.pin_bridge.close_keypad_prompt()
        if session is not self.session:
            return
        self.session_info = info
        w = self.login_window
        w.set_busy(False)
        w.clear_secret()
        if self._remember_pending is not None and self.options.use_keyring:
            from app.ui import remember

            args = self._remember_pending
            self.net.submit(lambda: remember.save(*args), self._remember_saved, name="keyring-save")
        elif self.options.use_keyring and w.identity_edit.text():
            from app.ui import remember

            self.net.submit(remember.forget, name="keyring-forget")
        self._remember_pending = None
        self._show_session_window(info)
        self.logged_in.emit(info)

    def _remember_saved(self, problem: str | None) -> None:
        if problem and self.session_window is not None:
            self.session_window.show_notice(
                self.tr("Your login could not be remembered: %1").replace("%1", problem)
            )

    def _login_error(self, session: Any, e: BaseException) -> None:
        self.pin_bridge.close_keypad_prompt()
        if session is self.session:
            self.session = None
        self._remember_pending = None
        w = self.login_window
        w.set_busy(False)
        from app.session.lifecycle import LoginCancelled
        from app.tokens.errors import PinCancelled

        if isinstance(e, LoginCancelled | PinCancelled):
            w.show_message(
                self.tr("Login cancelled"), self.tr("Nothing was changed on the account."), warning=False
            )
        else:
            w.show_message(*describe(e))
        self.login_failed.emit(e)

    # -- the session ----------------------------------------------------------------------------------

    def _show_session_window(self, info: SessionInfo) -> None:
        from app.ui.session_window import SessionWindow

        sw = SessionWindow()
        sw.setWindowIcon(app_icon())
        self.session_window = sw
        self.pin_bridge.set_parent_widget(sw)
        sw.set_info(info)
        sw.logout_requested.connect(self.logout)
        sw.refresh_vms_requested.connect(self.refresh_vms)
        sw.unlock_requested.connect(self._unlock)
        sw.close_requested.connect(self.quit)
        sw.countdown_changed.connect(self._tray_countdown)
        self.login_window.hide()
        sw.show()
        self._make_tray(info)
        sw.refresh_button.setEnabled(False)
        sw.vm_status.setText(self.tr("Reading the VMs..."))
        self.refresh_vms()

    def refresh_vms(self) -> None:
        """ReadVms on the network worker."""
        session = self.session
        if session is None:
            return

        def read() -> Any:
            return session.client.read_vms()

        def done(vms: Any) -> None:
            if self.session_window is not None and session is self.session:
                self.session_window.set_vms(vms)
            self.vms_loaded.emit(vms)

        def failed(e: BaseException) -> None:
            if self.session_window is not None and session is self.session:
                self.session_window.set_vm_error(" ".join(describe(e)))

        self.net.submit(read, done, failed, name="read-vms")

    def _unlock(self) -> None:
        session = self.session
        if session is not None:
            self.control.submit(session.retry_card_login, name="relogin")

    def logout(self) -> None:
        """Log out on the control worker; the ENDED event brings the login window back."""
        session = self.session
        if session is None:
            return
        if self.session_window is not None:
            self.session_window.set_ending(self.tr("Logging out: revoking the temporary key..."))
        self.control.submit(
            lambda: session.logout(EndReason.LOGOUT), self._logout_done, self._logout_error, name="logout"
        )

    def _logout_done(self, revocation: Any) -> None:
        self.last_revocation = revocation

    def _logout_error(self, e: BaseException) -> None:
        if self.session_window is not None:
            self.session_window.show_notice(" ".join(describe(e)))

    def _on_raw_event(self, tag: object, event: SessionEvent) -> None:
        if tag is not self._session_tag:
            log.debug("event of a previous session ignored: %s", event.kind.value)
            return
        self.session_event.emit(event)
        self._on_session_event(event)

    def _on_session_event(self, event: SessionEvent) -> None:
        from app.ui.session_window import mmss

        sw = self.session_window
        if event.kind is EventKind.CARD_REMOVED or (
            event.kind is EventKind.STATE and event.state is SessionState.GRACE
        ):
            if sw is not None and event.deadline_monotonic is not None:
                if not sw.countdown_visible:
                    self._notify(
                        self.tr("Card removed"),
                        self.tr("Insert the same card within %1 to keep the session.").replace(
                            "%1", mmss(event.deadline_monotonic - time.monotonic())
                        ),
                    )
                sw.start_countdown(event.deadline_monotonic)
        elif event.kind is EventKind.STATE and event.state is SessionState.ACTIVE:
            if sw is not None:
                sw.stop_countdown()
                sw.show_notice("")
            if self.tray is not None:
                self.tray.setToolTip(self.tr("%1: session active").replace("%1", APP_NAME))
        elif event.kind is EventKind.CARD_INSERTED:
            if sw is not None:
                sw.banner_label.setText(self.tr("<b>The card is back.</b> Unlocking it..."))
        elif event.kind is EventKind.WARNING:
            if sw is not None and event.message:
                if (
                    event.state is SessionState.GRACE
                    and self.session is not None
                    and getattr(self.session, "card_present", False)
                ):
                    sw.offer_unlock(event.message)
                else:
                    sw.show_notice(event.message)
        elif event.kind is EventKind.STATE and event.state is SessionState.ENDED:
            self._ended(event)
        self.session_event_handled(event)

    def session_event_handled(self, event: SessionEvent) -> None:
        """Hook for tests and the tray (called after each event was applied)."""

    def _ended(self, event: SessionEvent) -> None:
        self.last_end = event
        session = self.session
        if session is not None:
            self.last_revocation = getattr(session, "revocation", None)
        was_live = self.session_info is not None
        self.session = None
        self.session_info = None
        self.pin_bridge.cancel_all()
        if self.tray is not None:
            self.tray.hide()
            self.tray.deleteLater()
            self.tray = None
        sw = self.session_window
        self.session_window = None
        if sw is not None:
            sw.stop_countdown()
            sw.allow_close()
            sw.close()
            sw.deleteLater()
        self.session_ended.emit(event)
        if self._quitting:
            return
        if not was_live:
            return  # a login that failed or was cancelled: _login_error shows the reason
        revocation = self.last_revocation
        revoked = event.data.get("key_revoked")
        if revocation is not None and getattr(revocation, "key_id", None) is None:
            revoked = None  # there was no temporary key: say nothing about revoking one
        title, text = describe_end(event.reason or EndReason.ERROR, revoked, event.message)
        self.login_window.show_message(
            title, text, warning=not (event.reason is EndReason.LOGOUT and revoked)
        )
        self.login_window.set_certificate(self.login_window.certificate)
        self.login_window.show()
        self.login_window.raise_()

    # -- tray -----------------------------------------------------------------------------------------

    def _make_tray(self, info: SessionInfo) -> None:
        from PySide6.QtWidgets import QSystemTrayIcon

        if not QSystemTrayIcon.isSystemTrayAvailable():
            return
        tray = QSystemTrayIcon(app_icon(), self)
        tray.setToolTip(self.tr("%1: session active").replace("%1", APP_NAME))
        tray.activated.connect(lambda *_: self.session_window and self.session_window.raise_())
        tray.show()
        self.tray = tray

    def _tray_countdown(self, text: str) -> None:
        if self.tray is not None:
            self.tray.setToolTip(self.tr("Card removed: the session ends in %1").replace("%1", text))

    def _notify(self, title: str, text: str) -> None:
        from PySide6.QtWidgets import QSystemTrayIcon

        if self.tray is not None and QSystemTrayIcon.supportsMessages():
            self.tray.showMessage(title, text, QSystemTrayIcon.MessageIcon.Warning, 10000)

    # -- settings -------------------------------------------------------------------------------------

    def open_settings(self) -> None:
        """The settings dialog; module/store/CA changes apply to the next scan and login."""
        from app.ui.settings import SettingsDialog

        dlg = SettingsDialog(self.options.settings_store, self.login_window, worker=self.cards)
        dlg.finished.connect(lambda result: self._settings_closed(dlg, result))
        dlg.open()
        self.settings_dialog = dlg

    def _settings_closed(self, dlg: Any, result: int) -> None:
        if result and dlg.saved is not None:
            s = dlg.saved
            inv = self.options.inventory
            self.options = replace(
                self.options,
                inventory=replace(
                    inv,
                    module_paths=tuple(dict.fromkeys((*inv.module_paths, *s.modules))),
                    store_paths=tuple(p for p in (s.store_folder,) if p) or inv.store_paths,
                ),
            )
            if s.ca_bundle:
                self.login_window.ca_file = s.ca_bundle
        dlg.deleteLater()

    # -- quit -----------------------------------------------------------------------------------------

    def quit(self) -> None:
        """Log out (revoking the key), say so if that failed, then quit."""
        if self._quitting:
            return
        self._quitting = True
        session = self.session
        self.pin_bridge.cancel_all()
        if session is None:
            self._finish_quit(None)
            return
        key_id = self.session_info.temporary_key_id if self.session_info is not None else None
        if self.session_window is not None:
            self.session_window.set_ending(self.tr("Quitting: revoking the temporary key..."))

        def end() -> Any:
            result = session.logout(EndReason.QUIT)
            if key_id is None:
                # Still logging in: the login stops at its next step and deletes a key it may have
                # made meanwhile; wait for that, so a failed deletion is said before the app goes.
                wait = getattr(session, "wait_ended", None)
                if wait is not None and wait(60):
                    result = getattr(session, "revocation", None) or result
            return result

        self.control.submit(
            end,
            lambda revocation: self._finish_quit(revocation, None, key_id),
            lambda e: self._finish_quit(None, e, key_id),
            name="quit",
        )

    def _finish_quit(
        self, revocation: Any, error: BaseException | None = None, key_id: str | None = None
    ) -> None:
        self.last_revocation = revocation
        key = getattr(revocation, "key_id", None) or key_id
        # Only a key that exists and was not deleted is worth a warning (a login cancelled before the
        # key was created, or an access-key session without a temporary key, has nothing to revoke).
        if key is not None and (error is not None or not getattr(revocation, "revoked", False)):
            expires = getattr(revocation, "expires", None) or self.tr("its expiry date")
            from PySide6.QtWidgets import QMessageBox

            box = QMessageBox(
                QMessageBox.Icon.Warning,
                self.tr("Key not revoked"),
                self.tr(
                    "The temporary access key %1 could not be revoked. It stays valid until %2. Delete it in "
                    "Cockpit if this computer is not trusted."
                )
                .replace("%1", key)
                .replace("%2", expires),
                QMessageBox.StandardButton.Ok,
                self.session_window or self.login_window,
            )
            box.setObjectName("notRevokedBox")
            box.finished.connect(lambda *_: self._close_all(revocation))
            box.open()
            self.not_revoked_box = box
            return
        self._close_all(revocation)

    def _close_all(self, revocation: Any) -> None:
        if self.session_window is not None:
            self.session_window.allow_close()
            self.session_window.close()
        self.login_window.close()
        self.shutdown()
        self.quit_finished.emit(revocation)
        if self.options.quit_on_close:
            QApplication.quit()

    def shutdown(self) -> None:
        """Stop the workers (a PIN prompt in flight is answered 'cancelled' first)."""
        self._inventory_timer.stop()
        self.pin_bridge.cancel_all()
        for w in (self.net, self.control, self.cards):
            w.stop(15000)


def _certificate_of_profile(p: Any) -> PickedCertificate | None:
    """The certificate an osc profile names (x509_client_cert, or a card URI in x509_client_key)."""
    ref = getattr(p, "certificate_ref", None)
    if not ref:
        return None
    if ref.startswith("pkcs11:"):
        from app.tokens.uri import Pkcs11Uri, UriError

        try:
            uri = Pkcs11Uri.parse(ref)
        except UriError:
            return PickedCertificate(CertificateChoice(ref), ref, "")
        title = uri.object or (uri.id.hex() if uri.id else "") or ref
        where = uri.token or uri.serial or ""
        return PickedCertificate(CertificateChoice(ref), title, f"Card: {where}" if where else "")
    return PickedCertificate(CertificateChoice(ref), Path(ref).name, ref)


def _certificate_to_remember(picked: Any) -> tuple[str, str | None, str, str] | None:
    # A file that needs a password is not remembered: its password never is, and a prefilled
    # certificate that then fails to open would only confuse.
    if picked is None or picked.choice.file_password is not None:
        return None
    return (picked.choice.ref, picked.choice.module_path, picked.title, picked.detail)


def _certificate_from_memory(value: Any) -> Any:
    if not value:
        return None
    ref, module_path, title, detail = value
    return PickedCertificate(CertificateChoice(ref, module_path=module_path), title, detail)


_icon: QIcon | None = None


def app_icon() -> QIcon:
    """The application icon (empty when the file is not there, e.g. in a stripped build)."""
    global _icon
    if _icon is None:
        from PySide6.QtGui import QIcon

        _icon = QIcon(str(ICON)) if ICON.exists() else QIcon()
    return _icon


def ensure_qapplication(argv: list[str] | None = None) -> QApplication:
    """The QApplication (created once), with our name, icon and style sheet."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else [sys.argv[0] if sys.argv else "osc-trusted-login"])
    assert isinstance(app, QApplication)
    app.setApplicationName("osc-trusted-login")
    app.setApplicationDisplayName(APP_NAME)
    # The application icon is set after the first paint (see TrustedLoginApp.start).
    QTimer.singleShot(0, lambda: app.setWindowIcon(app_icon()))
    if STYLE.exists() and not app.property("otl_style"):
        app.setStyleSheet(STYLE.read_text(encoding="utf-8"))
        app.setProperty("otl_style", True)
    return app


def create_login_window(prefill: LoginPrefill | None = None, parent: QWidget | None = None) -> LoginWindow:
    """A real login window with no card, no network and no worker behind it (selftest, screenshots)."""
    ensure_qapplication()
    w = LoginWindow(parent)
    w.setWindowIcon(app_icon())
    if prefill is not None:
        w.prefill(prefill)
    return w


def run(options: AppOptions | None = None, language: str | None = None) -> int:
    """Start the desktop application and run its event loop; returns the exit code."""
    app = ensure_qapplication()
    from app.ui.i18n import install_language

    install_language(language)
    app.setQuitOnLastWindowClosed(False)  # quitting goes through logout (see TrustedLoginApp.quit)
    controller = TrustedLoginApp(options)
    # Closing the login window quits. It is only visible when no session is live (a login in progress
    # is cancelled by quit(), which logs out); the session window's close logs out first the same way.
    controller.login_window.closed.connect(controller.quit)
    # Ctrl-C / SIGTERM in the terminal quit like the window does: log out (revoke the key) first.
    # Python runs signal handlers only between bytecodes, so a timer gives it a chance while Qt waits.
    import signal

    def on_signal(signum: int, frame: object) -> None:
        QTimer.singleShot(0, controller.quit)

    old_handlers = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    wake = QTimer()
    wake.timeout.connect(lambda: None)
    wake.start(250)
    from app.ui.gc_guard import UiThreadGarbageCollector

    collector = UiThreadGarbageCollector()
    controller.start()
    try:
        code = app.exec()
    finally:
        collector.stop()
        wake.stop()
        for sig, handler in old_handlers.items():
            signal.signal(sig, handler)
    if not controller._quitting:
        controller.shutdown()
    return int(code)
