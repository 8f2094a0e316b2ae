"""The application icon, loaded once when first asked for (after the login window's first paint)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtGui import QIcon

ICON = Path(__file__).resolve().parents[2] / "resources" / "icons" / "osc-trusted-login.svg"

_icon: QIcon | None = None


def app_icon() -> QIcon:
    """The application icon (empty when the file is not there, e.g. in a stripped build)."""
    global _icon
    if _icon is None:
        from PySide6.QtGui import QIcon

        _icon = QIcon(str(ICON)) if ICON.exists() else QIcon()
    return _icon


_grace: QIcon | None = None


def grace_icon() -> QIcon:
    """The icon with a red badge: the card is out and the session counts down (tray)."""
    global _grace
    if _grace is None:
        from PySide6.QtCore import Qt
        from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

        pix = app_icon().pixmap(64, 64)
        if pix.isNull():
            pix = QPixmap(64, 64)
            pix.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pix)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(QColor("#b3261e"))
        painter.setPen(QColor("#ffffff"))
        painter.drawEllipse(30, 30, 32, 32)
        painter.end()
        _grace = QIcon(pix)
    return _grace
