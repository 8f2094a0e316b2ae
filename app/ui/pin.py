"""The PIN dialog, and the bridge that lets a worker thread ask for a PIN through it."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QThread, Signal, Slot
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

        if request.last_error:
            self.error_label = QLabel(_html(request.last_error))
            self.error_label.setObjectName("fieldError")
            self.error_label.setWordWrap(True)
            layout.addWidget(self.error_label)
        else:
            self.error_label = None

        self.warning = QLabel()
        self.warning.setObjectName("pinWarning")
        self.warning.setWordWrap(True)
        if request.final_try or request.tries_left == 1:
            self.warning.setText(
                self.tr(
                    "<b>Last try:</b> one more wrong PIN locks the card. If you are not sure of the PIN, "
                    "cancel and check it first."
                )
            )
        elif request.tries_left is not None:
            self.warning.setText(self.tr("Tries left: %1").replace("%1", str(request.tries_left)))
        elif request.count_low:
            self.warning.setText(
                self.tr("A wrong PIN was typed recently; the card may lock after a few more.")
            )
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

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(self.tr("&Unlock"))
        self.ok_button.setDefault(True)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(self.tr("&Cancel"))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
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

    def take_pin(self) -> Pin | None:
        """The typed PIN wrapped in a Pin, and the field cleared; None when nothing was typed."""
        text = self.pin_edit.text()
        self.pin_edit.clear()
        return Pin(text) if text else None


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass
class _Pending:
    request: PinRequest
    answered: threading.Event = field(default_factory=threading.Event)
    pin: Pin | None = None


class PinBridge(QObject):
    """A PinCallback for the core: called on a worker thread, shows the dialog on the UI thread and
    blocks that worker until the user answers. Returns None when the user cancels."""

    asked = Signal(object)  # PinRequest: emitted on the UI thread when a dialog opens (tests, tray)
    _ask = Signal(object)

    def __init__(self, parent_widget: QWidget | None = None) -> None:
        super().__init__()
        self._parent_widget = parent_widget
        self._lock = threading.Lock()
        self._pending: list[_Pending] = []
        self._closed = False
        self.dialog: PinDialog | None = None
        self.calls = 0  # how many times the core asked (the tests check a wrong PIN is not re-sent)
        # Emitted on a worker thread, received by this UI-thread object: Qt queues it (AutoConnection).
        self._ask.connect(self._show)

    def set_parent_widget(self, widget: QWidget | None) -> None:
        """The window the dialog is centred on."""
        self._parent_widget = widget

    def __call__(self, request: PinRequest) -> Pin | None:
        """The PinCallback: blocks the calling (worker) thread until the dialog is answered."""
        if QThread.currentThread() is self.thread():
            raise RuntimeError("the PIN callback must not be called on the UI thread")
        pending = _Pending(request)
        with self._lock:
            if self._closed:
                return None
            self.calls += 1
            self._pending.append(pending)
        self._ask.emit(pending)
        if request.protected_path:
            # The core ignores our answer and calls C_Login, which waits for the keypad: let it go on.
            return None
        pending.answered.wait()
        return pending.pin

    @Slot(object)
    def _show(self, pending: _Pending) -> None:
        if self._closed:
            self._answer(pending, None)
            return
        dlg = PinDialog(pending.request, self._parent_widget)
        self.dialog = dlg

        def finished(result: int) -> None:
            pin = dlg.take_pin() if result == QDialog.DialogCode.Accepted else None
            if self.dialog is dlg:
                self.dialog = None
            dlg.deleteLater()
            self._answer(pending, pin)

        dlg.finished.connect(finished)
        dlg.open()
        self.asked.emit(pending.request)

    def _answer(self, pending: _Pending, pin: Pin | None) -> None:
        with self._lock:
            if pending in self._pending:
                self._pending.remove(pending)
        pending.pin = pin
        pending.answered.set()

    def close_keypad_prompt(self) -> None:
        """Close a PIN-pad prompt once the card has answered (login done or failed)."""
        dlg = self.dialog
        if dlg is not None and dlg.request.protected_path:
            dlg.reject()

    def cancel_all(self) -> None:
        """Answer every waiting request with 'cancelled' (on quit), so no worker stays blocked."""
        with self._lock:
            self._closed = True
            pending = list(self._pending)
        for p in pending:
            self._answer(p, None)
        if self.dialog is not None:
            self.dialog.reject()

    def reopen(self) -> None:
        """Accept requests again after cancel_all (a new login)."""
        with self._lock:
            self._closed = False
