"""Slot events: C_WaitForSlotEvent through a thin ctypes call, and one event pump per module.

Why not python-pkcs11's `lib.wait_for_slot_event()`: in 0.10.1 it raises TypeError once the event has
arrived (it builds its `Slot` with the constructor's old arguments), so the event is lost. This module
takes the same library's function list (dlopen of the same path returns the same handle: same state,
same sessions) and calls C_WaitForSlotEvent / C_GetSlotInfo itself, always on the module's worker.

Why not block in C_WaitForSlotEvent on a thread of its own: OpenSC 0.23 deadlocks when another thread
calls into the module meanwhile (seen on the rig: the waiter stuck on the global lock, a C_GetTokenInfo
stuck in sc_unlock), and only C_Finalize ends such a wait. So the pump blocks on PC/SC reader state
instead (the very state OpenSC's wait is built on, app.tokens.p11.pcsc) and, when it changes, drains
C_WaitForSlotEvent(CKF_DONT_BLOCK) on the worker. Waiting costs the card no APDU, unlike a C_GetTokenInfo
poll. SoftHSM2 and p11-kit's client answer CKR_FUNCTION_NOT_SUPPORTED (and a module with events but no
pcscd gets no pump): the card watch keeps polling them. See docs/DECISIONS.md.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Callable
from typing import Any

from app.tokens.p11.pcsc import ReaderStates

log = logging.getLogger(__name__)

CKR_OK = 0x0
CKR_NO_EVENT = 0x8
CKR_FUNCTION_NOT_SUPPORTED = 0x54
CKR_CRYPTOKI_NOT_INITIALIZED = 0x190
CKF_DONT_BLOCK = 0x1
CKF_OS_LOCKING_OK = 0x2
CKF_TOKEN_PRESENT = 0x1

_NAMES = (  # CK_FUNCTION_LIST after its version, in the order of the standard
    "C_Initialize C_Finalize C_GetInfo C_GetFunctionList C_GetSlotList C_GetSlotInfo C_GetTokenInfo "
    "C_GetMechanismList C_GetMechanismInfo C_InitToken C_InitPIN C_SetPIN C_OpenSession C_CloseSession "
    "C_CloseAllSessions C_GetSessionInfo C_GetOperationState C_SetOperationState C_Login C_Logout "
    "C_CreateObject C_CopyObject C_DestroyObject C_GetObjectSize C_GetAttributeValue C_SetAttributeValue "
    "C_FindObjectsInit C_FindObjects C_FindObjectsFinal C_EncryptInit C_Encrypt C_EncryptUpdate "
    "C_EncryptFinal C_DecryptInit C_Decrypt C_DecryptUpdate C_DecryptFinal C_DigestInit C_Digest "
    "C_DigestUpdate C_DigestKey C_DigestFinal C_SignInit C_Sign C_SignUpdate C_SignFinal "
    "C_SignRecoverInit C_SignRecover C_VerifyInit C_Verify C_VerifyUpdate C_VerifyFinal "
    "C_VerifyRecoverInit C_VerifyRecover C_DigestEncryptUpdate C_DecryptDigestUpdate "
    "C_SignEncryptUpdate C_DecryptVerifyUpdate C_GenerateKey C_GenerateKeyPair C_WrapKey C_UnwrapKey "
    "C_DeriveKey C_SeedRandom C_GenerateRandom C_GetFunctionStatus C_CancelFunction C_WaitForSlotEvent"
)
_FUNCTIONS = tuple(_NAMES.split())


class _FunctionList(ctypes.Structure):
    _fields_ = [("version", ctypes.c_ubyte * 2), *((name, ctypes.c_void_p) for name in _FUNCTIONS)]


class _SlotInfo(ctypes.Structure):
    _fields_ = [("description", ctypes.c_char * 64), ("manufacturer", ctypes.c_char * 32),
                ("flags", ctypes.c_ulong), ("hw", ctypes.c_ubyte * 2), ("fw", ctypes.c_ubyte * 2)]


_RV = ctypes.c_ulong
_WAIT = ctypes.CFUNCTYPE(_RV, ctypes.c_ulong, ctypes.POINTER(ctypes.c_ulong), ctypes.c_void_p)
_SLOT_INFO = ctypes.CFUNCTYPE(_RV, ctypes.c_ulong, ctypes.POINTER(_SlotInfo))


class SlotEvents:
    """The thin calls on one loaded library (the same handle python-pkcs11 uses)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._dll = ctypes.CDLL(path)  # already loaded by python-pkcs11: same handle, no new state
        flist = ctypes.POINTER(_FunctionList)()
        get = self._dll.C_GetFunctionList
        get.argtypes = [ctypes.POINTER(ctypes.POINTER(_FunctionList))]
        get.restype = _RV
        rv = get(ctypes.byref(flist))
        if rv != CKR_OK or not flist:
            raise OSError(f"C_GetFunctionList: 0x{rv:x}")
        fl = flist.contents
        self._wait = _WAIT(fl.C_WaitForSlotEvent)
        self._slot_info = _SLOT_INFO(fl.C_GetSlotInfo)

    @classmethod
    def open(cls, path: str) -> SlotEvents | None:
        """The calls for a module whose C_WaitForSlotEvent works (None when it has none). The module must
        be C_Initialize'd; the probe is a non-blocking wait (its answer, an event or none, is dropped)."""
        try:
            events = cls(path)
        except (OSError, AttributeError) as e:
            log.debug("no slot events for %s: %s", path, e)
            return None
        rv, _slot = events.wait(block=False)
        if rv not in (CKR_OK, CKR_NO_EVENT):
            log.debug("no slot events for %s: C_WaitForSlotEvent answers 0x%x", path, rv)
            return None
        return events

    def wait(self, *, block: bool) -> tuple[int, int | None]:
        """C_WaitForSlotEvent: (CK_RV, slot id or None). ctypes releases the GIL while it blocks."""
        slot = ctypes.c_ulong(0)
        rv = int(self._wait(0 if block else CKF_DONT_BLOCK, ctypes.byref(slot), None))
        return rv, (int(slot.value) if rv == CKR_OK else None)

    def token_present(self, slot_id: int) -> bool | None:
        """C_GetSlotInfo's CKF_TOKEN_PRESENT for one slot (None when the call fails: slot gone...).
        OpenSC answers it from the reader state (PC/SC), without talking to the card."""
        info = _SlotInfo()
        rv = int(self._slot_info(slot_id, ctypes.byref(info)))
        if rv != CKR_OK:
            return None
        return bool(info.flags & CKF_TOKEN_PRESENT)


Listener = Callable[[int | None], None]  # a slot id, or None for "re-check: events may have been missed"




class EventPump:
    """Slot events of one module, with no card traffic and no thread inside the module but its worker.

    A thread blocks on PC/SC reader state (app.tokens.p11.pcsc). When a card or a reader changes, the
    module's worker drains C_WaitForSlotEvent(CKF_DONT_BLOCK) (OpenSC then notices the change, closes the
    sessions of a card gone) and every listener is told each slot with an event; after an error (pcscd
    restarted: readers unplugged) they are told None, "look again". Listeners must only note the event
    and return (they run on the pump thread).
    """

    def __init__(self, events: SlotEvents, run_on_worker: Callable[..., Any], name: str,
                 rescan: Callable[[], None] | None = None) -> None:
        self.events = events
        self._run_on_worker = run_on_worker
        self._rescan = rescan
        self._name = name
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self._states: ReaderStates | None = None
        self.wakeups = 0  # how many PC/SC changes woke the pump (benchmark, tests)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Start telling `listener` about events; returns the call that stops it (never blocks)."""
        with self._lock:
            self._listeners.append(listener)
            if self._thread is None and not self._closed.is_set():
                self._thread = threading.Thread(target=self._run, name=f"slot-events:{self._name}",
                                                daemon=True)
                self._thread.start()

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def drain(self) -> list[int]:
        """On the module's worker: the slots with pending events (OpenSC reports every present card
        as inserted after C_Initialize: a re-scan drains them so that they do not read as news)."""
        slots: list[int] = []
        for _ in range(64):
            rv, slot = self.events.wait(block=False)
            if rv != CKR_OK or slot is None:
                break
            slots.append(slot)
        return slots

    def close(self) -> None:
        """Stop for good (the blocked PC/SC wait is cancelled: never hangs)."""
        self._closed.set()
        states = self._states
        if states is not None:
            states.cancel()

    def join(self, timeout: float) -> None:
        """Wait for the thread to end (after close())."""
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)

    def _tell(self, slot: int | None) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for fn in listeners:
            try:
                fn(slot)
            except Exception:
                log.exception("slot event listener failed")

    def _run(self) -> None:
        delay = 0.1
        try:
            while not self._closed.is_set():
                try:
                    if self._states is None:
                        self._states = ReaderStates()
                        if self._closed.is_set():
                            break
                    if not self._states.wait():
                        continue  # cancelled: closing
                except OSError as e:  # pcscd gone or restarting: back off, then look again
                    log.debug("PC/SC wait for %s: %s", self._name, e)
                    if self._states is not None:
                        self._states.close()
                        self._states = None
                    self._closed.wait(delay)
                    delay = min(delay * 2, 2.0)
                    self._tell(None)
                    continue
                delay = 0.1
                self.wakeups += 1
                swapped, self._states.swapped = self._states.swapped, False
                try:
                    if swapped and self._rescan is not None:
                        # a card went out and (another?) came in while the worker was busy: OpenSC
                        # compares ATRs only and would keep the first card's objects; re-scan
                        self._run_on_worker(self._rescan)
                        self._tell(None)
                        continue
                    slots = self._run_on_worker(self.drain)
                except Exception:  # the module was unloaded, or the re-scan failed: look again
                    if self._closed.is_set():
                        return
                    self._tell(None)
                    continue
                for slot in slots:
                    self._tell(slot)
        finally:
            if self._states is not None:
                self._states.close()
