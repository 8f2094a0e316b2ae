"""A bare PC/SC client (ctypes on libpcsclite): reader states and SCardGetStatusChange waits.

The benchmark measures pcscd's own detection time with it (a card pulled -> the status change reaches
a PC/SC client), to tell it apart from the time our watch adds; the rig waits with it for pcscd to see
an insertion. Uses the same PCSCLITE_CSOCK_NAME as everything else in the process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time

SCARD_SCOPE_USER = 0
SCARD_STATE_UNAWARE = 0x0000
SCARD_STATE_CHANGED = 0x0002
SCARD_STATE_EMPTY = 0x0010
SCARD_STATE_PRESENT = 0x0020
SCARD_E_TIMEOUT = 0x8010000A
INFINITE = 0xFFFFFFFF


class SCARD_READERSTATE(ctypes.Structure):
    _fields_ = [("szReader", ctypes.c_char_p), ("pvUserData", ctypes.c_void_p),
                ("dwCurrentState", ctypes.c_ulong), ("dwEventState", ctypes.c_ulong),
                ("cbAtr", ctypes.c_ulong), ("rgbAtr", ctypes.c_ubyte * 33)]


class PcscClient:
    """One PC/SC context."""

    def __init__(self) -> None:
        name = ctypes.util.find_library("pcsclite") or "libpcsclite.so.1"
        self.lib = ctypes.CDLL(name)
        self.ctx = ctypes.c_long(0)  # SCARDCONTEXT is a long on Linux (LONG / DWORD are long)
        rv = self.lib.SCardEstablishContext(SCARD_SCOPE_USER, None, None, ctypes.byref(self.ctx))
        if rv:
            raise OSError(f"SCardEstablishContext: 0x{rv & 0xFFFFFFFF:08X}")

    def close(self) -> None:
        self.lib.SCardReleaseContext(self.ctx)

    def readers(self) -> list[str]:
        """Names of the readers pcscd has now."""
        size = ctypes.c_ulong(0)
        rv = self.lib.SCardListReaders(self.ctx, None, None, ctypes.byref(size))
        if rv or size.value == 0:
            return []
        buf = ctypes.create_string_buffer(size.value)
        if self.lib.SCardListReaders(self.ctx, None, buf, ctypes.byref(size)):
            return []
        return [r.decode() for r in buf.raw[:size.value].split(b"\0") if r]

    def state(self, reader: str) -> int:
        """The reader's current event state (SCARD_STATE_* bits)."""
        rs = SCARD_READERSTATE(reader.encode(), None, SCARD_STATE_UNAWARE, 0, 0)
        rv = self.lib.SCardGetStatusChange(self.ctx, ctypes.c_ulong(0), ctypes.byref(rs), ctypes.c_ulong(1))
        if rv and (rv & 0xFFFFFFFF) != SCARD_E_TIMEOUT:
            raise OSError(f"SCardGetStatusChange: 0x{rv & 0xFFFFFFFF:08X}")
        return int(rs.dwEventState)

    def present(self, reader: str) -> bool:
        """Whether pcscd sees a card in the reader now."""
        return bool(self.state(reader) & SCARD_STATE_PRESENT)

    def wait_change(self, reader: str, timeout: float) -> tuple[int, float]:
        """Block until the reader's state changes from what it is now: (new state, time.monotonic())."""
        current = self.state(reader) & ~SCARD_STATE_CHANGED
        rs = SCARD_READERSTATE(reader.encode(), None, current, 0, 0)
        rv = self.lib.SCardGetStatusChange(self.ctx, ctypes.c_ulong(int(timeout * 1000)), ctypes.byref(rs),
                                           ctypes.c_ulong(1))
        at = time.monotonic()
        if rv:
            raise OSError(f"SCardGetStatusChange: 0x{rv & 0xFFFFFFFF:08X}")
        return int(rs.dwEventState), at
