"""PC/SC reader state (ctypes on libpcsclite): the trigger of the event-driven card watch.

`ReaderStates.wait()` blocks in SCardGetStatusChange on every reader (and on pcsc-lite's "\\\\?PnP?\\\\
Notification" pseudo reader, so that readers plugged in or pulled out count too) until a card or a
reader changes; `cancel()` (SCardCancel, meant to be called from another thread) ends the wait. It talks
to pcscd only: the card sees nothing. This is the same reader state OpenSC's own C_WaitForSlotEvent
waits on; we wait here instead of inside OpenSC because OpenSC 0.23 deadlocks when one thread blocks in
C_WaitForSlotEvent while another calls into the module (see docs/DECISIONS.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading

log = logging.getLogger(__name__)

SCARD_SCOPE_USER = 0
SCARD_STATE_UNAWARE = 0x0000
SCARD_STATE_CHANGED = 0x0002
SCARD_STATE_PRESENT = 0x0020
SCARD_STATE_INUSE = 0x0100
SCARD_STATE_EXCLUSIVE = 0x0080
SCARD_E_CANCELLED = 0x80100002
SCARD_E_TIMEOUT = 0x8010000A
SCARD_E_NO_READERS_AVAILABLE = 0x8010002E
INFINITE = 0xFFFFFFFF
PNP = b"\\\\?PnP?\\Notification"
# bits that change when a program merely uses the card (ours included): not a reason to look again
_USE_BITS = SCARD_STATE_CHANGED | SCARD_STATE_INUSE | SCARD_STATE_EXCLUSIVE


class _ReaderState(ctypes.Structure):
    _fields_ = [("reader", ctypes.c_char_p), ("user", ctypes.c_void_p), ("current", ctypes.c_ulong),
                ("event", ctypes.c_ulong), ("atr_len", ctypes.c_ulong), ("atr", ctypes.c_ubyte * 33)]


def _load() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("pcsclite") or "libpcsclite.so.1"
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


class ReaderStates:
    """One PC/SC context that waits for reader/card changes (not thread-safe except `cancel`)."""

    def __init__(self) -> None:
        lib = _load()
        if lib is None:
            raise OSError("libpcsclite is not installed")
        self._lib = lib
        self._ctx = ctypes.c_long(0)
        self._known: dict[bytes, int] = {}  # reader -> last event state (the "current" of the next wait)
        self._lock = threading.Lock()
        self._open = False
        self._primed = False
        self._establish()

    @classmethod
    def available(cls) -> bool:
        """Whether a PC/SC service answers (pcscd running, reachable)."""
        try:
            cls().close()
            return True
        except OSError:
            return False

    def _establish(self) -> None:
        ctx = ctypes.byref(self._ctx)
        rv = self._lib.SCardEstablishContext(SCARD_SCOPE_USER, None, None, ctx) & 0xFFFFFFFF
        if rv:
            raise OSError(f"SCardEstablishContext: 0x{rv:08X}")
        self._open = True
        self._primed = False
        self.swapped = False  # a reader's card was replaced between two waits (see EventPump)
        self._known.clear()

    def close(self) -> None:
        """Release the context (a wait in progress returns)."""
        with self._lock:
            if self._open:
                self._open = False
                self._lib.SCardCancel(self._ctx)
                self._lib.SCardReleaseContext(self._ctx)

    def cancel(self) -> None:
        """End a wait in progress (from any thread)."""
        with self._lock:
            if self._open:
                self._lib.SCardCancel(self._ctx)

    def _readers(self) -> list[bytes]:
        size = ctypes.c_ulong(0)
        rv = self._lib.SCardListReaders(self._ctx, None, None, ctypes.byref(size)) & 0xFFFFFFFF
        if rv == SCARD_E_NO_READERS_AVAILABLE or (rv == 0 and size.value == 0):
            return []
        if rv:
            raise OSError(f"SCardListReaders: 0x{rv:08X}")
        buf = ctypes.create_string_buffer(size.value)
        rv = self._lib.SCardListReaders(self._ctx, None, buf, ctypes.byref(size)) & 0xFFFFFFFF
        if rv:
            raise OSError(f"SCardListReaders: 0x{rv:08X}")
        return [r for r in buf.raw[:size.value].split(b"\0") if r]

    def wait(self) -> bool:
        """Block until a card or a reader changes: True; False when cancelled. OSError when PC/SC
        fails (pcscd gone: the caller backs off and makes a new ReaderStates)."""
        while True:
            if not self._open:
                return False
            names = [*self._readers(), PNP]
            states = (_ReaderState * len(names))()
            for i, n in enumerate(names):
                states[i].reader = n
                states[i].current = self._known.get(n, SCARD_STATE_UNAWARE)
            new_names = [n for n in names if n not in self._known]
            rv = self._lib.SCardGetStatusChange(self._ctx, ctypes.c_ulong(INFINITE), states,
                                                ctypes.c_ulong(len(names))) & 0xFFFFFFFF
            if rv == SCARD_E_CANCELLED:
                return False
            if rv and rv != SCARD_E_TIMEOUT:
                raise OSError(f"SCardGetStatusChange: 0x{rv:08X}")
            changed = False
            for i, n in enumerate(names):
                new = int(states[i].event) & ~SCARD_STATE_CHANGED
                old = self._known.get(n)
                if old is not None and (old & ~_USE_BITS) != (new & ~_USE_BITS):
                    changed = True
                    if n != PNP and old & new & SCARD_STATE_PRESENT and (new >> 16) - (old >> 16) >= 2:
                        self.swapped = True  # out and in again since we last looked: maybe another card
                self._known[n] = new
            gone = set(self._known) - set(names)
            for n in gone:
                del self._known[n]
            report = self._primed and bool(changed or gone or new_names)
            self._primed = True  # the first round only learns the states
            if report:
                return True
