"""The PIN dialog, and the bridge that lets a worker thread ask for a PIN through it."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtWidgets import QDialog, QWidget

from app.tokens.pin import Pin, PinRequest

if TYPE_CHECKING:
    from app.ui.pin_dialog import PinDialog


def __getattr__(name: str) -> object:
    # `from app.ui.pin import PinDialog` keeps working; the dialog's module loads on first use.
    if name == "PinDialog":
        from app.ui.pin_dialog import PinDialog

        return PinDialog
    raise AttributeError(name)


@dataclass
class _Pending:
    request: PinRequest
    in_place: bool = False  # the dialog stays open for the card's answer (asked again if it is wrong)
    answered: threading.Event = field(default_factory=threading.Event)
    pin: Pin | None = None


class PinBridge(QObject):
    """A PinCallback for the core: called on a worker thread, shows the dialog on the UI thread and
    blocks that worker until the user answers. Returns None when the user cancels."""

    keypad_cancelled = Signal()  # the user cancelled a PIN-pad prompt
    asked = Signal(object)  # PinRequest: emitted on the UI thread when a dialog opens (tests, tray)
    _ask = Signal(object)
    _settle = Signal()
    # Each answer is typed by a person: the core may ask again after a wrong PIN (app.session.deferred).
    asks_the_user = True

    def __init__(self, parent_widget: QWidget | None = None) -> None:
        super().__init__()
        self._parent_widget = parent_widget
        self._lock = threading.Lock()
        self._pending: list[_Pending] = []
        self._closed = False
        self.dialog: PinDialog | None = None
        self._closing_keypad = False
        self.calls = 0  # how many times the core asked (the tests check a wrong PIN is not re-sent)
        self._current: _Pending | None = None  # the request the open dialog answers
        # Emitted on a worker thread, received by this UI-thread object: Qt queues it (AutoConnection).
        self._ask.connect(self._show)
        self._settle.connect(self.settle)

    def set_parent_widget(self, widget: QWidget | None) -> None:
        """The window the dialog is centred on."""
        self._parent_widget = widget

    def __call__(self, request: PinRequest) -> Pin | None:
        """The PinCallback: blocks the calling (worker) thread until the dialog is answered."""
        return self._ask_pin(request, in_place=False)

    def ask_in_place(self, request: PinRequest) -> Pin | None:
        """As a PinCallback, but the dialog stays open until `pin_settled()`: a wrong PIN is asked again
        in it (app.session.deferred.with_pin_retries calls this and then pin_settled)."""
        return self._ask_pin(request, in_place=True)

    def pin_settled(self) -> None:
        """The card answered the last PIN (any thread): close a dialog that waits for it."""
        self._settle.emit()

    def _ask_pin(self, request: PinRequest, *, in_place: bool) -> Pin | None:
        if QThread.currentThread() is self.thread():
            raise RuntimeError("the PIN callback must not be called on the UI thread")
        pending = _Pending(request, in_place)
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
        dlg = self.dialog
        self._current = pending
        if dlg is not None and dlg.checking and pending.in_place and not pending.request.protected_path:
            # The card refused the PIN just typed (or asks it to sign): the same dialog asks again,
            # with the error and the tries left.
            dlg.show_request(pending.request)
            self.asked.emit(pending.request)
            return
        from app.ui.pin_dialog import PinDialog

        dlg = PinDialog(pending.request, self._parent_widget)
        dlg.stay_open = pending.in_place
        self.dialog = dlg

        def submitted() -> None:
            current, self._current = self._current, None
            pin = dlg.take_pin()
            if current is not None:
                self._answer(current, pin)

        def finished(result: int) -> None:
            current, self._current = self._current, None
            if self.dialog is dlg:
                self.dialog = None
            dlg.deleteLater()
            if current is not None:
                self._answer(current, dlg.take_pin() if result == QDialog.DialogCode.Accepted else None)
            if dlg.request.protected_path and not self._closing_keypad:
                # The user cancelled while the reader waits for the keypad: C_Login cannot be
                # interrupted from here, so the controller cancels the login around it.
                self.keypad_cancelled.emit()

        dlg.submitted.connect(submitted)
        dlg.finished.connect(finished)
        dlg.open()
        self.asked.emit(pending.request)

    def settle(self) -> None:
        """The card accepted the PIN (or the step it was for ended): close a dialog that waits for it."""
        dlg = self.dialog
        if dlg is not None and dlg.checking:
            self._closing_keypad = True
            try:
                dlg.done(QDialog.DialogCode.Accepted)
            finally:
                self._closing_keypad = False

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
            self._closing_keypad = True
            try:
                dlg.reject()
            finally:
                self._closing_keypad = False

    def cancel_all(self) -> None:
        """Answer every waiting request with 'cancelled' (on quit), so no worker stays blocked."""
        with self._lock:
            self._closed = True
            pending = list(self._pending)
        for p in pending:
            self._answer(p, None)
        if self.dialog is not None:
            self._closing_keypad = True  # not the user's cancel: no keypad_cancelled
            try:
                self.dialog.reject()
            finally:
                self._closing_keypad = False

    def reopen(self) -> None:
        """Accept requests again after cancel_all (a new login)."""
        with self._lock:
            self._closed = False
