"""The language applies at once: an open window's texts are re-translated in place.

The windows set their texts as they build themselves, so a window built in the old language and one
built in the new language give, widget for widget (same tree), the before and after of every fixed
text. A text the window still shows as built (a label, a button, a title, a placeholder, a combo
entry) takes the new language; one that changed since (a message, a status, the user's input, the
session's values) is left as it is.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QAbstractButton, QComboBox, QGroupBox, QLabel, QLineEdit, QWidget


def _texts(w: QWidget) -> list[tuple[str, Callable[[str], None], str]]:
    """(what, setter, current text) of the fixed texts a widget may carry."""
    out: list[tuple[str, Callable[[str], None], str]] = [
        ("title", w.setWindowTitle, w.windowTitle()), ("tip", w.setToolTip, w.toolTip()),
        ("name", w.setAccessibleName, w.accessibleName())]
    if isinstance(w, QLabel | QAbstractButton):
        out.append(("text", w.setText, w.text()))
    if isinstance(w, QGroupBox):
        out.append(("text", w.setTitle, w.title()))
    if isinstance(w, QLineEdit):
        out.append(("placeholder", w.setPlaceholderText, w.placeholderText()))
    if isinstance(w, QComboBox):
        for i in range(w.count()):
            out.append((f"item{i}", lambda t, i=i, w=w: w.setItemText(i, t), w.itemText(i)))
    return out


def retranslate(window: QWidget, built_before: QWidget, built_after: QWidget) -> int:
    """Give `window` the texts of `built_after` wherever it still shows those of `built_before`
    (the same class, built in the old and the new language); returns how many texts changed."""
    mine = [window, *window.findChildren(QWidget)]
    old = [built_before, *built_before.findChildren(QWidget)]
    new = [built_after, *built_after.findChildren(QWidget)]
    changed = 0
    for a, b, c in zip(mine, old, new, strict=False):
        if not (type(a) is type(b) is type(c)):
            break  # the trees part (a panel added later): the rest is not the same widget
        for (what, setter, now), (_, _, before), (_, _, after) in zip(_texts(a), _texts(b), _texts(c),
                                                                     strict=False):
            if now == before and before != after and what:
                setter(after)
                changed += 1
    return changed
