"""The PIN dialog. Imported when the first PIN is asked, not at start-up."""

from __future__ import annotations

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

    def __init__(self, request: PinRequest, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.request = request
        self.setObjectName("PinDialog")
        self.setWindowTitle(self.tr("PIN for %1").replace("%1", request.token_label))
        self.setModal(True)
        self.setMinimumWidth(380)
        layout = QVBoxLayout(self)

        purpose = {
            PinPurpose.LOGIN: self.tr("Type the PIN of the card <b>%1</b> to log in."),
            PinPurpose.SIGNATURE: self.tr("The card <b>%1</b> asks for its PIN again to sign."),
            PinPurpose.RELOGIN: self.tr("The card <b>%1</b> is back. Type its PIN to resume the session."),
        }[request.purpose].replace("%1", _html(request.token_label))
        self.prompt = QLabel(purpose)
        self.prompt.setObjectName("pinPrompt")
        self.prompt.setWordWrap(True)
        layout.addWidget(self.prompt)

        self.error_label: QLabel | None = None
        if request.last_error:
            self.error_label = QLabel(_html(request.last_error))
            self.error_label.setObjectName("fieldError")
            self.error_label.setWordWrap(True)
            layout.addWidget(self.error_label)

        self.warning = QLabel(self._warning_text(request))
        self.warning.setObjectName("pinWarning")
        self.warning.setWordWrap(True)
        self.warning.setVisible(bool(self.warning.text()))
        layout.addWidget(self.warning)

        form = QFormLayout()
        self.pin_edit = QLineEdit()
        self.pin_edit.setObjectName("pinEdit")
        self.pin_edit.setEchoMode(QLineEdit.EchoMode.Password)
        # Password echo mode keeps the PIN out of input-method prediction; no context menu, so no
        # "copy" (Qt disables it in password mode anyway) or "paste" of a PIN from a clipboard history.
        from PySide6.QtCore import Qt

        self.pin_edit.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        pin_label = QLabel(self.tr("&PIN:"))
        pin_label.setBuddy(self.pin_edit)
        form.addRow(pin_label, self.pin_edit)
        layout.addLayout(form)

        self.buttons = self._build_buttons()
        layout.addWidget(self.buttons)

        if request.protected_path:
            # PIN-pad reader: the PIN never passes through this program. Only Cancel remains useful.
            self.prompt.setText(
                self.tr("Enter the PIN of <b>%1</b> on the card reader's keypad.").replace(
                    "%1", _html(request.token_label)
                )
            )
            pin_label.hide()
            self.pin_edit.hide()
            self.ok_button.hide()
        else:
            self.ok_button.setEnabled(False)
            self.pin_edit.textChanged.connect(lambda t: self.ok_button.setEnabled(bool(t)))
            self.pin_edit.setFocus()
        if request.database_password:
            # a browser's certificate database (NSS): its password, under its name; no lockout there,
            # so nothing is said of tries
            name = _html(request.token_label)
            self.setWindowTitle(self.tr("Password of %1").replace("%1", request.token_label))
            self.prompt.setText(self.tr("Type the password of the certificate database <b>%1</b>.")
                                .replace("%1", name))
            pin_label.setText(self.tr("&Password:"))

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
