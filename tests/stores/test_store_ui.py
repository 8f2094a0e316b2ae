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


def test_a_store_card_certificate_whose_card_is_out_is_greyed_with_the_reason(qtbot: Any) -> None:
    from app.sandbox.pki import CertificateAuthority
    from app.tokens.inventory import Inventory
    from app.tokens.model import KeyFactor
    from app.tokens.stores.base import StoreInfo, not_present, store_entry
    from app.ui.inventory import rows_from_inventory
    from tests.stores.fakes import der_of

    issued = CertificateAuthority("ui CA").issue_client("card in the Windows store", key_kind="p256")
    entry = store_entry(der_of(issued), StoreInfo("windows", "Windows"), ref="AB", label="card",
                        factor=KeyFactor.POSSESSION)
    out = not_present(entry, "the card holding this key is not in its reader ('Reader 0' is empty)")
    (present,) = rows_from_inventory(Inventory((), (entry,), ()))
    (row,) = rows_from_inventory(Inventory((), (out,), ()))
    assert present.usable and not row.usable
    assert row.problems == ("the card holding its key is not in its reader",
                            "the card holding this key is not in its reader ('Reader 0' is empty)")
