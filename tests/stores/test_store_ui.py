"""The picker's "This computer" group fed by the real NSS store, and the database password dialog."""
# ruff: noqa: F811 - the rigs' fixtures reappear as arguments

from __future__ import annotations

from typing import Any

import pytest

from app.tokens.pin import PinPurpose, PinRequest
from tests.rigs.nss import NssHome, fingerprint, nss_ca, nss_home  # noqa: F401 - fixtures


def test_the_picker_groups_store_certificates_under_this_computer(
        qtbot: Any, nss_home: NssHome, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.ui.inventory import InventoryConfig, read_snapshot
    from app.ui.picker import CertificatePicker

    monkeypatch.setenv("HOME", str(nss_home.home))
    snap = read_snapshot(InventoryConfig(computer_stores=True))
    rows = {r.fingerprint: r for r in snap.rows}
    rsa, ec = rows[fingerprint(nss_home.rsa)], rows[fingerprint(nss_home.ec)]
    assert (rsa.group_kind, rsa.group) == ("computer", "Chrome")
    assert (ec.group_kind, ec.group) == ("computer", "Firefox profile work")
    assert rsa.key.endswith("software key") and ec.choice.entry is not None and ec.choice.is_card
    assert read_snapshot(InventoryConfig()).rows == ()  # only when asked (the GUI asks)

    picker = CertificatePicker()
    qtbot.addWidget(picker)
    picker.set_snapshot(snap)
    tree = picker.tree
    headings = [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())]
    assert sorted(headings) == ["This computer: Chrome", "This computer: Firefox profile work"]


def test_the_database_password_dialog_names_the_database_and_counts_no_tries(qtbot: Any) -> None:
    from app.ui.pin import PinDialog

    dialog = PinDialog(PinRequest("Firefox profile work", PinPurpose.LOGIN, database_password=True))
    qtbot.addWidget(dialog)
    assert dialog.windowTitle() == "Password"  # short (issue 15): the database is named in the prompt
    assert "certificate database <b>Firefox profile work</b>" in dialog.prompt.text()
    assert "PIN" not in dialog.prompt.text() and dialog.warning.text() == ""
