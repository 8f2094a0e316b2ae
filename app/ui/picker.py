"""The certificate picker: certificates from every card and file, grouped by where they are."""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QPalette
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.session.model import CertificateChoice
from app.ui.login import PickedCertificate


@dataclass(frozen=True)
class CertRow:
    """One certificate as the picker shows it (built from the token layer's CertificateEntry)."""

    group: str  # "Demo card (SoftHSM2)" or a file path: the source it is listed under
    group_kind: str  # "card", "file" or "computer" (a store of this computer: NSS, Windows, keychain)
    title: str  # subject common name (or the whole subject)
    subject: str
    issuer: str
    expires: str  # YYYY-MM-DD
    key: str  # "RSA 2048", "EC 256"
    usable: bool
    problems: tuple[str, ...]
    choice: CertificateChoice = field(repr=False)
    fingerprint: str = ""
    matches_account: bool = False  # issued by one of the account's CAs (when known)

    def picked(self) -> PickedCertificate:
        """What the login window shows once chosen."""
        return PickedCertificate(self.choice, self.title, f"{self.group} - {self.issuer}")


@dataclass(frozen=True)
class InventorySnapshot:
    """Everything the picker lists at one moment; compared to decide whether the view must change."""

    rows: tuple[CertRow, ...] = ()
    problems: tuple[str, ...] = ()  # modules that could not be loaded etc., in plain words
    readers: int | None = None  # slots (readers) the card modules report; None: none could say

    def key(self) -> tuple[object, ...]:
        """What identifies this snapshot's content (rows compare without their secrets)."""
        return (
            tuple((r.group, r.fingerprint, r.usable, r.problems, r.matches_account) for r in self.rows),
            self.problems,
        )


ROW_ROLE = Qt.ItemDataRole.UserRole + 1


class CertificatePicker(QDialog):
    """Lists certificates; Add file... asks for the file's password; live-updated by `set_snapshot`."""

    refresh_requested = Signal()
    file_added = Signal(str, object)  # path, Secret | None: the controller loads it on a worker
    settings_requested = Signal()  # "Settings..." next to a module that failed to load

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("CertificatePicker")
        self.setWindowTitle(self.tr("Choose a certificate"))
        self.resize(760, 420)
        self.chosen: CertRow | None = None
        self._snapshot = InventorySnapshot()
        self._file_rows: list[CertRow] = []
        # What the tree shows now, so that a new snapshot touches only what changed.
        self._items: dict[tuple[str, str, str], QTreeWidgetItem] = {}
        self._groups: dict[tuple[str, str], QTreeWidgetItem] = {}
        self._rendered: tuple[object, ...] = ()
        self._rendered_problems: tuple[str, ...] = ()
        self._rendered_readers: int | None = None
        self.password_dialog: QInputDialog | None = None
        self.details_box: QMessageBox | None = None
        self.preferred_fingerprint: str | None = None  # the last certificate used: selected when listed

        layout = QVBoxLayout(self)
        intro = QLabel(
            self.tr(
                "Certificates on your cards and in your files. Insert a card and it appears here. "
                "Greyed certificates cannot be used; the reason is shown."
            )
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)

        self.tree = QTreeWidget()
        self.tree.setObjectName("certificateTree")
        self.tree.setHeaderLabels(
            [self.tr("Certificate"), self.tr("Issuer"), self.tr("Expires"), self.tr("Key"), self.tr("Status")]
        )
        self.tree.setRootIsDecorated(True)
        self.tree.setUniformRowHeights(True)
        self.tree.header().setStretchLastSection(True)
        self.tree.itemSelectionChanged.connect(self._selection_changed)
        self.tree.itemDoubleClicked.connect(lambda *_: self._accept_if_usable())
        # The list and its "nothing found" text share one place: the dialog does not jump when it empties.
        self.empty = QLabel(self.tr("No certificate found. Insert a card, or add a certificate file."))
        self.empty.setObjectName("emptyLabel")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.tree)
        self.stack.addWidget(self.empty)
        layout.addWidget(self.stack, 1)
        problems = QHBoxLayout()
        self.problem_label = QLabel()
        self.problem_label.setObjectName("inventoryProblems")
        self.problem_label.setWordWrap(True)
        self.problem_label.setAccessibleName(self.tr("Card software problems"))
        self.settings_button = QPushButton(self.tr("&Settings..."))
        self.settings_button.setObjectName("pickerSettings")
        self.settings_button.setAutoDefault(False)
        self.settings_button.clicked.connect(self.settings_requested)
        problems.addWidget(self.problem_label, 1)
        problems.addWidget(self.settings_button)
        self.problem_label.hide()
        self.settings_button.hide()
        layout.addLayout(problems)

        self._build_buttons(layout)
        self.status = QLabel(self.tr("Looking for certificates..."))
        self.status.setObjectName("pickerStatus")
        layout.addWidget(self.status)
        self.tree.setFocus()

    def _build_buttons(self, layout: QVBoxLayout) -> None:
        """Cancel, Details, Add file, Refresh, Use this certificate."""
        self.buttons = QDialogButtonBox()
        self.add_button = QPushButton(self.tr("&Add file..."))
        self.add_button.setObjectName("addFile")
        self.add_button.setAutoDefault(False)
        self.refresh_button = QPushButton(self.tr("&Refresh"))
        self.refresh_button.setObjectName("refresh")
        self.refresh_button.setAutoDefault(False)
        self.use_button = QPushButton(self.tr("&Use this certificate"))
        self.use_button.setObjectName("useCertificate")
        self.use_button.setDefault(True)
        self.use_button.setEnabled(False)
        self.details_button = QPushButton(self.tr("&Details..."))
        self.details_button.setObjectName("certificateDetails")
        self.details_button.setAutoDefault(False)
        self.details_button.setEnabled(False)
        self.details_button.clicked.connect(self.show_details)
        self.buttons.addButton(self.details_button, QDialogButtonBox.ButtonRole.ActionRole)
        cancel = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setText(self.tr("&Cancel"))
        self.buttons.addButton(self.add_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.addButton(self.refresh_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.addButton(self.use_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self._accept_if_usable)
        self.buttons.rejected.connect(self.reject)
        self.add_button.clicked.connect(self._add_file)
        self.refresh_button.clicked.connect(self.refresh_requested)
        layout.addWidget(self.buttons)

    # -- content --------------------------------------------------------------------------------------

    def set_snapshot(self, snapshot: InventorySnapshot) -> None:
        """Show a new inventory (cards + local store); keeps the selection when it is still there."""
        self._snapshot = snapshot
        self._render()

    def add_file_rows(self, rows: tuple[CertRow, ...]) -> None:
        """Rows read from a file the user added (kept across inventory refreshes)."""
        known = {(r.group, r.fingerprint) for r in self._file_rows}
        self._file_rows.extend(r for r in rows if (r.group, r.fingerprint) not in known)
        self._render()
        for r in rows:
            if r.usable:
                self.select_fingerprint(r.fingerprint)
                break

    def set_status(self, text: str) -> None:
        """A line under the list (e.g. 'Reading the file...', an error)."""
        self.status.setText(text)

    def rows(self) -> list[CertRow]:
        """Every row shown, in display order."""
        out = []
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            for j in range(group.childCount()):
                out.append(group.child(j).data(0, ROW_ROLE))
        return out

    def select_fingerprint(self, fingerprint: str) -> bool:
        """Select the row of this certificate; False when it is not listed."""
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            for j in range(group.childCount()):
                item = group.child(j)
                if item.data(0, ROW_ROLE).fingerprint.lower() == fingerprint.lower():
                    self.tree.setCurrentItem(item)
                    return True
        return False

    def _render(self) -> None:
        """Bring the tree to the current rows, touching only what changed since the last render.

        The inventory is polled every few seconds for as long as the picker is open: an unchanged
        snapshot must cost no widget call at all (each binding call has a cost, and PySide6 6.12.0 on
        CPython 3.11 leaked a reference of None per call: see app/ui/binding_guard.py)."""
        rows = list(self._snapshot.rows) + self._file_rows
        # Account-CA matches first, then usable ones, then by name; groups ordered by their best row.
        rows.sort(key=lambda r: (not r.matches_account, not r.usable, r.title.lower()))
        layout = tuple((_row_key(r), _looks(r)) for r in rows)
        if (layout == self._rendered and self._snapshot.problems == self._rendered_problems
                and self._snapshot.readers == self._rendered_readers):
            return
        keep = self._selected_fingerprint()
        self._place_rows(rows)
        self._rendered = layout
        if self._snapshot.problems != self._rendered_problems:
            self._rendered_problems = self._snapshot.problems
            self.problem_label.setText(self.tr("%1 Check the card software in Settings.")
                                       .replace("%1", "\n".join(self._snapshot.problems)))
            self.problem_label.setVisible(bool(self._snapshot.problems))
            self.settings_button.setVisible(bool(self._snapshot.problems))
        self._rendered_readers = self._snapshot.readers
        self._say_why_empty(rows)
        self.stack.setCurrentWidget(self.tree if rows else self.empty)
        if self.status.text() == self.tr("Looking for certificates..."):
            self.status.setText("")
        preferred = self.preferred_fingerprint  # the last certificate used, once listed
        if keep is None and preferred and self.select_fingerprint(preferred):
            keep = preferred
        if keep is None or not self.select_fingerprint(keep):
            first = next((r for r in rows if r.usable), None)
            if first is not None:
                self.select_fingerprint(first.fingerprint)
        self._selection_changed()

    def _say_why_empty(self, rows: list[CertRow]) -> None:
        """No certificate: because the card software failed to load, there is no reader, or no card."""
        if rows:
            return
        if self._snapshot.problems:
            self.empty.setText(self.tr("No certificate found: the card software could not be loaded (see "
                                       "below). Fix it in Settings, or add a certificate file."))
        elif self._snapshot.readers == 0:
            self.empty.setText(self.tr("No card reader found. Connect the reader, insert the card, or "
                                       "add a certificate file."))
        else:
            self.empty.setText(self.tr("No card found. Insert a card in its reader, or add a certificate "
                                       "file."))

    def _place_rows(self, rows: list[CertRow]) -> None:
        """Add, update, move or drop items so that the tree lists `rows` in order, under their groups."""
        wanted = {_row_key(r) for r in rows}
        for key in [k for k in self._items if k not in wanted]:
            item = self._items.pop(key)
            parent = item.parent()
            if parent is not None:
                parent.removeChild(item)
        order: list[tuple[str, str]] = []
        children: dict[tuple[str, str], list[QTreeWidgetItem]] = {}
        for r in rows:
            gkey = (r.group_kind, r.group)
            if gkey not in children:
                order.append(gkey)
                children[gkey] = []
            item = self._items.get(_row_key(r))
            if item is None:
                item = QTreeWidgetItem()
                self._items[_row_key(r)] = item
                self._fill(item, r)
            elif _looks(item.data(0, ROW_ROLE)) != _looks(r):
                self._fill(item, r)
            else:
                item.setData(0, ROW_ROLE, r)  # the same look; its choice may carry a fresh handle
            children[gkey].append(item)
        for gkey in [g for g in self._groups if g not in children]:
            group = self._groups.pop(gkey)
            self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(group))
        groups_moved = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())] != [
            self._groups.get(g) for g in order
        ]
        for index, gkey in enumerate(order):
            group = self._groups.get(gkey) or self._new_group(gkey)
            if groups_moved:
                self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(group))
                self.tree.insertTopLevelItem(index, group)
                group.setFirstColumnSpanned(True)
            now = [group.child(j) for j in range(group.childCount())]
            if now != children[gkey]:
                group.takeChildren()
                group.addChildren(children[gkey])
            group.setExpanded(True)
        for c in range(4):
            self.tree.resizeColumnToContents(c)

    def _new_group(self, gkey: tuple[str, str]) -> QTreeWidgetItem:
        kind, name = gkey
        heading = {"card": self.tr("Card: %1"), "computer": self.tr("This computer: %1")}.get(
            kind, self.tr("File: %1"))
        group = QTreeWidgetItem([heading.replace("%1", name)])
        group.setFlags(Qt.ItemFlag.ItemIsEnabled)
        font = group.font(0)
        font.setBold(True)
        group.setFont(0, font)
        self.tree.addTopLevelItem(group)
        group.setFirstColumnSpanned(True)
        self._groups[gkey] = group
        return group

    def _fill(self, item: QTreeWidgetItem, r: CertRow) -> None:
        if r.usable:
            status = self.tr("Matches this account") if r.matches_account else self.tr("Usable")
        else:
            status = "; ".join(r.problems) or self.tr("Not usable")
        tip = f"{r.subject}\n{self.tr('Issuer')}: {r.issuer}\nSHA-256: {r.fingerprint}"
        if r.problems:
            tip += "\n" + "\n".join(r.problems)
        grey = self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        normal = self.palette().color(QPalette.ColorGroup.Active, QPalette.ColorRole.Text)
        columns = (r.title, _cn(r.issuer), r.expires, r.key, status)
        for c, text in enumerate(columns):
            item.setText(c, text)
            item.setToolTip(c, tip)
            # Unusable rows are greyed and say why; the reason itself keeps the full text colour, the
            # grey (about 2:1 on a dark base) being too faint to read.
            item.setForeground(c, QBrush(normal if r.usable or c == len(columns) - 1 else grey))
        # Every row takes focus, so that the reason of an unusable one can be read with the keyboard
        # and a screen reader; "Use this certificate" stays off for it.
        item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
        item.setData(0, Qt.ItemDataRole.AccessibleTextRole,
                     f"{r.title}: {status}" if r.usable else self.tr("%1, not usable: %2")
                     .replace("%1", r.title).replace("%2", status))
        item.setData(0, ROW_ROLE, r)

    def _selected_fingerprint(self) -> str | None:
        current = self.tree.currentItem()
        row = current.data(0, ROW_ROLE) if current is not None else None
        return row.fingerprint if isinstance(row, CertRow) else None

    def _selected_row(self) -> CertRow | None:
        item = self.tree.currentItem()
        row = item.data(0, ROW_ROLE) if item is not None else None
        return row if isinstance(row, CertRow) and item.isSelected() else None

    def _selection_changed(self) -> None:
        row = self._selected_row()
        self.use_button.setEnabled(row is not None and row.usable)
        self.details_button.setEnabled(row is not None)

    def show_details(self) -> None:
        """The selected certificate as browsers show it: issued to / by, validity, where it is, SHA-256."""
        row = self._selected_row()
        if row is None:
            return
        fingerprint = ":".join(row.fingerprint[i:i + 2] for i in range(0, len(row.fingerprint), 2)).upper()
        lines = [(self.tr("Issued to"), row.subject), (self.tr("Issued by"), row.issuer),
                 (self.tr("Valid until"), row.expires), (self.tr("Key"), row.key),
                 (self.tr("Stored in"), row.group), (self.tr("SHA-256 fingerprint"), fingerprint)]
        if row.problems:
            lines.append((self.tr("Cannot be used"), "; ".join(row.problems)))
        text = "\n".join(f"{k}: {v}" for k, v in lines)
        box = QMessageBox(QMessageBox.Icon.Information, self.tr("Certificate details"), row.title,
                          QMessageBox.StandardButton.Close, self)
        box.setObjectName("certificateDetailsBox")
        box.setInformativeText(text)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.setAccessibleDescription(text)
        self.details_box = box
        box.open()

    def _accept_if_usable(self) -> None:
        row = self._selected_row()
        if row is None or not row.usable:
            return
        self.chosen = row
        self.accept()

    def _add_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            self.tr("Add a certificate file"),
            "",
            self.tr("Certificates (*.p12 *.pfx *.pem *.crt *.key);;All files (*)"),
        )
        if not path:
            return
        self.ask_file_password(path)

    def ask_file_password(self, path: str, error: str | None = None) -> QInputDialog:
        """Ask for the password of a PKCS#12/PEM file (empty = none), then hand it to the controller.
        Non-blocking (open(), not exec()): the picker keeps refreshing while the prompt is up."""
        from app.session.model import Secret

        prompt = self.tr("Password of %1 (leave empty if it has none):").replace("%1", path)
        if error:
            prompt = error + "\n\n" + prompt
        dlg = QInputDialog(self)
        dlg.setObjectName("filePasswordDialog")
        dlg.setWindowTitle(self.tr("File password"))
        dlg.setLabelText(prompt)
        dlg.setTextEchoMode(QLineEdit.EchoMode.Password)
        self.password_dialog = dlg

        def done(result: int) -> None:
            text = dlg.textValue()
            dlg.setTextValue("")
            self.password_dialog = None
            dlg.deleteLater()
            if result != QDialog.DialogCode.Accepted:
                return
            self.set_status(self.tr("Reading %1...").replace("%1", path))
            self.file_added.emit(path, Secret(text) if text else None)

        dlg.finished.connect(done)
        dlg.open()
        return dlg


def _row_key(r: CertRow) -> tuple[str, str, str]:
    """A row's identity in the tree: where it is listed and which certificate it is."""
    return (r.group_kind, r.group, r.fingerprint.lower())


def _looks(r: CertRow) -> tuple[object, ...]:
    """Everything the tree shows of a row (its choice, a handle for the core, is not shown)."""
    return (r.title, r.issuer, r.subject, r.expires, r.key, r.usable, r.problems, r.matches_account)


def _cn(name: str) -> str:
    for part in name.split(","):
        k, _, v = part.strip().partition("=")
        if k.upper() == "CN" and v:
            return v
    return name
