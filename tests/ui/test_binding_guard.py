"""The Qt binding keeps None's, True's and False's reference counts (PySide6 6.12.0 on 3.11 did not)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app.ui import binding_guard

CHILD = """
import sys
from PySide6.QtWidgets import QApplication
from app.ui import binding_guard
app = QApplication([])
for d in binding_guard.measure(2000):
    print(d.call, d.singleton, d.change, sep="|")
print("problem|", binding_guard.problem(200))
"""


IMMORTAL = pytest.mark.skipif(
    binding_guard.IMMORTAL, reason="None, True and False are immortal on Python 3.12+: counts mean nothing"
)


@IMMORTAL
def test_the_installed_binding_keeps_reference_counts() -> None:
    # In a child: a broken binding drains None by 2000 per call kind, which can abort a process on 3.11.
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [line.split("|") for line in out.stdout.splitlines() if not line.startswith("problem|")]
    assert len(rows) == 3 * 16  # every call the product repeats, every singleton
    moved = [r for r in rows if abs(int(r[2])) * 4 >= 2000]
    assert moved == []
    assert out.stdout.splitlines()[-1] == "problem| None"


@IMMORTAL
def test_the_guard_sees_a_call_that_takes_references(qapp: object) -> None:
    kept: list[object] = []
    drifts = binding_guard.measure_calls({"keeps None": lambda item: kept.append(None)}, calls=300)
    none = next(d for d in drifts if d.singleton == "None")
    assert none.change >= 300 and none.leaks
    assert not next(d for d in drifts if d.singleton == "True").leaks


def test_a_leak_is_explained_in_plain_words(monkeypatch, qapp: object) -> None:
    monkeypatch.setattr(
        binding_guard,
        "measure",
        lambda calls=400, stop_on_leak=False: [
            binding_guard.Drift("QTreeWidgetItem.setFlags", "None", -calls, calls)
        ],
    )
    text = binding_guard.problem(100)
    assert text is not None
    assert "QTreeWidgetItem.setFlags (None -100 per 100 calls)" in text
    assert "constraints.txt" in text


@pytest.mark.parametrize(("fatal", "status"), [(True, "fail"), (False, "warn")])
def test_selftest_reports_a_faulty_binding(monkeypatch, qapp: object, fatal: bool, status: str) -> None:
    # Draining None aborts 3.11 sooner or later (fail); a leak cannot crash (warn).
    from app.cli import selftest

    text = "The installed PySide6 9.9 miscounts references"
    monkeypatch.setattr(binding_guard, "IMMORTAL", False)  # as on 3.11, where the check measures
    monkeypatch.setattr(binding_guard, "verdict", lambda calls=60: (text, fatal))
    (qt, check) = selftest.run_checks(offscreen=True, only=["qt-binding"])
    assert qt.status == selftest.PASS
    assert (check.name, check.status, check.detail) == ("Qt binding", status, text)


def test_nothing_is_measured_where_the_singletons_are_immortal(monkeypatch, qapp: object) -> None:
    monkeypatch.setattr(binding_guard, "IMMORTAL", True)
    assert binding_guard.measure(10) == [] and binding_guard.verdict(10) is None


def test_a_leak_and_a_drain_are_told_apart(monkeypatch, qapp: object) -> None:
    def drifts(change: int):
        return lambda calls=400, stop_on_leak=False: [binding_guard.Drift("QWidget", "None", change, calls)]

    monkeypatch.setattr(binding_guard, "measure", drifts(-60))
    text, fatal = binding_guard.verdict(60)
    assert fatal == (sys.version_info < (3, 12))
    assert ("abort" in text) == fatal
    monkeypatch.setattr(binding_guard, "measure", drifts(+60))
    text, fatal = binding_guard.verdict(60)
    assert not fatal and "will not crash" in text
