"""The session window: account, session details, VMs, and the countdown banner when the card is out."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QFont, QFontMetrics, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.session.model import AuthMethod, Notice, SessionInfo
from app.ui.errors import describe_warning
from app.ui.fit import fit_to_screen
from app.ui.key_expiry import KeyExpiryNotice, expiry_text, parse_expiry

if TYPE_CHECKING:
    from app.session.api.values import Vm


def mmss(seconds: float) -> str:
    """'04:59' for 299.2 s (rounded up, so 0:00 shows only at the very end)."""
    s = max(0, int(-(-seconds // 1)))
    return f"{s // 60:02d}:{s % 60:02d}"


def duration_words(seconds: float) -> str:
    """'1 hour', '5 minutes', '20 seconds' in the current language."""
    if seconds >= 3600 and seconds % 3600 == 0:
        n = int(seconds // 3600)
        if n == 1:
            return QCoreApplication.translate("SessionWindow", "1 hour")
        return QCoreApplication.translate("SessionWindow", "%n hours").replace("%n", str(n))
    if seconds >= 60 and seconds % 60 == 0:
        n = int(seconds // 60)
        if n == 1:
            return QCoreApplication.translate("SessionWindow", "1 minute")
        return QCoreApplication.translate("SessionWindow", "%n minutes").replace("%n", str(n))
    return QCoreApplication.translate("SessionWindow", "%n seconds").replace("%n", f"{seconds:g}")


class SessionWindow(QWidget):
    """Shows the live session. Never calls the network itself: it asks the controller by signals."""

    logout_requested = Signal()
    refresh_vms_requested = Signal()
    unlock_requested = Signal()  # ask for the card's PIN again after a cancelled re-login
    mfa_setup_requested = Signal()  # open the certificate-login set-up for this account
    close_requested = Signal()  # the window was closed: the controller asks, or keeps it in the tray
    countdown_changed = Signal(str)  # "04:59" each time the banner changes (tray tooltip)
    last_minute = Signal()  # one minute of the countdown left (the tray reminds once)
    renew_requested = Signal()  # renew the temporary key (10 minutes before it expires)

    def __init__(
        self, parent: QWidget | None = None, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(parent)
        self.setObjectName("SessionWindow")
        # Short: the window manager appends the application's name.
        self._title = self.tr("Session")
        self.setWindowTitle(self._title)
        self.resize(760, 620)  # fit_to_screen shrinks it on a small (or 2x) screen
        self._monotonic = monotonic
        self._deadline: float | None = None
        self._reminded = False
        self._allow_close = False
        self.info: SessionInfo | None = None
        self.key_expires_at: float | None = None  # POSIX time of the temporary key's expiry
        self._wall = time.time

        root = QVBoxLayout(self)
        root.addWidget(self._build_banner())
        self.notice = QLabel()  # warnings from the session (not the countdown)
        self.notice.setObjectName("notice")
        self.notice.setWordWrap(True)
        self.notice.setAccessibleName(self.tr("Session notice"))
        self.notice.hide()
        root.addWidget(self.notice)
        self.expiry_notice = KeyExpiryNotice()
        self.expiry_notice.renew_requested.connect(self.renew_requested)
        self.expiry_notice.relogin_requested.connect(self._logout_clicked)
        root.addWidget(self.expiry_notice)
        # The details and the VMs scroll when the window is small: Log out (below) always shows.
        self.content = QWidget()
        self.content_layout = QVBoxLayout(self.content)
        self.content_layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(self._build_account_box(), 1)
        top.addWidget(self._build_session_box(), 1)
        self.content_layout.addLayout(top)
        self.content_layout.addWidget(self._build_vm_box(), 1)
        self.scroll = QScrollArea()
        self.scroll.setObjectName("sessionScroll")
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setWidget(self.content)
        root.addWidget(self.scroll, 1)
        root.addLayout(self._build_bottom_bar())
        self.expiry_timer = QTimer(self)
        self.expiry_timer.setInterval(20000)
        self.expiry_timer.timeout.connect(self.update_key_expiry)
        QShortcut(QKeySequence.StandardKey.Refresh, self, activated=self._refresh_clicked)

        # The display only: the deadline is the session's monotonic value, so the timer's own
        # jitter never shifts the end of the session.
        self.timer = QTimer(self)
        self.timer.setInterval(250)
        self.timer.timeout.connect(self._tick)

    # -- layout ---------------------------------------------------------------------------------------

    def _build_banner(self) -> QFrame:
        self.banner = QFrame()
        self.banner.setObjectName("countdownBanner")
        banner_box = QHBoxLayout(self.banner)
        self.banner_label = QLabel()
        self.banner_label.setObjectName("countdownText")
        self.banner_label.setWordWrap(True)
        self.banner_label.setAccessibleName(self.tr("Card removed"))
        self.countdown_label = QLabel()
        self.countdown_label.setObjectName("countdown")
        self.countdown_label.setAccessibleName(self.tr("Time left before the session ends"))
        # Big, and wide enough for "00:00" whatever the banner text does beside it.
        font = QFont(self.countdown_label.font())
        font.setPointSize(22)
        font.setBold(True)
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setFamily("monospace")
        self.countdown_label.setFont(font)
        self.countdown_label.setMinimumWidth(QFontMetrics(font).horizontalAdvance("00:00") + 16)
        self.unlock_button = QPushButton(self.tr("&Unlock card..."))
        self.unlock_button.setObjectName("unlockButton")
        self.unlock_button.clicked.connect(self.unlock_requested)
        self.unlock_button.hide()
        banner_box.addWidget(self.countdown_label)
        banner_box.addWidget(self.banner_label, 1)
        banner_box.addWidget(self.unlock_button)
        self.banner.hide()
        return self.banner


    def _build_account_box(self) -> QGroupBox:
        account_box = QGroupBox(self.tr("Account"))
        self.account_form = QFormLayout(account_box)
        self.account_form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.account_id = _value("accountId")
        self.account_email = _value("accountEmail")
        self.account_form.addRow(self.tr("Account ID:"), self.account_id)
        self.account_form.addRow(self.tr("Email:"), self.account_email)
        self.identity = _value("identity")
        self.account_form.addRow(self.tr("Logged in as:"), self.identity)
        self.endpoint = _value("endpoint")
        self.account_form.addRow(self.tr("Region / endpoint:"), self.endpoint)
        return account_box


    def _build_session_box(self) -> QGroupBox:
        session_box = QGroupBox(self.tr("Session"))
        form = QFormLayout(session_box)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.method = _value("method")
        self.certificate = _value("certificate")
        self.card = _value("card")
        self.key_id = _value("temporaryKeyId")
        self.key_expires = _value("temporaryKeyExpires")
        self.trusted = _value("trusted")
        self.grace = _value("grace")
        self.tls = _value("tls")
        form.addRow(self.tr("Method:"), self.method)
        form.addRow(self.tr("Certificate:"), self.certificate)
        form.addRow(self.tr("Card:"), self.card)
        form.addRow(self.tr("Temporary key:"), self.key_id)
        form.addRow(self.tr("Key expires:"), self.key_expires)
        form.addRow(self.tr("Trusted session:"), self.trusted)
        form.addRow(self.tr("If the card is removed:"), self.grace)
        form.addRow(self.tr("Connection:"), self.tls)
        return session_box


    def _build_vm_box(self) -> QGroupBox:
        vm_box = QGroupBox(self.tr("Virtual machines"))
        vm_layout = QVBoxLayout(vm_box)
        self.vm_table = QTableWidget(0, 5)
        self.vm_table.setObjectName("vmTable")
        self.vm_table.setHorizontalHeaderLabels(
            [self.tr("VM ID"), self.tr("Name"), self.tr("State"), self.tr("Type"), self.tr("Private IP")]
        )
        self.vm_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.vm_table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.vm_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.vm_table.verticalHeader().hide()
        vm_layout.addWidget(self.vm_table)
        vm_bar = QHBoxLayout()
        self.vm_status = QLabel()
        self.vm_status.setObjectName("vmStatus")
        self.refresh_button = QPushButton(self.tr("&Refresh"))
        self.refresh_button.setObjectName("refreshVms")
        self.refresh_button.clicked.connect(self._refresh_clicked)
        vm_bar.addWidget(self.vm_status, 1)
        vm_bar.addWidget(self.refresh_button)
        vm_layout.addLayout(vm_bar)
        return vm_box


    def _build_bottom_bar(self) -> QHBoxLayout:
        bottom = QHBoxLayout()
        self.state_label = QLabel()
        self.state_label.setObjectName("sessionState")
        self.logout_button = QPushButton(self.tr("Log &out"))
        self.logout_button.setObjectName("logoutButton")
        self.logout_button.clicked.connect(self._logout_clicked)
        self.mfa_button = QPushButton(self.tr("Set up certificate &login..."))
        self.mfa_button.setObjectName("mfaSetupButton")
        self.mfa_button.clicked.connect(self.mfa_setup_requested)
        bottom.addWidget(self.state_label, 1)
        bottom.addWidget(self.mfa_button)
        bottom.addWidget(self.logout_button)
        return bottom

    # -- content --------------------------------------------------------------------------------------

    def set_info(self, info: SessionInfo) -> None:
        """Fill the account and session panels."""
        self.info = info
        dash = "-"
        self.account_id.setText(info.account_id or dash)
        self.account_email.setText(info.account_email or dash)
        self.identity.setText(info.identity)
        self.endpoint.setText(f"{info.region}\n{info.endpoint}")
        self.method.setText(
            self.tr("Login and password") if info.method is AuthMethod.PASSWORD else self.tr("Access key")
        )
        self.certificate.setText(info.certificate_subject or self.tr("none"))
        self.card.setText(info.card_label or self.tr("none (certificate file)"))
        self.key_id.setText(info.temporary_key_id or self.tr("none (your own key is used)"))
        self.set_key_expiry(info.temporary_key_expires)
        self.trusted.setText(
            self.tr("Yes: activated through the API (RequireTrustedEnv)")
            if info.trusted_env
            else self.tr("No: simulated by this application")
        )
        if info.card_label:
            self.grace.setText(
                self.tr("the session ends %1 later").replace("%1", duration_words(info.grace_seconds))
            )
        else:
            self.grace.setText(self.tr("not watched (certificate file)"))
        self.tls.setText(info.tls_summary or dash)
        if info.warnings:
            # a Notice carries its code: worded in the UI's language (the core's English otherwise)
            self.show_notice("\n".join(describe_warning(w, w.event_data() if isinstance(w, Notice) else None)
                                       for w in info.warnings))
        self.state_label.setText(self.tr("Session active."))
        self.logout_button.setEnabled(True)
        self.refresh_button.setEnabled(True)

    def set_vms(self, vms: Sequence[Vm]) -> None:
        """Fill the VM table from the API client's Vm values."""
        self.vm_table.setRowCount(0)
        for vm in vms:
            row = self.vm_table.rowCount()
            self.vm_table.insertRow(row)
            values = [vm.vm_id, vm.name or "", vm.state, vm.vm_type, vm.private_ip or ""]
            for col, v in enumerate(values):
                self.vm_table.setItem(row, col, QTableWidgetItem(str(v)))
        self.vm_table.resizeColumnsToContents()
        self.vm_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        when = time.strftime("%H:%M:%S")
        self.vm_status.setText(
            self.tr("%n VM(s), read at %1").replace("%n", str(len(vms))).replace("%1", when)
        )
        self.refresh_button.setEnabled(True)

    def set_vm_error(self, text: str) -> None:
        """The VM list could not be read."""
        self.vm_status.setText(text)
        self.refresh_button.setEnabled(True)

    def add_panel(self, panel: QWidget) -> None:
        """Another panel of the session (the local API agent's), above the VMs, in the scrolled part."""
        self.content_layout.insertWidget(self.content_layout.count() - 1, panel)

    def set_key_expiry(self, iso: str | None) -> None:
        """The temporary key's expiry (ISO, UTC) shown in local time and as 'in 3 h 12 min'."""
        self.key_expires_at = parse_expiry(iso)
        if self.key_expires_at is None:
            self.key_expires.setText(iso or "-")
            self.expiry_timer.stop()
            self.expiry_notice.hide()
            return
        self.key_expires.setToolTip(iso or "")
        self.update_key_expiry()
        self.expiry_timer.start()

    def update_key_expiry(self, *, renewing: bool = False) -> None:
        """Refresh 'in 3 h 12 min', and warn 10 minutes before the key expires."""
        if self.key_expires_at is None:
            return
        now = self._wall()
        text = expiry_text(self.key_expires_at, now)
        if text != self.key_expires.text():  # runs on a timer all day: touch the label only on change
            self.key_expires.setText(text)
        self.expiry_notice.update_for(self.key_expires_at - now, renewing=renewing)

    def show_notice(self, text: str) -> None:
        """A warning from the session (re-login refused, key not revoked, ...)."""
        self.notice.setText(text)
        self.notice.setAccessibleDescription(text)
        self.notice.setVisible(bool(text))

    # -- countdown ------------------------------------------------------------------------------------

    def start_countdown(self, deadline_monotonic: float) -> None:
        """The card was removed: show the banner until `stop_countdown` or the deadline."""
        self._deadline = deadline_monotonic
        self.banner_label.setText(
            self.tr(
                "<b>The card was removed.</b> The session stays usable meanwhile. Insert the same card "
                "to keep it; when the time runs out, the session ends and its temporary key is revoked."
            )
        )
        self._reminded = False
        self.state_label.setText(self.tr("Card removed: the session is in its grace period."))
        self.banner.show()
        self._tick()
        self.timer.start()

    def stop_countdown(self) -> None:
        """The card is back (or the session ended): hide the banner."""
        self._deadline = None
        self.timer.stop()
        self.banner.hide()
        self.unlock_button.hide()
        self.setWindowTitle(self._title)
        self.state_label.setText(self.tr("Session active."))

    @property
    def countdown_visible(self) -> bool:
        """Whether the removal banner is showing."""
        return self.banner.isVisible() or (self._deadline is not None and not self.isVisible())

    def countdown_text(self) -> str:
        """The mm:ss on the banner (empty when there is no countdown)."""
        return self.countdown_label.text() if self._deadline is not None else ""

    def offer_unlock(self, text: str) -> None:
        """The card is back but not unlocked (PIN cancelled or refused): offer to type the PIN again."""
        self.banner_label.setText(self.tr(
            "<b>The card is back but not unlocked.</b> The session stays usable meanwhile; unlock the "
            "card before the time runs out to keep it."))
        self.unlock_button.show()
        self.show_notice(text)

    def _tick(self) -> None:
        if self._deadline is None:
            return
        left = self._deadline - self._monotonic()
        text = mmss(left)
        if left <= 60 and not self._reminded:
            self._reminded = True
            self.last_minute.emit()
        if text != self.countdown_label.text():
            self.countdown_label.setText(text)
            self.countdown_label.setAccessibleDescription(
                self.tr("%1 left before the session ends").replace("%1", text))
            # In the title too: a minimised window still shows it in the task bar.
            self.setWindowTitle(
                self.tr("%1 - card removed - %2").replace("%1", text).replace("%2", self._title)
            )
            self.countdown_changed.emit(text)

    # -- actions --------------------------------------------------------------------------------------

    def _refresh_clicked(self) -> None:
        if not self.refresh_button.isEnabled():
            return
        self.refresh_button.setEnabled(False)
        self.vm_status.setText(self.tr("Reading the VMs..."))
        self.refresh_vms_requested.emit()

    def _logout_clicked(self) -> None:
        self.logout_button.setEnabled(False)
        self.refresh_button.setEnabled(False)
        self.state_label.setText(self.tr("Logging out: revoking the temporary key..."))
        self.logout_requested.emit()

    def set_ending(self, text: str) -> None:
        """The session is ending (logout/quit in progress)."""
        self.logout_button.setEnabled(False)
        self.refresh_button.setEnabled(False)
        self.state_label.setText(text)

    def allow_close(self) -> None:
        """The controller is done with this window: closing it no longer means 'quit'."""
        self._allow_close = True

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        fit_to_screen(self)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._allow_close:
            self.timer.stop()
            self.expiry_timer.stop()
            super().closeEvent(event)
            return
        # Closing does not end the session by itself: the controller asks, or keeps it in the tray.
        event.ignore()
        self.close_requested.emit()


def _value(name: str) -> QLabel:
    lbl = QLabel("-")
    lbl.setObjectName(name)
    lbl.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    lbl.setWordWrap(True)
    return lbl
