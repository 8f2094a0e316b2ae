"""The style sheet's boxes are readable under a light and a dark palette: text >= 4.5:1 (WCAG AA)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from PySide6.QtGui import QColor, QPalette

from app.ui.theme import contrast, is_dark, style_sheet


def _palette(window: str, text: str, base: str) -> QPalette:
    p = QPalette()
    for role, colour in ((QPalette.ColorRole.Window, window), (QPalette.ColorRole.WindowText, text),
                         (QPalette.ColorRole.Base, base), (QPalette.ColorRole.Text, text)):
        p.setColor(role, QColor(colour))
    return p


LIGHT = ("#efefef", "#000000", "#ffffff")
DARK = ("#2d2d2d", "#e8e8e8", "#1e1e1e")  # KDE Breeze Dark / GNOME Adwaita-dark-like


def _rules(sheet: str) -> dict[str, dict[str, str]]:
    """selector -> properties, later rules overriding earlier ones (as Qt applies them)."""
    out: dict[str, dict[str, str]] = {}
    sheet = re.sub(r"/\*.*?\*/", "", sheet, flags=re.S)
    for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", sheet):
        props = {k.strip(): v.strip() for k, v in (p.split(":", 1) for p in body.split(";") if ":" in p)}
        for sel in selectors.split(","):
            out.setdefault(sel.strip(), {}).update(props)
    return out


@pytest.mark.parametrize("colours", [LIGHT, DARK], ids=["light", "dark"])
def test_every_box_and_text_colour_reaches_4_5_to_1(qapp: Any, colours: tuple[str, str, str]) -> None:
    palette = _palette(*colours)
    assert is_dark(palette) is (colours is DARK)
    rules = _rules(style_sheet(palette))
    checked = 0
    for selector, props in rules.items():
        if "color" not in props and "background" not in props:
            continue
        background = props.get("background")
        if background is None and " " in selector:  # a label inside a box: the box's background
            background = rules.get(selector.split(" ")[0], {}).get("background")
        bg = QColor(background or colours[0])
        fg = QColor(props.get("color", colours[1]))
        if "QLabel" not in selector and "color" not in props:
            continue  # a frame's background alone carries no text (its labels are checked)
        ratio = contrast(fg, bg)
        assert ratio >= 4.5, f"{selector}: {fg.name()} on {bg.name()} is {ratio:.2f}:1 in {colours}"
        checked += 1
    assert checked >= 7  # note, both message boxes, field error, PIN warning, notice, banner text


def test_the_check_can_fail(qapp: Any) -> None:
    """The palette's light text on the light note box (the old sheet in dark mode) is caught."""
    assert contrast(QColor(DARK[1]), QColor("#e8f0fe")) < 4.5
    assert contrast(QColor("#b3261e"), QColor(DARK[2])) < 4.5  # the old red on a dark base
