"""The style sheet for the current palette: style.qss, plus style-dark.qss when the palette is dark,
and the WCAG contrast ratio the tests hold the boxes to (>= 4.5:1 for text)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QColor, QPalette

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
STYLE = RESOURCES / "style.qss"
STYLE_DARK = RESOURCES / "style-dark.qss"


def is_dark(palette: QPalette) -> bool:
    """Whether the palette draws light text on a dark window (a dark desktop theme)."""
    window = palette.color(QPalette.ColorRole.Window)
    text = palette.color(QPalette.ColorRole.WindowText)
    return window.lightness() < text.lightness()


def style_sheet(palette: QPalette) -> str:
    """The application's style sheet for this palette ('' when the files are missing)."""
    parts = [p.read_text(encoding="utf-8") for p in (STYLE,) if p.exists()]
    if is_dark(palette) and STYLE_DARK.exists():
        parts.append(STYLE_DARK.read_text(encoding="utf-8"))
    return "\n".join(parts)


def _luminance(c: QColor) -> float:
    def channel(v: int) -> float:
        s = v / 255.0
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(c.red()) + 0.7152 * channel(c.green()) + 0.0722 * channel(c.blue())


def contrast(a: QColor, b: QColor) -> float:
    """WCAG 2 contrast ratio of two colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)
