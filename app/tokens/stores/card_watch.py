"""The card behind an OS store's key (the Windows store, a CryptoTokenKit token), watched on PC/SC
reader state like a PKCS#11 card.

A card certificate copied into the Windows store stays listed after the card is pulled: "listed" is
not "present". So a store key on a card carries a `CardPlace` (its reader, the ATR seen when the key was
opened, the PC/SC library, and a way to read the certificate the card holds through the OS, no PIN),
and the session's TokenWatch runs on a `ReaderProbe`: present = that reader has a card with the same
ATR and no removal since we last looked (the reader's event counter); back = same reader + same ATR +
the card holding the same certificate. The wait itself is app.tokens.p11.pcsc.ReaderStates (issue 13's
reader-state code, its library a parameter: winscard.dll, PCSC.framework, libpcsclite).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.tokens.errors import TokenNotPresent
from app.tokens.p11.pcsc import PcscAbi, ReaderStates, ReaderStatus, platform_abi

if TYPE_CHECKING:  # app.tokens.watch loads the PKCS#11 binding: only when a session watches a card
    from app.tokens.watch import TokenIdentity, TokenWatch, WatchCallback

log = logging.getLogger(__name__)

READER_PREFIX = "pcsc-reader:"  # TokenIdentity.module_path of a store card: the reader, not a module


@dataclass(frozen=True)
class CardPlace:
    """Where a store key's card is: its reader, the ATR of the card it was opened on, the PC/SC library,
    and the OS's reading of the certificate that card holds for the key: DER, b"" when the card
    definitely has none (another card), None when it cannot tell yet (just inserted, busy)."""

    reader: str
    atr: str
    abi: PcscAbi = field(default_factory=platform_abi)
    certificate_on_card: Callable[[], bytes | None] = field(default=lambda: None, repr=False, compare=False)


def reader_status(reader: str, abi: PcscAbi | None = None) -> ReaderStatus | None:
    """One reader's state now (None: no such reader); OSError when PC/SC does not answer."""
    states = ReaderStates(abi)
    try:
        return states.status(reader)
    finally:
        states.close()


def not_present_reason(reader: str, abi: PcscAbi | None = None) -> str | None:
    """Why a store card certificate cannot be used now (its reader is gone or empty), or None."""
    try:
        st = reader_status(reader, abi)
    except OSError:
        return None  # no PC/SC service to ask: leave it to the key's own provider
    if st is None:
        return f"the card holding this key is not in its reader ('{reader}' is not connected)"
    if not st.present:
        return f"the card holding this key is not in its reader ('{reader}' is empty)"
    return None


def card_identity(place: CardPlace, fingerprint: str, label: str | None = None) -> TokenIdentity:
    """The watch's identity of a store card: reader (as the "module"), ATR (as the serial), certificate."""
    from app.tokens.watch import TokenIdentity
    return TokenIdentity(READER_PREFIX + place.reader, place.atr, fingerprint, label)


class ReaderProbe:
    """TokenProbe over one reader's PC/SC state: only pcscd / the smart card service answers, the card
    sees nothing; the certificate check (after a card came back) goes through the OS store."""

    UNKNOWN_TRIES = 20  # "cannot tell yet" answers (0.5 s apart) before a card counts as not ours

    def __init__(self, place: CardPlace, retry: Callable[[float], None] | None = None) -> None:
        self._place = place
        self._states: ReaderStates | None = None
        self._events: int | None = None  # the reader's event counter when we last saw our card
        self._retry = retry  # asks the watch to look again later (no reader event will come)
        self._unknown = 0

    def _status(self) -> ReaderStatus | None:
        try:
            if self._states is None:
                self._states = ReaderStates(self._place.abi)
            return self._states.status(self._place.reader)
        except OSError as e:  # the service restarted or stopped: a new context next time
            self.close()
            raise TokenNotPresent(f"the smart card service does not answer ({e})") from None

    def is_present(self, serial: str) -> bool:
        """Our reader holds a card with this ATR and was not emptied since the last look."""
        st = self._status()
        if st is None or not st.present or st.atr != serial:
            self._events = None
            return False
        swapped = self._events is not None and st.events - self._events >= 2  # out and in meanwhile
        self._events = None if swapped else st.events
        return not swapped

    def present_serials(self) -> frozenset[str]:
        """The ATR of the card in our reader (empty: no card, no reader)."""
        st = self._status()
        return frozenset((st.atr,)) if st is not None and st.present else frozenset()

    def rescan(self) -> None:
        """A fresh PC/SC context (a restarted service forgets the old one)."""
        self.close()

    def holds_certificate(self, serial: str, fingerprint: str) -> bool:
        """The card in the reader holds our certificate, as the OS reads it (no PIN)."""
        der = self._place.certificate_on_card()
        if der is None and self._unknown < self.UNKNOWN_TRIES:
            # the OS cannot read the card yet (just powered up, another program holds it): look again
            # soon rather than call it another card
            self._unknown += 1
            if self._retry is not None:
                self._retry(0.5)
            raise TokenNotPresent("the card in the reader cannot be read yet")
        self._unknown = 0
        if not der or hashlib.sha256(der).hexdigest() != fingerprint.lower():
            return False
        self._events = None  # the next look learns the counter of this insertion
        return True

    def close(self) -> None:
        """Release the PC/SC context."""
        states, self._states = self._states, None
        if states is not None:
            states.close()


class ReaderEvents:
    """EventSource: one thread blocked in SCardGetStatusChange (every reader + PnP) tells the watch to
    look again at every reader or card change; no polling while nothing changes."""

    def __init__(self, abi: PcscAbi) -> None:
        self._abi = abi
        self._listeners: list[Callable[[int | None], None]] = []

    def look_again(self, delay: float) -> None:
        """Tell the listeners to look again after `delay` s (a check that must be retried)."""
        def tell() -> None:
            for listener in list(self._listeners):
                listener(None)
        timer = threading.Timer(delay, tell)
        timer.daemon = True
        timer.start()

    def subscribe(self, listener: Callable[[int | None], None]) -> Callable[[], None]:
        """Start the waiting thread; the returned call stops it (never blocks)."""
        stop = threading.Event()
        holder: list[ReaderStates | None] = [None]
        self._listeners.append(listener)

        def run() -> None:
            while not stop.is_set():
                try:
                    states = holder[0] = ReaderStates(self._abi)
                    while not stop.is_set() and states.wait():
                        listener(None)
                except OSError as e:
                    log.debug("reader wait failed: %s", e)
                    listener(None)  # the service went away: the watch checks (and sees the card gone)
                    stop.wait(1.0)
                finally:
                    states_now, holder[0] = holder[0], None
                    if states_now is not None:
                        states_now.close()

        def unsubscribe() -> None:
            stop.set()
            if listener in self._listeners:
                self._listeners.remove(listener)
            states = holder[0]
            if states is not None:
                states.cancel()

        threading.Thread(target=run, name="store-card-reader-wait", daemon=True).start()
        return unsubscribe


def watch_store_card(place: CardPlace, fingerprint: str, on_event: WatchCallback, *, label: str | None = None,
                     interval: float = 0.25,
                     rescan_backoff: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0)) -> TokenWatch:
    """A (not started) watch of a store key's card: removal -> REMOVED, same card back -> INSERTED."""
    from app.tokens.watch import TokenWatch
    events = ReaderEvents(place.abi) if ReaderStates.available(place.abi) else None
    probe = ReaderProbe(place, events.look_again if events is not None else None)
    return TokenWatch(card_identity(place, fingerprint, label), probe, on_event,
                      interval=interval, rescan_backoff=rescan_backoff, events=events)
