"""The picker renders only what a new inventory changed: the inventory is polled for as long as it is
open, and an unchanged snapshot must cost no widget call (issue 20: a binding that leaked a reference
of None per call aborted the app within a minute)."""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

import pytest

from app.session.model import CertificateChoice
from app.ui.picker import CertificatePicker, CertRow, InventorySnapshot


def _row(n: int, *, group: str = "Card A", usable: bool = True, problems: tuple[str, ...] = ()) -> CertRow:
    return CertRow(
        group=group,
        group_kind="card",
        title=f"operator {n}",
        subject=f"CN=operator {n}",
        issuer="CN=Test CA",
        expires="2030-01-01",
        key="EC 256",
        usable=usable,
        problems=problems,
        choice=CertificateChoice(f"pkcs11:token=A;id=%{n:02x}"),
        fingerprint=f"{n:02x}" * 32,
    )


@pytest.fixture
def picker(qtbot: Any) -> CertificatePicker:
    p = CertificatePicker()
    qtbot.addWidget(p)
    return p


class _Calls:
    def __init__(self, picker: CertificatePicker, monkeypatch: pytest.MonkeyPatch) -> None:
        self.place = 0
        self.fill: list[str] = []
        place, fill = picker._place_rows, picker._fill

        def counting_place(rows: Any) -> None:
            self.place += 1
            place(rows)

        def counting_fill(item: Any, row: CertRow) -> None:
            self.fill.append(row.title)
            fill(item, row)

        monkeypatch.setattr(picker, "_place_rows", counting_place)
        monkeypatch.setattr(picker, "_fill", counting_fill)


def _items(picker: CertificatePicker) -> list[Any]:
    tree = picker.tree
    return [tree.topLevelItem(i).child(j) for i in range(tree.topLevelItemCount())
            for j in range(tree.topLevelItem(i).childCount())]


def test_an_unchanged_inventory_touches_no_widget(picker: CertificatePicker, monkeypatch) -> None:
    rows = tuple(_row(n) for n in range(50))
    picker.set_snapshot(InventorySnapshot(rows))
    picker.select_fingerprint(rows[7].fingerprint)
    before = _items(picker)
    calls = _Calls(picker, monkeypatch)
    none_before = sys.getrefcount(None)
    for _ in range(200):  # equal snapshots, as each inventory poll builds a new one
        picker.set_snapshot(InventorySnapshot(tuple(dataclasses.replace(r) for r in rows)))
    assert (calls.place, calls.fill) == (0, [])
    assert _items(picker) == before
    if sys.version_info < (3, 12):  # immortal from 3.12 on: its count means nothing there
        assert abs(sys.getrefcount(None) - none_before) < 50
    assert picker.chosen is None and picker._selected_row() == rows[7]


def test_a_changed_row_is_the_only_one_filled_again(picker: CertificatePicker, monkeypatch) -> None:
    rows = [_row(n) for n in range(5)]
    picker.set_snapshot(InventorySnapshot(tuple(rows)))
    picker.select_fingerprint(rows[1].fingerprint)
    before = {id(i): i.text(0) for i in _items(picker)}
    calls = _Calls(picker, monkeypatch)
    rows[3] = dataclasses.replace(rows[3], usable=False, problems=("expired",))
    picker.set_snapshot(InventorySnapshot(tuple(rows)))
    assert calls.fill == ["operator 3"]
    assert {id(i) for i in _items(picker)} == set(before)  # the same items, moved, not rebuilt
    changed = next(i for i in _items(picker) if i.text(0) == "operator 3")
    assert changed.text(4) == "expired"
    assert _items(picker)[-1] is changed  # unusable rows go last
    assert picker._selected_row() == rows[1]


def test_rows_and_groups_come_and_go(picker: CertificatePicker) -> None:
    a = [_row(n) for n in range(3)]
    b = [_row(10 + n, group="Card B") for n in range(2)]
    picker.set_snapshot(InventorySnapshot(tuple(a + b)))
    assert picker.tree.topLevelItemCount() == 2
    picker.select_fingerprint(b[0].fingerprint)
    picker.set_snapshot(InventorySnapshot(tuple(a[:1] + b)))  # two certificates of card A gone
    assert [r.title for r in picker.rows()] == ["operator 0", "operator 10", "operator 11"]
    assert picker._selected_row() == b[0]
    picker.set_snapshot(InventorySnapshot(tuple(a[:1])))  # card B pulled: its group goes, selection moves
    assert picker.tree.topLevelItemCount() == 1
    assert picker._selected_row() == a[0]
    picker.set_snapshot(InventorySnapshot((), ("Card software not loaded: x.so",)))
    assert picker.rows() == [] and picker.tree.topLevelItemCount() == 0
    assert picker.empty.isVisibleTo(picker)
    assert picker.problem_label.text().startswith("Card software not loaded: x.so")
    assert picker.settings_button.isVisibleTo(picker) and "loaded" in picker.empty.text()


def test_picker_preselects_the_last_certificate_and_shows_details(qtbot: Any) -> None:
    from PySide6.QtCore import Qt

    rows = tuple(CertRow("OTL Demo Card", "card", f"operator {i}", f"CN=operator {i}", "CN=Example CA",
                         "2027-01-01", "EC 256", i != 1, () if i != 1 else ("expired on 2020-01-01",),
                         CertificateChoice(f"pkcs11:id=%0{i}"), f"{i:02x}" * 32) for i in range(3))
    picker = CertificatePicker()
    qtbot.addWidget(picker)
    picker.preferred_fingerprint = rows[2].fingerprint  # the last one used, not the first listed
    picker.show()
    picker.set_snapshot(InventorySnapshot(rows))
    assert picker._selected_row() == rows[2]
    height = picker.stack.height()
    # an unusable row takes focus and selection (its reason can be read), but cannot be used
    assert picker.select_fingerprint(rows[1].fingerprint)
    assert not picker.use_button.isEnabled() and picker.details_button.isEnabled()
    qtbot.mouseClick(picker.details_button, Qt.MouseButton.LeftButton)
    box = picker.details_box
    assert box is not None and "Issued by: CN=Example CA" in box.informativeText()
    assert "01:01:01" in box.informativeText() and "expired on 2020-01-01" in box.informativeText()
    box.close()
    picker.set_snapshot(InventorySnapshot(()))  # the list empties: the text takes its place
    assert picker.stack.currentWidget() is picker.empty and picker.stack.height() == height
    assert "No card found" in picker.empty.text()
    picker.set_snapshot(InventorySnapshot((), readers=0))  # the modules report no slot at all
    assert "No card reader found" in picker.empty.text()
