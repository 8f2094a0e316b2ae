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
