"""Render resources/icons/osc-trusted-login.svg to the PNG, ICO (Windows) and ICNS (macOS) the installers use.

Run after editing the SVG:  QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/make-icons.py
The outputs are committed so that the Windows and macOS builders need no extra tool.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons"
NAME = "osc-trusted-login"


def render_png(renderer: QSvgRenderer, size: int) -> bytes:
    """The SVG rendered at size x size, as PNG bytes."""
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buf, "PNG")
    return bytes(data.data())


def ico(pngs: dict[int, bytes]) -> bytes:
    """A Windows .ico holding PNG images (supported since Vista)."""
    header = struct.pack("<HHH", 0, 1, len(pngs))
    offset = 6 + 16 * len(pngs)
    entries, blobs = b"", b""
    for size, png in sorted(pngs.items()):
        dim = 0 if size >= 256 else size  # 0 means 256 in the ICO directory
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(png), offset)
        blobs += png
        offset += len(png)
    return header + entries + blobs


def icns(pngs: dict[int, bytes]) -> bytes:
    """A macOS .icns holding PNG images (ic07..ic10 are 128..1024 px)."""
    types = {128: b"ic07", 256: b"ic08", 512: b"ic09", 1024: b"ic10", 32: b"ic11", 64: b"ic12"}
    body = b"".join(types[s] + struct.pack(">I", 8 + len(p)) + p
                    for s, p in sorted(pngs.items()) if s in types)
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def main() -> int:
    """Write the PNG (256 px, for Linux), ICO and ICNS next to the SVG."""
    _app = QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(ICONS / f"{NAME}.svg"))
    if not renderer.isValid():
        print("cannot read the SVG", file=sys.stderr)
        return 1
    pngs = {s: render_png(renderer, s) for s in (16, 24, 32, 48, 64, 128, 256, 512, 1024)}
    (ICONS / f"{NAME}.png").write_bytes(pngs[256])
    (ICONS / f"{NAME}.ico").write_bytes(ico({s: pngs[s] for s in (16, 24, 32, 48, 64, 128, 256)}))
    (ICONS / f"{NAME}.icns").write_bytes(icns({s: pngs[s] for s in (32, 64, 128, 256, 512, 1024)}))
    for p in sorted(ICONS.glob(f"{NAME}.*")):
        print(f"{p.relative_to(ICONS.parents[1])}: {p.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
