"""The desktop application: wires the windows to the core through workers; the UI thread never waits.

Threads: `net` runs the session's blocking calls (login, ReadVms, keyring); `control` runs logout and
cancel (so they never queue behind a slow request); `cards` runs inventory scans. The session delivers
its events from its own threads; they are re-emitted as a Qt signal and handled on the UI thread.

The flows live in app/ui/flows/ (login, certificates, session view); this file wires them, and keeps
the settings dialog and quitting. TrustedLoginApp is the facade the tests and run() use.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication, QWidget

from app import APP_NAME
from app.session.model import EndReason, LoginRequest, SessionEvent, SessionInfo
from app.ui.agent_panel import agent_options_from
from app.ui.flows.certificates import CertificatesFlow
from app.ui.flows.login import LoginFlow
from app.ui.flows.seam import CurrentSession, SessionFactory, SessionHandle
from app.ui.flows.session_view import SessionViewFlow
from app.ui.icon import app_icon
from app.ui.inventory import InventoryConfig
from app.ui.login import LoginPrefill, LoginWindow
from app.ui.pin import PinBridge
from app.ui.workers import Worker

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMessageBox, QSystemTrayIcon

    from app.session.ports import RevocationResult, SessionSettings
    from app.ui.mfa_setup_dialog import MfaSetupDialog
    from app.ui.picker import CertificatePicker
    from app.ui.session_window import SessionWindow
    from app.ui.settings import SettingsDialog, SettingsStore

# The picker, the session window and the token layer are imported when first needed: the login
# window must come up as fast as a bare window (see bench/startup.py).

__all__ = ["AppOptions", "TrustedLoginApp", "app_icon", "create_login_window", "ensure_qapplication", "run"]

ROOT = Path(__file__).resolve().parents[2]
STYLE = ROOT / "resources" / "style.qss"


@dataclass(frozen=True)
class AppOptions:
    """How the application is wired (the demo and the tests pass their own modules, CA file...)."""

    inventory: InventoryConfig = field(default_factory=InventoryConfig)
    prefill: LoginPrefill | None = None
    profiles: tuple[str, ...] = ()
    session_settings: SessionSettings | None = None  # watch interval, ticks; the product's when None
    session_factory: SessionFactory | None = None  # builds the session; TrustedSession by default
    use_keyring: bool = True
    inventory_poll_ms: int = 1500  # picker live refresh while it is open
    settings_store: SettingsStore | None = None  # the default settings file when None
    profile: str | None = None  # osc profile to prefill the form with at start
    quit_on_close: bool = True
    # Problems found before the window existed (a corrupt settings or osc config file): shown on it,
    # since a user who started the app from the desktop never sees stderr.
    startup_warnings: tuple[str, ...] = ()


class TrustedLoginApp(QObject):
    """The application: one login window, at most one session window and one session.

    The work is done by three flows (login, certificates, session view); their signals are the app's.
    """

    session_event = Signal(object)  # SessionEvent of the current session, on the UI thread
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
        self.current = CurrentSession()
        self._quitting = False
        self.settings_dialog: SettingsDialog | None = None
        self.not_revoked_box: QMessageBox | None = None
        self.login_window = LoginWindow(profiles=self.options.profiles)
        self.pin_bridge.set_parent_widget(self.login_window)
        self._wire_flows()
        self.login_window.settings_requested.connect(self.open_settings)
        self.mfa_dialog: MfaSetupDialog | None = None
        self.login_window.mfa_setup_requested.connect(self.open_mfa_setup)
        if self.options.prefill is not None:
            self.login_window.prefill(self.options.prefill)
        from app.ui.policy_marks import mark_login_window

        mark_login_window(self.login_window)  # after the prefill: the organisation's values win

    def _wire_flows(self) -> None:
        o, w = self.options, self.login_window
        self.session_view = SessionViewFlow(
            w, self.pin_bridge, self.net, self.control, self.current,
            quitting=lambda: self._quitting, parent=self,
        )  # fmt: skip
        self.session_view.agent_options = lambda: agent_options_from(self.options.settings_store)
        self.login_flow = LoginFlow(
            w, self.pin_bridge, self.net, self.control, self.current,
            on_event=self.session_view.deliver, session_factory=o.session_factory,
            session_settings=o.session_settings, use_keyring=o.use_keyring, parent=self,
        )  # fmt: skip
        self.certificates = CertificatesFlow(
            w, self.cards, lambda: self.options.inventory, poll_ms=o.inventory_poll_ms, parent=self
        )
        # The session window opens before logged_in reaches anyone else (slots run in connection order).
        self.login_flow.logged_in.connect(self.session_view.open)
        self.login_flow.logged_in.connect(self._wire_session_window)
        self.login_flow.logged_in.connect(self.logged_in)
        self.login_flow.login_failed.connect(self.login_failed)
        self.login_flow.remember_failed.connect(self._remember_failed)
        self.certificates.inventory_loaded.connect(self.inventory_loaded)
        sv = self.session_view
        sv.session_event.connect(self.session_event)
        sv.event_applied.connect(lambda event: self.session_event_handled(event))
        sv.session_ended.connect(self.session_ended)
        sv.vms_loaded.connect(self.vms_loaded)
        sv.close_requested.connect(self.quit)
        sv.close_to_tray = lambda: close_to_tray(self.options.settings_store)
        self.certificates.last_used = lambda: _setting(self.options.settings_store, "last_certificate")
        self.certificates.settings_requested.connect(self.open_settings)
        self.login_flow.logged_in.connect(self._remember_certificate)

    # -- the facade: what the flows hold, under the names the tests and run() use -------------------

    @property
    def session(self) -> SessionHandle | None:
        """The current session (None between sessions)."""
        return self.current.session

    @property
    def session_info(self) -> SessionInfo | None:
        """The live session's details (None until the login is done)."""
        return self.current.info

    @property
    def picker(self) -> CertificatePicker | None:
        """The open certificate picker."""
        return self.certificates.picker

    @property
    def session_window(self) -> SessionWindow | None:
        """The open session window."""
        return self.session_view.session_window

    @property
    def tray(self) -> QSystemTrayIcon | None:
        """The tray icon while a session is live (where the system has a tray)."""
        return self.session_view.tray

    @property
    def last_end(self) -> SessionEvent | None:
        """The ENDED event of the last session."""
        return self.session_view.last_end

    @property
    def last_revocation(self) -> RevocationResult | None:
        """What happened to the last session's temporary key."""
        return self.session_view.last_revocation

    def open_picker(self) -> None:
        """Open the certificate picker; it refreshes itself while open."""
        self.certificates.open_picker()

    def refresh_inventory(self) -> None:
        """Scan cards and stores on the cards worker (skipped while a scan is running)."""
        self.certificates.refresh_inventory()

    def start_login(self, request: LoginRequest) -> None:
        """Build the session and log in on the network worker."""
        self.login_flow.start_login(request)

    def cancel_login(self) -> None:
        """Stop a login in progress (the session cancels at its next step; a PIN prompt is closed)."""
        self.login_flow.cancel_login()

    def refresh_vms(self) -> None:
        """ReadVms on the network worker."""
        self.session_view.refresh_vms()

    def logout(self) -> None:
        """Log out on the control worker; the ENDED event brings the login window back."""
        self.session_view.logout()

    def session_event_handled(self, event: SessionEvent) -> None:
        """Hook for tests and the tray (called after each event was applied)."""

    # -- start ----------------------------------------------------------------------------------------

    def start(self) -> None:
        """Show the login window; load a remembered login in the background."""
        self.login_window.show()
        if sys.platform.startswith("win"):  # a Windows store provider's own PIN dialog sits on our window
            from app.tokens.stores.windows import set_parent_window

            set_parent_window(int(self.login_window.winId()))
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
            self.login_flow.load_profile(self.options.profile)
        elif self.options.use_keyring and self.options.prefill is None:
            self.login_flow.load_remembered_later()

    def _remember_certificate(self, info: SessionInfo) -> None:
        """Keep the SHA-256 of the certificate just used: the picker selects it next time (no secret)."""
        fingerprint, store = info.certificate_fingerprint, self.options.settings_store
        # use_keyring off (tests, demo): nothing of this computer's user is written, as for the login
        if fingerprint and self.options.use_keyring and _setting(store, "last_certificate") != fingerprint:
            self.net.submit(lambda: _save_setting(store, "last_certificate", fingerprint), name="last-cert")

    def _remember_failed(self, problem: str) -> None:
        text = self.tr("Your login could not be remembered: %1").replace("%1", problem)
        self.session_view.show_notice(text)

    # -- the certificate-login set-up (issue 17) -------------------------------------------------------

    def _wire_session_window(self, info: SessionInfo) -> None:
        sw = self.session_window
        if sw is not None:
            # The form's password was cleared at login: the dialog asks for it again.
            sw.mfa_setup_requested.connect(lambda: self.open_mfa_setup(self.login_window.build_request()))

    def open_mfa_setup(self, request: LoginRequest) -> None:
        """Open the certificate-login set-up dialog for this request (issue 17)."""
        from app.ui.mfa_setup_dialog import MfaSetupDialog

        if self.mfa_dialog is not None and self.mfa_dialog.isVisible():
            self.mfa_dialog.raise_()
            return
        if self.current.session is None:
            self.pin_bridge.reopen()  # a cancelled login closed it
        parent = self.session_window or self.login_window
        self.mfa_dialog = MfaSetupDialog(request, self.pin_bridge, parent)
        self.mfa_dialog.show()

    # -- settings -------------------------------------------------------------------------------------

    def open_settings(self) -> None:
        """The settings dialog; module/store/CA changes apply to the next scan and login."""
        from app.ui.settings import SettingsDialog

        dlg = SettingsDialog(self.options.settings_store, self.login_window, worker=self.cards)
        from app.ui.policy_marks import mark_settings

        mark_settings(dlg)
        dlg.finished.connect(lambda result: self._settings_closed(dlg, result))
        dlg.open()
        self.settings_dialog = dlg

    def _settings_closed(self, dlg: SettingsDialog, result: int) -> None:
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
            self.apply_language(s.language)
        dlg.deleteLater()

    def apply_language(self, language: str | None) -> None:
        """Switch the language now: the open windows' fixed texts are re-translated in place."""
        from app.ui.i18n import current_language, install_language, system_language
        from app.ui.retranslate import retranslate
        from app.ui.session_window import SessionWindow

        if (language or system_language()) == current_language():
            return
        profiles = self.options.profiles
        before = (LoginWindow(profiles=profiles), SessionWindow())
        install_language(language)
        after = (LoginWindow(profiles=profiles), SessionWindow())
        retranslate(self.login_window, before[0], after[0])
        if self.session_window is not None:
            retranslate(self.session_window, before[1], after[1])
        for w in (*before, *after):
            if isinstance(w, SessionWindow):
                w.allow_close()
            w.deleteLater()

    # -- quit -----------------------------------------------------------------------------------------

    def quit(self) -> None:
        """Log out (revoking the key), say so if that failed, then quit."""
        if self._quitting:
            return
        self._quitting = True
        session = self.current.session
        self.pin_bridge.cancel_all()
        if session is None:
            self._finish_quit(None)
            return
        key_id = self.current.info.temporary_key_id if self.current.info is not None else None
        if self.session_window is not None:
            self.session_window.set_ending(self.tr("Quitting: revoking the temporary key..."))

        def end() -> RevocationResult:
            result = session.logout(EndReason.QUIT)
            # Still logging in: the login stops at its next step and deletes a key it may have made
            # meanwhile; wait for that, so a failed deletion is said before the app goes.
            if key_id is None and session.wait_ended(60):
                result = session.revocation or result
            return result

        self.control.submit(
            end,
            lambda revocation: self._finish_quit(revocation, None, key_id),
            lambda e: self._finish_quit(None, e, key_id),
            name="quit",
        )

    def _finish_quit(
        self,
        revocation: RevocationResult | None,
        error: BaseException | None = None,
        key_id: str | None = None,
    ) -> None:
        self.session_view.last_revocation = revocation
        key = (revocation.key_id if revocation is not None else None) or key_id
        revoked = revocation is not None and revocation.revoked
        # Only a key that exists and was not deleted is worth a warning (a login cancelled before the
        # key was created, or an access-key session without a temporary key, has nothing to revoke).
        if key is not None and (error is not None or not revoked):
            expires = (revocation.expires if revocation is not None else None) or self.tr("its expiry date")
            box = self._not_revoked_box(key, expires)
            box.finished.connect(lambda *_: self._close_all(revocation))
            box.open()
            return
        self._close_all(revocation)

    def _not_revoked_box(self, key: str, expires: str) -> QMessageBox:
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
        self.not_revoked_box = box
        return box

    def _close_all(self, revocation: RevocationResult | None) -> None:
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
        self.certificates.stop()
        self.pin_bridge.cancel_all()
        for w in (self.net, self.control, self.cards):
            w.stop(15000)


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
        apply_style(app)
        app.setProperty("otl_style", True)
        # a desktop switching to dark (or back) while the app runs gets the matching boxes
        app.styleHints().colorSchemeChanged.connect(lambda *_: QTimer.singleShot(0, lambda: apply_style(app)))
    return app


def close_to_tray(store: SettingsStore | None) -> bool:
    """The setting: closing the session window keeps the session in the tray (True) or asks (False)."""
    return _setting(store, "close_to_tray") is not False


def _setting(store: SettingsStore | None, name: str) -> object:
    """A value of the settings file this module keeps among its extras (None when absent)."""
    from app.ui.settings import SettingsStore

    return (store or SettingsStore()).load().extras.get(name)


def _save_setting(store: SettingsStore | None, name: str, value: object) -> None:
    from app.ui.settings import SettingsStore

    st = store or SettingsStore()
    current = st.load()
    try:
        st.save(replace(current, extras={**current.extras, name: value}))
    except Exception as e:  # a settings file we may not write: the picker just selects the first one
        import logging

        logging.getLogger(__name__).warning("settings not saved: %s", type(e).__name__)


def apply_style(app: QApplication) -> None:
    """The style sheet for the application's current palette (dark boxes on a dark palette)."""
    from app.ui.theme import style_sheet

    app.setStyleSheet(style_sheet(app.palette()))


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
