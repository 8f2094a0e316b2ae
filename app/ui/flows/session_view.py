"""The session view: the session window, its VMs, the session's events (countdown, unlock), the tray,
logout and the end of the session (back to the login window)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from app import APP_NAME
from app.session.model import EndReason, EventKind, SessionEvent, SessionInfo, SessionState
from app.ui.errors import describe, describe_end, describe_warning
from app.ui.flows.seam import CurrentSession
from app.ui.icon import app_icon
from app.ui.login import LoginWindow
from app.ui.pin import PinBridge
from app.ui.workers import Worker

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMenu, QMessageBox, QSystemTrayIcon

    from app.session.agent.attach import AgentHandle, AgentOptions
    from app.session.api.values import Vm
    from app.session.ports import RevocationResult
    from app.ui.agent_panel import AgentPanel
    from app.ui.session_window import SessionWindow

log = logging.getLogger(__name__)


class SessionViewFlow(QObject):
    """Shows the live session and follows its events until it ends."""

    session_event = Signal(object)  # SessionEvent of the current session, on the UI thread
    event_applied = Signal(object)  # the same event, once the windows show it
    session_ended = Signal(object)  # SessionEvent (state ENDED)
    vms_loaded = Signal(object)  # tuple of Vm
    close_requested = Signal()  # the user closed the session window: the app quits (logging out)
    agent_forwarded = Signal(int)  # calls the local API agent forwarded so far (from its threads)
    _raw_event = Signal(object, object)  # (session tag, SessionEvent) from the session's threads

    def __init__(
        self,
        login_window: LoginWindow,
        pin_bridge: PinBridge,
        net: Worker,
        control: Worker,
        current: CurrentSession,
        *,
        quitting: Callable[[], bool],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.login_window = login_window
        self.pin_bridge = pin_bridge
        self.net = net
        self.control = control
        self.current = current
        self._quitting = quitting
        self.session_window: SessionWindow | None = None
        self.tray: QSystemTrayIcon | None = None
        self.last_end: SessionEvent | None = None
        self.last_revocation: RevocationResult | None = None
        self.agent: AgentHandle | None = None  # the local API agent of the current/last session
        self.agent_panel: AgentPanel | None = None
        self.agent_options: Callable[[], AgentOptions] | None = None  # from the settings (app.py)
        self.close_to_tray: Callable[[], bool] = lambda: True  # the setting (app.py reads the file)
        self._told_tray = False
        self.close_box: QMessageBox | None = None
        self.tray_menu: QMenu | None = None
        self.notifications: list[tuple[str, str]] = []  # what the tray said (tests; no tray offscreen)
        self._raw_event.connect(self._on_raw_event)
        self.agent_forwarded.connect(self._show_forwarded)

    def deliver(self, tag: object, event: SessionEvent) -> None:
        """Hand a session's event to the UI thread (called from the session's threads)."""
        self._raw_event.emit(tag, event)

    # -- the window -----------------------------------------------------------------------------------

    def open(self, info: SessionInfo) -> None:
        """Replace the login window by the session window, and read the VMs."""
        from app.ui.session_window import SessionWindow

        sw = SessionWindow()
        sw.setWindowIcon(app_icon())
        self.session_window = sw
        self.pin_bridge.set_parent_widget(sw)
        sw.set_info(info)
        self._start_agent(info, sw)
        sw.logout_requested.connect(self.logout)
        sw.refresh_vms_requested.connect(self.refresh_vms)
        sw.unlock_requested.connect(self._unlock)
        sw.close_requested.connect(self._close_clicked)
        sw.countdown_changed.connect(self._tray_countdown)
        sw.last_minute.connect(self._last_minute)
        sw.renew_requested.connect(self.renew_key)
        self.login_window.hide()
        sw.show()
        self._make_tray()
        sw.refresh_button.setEnabled(False)
        sw.vm_status.setText(self.tr("Reading the VMs..."))
        self.refresh_vms()

    def _start_agent(self, info: SessionInfo, sw: SessionWindow) -> None:
        """Start the local API agent with the session (unless the settings turn it off); show it on `sw`."""
        from app.session.agent.attach import AgentOptions, attach_agent
        from app.ui.agent_panel import AgentPanel

        if self.agent is not None:
            self.agent.close()  # the previous session's port (it answered "session ended" until now)
            self.agent = None
        session = self.current.session
        if session is None or not isinstance(getattr(type(session), "client", None), property):
            return  # a stand-in session (tests) has no API client to forward through
        try:
            options = self.agent_options() if self.agent_options is not None else AgentOptions()
            self.agent = attach_agent(session, region=info.region, account_id=info.account_id,
                                      options=options, on_forwarded=self.agent_forwarded.emit)
        except Exception as e:  # the session itself is fine: only the tools cannot use it
            log.warning("the local API agent did not start: %s", type(e).__name__)
            sw.show_notice(self.tr("The local API agent did not start: %1").replace("%1", str(e)))
            return
        if self.agent is None:
            return
        self.agent_panel = AgentPanel(self.agent)
        sw.add_panel(self.agent_panel)  # above the VMs, in the part that scrolls

    def _show_forwarded(self, count: int) -> None:
        if self.agent_panel is not None:
            self.agent_panel.set_forwarded(count)

    def show_notice(self, text: str) -> None:
        """A line on the session window (nothing when there is none)."""
        if self.session_window is not None:
            self.session_window.show_notice(text)

    def refresh_vms(self) -> None:
        """ReadVms on the network worker."""
        session = self.current.session
        if session is None:
            return

        def read() -> tuple[Vm, ...]:
            return session.client.read_vms()

        def done(vms: tuple[Vm, ...]) -> None:
            if self.session_window is not None and session is self.current.session:
                self.session_window.set_vms(vms)
            self.vms_loaded.emit(vms)

        def failed(e: BaseException) -> None:
            if self.session_window is not None and session is self.current.session:
                self.session_window.set_vm_error(" ".join(describe(e)))

        self.net.submit(read, done, failed, name="read-vms")

    def _unlock(self) -> None:
        session = self.current.session
        if session is not None:
            self.control.submit(session.retry_card_login, name="relogin")

    def logout(self) -> None:
        """Log out on the control worker; the ENDED event brings the login window back."""
        session = self.current.session
        if session is None:
            return
        if self.session_window is not None:
            self.session_window.set_ending(self.tr("Logging out: revoking the temporary key..."))
        self.control.submit(
            lambda: session.logout(EndReason.LOGOUT), self._logout_done, self._logout_error, name="logout"
        )

    def _logout_done(self, revocation: RevocationResult) -> None:
        self.last_revocation = revocation

    def _logout_error(self, e: BaseException) -> None:
        self.show_notice(" ".join(describe(e)))

    # -- the session's events -------------------------------------------------------------------------

    def _on_raw_event(self, tag: object, event: SessionEvent) -> None:
        if tag is not self.current.tag:
            log.debug("event of a previous session ignored: %s", event.kind.value)
            return
        self.session_event.emit(event)
        self._apply(event)
        self.event_applied.emit(event)

    def renew_key(self) -> None:
        """A new temporary key through the card (TrustedSession.renew_key, issue 14), no session break."""
        session, sw = self.current.session, self.session_window
        renew = getattr(session, "renew_key", None)
        if session is None or sw is None or renew is None:
            return
        sw.update_key_expiry(renewing=True)

        def failed(e: BaseException) -> None:
            if self.session_window is sw:
                sw.expiry_notice.renew_failed(" ".join(describe(e)))

        self.net.submit(renew, lambda _key: None, failed, name="renew-key")  # KEY_CREATED updates the window

    def _close_clicked(self) -> None:
        """Closing the session window: into the tray (the default where there is one), or ask."""
        sw = self.session_window
        if sw is None:
            return
        if self.tray is not None and self.close_to_tray():
            sw.hide()
            if not self._told_tray:
                self._told_tray = True
                text = self.tr("The session goes on in the tray. Log out or quit from the tray icon's menu.")
                self._notify(self.tr("Still running"), text, warning=False)
            return
        from PySide6.QtWidgets import QMessageBox

        box = QMessageBox(QMessageBox.Icon.Question, self.tr("End the session?"), self.tr(
            "Closing this window logs out: the temporary key is revoked and the application quits."),
            QMessageBox.StandardButton.NoButton, sw)
        box.setObjectName("closeBox")
        quit_button = box.addButton(self.tr("&Log out and quit"), QMessageBox.ButtonRole.AcceptRole)
        keep = box.addButton(self.tr("&Keep the session"), QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)
        box.setAccessibleDescription(box.text())
        box.finished.connect(lambda *_: self.close_requested.emit() if box.clickedButton() is quit_button
                             else None)
        self.close_box = box
        box.open()

    def _last_minute(self) -> None:
        self._notify(self.tr("One minute left"), self.tr(
            "Insert the card within a minute, or the session ends and its temporary key is revoked."))

    def _apply(self, event: SessionEvent) -> None:
        kind, state = event.kind, event.state
        if kind is EventKind.PROGRESS:
            self._progress(str(event.data.get("step", "")))
            return
        if kind in (EventKind.STATE, EventKind.WARNING):
            self.pin_bridge.settle()  # the card answered the PIN (or the step it was for ended)
        if kind is EventKind.CARD_REMOVED or (kind is EventKind.STATE and state is SessionState.GRACE):
            self._card_away(event)
        elif kind is EventKind.STATE and state is SessionState.ACTIVE:
            if self.session_window is not None:
                self.session_window.stop_countdown()
                self.session_window.show_notice("")
            self._tray_state(active=True)
        elif kind is EventKind.KEY_CREATED and self.session_window is not None:
            sw = self.session_window  # a renewed key (issue 14): its id and expiry
            sw.key_id.setText(str(event.data.get("access_key_id") or sw.key_id.text()))
            sw.set_key_expiry(event.data.get("expiration_date"))
        elif kind is EventKind.CARD_INSERTED:
            if self.session_window is not None:
                self.session_window.banner_label.setText(self.tr("<b>The card is back.</b> Unlocking it..."))
        elif kind is EventKind.WARNING:
            self._warning(event)
        elif kind is EventKind.STATE and state is SessionState.ENDED:
            self._ended(event)

    def _progress(self, step: str) -> None:
        """The login's status names its step (the PIN step is said by the login flow when asked)."""
        if step == "account":
            self.pin_bridge.settle()  # the card took the PIN
        text = {
            "server": self.tr("Contacting the server and checking its certificate..."),
            "card": self.tr("Server verified. Opening the card..."),
            "account": self.tr("Card unlocked. Checking the account and creating the temporary key..."),
        }.get(step)
        if text and self.current.info is None and self.login_window.busy:
            self.login_window.set_busy(True, text)

    def _card_away(self, event: SessionEvent) -> None:
        from app.ui.session_window import mmss

        sw = self.session_window
        if sw is None or event.deadline_monotonic is None:
            return
        if not sw.countdown_visible:
            self._notify(
                self.tr("Card removed"),
                self.tr("Insert the same card within %1 to keep the session.").replace(
                    "%1", mmss(event.deadline_monotonic - time.monotonic())
                ),
            )
        sw.start_countdown(event.deadline_monotonic)
        self._tray_state(active=False)

    def _warning(self, event: SessionEvent) -> None:
        sw = self.session_window
        if sw is None or not event.message:
            return
        session = self.current.session
        text = describe_warning(event.message, event.data)
        if event.state is SessionState.GRACE and session is not None and session.card_present:
            sw.offer_unlock(text)
        else:
            sw.show_notice(text)

    def _ended(self, event: SessionEvent) -> None:
        self.last_end = event
        session = self.current.session
        if session is not None:
            self.last_revocation = session.revocation
        was_live = self.current.info is not None
        self.current.session = None
        self.current.info = None
        self.agent_panel = None  # (the agent ended with the session: its port says so until the next one)
        self.pin_bridge.cancel_all()
        self._drop_tray()
        sw = self.session_window
        self.session_window = None
        if sw is not None:
            sw.stop_countdown()
            sw.allow_close()
            sw.close()
            sw.deleteLater()
        self.session_ended.emit(event)
        if self._quitting() or not was_live:
            return  # quitting says its own words; a failed or cancelled login was said by the login flow
        revocation = self.last_revocation
        revoked = event.data.get("key_revoked")
        if revocation is not None and revocation.key_id is None:
            revoked = None  # there was no temporary key: say nothing about revoking one
        title, text = describe_end(event.reason or EndReason.ERROR, revoked, event.message)
        w = self.login_window
        w.show_message(title, text, warning=not (event.reason is EndReason.LOGOUT and revoked))
        w.set_certificate(w.certificate)
        w.show()
        w.raise_()

    # -- tray -----------------------------------------------------------------------------------------

    def _make_tray(self) -> None:
        from PySide6.QtWidgets import QSystemTrayIcon

        if not QSystemTrayIcon.isSystemTrayAvailable():
            return
        from PySide6.QtWidgets import QMenu

        tray = QSystemTrayIcon(app_icon(), self)
        tray.setToolTip(self.tr("%1: session active").replace("%1", APP_NAME))
        tray.activated.connect(self._raise_window)
        menu = QMenu()
        menu.addAction(self.tr("&Show the session"), self._raise_window)
        menu.addAction(self.tr("Log &out"), self.logout)
        menu.addAction(self.tr("&Quit (logs out)"), self.close_requested.emit)
        tray.setContextMenu(menu)
        self.tray_menu = menu
        tray.show()
        self.tray = tray

    def _tray_state(self, *, active: bool) -> None:
        """The tray icon and tooltip tell the same story as the banner: active, or card removed."""
        if self.tray is None:
            return
        from app.ui.icon import grace_icon

        self.tray.setIcon(app_icon() if active else grace_icon())
        if active:
            self.tray.setToolTip(self.tr("%1: session active").replace("%1", APP_NAME))

    def _raise_window(self) -> None:
        if self.session_window is not None:
            self.session_window.show()
            self.session_window.raise_()
            self.session_window.activateWindow()

    def _drop_tray(self) -> None:
        if self.tray is not None:
            self.tray.hide()
            self.tray.deleteLater()
            self.tray = None

    def _tray_countdown(self, text: str) -> None:
        if self.tray is not None:
            self.tray.setToolTip(self.tr("Card removed: the session ends in %1").replace("%1", text))

    def _notify(self, title: str, text: str, *, warning: bool = True) -> None:
        from PySide6.QtWidgets import QSystemTrayIcon

        self.notifications.append((title, text))
        icon = QSystemTrayIcon.MessageIcon.Warning if warning else QSystemTrayIcon.MessageIcon.Information
        if self.tray is not None and QSystemTrayIcon.supportsMessages():
            self.tray.showMessage(title, text, icon, 10000)
