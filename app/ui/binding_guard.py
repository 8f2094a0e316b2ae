"""Does the installed Qt binding keep Python's reference counts? (PySide6 6.12.0 on CPython 3.11 did not.)

PySide6 6.12.0 took one reference from `None` on every call of a void method of an item wrapper and on
every null pointer it returned. CPython 3.11 aborts the process when `None`'s count reaches zero
("Fatal Python error: none_dealloc"), so a window that refreshes on a timer died within minutes.
PySide6 6.10 and 6.11 leak the other way: one reference to `None` for every Python-made widget that is
created and destroyed (+45 for a small window shown and closed), so each login grows `None`'s count by
~800; harmless to the process, but a miscount all the same (6.9.3 is exact).
This module calls, many times, the binding functions the product itself uses on its timers and when it
opens and closes its windows, and watches the counts of `None`, `True` and `False`: the test suite and
`selftest` both run it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

SINGLETONS: tuple[tuple[str, object], ...] = (("None", None), ("True", True), ("False", False))
# CPython 3.12+ makes the singletons immortal (PEP 683): a binding miscounting them cannot free them,
# and their reported count is a saturated constant that an extension built for the stable ABI still
# nudges up and down, so there is nothing meaningful to measure there.
IMMORTAL = sys.version_info >= (3, 12)


@dataclass(frozen=True)
class Drift:
    """How much one call, repeated `calls` times, moved a singleton's reference count."""

    call: str
    singleton: str
    change: int
    calls: int

    @property
    def leaks(self) -> bool:
        """A systematic change (about one reference per call), not the noise of a cache filling up."""
        return abs(self.change) * 4 >= self.calls


def _cases(
    tree: QTreeWidget, widget: QWidget, table: QTableWidget
) -> dict[str, Callable[[QTreeWidgetItem], object]]:
    brush = QBrush(QColor("gray"))
    return {
        "QTreeWidgetItem.setToolTip": lambda it: it.setToolTip(0, "tip"),
        "QTreeWidgetItem.setFlags": lambda it: it.setFlags(Qt.ItemFlag.ItemIsEnabled),
        "QTreeWidgetItem.setData": lambda it: it.setData(0, Qt.ItemDataRole.UserRole, 1),
        "QTreeWidgetItem.setForeground": lambda it: it.setForeground(0, brush),
        "QTreeWidgetItem.setText": lambda it: it.setText(0, "text"),
        "QTreeWidgetItem.addChild": lambda it: it.addChild(QTreeWidgetItem(["child"])),
        "QTreeWidget.addTopLevelItem": lambda it: tree.addTopLevelItem(QTreeWidgetItem(["top"])),
        "QTreeWidget.currentItem (none)": lambda it: tree.currentItem(),
        "QTableWidget.setItem": lambda it: table.setItem(0, 0, QTableWidgetItem("cell")),
        "QTableWidgetItem.setText": lambda it: table.item(0, 0).setText("cell"),
        "QWidget.focusWidget (none)": lambda it: widget.focusWidget(),
        "QWidget.parent (top level)": lambda it: widget.parent(),
        "QObject.findChild (nothing)": lambda it: widget.findChild(QLabel, "absent"),
        "QLabel.setText": lambda it: QLabel().setText("text"),
        "QFont.setBold": lambda it: QFont().setBold(True),
        "a window shown, closed and deleted": lambda it: _window_lifecycle(),
    }


class _Window(QWidget):
    """A small Python-made window, as the app makes for each PIN prompt and session."""

    def __init__(self) -> None:
        super().__init__()
        QVBoxLayout(self).addWidget(QLabel("text"))


def _window_lifecycle() -> None:
    w = _Window()
    w.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)  # no window on the user's screen
    w.show()
    w.close()
    w.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def measure(calls: int = 400, *, stop_on_leak: bool = False) -> list[Drift]:
    """Repeat each binding call the product makes on its timers `calls` times and report the changes.

    Needs a QApplication. On a broken binding this costs `None` about 15 x `calls` references, far from
    the thousands a process starts with."""
    if QApplication.instance() is None:
        raise RuntimeError("binding_guard.measure needs a QApplication")
    if IMMORTAL:
        return []
    tree, widget, table = QTreeWidget(), QWidget(), QTableWidget(1, 1)
    table.setItem(0, 0, QTableWidgetItem("cell"))
    try:
        return measure_calls(
            _cases(tree, widget, table), calls, after_each=tree.clear, stop_on_leak=stop_on_leak
        )
    finally:
        for w in (tree, widget, table):
            w.deleteLater()


def measure_calls(
    cases: dict[str, Callable[[QTreeWidgetItem], object]],
    calls: int,
    after_each: Callable[[], None] = lambda: None,
    stop_on_leak: bool = False,
) -> list[Drift]:
    """Call each case `calls` times on a fresh item (after a short warm-up); one Drift per singleton.

    `stop_on_leak` ends at the first faulty call: on a broken binding every further call costs the
    process references it may need (selftest runs this in the app's own process)."""
    out: list[Drift] = []
    for name, fn in cases.items():
        item = QTreeWidgetItem(["item"])
        for _ in range(8):  # warm-up: first calls may fill caches that hold a reference for good
            fn(item)
        before = [sys.getrefcount(obj) for _, obj in SINGLETONS]
        for _ in range(calls):
            fn(item)
        after = [sys.getrefcount(obj) for _, obj in SINGLETONS]
        out += [
            Drift(name, label, a - b, calls)
            for (label, _), a, b in zip(SINGLETONS, after, before, strict=True)
        ]
        after_each()
        if stop_on_leak and any(d.leaks for d in out):
            break
    return out


def problem(calls: int = 60) -> str | None:
    """A plain sentence when the binding leaks or drains references, None when it is sound."""
    found = verdict(calls)
    return found[0] if found else None


def verdict(calls: int = 60) -> tuple[str, bool] | None:
    """(what is wrong, whether it will abort this process sooner or later), or None when sound.

    Taking references from a singleton aborts CPython 3.11 when the count reaches 0; leaking
    references to it (or anything on 3.12+, where the singletons are immortal) cannot crash."""
    bad = [d for d in measure(calls, stop_on_leak=True) if d.leaks]
    if not bad:
        return None
    from PySide6 import __version__ as pyside

    worst = ", ".join(f"{d.call} ({d.singleton} {d.change:+d} per {d.calls} calls)" for d in bad)
    fatal = sys.version_info < (3, 12) and any(d.change < 0 for d in bad)
    if fatal:
        consequence = "the application will abort after running for a while"
    elif sys.version_info >= (3, 12):
        consequence = "this Python keeps None alive forever, so it will not crash, but the binding is faulty"
    else:
        consequence = "references leak (the application will not crash, but the binding is faulty)"
    text = (
        f"The installed PySide6 {pyside} miscounts references on Python "
        f"{sys.version_info[0]}.{sys.version_info[1]}: {worst}; {consequence}. "
        "Install the version pinned in constraints.txt."
    )
    return text, fatal
