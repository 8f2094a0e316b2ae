"""Layout audit (issue 15): no word-wrapped label is clipped (its height below its heightForWidth) and no
window is larger than the screen, for every screen, in English and French, at its default size and at
800x600, on an 800x600 screen and at QT_SCALE_FACTOR=2 on a 1600x1000 one (a subprocess per scale).
The 2x and dark-palette runs also save every screen to artifacts/screenshots/{2x,dark}/<lang>/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


SHOTS = ROOT / "artifacts" / "screenshots"


def _run(tmp_path: Path, scale: int, width: int, height: int, *args: str) -> list[dict[str, Any]]:
    screen = {"screens": [{"name": "audit", "x": 0, "y": 0, "width": width, "height": height,
                           "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}
    config = tmp_path / f"screen-{scale}.json"
    config.write_text(json.dumps(screen))
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={config}", "QT_SCALE_FACTOR": str(scale),
           "XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    r = subprocess.run([sys.executable, "-m", "tests.ui.layout_audit", *args], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    return [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]


@pytest.mark.parametrize(
    ("scale", "width", "height", "variant"),
    [(1, 800, 600, ""), (2, 1600, 1000, "2x"), (1, 800, 600, "dark")],
    ids=["1x", "2x-screenshots", "dark-screenshots"],
)
def test_no_clipped_label_and_no_window_larger_than_the_screen(
    tmp_path: Path, scale: int, width: int, height: int, variant: str
) -> None:
    args = (["--dark"] if variant == "dark" else []) + (["--shots", str(SHOTS / variant)] if variant else [])
    results = _run(tmp_path, scale, width, height, *args)
    assert len(results) == 8 * 2 * 2  # 8 screens, 2 languages, 2 sizes: every one was looked at
    if variant:  # the screenshots for a person to look at (artifacts/, git-ignored)
        assert all((SHOTS / variant / lang / "session.png").stat().st_size > 1000 for lang in ("en", "fr"))
    bad = [f"{r['screen']} {r['lang']} {r['size']}: {p}" for r in results for p in r["problems"]]
    assert bad == [], "\n".join(bad)


def test_the_audit_sees_a_clipped_label(qapp: Any) -> None:
    """A word-wrapped label squeezed under its text's height is reported (the check can fail)."""
    from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

    from tests.ui.layout_audit import audit

    w = QWidget()
    lbl = QLabel("many words " * 40)
    lbl.setWordWrap(True)
    QVBoxLayout(w).addWidget(lbl)
    w.show()
    lbl.setFixedSize(200, 20)
    assert any("label" in p for p in audit(w))
    w.close()
