"""The settings dialog: PKCS#11 modules (found and manual), local store folder, extra CA bundle, language."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.i18n import LANGUAGES

if TYPE_CHECKING:
    from app.session.config import AppSettings
    from app.ui.workers import Worker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SavedSettings:
    """What the dialog saved (the controller applies it to the next scan and login)."""

    modules: tuple[str, ...]
    store_folder: str | None
    ca_bundle: str | None
    language: str | None


class SettingsStore:
    """Reads and writes the app settings file through the session layer's config (no secret in it)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = path

    def load(self) -> AppSettings:
        """The AppSettings (defaults when the file is missing or unreadable)."""
        from app.session.config import AppSettings, load_settings

        try:
            return load_settings(self.path)
        except Exception as e:  # a corrupt file is reported by the dialog, never overwritten silently
            # the refusal's own sentence (it names the chmod for a file others can write; no secret in it)
            log.warning("settings not used: %s", e)
            return AppSettings()

    def save(self, settings: AppSettings) -> None:
        """Write the settings (ConfigError if the existing file is corrupt)."""
        from app.session.config import save_settings

        save_settings(settings, self.path)


def discover_modules() -> tuple[str, ...]:
    """PKCS#11 modules found on this system (p11-kit registry, OpenSC defaults); blocking."""
    try:
        from app.tokens import modules
    except ImportError:
        return ()
    found = modules.discover()
    return tuple(m.path for m in found)


class SettingsDialog(QDialog):
    """Edits AppSettings. Discovery runs on the cards worker when one is given."""

    def __init__(
        self, store: SettingsStore | None, parent: QWidget | None = None, *, worker: Worker | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("SettingsDialog")
        self.setWindowTitle(self.tr("Settings"))
        self.store = store or SettingsStore()
        self.settings = self.store.load()
        self.saved: SavedSettings | None = None
        layout = QVBoxLayout(self)

        layout.addWidget(self._build_modules_box())
        for m in self.settings.pkcs11_modules:
            self._add_item(m, manual=True)

        layout.addLayout(self._build_form())
        note = QLabel(self.tr("A new language applies as soon as the settings are saved."))
        note.setWordWrap(True)
        layout.addWidget(note)
        self.error = QLabel()
        self.error.setObjectName("settingsError")
        self.error.setProperty("role", "fieldError")
        self.error.setWordWrap(True)
        self.error.hide()
        layout.addWidget(self.error)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Save).setText(self.tr("&Save"))
        buttons.button(QDialogButtonBox.StandardButton.Save).setDefault(True)
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(self.tr("&Cancel"))
        buttons.accepted.connect(self._save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(560, 440)

        if worker is not None:
            worker.submit(discover_modules, self._found, lambda e: self._found(()), name="discover-modules")
        else:
            self._found(())

    def _build_modules_box(self) -> QGroupBox:
        mod_box = QGroupBox(self.tr("Smart card modules (PKCS#11)"))
        mod_layout = QVBoxLayout(mod_box)
        self.modules = QListWidget()
        self.modules.setObjectName("moduleList")
        mod_layout.addWidget(self.modules)
        self.found_label = QLabel(self.tr("Looking for modules..."))
        self.found_label.setObjectName("foundLabel")
        mod_layout.addWidget(self.found_label)
        row = QHBoxLayout()
        self.add_module = QPushButton(self.tr("A&dd module..."))
        self.add_module.setObjectName("addModule")
        self.remove_module = QPushButton(self.tr("Re&move"))
        self.remove_module.setObjectName("removeModule")
        self.add_module.setAutoDefault(False)
        self.remove_module.setAutoDefault(False)
        self.add_module.clicked.connect(self._add_module)
        self.remove_module.clicked.connect(self._remove_module)
        row.addStretch(1)
        row.addWidget(self.add_module)
        row.addWidget(self.remove_module)
        mod_layout.addLayout(row)
        return mod_box

    def _build_form(self) -> QFormLayout:
        form = QFormLayout()
        self.store_edit = QLineEdit(self.settings.store_folders[0] if self.settings.store_folders else "")
        self.store_edit.setObjectName("storeFolder")
        form.addRow(
            self._label(self.tr("Local certificate &folder:"), self.store_edit),
            self._with_browse(self.store_edit, folder=True),
        )
        self.ca_edit = QLineEdit(self.settings.extra_ca_bundle or "")
        self.ca_edit.setObjectName("caBundle")
        self.ca_edit.setPlaceholderText(self.tr("only if your company inspects TLS traffic"))
        form.addRow(
            self._label(self.tr("Extra C&A bundle:"), self.ca_edit),
            self._with_browse(self.ca_edit, folder=False),
        )
        self.language = QComboBox()
        self.language.setObjectName("language")
        self.language.addItem(self.tr("System language"), "")
        for code, name in LANGUAGES.items():
            self.language.addItem(name, code)
        self.language.setCurrentIndex(max(0, self.language.findData(self.settings.language or "")))
        form.addRow(self._label(self.tr("&Language:"), self.language), self.language)
        # What tray-resident security tools do (VPN clients, password managers): closing the window
        # keeps the session; the tray menu logs out or quits. Off: closing asks first.
        self.close_to_tray = QCheckBox(self.tr("Closing the session window keeps the session in the &tray"))
        self.close_to_tray.setObjectName("closeToTray")
        self.close_to_tray.setChecked(self.settings.extras.get("close_to_tray", True) is not False)
        form.addRow(self.close_to_tray)
        # The local API agent (issue 14): on by default; the profile in ~/.osc/config.json is opt-in.
        self.local_agent = QCheckBox(self.tr("Let my OUTSCALE tools use the session (local API a&gent)"))
        self.local_agent.setObjectName("localAgent")
        self.local_agent.setChecked(self.settings.extras.get("local_agent", True) is not False)
        form.addRow(self.local_agent)
        name = self.settings.extras.get("publish_profile")
        self.publish_profile = QLineEdit(name if isinstance(name, str) else "")
        self.publish_profile.setObjectName("publishProfile")
        self.publish_profile.setPlaceholderText(self.tr("none (osc-trusted-login env / exec)"))
        label = self._label(self.tr("Publish as osc &profile:"), self.publish_profile)
        form.addRow(label, self.publish_profile)
        return form

    def _label(self, text: str, buddy: QWidget) -> QLabel:
        lbl = QLabel(text)
        lbl.setBuddy(buddy)
        return lbl

    def _with_browse(self, edit: QLineEdit, *, folder: bool) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit, 1)
        b = QPushButton(self.tr("Browse..."))
        b.setAutoDefault(False)
        if folder:
            b.clicked.connect(lambda: self._browse_folder(edit))
        else:
            b.clicked.connect(lambda: self._browse_file(edit))
        row.addWidget(b)
        return box

    def _browse_folder(self, edit: QLineEdit) -> None:
        path = QFileDialog.getExistingDirectory(self, self.tr("Choose a folder"), edit.text())
        if path:
            edit.setText(path)

    def _browse_file(self, edit: QLineEdit) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            self.tr("Choose a CA bundle"),
            edit.text(),
            self.tr("Certificates (*.pem *.crt);;All files (*)"),
        )
        if path:
            edit.setText(path)

    def _add_item(self, path: str, *, manual: bool) -> None:
        for i in range(self.modules.count()):
            if self.modules.item(i).data(Qt.ItemDataRole.UserRole) == path:
                return
        text = path if manual else self.tr("%1 (found)").replace("%1", path)
        item = QListWidgetItem(text)
        item.setData(Qt.ItemDataRole.UserRole, path)
        item.setData(Qt.ItemDataRole.UserRole + 1, manual)
        self.modules.addItem(item)

    def _found(self, paths: tuple[str, ...]) -> None:
        for p in paths:
            self._add_item(p, manual=False)
        self.found_label.setText(self.tr("%n module(s) found on this system.").replace("%n", str(len(paths))))

    def _add_module(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            self.tr("Choose a PKCS#11 module"),
            "",
            self.tr("Libraries (*.so *.dylib *.dll);;All files (*)"),
        )
        if path:
            self._add_item(path, manual=True)

    def _remove_module(self) -> None:
        item = self.modules.currentItem()
        if item is not None and item.data(Qt.ItemDataRole.UserRole + 1):
            self.modules.takeItem(self.modules.row(item))

    def manual_modules(self) -> tuple[str, ...]:
        """The module paths added by hand."""
        return tuple(
            self.modules.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.modules.count())
            if self.modules.item(i).data(Qt.ItemDataRole.UserRole + 1)
        )

    def _save(self) -> None:
        ca = self.ca_edit.text().strip() or None
        folder = self.store_edit.text().strip() or None
        if ca and not Path(ca).is_file():
            self.error.setText(self.tr("The CA bundle %1 does not exist.").replace("%1", ca))
            self.error.show()
            return
        if folder and not Path(folder).is_dir():
            self.error.setText(self.tr("The folder %1 does not exist.").replace("%1", folder))
            self.error.show()
            return
        lang = self.language.currentData() or None
        new = replace(
            self.settings,
            pkcs11_modules=self.manual_modules(),
            store_folders=(folder,) if folder else (),
            extra_ca_bundle=ca,
            language=lang,
            extras={**self.settings.extras, "close_to_tray": self.close_to_tray.isChecked(),
                    "local_agent": self.local_agent.isChecked(),
                    "publish_profile": self.publish_profile.text().strip() or None},
        )
        try:
            self.store.save(new)
        except Exception as e:
            from app.ui.errors import describe

            self.error.setText(" ".join(describe(e)))
            self.error.show()
            return
        self.saved = SavedSettings(self.manual_modules(), folder, ca, lang)
        self.accept()
