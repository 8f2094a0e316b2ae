"""The self-test's Qt checks (`osc-trusted-login selftest`): Qt and its plugins, the binding's reference
counting, the login window and the icon. Qt lives in app/ui; app/cli/selftest.py runs these by name."""

from __future__ import annotations

import ctypes
import os
import sys
import time
from pathlib import Path

import PySide6
from PySide6 import QtCore
from PySide6.QtCore import QLibraryInfo
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication


class QtCheckFailed(Exception):
    """A Qt check found a problem; the message says what, in plain words."""


class QtCheckWarning(Exception):
    """A Qt check found something worth knowing that does not break the application."""


class QtChecks:
    """Qt, its plugins and the login window; all on the main thread, one QApplication."""

    def __init__(self, offscreen: bool, has_display: bool, bundle_root: Path) -> None:
        self.offscreen = offscreen
        self.has_display = has_display
        self.bundle_root = bundle_root
        self.app: QApplication | None = None
        self.x11_problem: str | None = None

    def load(self) -> str:
        """Start Qt with a display plugin (offscreen when asked or when there is no display)."""
        if self.offscreen or not self.has_display:
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
        note = ""
        if sys.platform.startswith("linux") and os.environ.get("QT_QPA_PLATFORM", "xcb") == "xcb":
            # Qt aborts the whole process when its X11 plugin cannot load: look first, and fall back to
            # offscreen so that the report still comes out (the X11 check then says what is missing).
            self.x11_problem = x11_plugin_problem()
            if self.x11_problem:
                os.environ["QT_QPA_PLATFORM"] = "offscreen"
                note = " (the X11 plugin cannot load: see below)"
        app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "osc-trusted-login"])
        assert isinstance(app, QApplication)
        self.app = app
        return (f"Qt {QtCore.qVersion()} (PySide6 {PySide6.__version__}) runs with the "
                f"'{QApplication.platformName()}' display plugin{note}")

    def binding(self) -> str:
        """The binding keeps None's, True's and False's reference counts on the calls the app repeats."""
        from app.ui import binding_guard

        if binding_guard.IMMORTAL:
            return (f"Python {sys.version_info[0]}.{sys.version_info[1]} keeps None, True and False alive "
                    "forever: a binding that miscounts them cannot crash this application")
        found = binding_guard.verdict()
        if found is not None:
            text, fatal = found
            raise QtCheckFailed(text) if fatal else QtCheckWarning(text)
        return f"PySide6 {PySide6.__version__} keeps reference counts on the calls the windows repeat"

    def login_window(self) -> str:
        """Build the real login window (no card, no network), show it, close it."""
        try:
            from app.ui.app import create_login_window
        except ImportError as e:
            raise QtCheckFailed(f"the login window is not part of this build ({e})") from e
        window = create_login_window()
        try:
            window.show()
            deadline = time.monotonic() + 10
            while not window.isVisible() and time.monotonic() < deadline:
                QApplication.processEvents()
            if not window.isVisible():
                raise QtCheckFailed("the login window did not become visible")
            QApplication.processEvents()
            title = window.windowTitle()
        finally:
            window.close()
            window.deleteLater()
            QApplication.processEvents()
        return f"the login window ('{title}') opened and closed"

    def icon(self) -> str:
        """The app icon renders from SVG: proves the image-format plugins are in the bundle."""
        svg = self.bundle_root / "resources" / "icons" / "osc-trusted-login.svg"
        if not svg.is_file():
            raise QtCheckFailed(f"the app icon is missing ({svg})")
        image = QImage(str(svg))
        if image.isNull():
            raise QtCheckFailed("the SVG image plugin is missing: the app icon cannot be drawn")
        return f"the app icon renders ({image.width()}x{image.height()} SVG)"

    def native_display_plugin(self) -> str:
        """Linux: the X11 plugin's libraries can load, even when this run uses the offscreen plugin."""
        if self.x11_problem:
            raise QtCheckFailed(self.x11_problem)
        if QApplication.platformName() == "xcb":
            return "in use (this window system works)"
        problem = x11_plugin_problem()
        if problem:
            raise QtCheckFailed(problem)
        return "the X11 display plugin and all its libraries load"


def x11_plugin_problem() -> str | None:
    """Why Qt's X11 plugin cannot load (a missing library, in the loader's words), or None if it can."""
    plugin = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms" / "libqxcb.so"
    if not plugin.is_file():
        return f"the X11 display plugin is missing ({plugin})"
    try:
        ctypes.CDLL(str(plugin), mode=os.RTLD_LAZY | os.RTLD_LOCAL)
    except OSError as e:
        return (f"the X11 display plugin cannot load: {e}. Install the missing library "
                "(for libxcb-cursor.so.0: the libxcb-cursor0 package)")
    return None
