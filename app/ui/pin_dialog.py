"""The PIN dialog. Imported when the first PIN is asked, not at start-up.

It stays open while the card checks a PIN: a wrong PIN comes back into the same dialog with the error
and the tries left (`show_request`), and the user types again; nothing is re-sent for the user.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.tokens.pin import Pin, PinPurpose, PinRequest


class PinDialog(QDialog):
    """Asks for a card's PIN. Starts empty every time: a PIN is never filled in or re-sent for the user."""

    submitted = Signal()  # Unlock pressed: the PIN is taken with take_pin(); the dialog waits for the card

    def __init__(self, request: PinRequest, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.request = request
        self.checking = False  # a PIN was handed to the card and its answer is awaited
        self.stay_open = False  # True: Unlock keeps the dialog open for the card's answer (PinBridge)
        self.setObjectName("PinDialog")
        self.setModal(True)
        self.setMinimumWidth(380)
        layout = QVBoxLayout(self)
        self.prompt = QLabel()
        self.prompt.setObjectName("pinPrompt")
        self.prompt.setWordWrap(True)
        layout.addWidget(self.prompt)

        self.error_label = QLabel()
        self.error_label.setObjectName("fieldError")
        self.error_label.setWordWrap(True)
        self.error_label.setAccessibleName(self.tr("PIN error"))
        layout.addWidget(self.error_label)

        self.warning = QLabel()
        self.warning.setObjectName("pinWarning")
        self.warning.setWordWrap(True)
        self.warning.setAccessibleName(self.tr("PIN tries"))
        layout.addWidget(self.warning)

        form = QFormLayout()
        self.pin_edit = QLineEdit()
        self.pin_edit.setObjectName("pinEdit")
        self.pin_edit.setEchoMode(QLineEdit.EchoMode.Password)
        # Password echo mode keeps the PIN out of input-method prediction; no context menu, so no
        # "copy" (Qt disables it in password mode anyway) or "paste" of a PIN from a clipboard history.
        self.pin_edit.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.pin_label = QLabel()
        self.pin_label.setBuddy(self.pin_edit)
        form.addRow(self.pin_label, self.pin_edit)
        layout.addLayout(form)

        self.checking_label = QLabel(self.tr("Checking the PIN with the card..."))
        self.checking_label.setObjectName("pinChecking")
        self.checking_label.setWordWrap(True)
        self.checking_label.hide()
        layout.addWidget(self.checking_label)

        self.buttons = self._build_buttons()
        layout.addWidget(self.buttons)
        self.pin_edit.textChanged.connect(
            lambda t: self.ok_button.setEnabled(bool(t) and not self.checking))
        self.show_request(request)

    def show_request(self, request: PinRequest) -> None:
        """Show `request` (the first one, or the next one after a wrong PIN): empty field, fresh tries."""
        self.request = request
        self.checking = False
        label = _html(request.token_label)
        # Short titles: the window manager appends the application's name (and cut long ones).
        self.setWindowTitle(self.tr("Password") if request.database_password else self.tr("PIN"))
        prompt = {
            PinPurpose.LOGIN: self.tr("Type the PIN of the card <b>%1</b> to log in."),
            PinPurpose.SIGNATURE: self.tr("The card <b>%1</b> asks for its PIN again to sign."),
            PinPurpose.RELOGIN: self.tr("The card <b>%1</b> is back. Type its PIN to resume the session."),
        }[request.purpose]
        self.pin_label.setText(self.tr("&PIN:"))
        if request.protected_path:
            # PIN-pad reader: the PIN never passes through this program. Only Cancel remains useful.
            prompt = self.tr("Enter the PIN of <b>%1</b> on the card reader's keypad.")
        elif request.database_password:
            # a browser's certificate database (NSS): its password, under its name; no lockout there,
            # so nothing is said of tries
            prompt = self.tr("Type the password of the certificate database <b>%1</b>.")
            self.pin_label.setText(self.tr("&Password:"))
        self.prompt.setText(prompt.replace("%1", label))
        self.error_label.setText(_html(request.last_error or ""))
        self.error_label.setVisible(bool(request.last_error))
        self.warning.setText("" if request.database_password else self._warning_text(request))
        self.warning.setVisible(bool(self.warning.text()))
        self.checking_label.hide()
        for w in (self.pin_label, self.pin_edit, self.ok_button):
            w.setVisible(not request.protected_path)
        self.pin_edit.clear()
        self.pin_edit.setEnabled(True)
        self.ok_button.setEnabled(False)
        self.pin_edit.setFocus()
        # a screen reader announces the error and the tries left with the dialog
        said = (self.error_label.text(), self.warning.text())
        self.setAccessibleDescription(" ".join(t for t in said if t))
        self.adjustSize()

    def set_checking(self) -> None:
        """Unlock was pressed: the field and Unlock are disabled until the card answers."""
        self.checking = True
        self.pin_edit.setEnabled(False)
        self.ok_button.setEnabled(False)
        self.checking_label.show()

    def accept(self) -> None:
        """Hand the PIN over but stay open (a wrong PIN comes back here); a PIN pad closes as before."""
        if self.request.protected_path or not self.stay_open:
            super().accept()
            return
        if self.checking or not self.pin_edit.text():
            return
        self.set_checking()
        self.submitted.emit()

    def _warning_text(self, request: PinRequest) -> str:
        if request.final_try or request.tries_left == 1:
            return self.tr(
                "<b>Last try:</b> one more wrong PIN locks the card. If you are not sure of the PIN, "
                "cancel and check it first."
            )
        if request.tries_left is not None:
            return self.tr("Tries left: %1").replace("%1", str(request.tries_left))
        if request.count_low:
            return self.tr("A wrong PIN was typed recently; the card may lock after a few more.")
        return ""

    def _build_buttons(self) -> QDialogButtonBox:
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(self.tr("&Unlock"))
        self.ok_button.setDefault(True)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(self.tr("&Cancel"))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        return self.buttons

    def take_pin(self) -> Pin | None:
        """The typed PIN wrapped in a Pin, and the field cleared; None when nothing was typed."""
        text = self.pin_edit.text()
        self.pin_edit.clear()
        return Pin(text) if text else None


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
