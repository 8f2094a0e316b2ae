"""PC/SC reader state (ctypes on libpcsclite): the trigger of the event-driven card watch.

`ReaderStates.wait()` blocks in SCardGetStatusChange on every reader (and on pcsc-lite's "\\\\?PnP?\\\\
Notification" pseudo reader, so that readers plugged in or pulled out count too) until a card or a
reader changes; `cancel()` (SCardCancel, meant to be called from another thread) ends the wait. It talks
to pcscd only: the card sees nothing. This is the same reader state OpenSC's own C_WaitForSlotEvent
waits on; we wait here instead of inside OpenSC because OpenSC 0.23 deadlocks when one thread blocks in
C_WaitForSlotEvent while another calls into the module (see docs/DECISIONS.md).

The library is a parameter (`PcscAbi`): libpcsclite here, winscard.dll on Windows and PCSC.framework on
macOS, whose DWORD, SCARDCONTEXT, ATR buffer and packing differ. `status()` reads one reader's state
(card present, ATR, pcsc-lite/Windows event counter) without waiting: the presence check of a card
whose key an OS store holds (app.tokens.stores.card_watch).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import sys
import threading
from dataclasses import dataclass
from typing import Any

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
_ANSI = ("SCardListReaders", "SCardGetStatusChange")  # winscard's "A" entry points


@dataclass(frozen=True)
class PcscAbi:
    """Where the PC/SC library is and how its types are laid out (pcsc-lite, winscard, PCSC.framework)."""

    library: str
    dword: Any = ctypes.c_ulong  # pcsc-lite: unsigned long; Windows and macOS: 32 bits
    context: Any = ctypes.c_long  # SCARDCONTEXT
    atr_size: int = 33  # pcsc-lite and macOS MAX_ATR_SIZE; Windows' SCARD_READERSTATEA holds 36
    pack: int = 0  # macOS packs SCARD_READERSTATE to 1
    suffix: str = ""  # Windows' ANSI entry points end in "A"


def platform_abi(platform: str | None = None, library: str | None = None) -> PcscAbi:
    """The PC/SC library of a platform (`library` overrides its file: the tests point at the rig's)."""
    platform = platform or sys.platform
    if platform.startswith("win"):
        return PcscAbi(library or "winscard.dll", ctypes.c_uint32, ctypes.c_size_t, 36, 0, "A")
    if platform == "darwin":
        return PcscAbi(library or "/System/Library/Frameworks/PCSC.framework/PCSC", ctypes.c_uint32,
                       ctypes.c_int32, 33, 1)
    return PcscAbi(library or ctypes.util.find_library("pcsclite") or "libpcsclite.so.1")


@functools.cache
def _state_type(abi: PcscAbi) -> Any:
    fields = [("reader", ctypes.c_char_p), ("user", ctypes.c_void_p), ("current", abi.dword),
              ("event", abi.dword), ("atr_len", abi.dword), ("atr", ctypes.c_ubyte * abi.atr_size)]
    attrs: dict[str, Any] = {"_fields_": fields}
    if abi.pack:
        attrs["_pack_"] = abi.pack
    return type("_ReaderState", (ctypes.Structure,), attrs)


@dataclass(frozen=True)
class ReaderStatus:
    """One reader now: a card in it, its ATR (hex), and the reader's event counter (upper 16 bits of the
    state: it grows at every insertion and removal, so a card swapped between two looks shows)."""

    present: bool
    atr: str
    events: int


ENTRY_POINTS = ("SCardEstablishContext", "SCardReleaseContext", "SCardCancel", "SCardListReaders",
                "SCardGetStatusChange")


def entry_points(abi: PcscAbi) -> list[str]:
    """The names this code calls in the ABI's library, each resolved (OSError / AttributeError when the
    library or one of them is missing: a wrong library name or suffix shows here, not mid-session)."""
    lib = ctypes.CDLL(abi.library)
    names = [n + (abi.suffix if n in _ANSI else "") for n in ENTRY_POINTS]
    for n in names:
        getattr(lib, n)
    return names


def _load(library: str | None = None) -> ctypes.CDLL | None:
    name = library or platform_abi().library
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


class ReaderStates:
    """One PC/SC context that waits for reader/card changes (not thread-safe except `cancel`)."""

    def __init__(self, abi: PcscAbi | None = None) -> None:
        self._abi = abi or platform_abi()
        lib = _load(self._abi.library)
        if lib is None:
            raise OSError(f"the PC/SC library {self._abi.library} cannot be loaded")
        self._lib = lib
        self._state = _state_type(self._abi)
        self._ctx = self._abi.context(0)
        self._known: dict[bytes, int] = {}  # reader -> last event state (the "current" of the next wait)
        self._lock = threading.Lock()
        self._open = False
        self._primed = False
        self._establish()

    def _fn(self, name: str) -> Any:
        return getattr(self._lib, name + (self._abi.suffix if name in _ANSI else ""))

    @classmethod
    def available(cls, abi: PcscAbi | None = None) -> bool:
        """Whether a PC/SC service answers (pcscd running, reachable)."""
        try:
            cls(abi).close()
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
        rv = self._fn("SCardListReaders")(self._ctx, None, None, ctypes.byref(size)) & 0xFFFFFFFF
        if rv == SCARD_E_NO_READERS_AVAILABLE or (rv == 0 and size.value == 0):
            return []
        if rv:
            raise OSError(f"SCardListReaders: 0x{rv:08X}")
        buf = ctypes.create_string_buffer(size.value)
        rv = self._fn("SCardListReaders")(self._ctx, None, buf, ctypes.byref(size)) & 0xFFFFFFFF
        if rv:
            raise OSError(f"SCardListReaders: 0x{rv:08X}")
        return [r for r in buf.raw[:size.value].split(b"\0") if r]

    def status(self, reader: str) -> ReaderStatus | None:
        """The reader's state now, without waiting (None: no such reader, e.g. unplugged). Only pcscd /
        the smart card service answers: the card sees nothing."""
        if reader.encode() not in self._readers():
            return None
        states = (self._state * 1)()
        states[0].reader = reader.encode()
        states[0].current = SCARD_STATE_UNAWARE
        rv = self._fn("SCardGetStatusChange")(self._ctx, self._abi.dword(0), states,
                                              self._abi.dword(1)) & 0xFFFFFFFF
        if rv and rv != SCARD_E_TIMEOUT:
            raise OSError(f"SCardGetStatusChange: 0x{rv:08X}")
        event = int(states[0].event)
        atr = bytes(states[0].atr[: min(int(states[0].atr_len), self._abi.atr_size)]).hex().upper()
        present = bool(event & SCARD_STATE_PRESENT)
        return ReaderStatus(present, atr if present else "", event >> 16)

    def wait(self) -> bool:
        """Block until a card or a reader changes: True; False when cancelled. OSError when PC/SC
        fails (pcscd gone: the caller backs off and makes a new ReaderStates)."""
        while True:
            if not self._open:
                return False
            names = [*self._readers(), PNP]
            states = (self._state * len(names))()
            for i, n in enumerate(names):
                states[i].reader = n
                states[i].current = self._known.get(n, SCARD_STATE_UNAWARE)
            new_names = [n for n in names if n not in self._known]
            rv = self._fn("SCardGetStatusChange")(self._ctx, self._abi.dword(INFINITE), states,
                                                self._abi.dword(len(names))) & 0xFFFFFFFF
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
