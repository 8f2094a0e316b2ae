"""The certificates flow: the picker, its live refresh while open (inventory polling), and 'Add file...'."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from app.ui.errors import describe
from app.ui.inventory import InventoryConfig
from app.ui.login import LoginWindow
from app.ui.workers import Worker

if TYPE_CHECKING:
    from app.session.model import Secret
    from app.ui.picker import CertificatePicker, CertRow, InventorySnapshot


class CertificatesFlow(QObject):
    """Opens the picker over the login window and keeps it fed with scans of cards and stores."""

    inventory_loaded = Signal(object)  # InventorySnapshot
    settings_requested = Signal()  # the picker's "Settings..." (a module failed to load)

    def __init__(
        self,
        window: LoginWindow,
        cards: Worker,
        config: Callable[[], InventoryConfig],
        *,
        poll_ms: int,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.window = window
        self.cards = cards
        self._config = config  # read at each scan: the settings dialog may change it
        # SHA-256 of the last certificate used (app.py reads the settings file; not a secret)
        self.last_used: Callable[[], str | None] = lambda: None
        self.picker: CertificatePicker | None = None
        self._scan_running = False
        self._timer = QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self.refresh_inventory)
        window.choose_certificate.connect(self.open_picker)

    def open_picker(self) -> None:
        """Open the certificate picker; it refreshes itself while open."""
        if self.picker is not None:
            self.picker.raise_()
            return
        from app.ui.picker import CertificatePicker

        picker = CertificatePicker(self.window)
        self.picker = picker
        picker.preferred_fingerprint = self.last_used()
        picker.settings_requested.connect(self.settings_requested)
        picker.refresh_requested.connect(self.refresh_inventory)
        picker.file_added.connect(self._add_file)
        picker.finished.connect(lambda result: self._picker_closed(picker, result))
        picker.open()
        self.refresh_inventory()
        self._timer.start()

    def _picker_closed(self, picker: CertificatePicker, result: int) -> None:
        self._timer.stop()
        self.picker = None
        chosen = picker.chosen if result else None
        picker.deleteLater()
        if chosen is not None:
            self.window.set_certificate(chosen.picked())
        else:
            self.window.set_certificate(self.window.certificate)  # keeps it; drops a pending login

    def refresh_inventory(self) -> None:
        """Scan cards and stores on the cards worker (skipped while a scan is running)."""
        if self._scan_running:
            return
        self._scan_running = True
        cfg = self._config()
        from app.ui.inventory import read_snapshot

        self.cards.submit(
            lambda: read_snapshot(cfg), self._inventory_done, self._inventory_error, name="inventory"
        )

    def _inventory_done(self, snapshot: InventorySnapshot) -> None:
        self._scan_running = False
        if self.picker is not None:
            self.picker.set_snapshot(snapshot)
        self.inventory_loaded.emit(snapshot)

    def _inventory_error(self, e: BaseException) -> None:
        self._scan_running = False
        if self.picker is not None:
            self.picker.set_status(" ".join(describe(e)))

    def _add_file(self, path: str, password: Secret | None) -> None:
        ca = self._config().account_ca_subjects

        def done(rows: tuple[CertRow, ...]) -> None:
            if self.picker is not None:
                self.picker.set_status("")
                self.picker.add_file_rows(rows)

        def failed(e: BaseException) -> None:
            if self.picker is None:
                return
            title, text = describe(e)
            from app.tokens.errors import StorePasswordIncorrect

            if isinstance(e, StorePasswordIncorrect):
                self.picker.set_status(text)
                self.picker.ask_file_password(path, error=text)
            else:
                self.picker.set_status(f"{title}: {text}")

        from app.ui.inventory import read_file

        self.cards.submit(lambda: read_file(path, password, ca), done, failed, name="read-file")

    def stop(self) -> None:
        """Stop the live refresh (the app is shutting down)."""
        self._timer.stop()
