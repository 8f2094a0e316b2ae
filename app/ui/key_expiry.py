"""The temporary key's expiry as people read it: local time and "in 3 h 12 min", and the notice that
offers, 10 minutes before, to renew the key (a new key through the card, no session break) or to log
in again."""

from __future__ import annotations

import datetime as _dt

from PySide6.QtCore import QCoreApplication, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

WARN_BEFORE_SECONDS = 600.0  # the warning shows 10 minutes before the key expires


def parse_expiry(iso: str | None) -> float | None:
    """POSIX time of an ISO 8601 date as the API gives it ('2026-11-28T13:00:00Z'); None if unreadable."""
    if not iso:
        return None
    try:
        when = _dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.UTC)
    return when.timestamp()


def in_words(seconds: float) -> str:
    """'in 3 h 12 min', 'in 8 min', 'in less than a minute', 'expired' in the current language."""
    if seconds <= 0:
        return QCoreApplication.translate("KeyExpiry", "expired")
    minutes = int(seconds // 60)
    if minutes < 1:
        return QCoreApplication.translate("KeyExpiry", "in less than a minute")
    h, m = divmod(minutes, 60)
    if h == 0:
        return QCoreApplication.translate("KeyExpiry", "in %1 min").replace("%1", str(m))
    return (QCoreApplication.translate("KeyExpiry", "in %1 h %2 min")
            .replace("%1", str(h)).replace("%2", str(m)))


def expiry_text(expires: float, now: float) -> str:
    """'14:32 (in 3 h 12 min)' in local time; the date too when it is not today."""
    local = _dt.datetime.fromtimestamp(expires).astimezone()
    today = _dt.datetime.fromtimestamp(now).astimezone().date()
    shown = local.strftime("%H:%M") if local.date() == today else local.strftime("%Y-%m-%d %H:%M")
    return f"{shown} {local.strftime('%Z')} ({in_words(expires - now)})".replace("  ", " ")


class KeyExpiryNotice(QFrame):
    """'The temporary key expires in 8 min' with Renew and Log in again; hidden until 10 minutes before."""

    renew_requested = Signal()
    relogin_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("expiryNotice")
        box = QHBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel()
        self.label.setObjectName("notice")
        self.label.setWordWrap(True)
        self.label.setAccessibleName(self.tr("Temporary key expiry"))
        self.renew_button = QPushButton(self.tr("Re&new key"))
        self.renew_button.setObjectName("renewKey")
        self.renew_button.clicked.connect(self.renew_requested)
        self.relogin_button = QPushButton(self.tr("Log in a&gain"))
        self.relogin_button.setObjectName("reloginButton")
        self.relogin_button.clicked.connect(self.relogin_requested)
        box.addWidget(self.label, 1)
        box.addWidget(self.renew_button)
        box.addWidget(self.relogin_button)
        self.hide()

    def update_for(self, seconds_left: float, *, renewing: bool = False) -> None:
        """Show the warning when the key has 10 minutes or less left (hide it otherwise)."""
        if seconds_left > WARN_BEFORE_SECONDS:
            if not self.isHidden():
                self.hide()
            return
        if renewing:
            text = self.tr("Renewing the temporary key...")
        elif seconds_left <= 0:
            text = self.tr("The temporary key has expired: the session ends.")
        else:
            text = self.tr("The temporary key expires %1. Renew it now (the card signs a new one, the "
                           "session goes on) or log in again.").replace("%1", in_words(seconds_left))
        if text != self.label.text():  # called on a timer: touch the widgets only on change
            self.label.setText(text)
            self.setAccessibleDescription(text)
        self.renew_button.setEnabled(not renewing and seconds_left > 0)
        if self.isHidden():
            self.show()

    def renew_failed(self, text: str) -> None:
        """The renewal failed: say why, the buttons stay."""
        self.label.setText(text)
        self.renew_button.setEnabled(True)
        self.show()
