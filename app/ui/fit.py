"""Windows fit the screen they open on (at 2x scaling a fixed initial size can be taller than it)."""

from __future__ import annotations

import contextlib

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QWidget


def fit_to_screen(window: QWidget, margin: int = 24) -> None:
    """Shrink `window` to the available geometry of its screen (keeping its minimum), and move it inside."""
    screen = window.screen()
    if screen is None:
        return
    area = screen.availableGeometry()
    width = min(window.width(), max(window.minimumWidth(), area.width() - margin))
    height = min(window.height(), max(window.minimumHeight(), area.height() - margin))
    if (width, height) != (window.width(), window.height()):
        window.resize(width, height)
    frame = window.frameGeometry()
    x = min(max(frame.x(), area.x()), area.right() - frame.width() + 1)
    y = min(max(frame.y(), area.y()), area.bottom() - frame.height() + 1)
    if (x, y) != (frame.x(), frame.y()):
        window.move(max(x, area.x()), max(y, area.y()))


def grow_to_content(window: QWidget) -> None:
    """Make `window` tall enough for its word-wrapped labels at its width (Qt does not grow a top-level
    window when a label's text gets longer), within its screen."""
    layout = window.layout()
    if layout is None or not window.isVisible():
        return
    need = layout.totalHeightForWidth(window.width()) if layout.hasHeightForWidth() else -1
    need = max(need, layout.totalMinimumSize().height())
    if need <= window.height():
        return
    screen = window.screen()
    if screen is not None:
        frame = window.frameGeometry().height() - window.height()
        need = min(need, screen.availableGeometry().height() - frame)
    if need > window.height():
        window.resize(window.width(), need)


class GrowToContent(QObject):
    """Event filter: after each layout change of the window, `grow_to_content` it."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self._window = window
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._window and event.type() in (QEvent.Type.LayoutRequest, QEvent.Type.Resize,
                                                        QEvent.Type.Show):
            QTimer.singleShot(0, self._grow)
        return False

    def _grow(self) -> None:
        with contextlib.suppress(RuntimeError):  # the window was deleted meanwhile
            grow_to_content(self._window)
