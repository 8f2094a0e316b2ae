"""TokenWatch: polls one PKCS#11 module for the card that holds the session's key.

The watch runs on its own thread and talks to the module only through a `TokenProbe` (the token layer's
serial worker implements it), so it never races other card calls. It reports, through a callback on
its own thread:
- REMOVED when our token's serial disappears from the token-present slots, or when the probe fails with
  TokenNotPresent / TokenRemoved (CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT, CKR_SESSION_HANDLE_INVALID,
  CKR_DEVICE_ERROR) or any other token error (fail safe: a card we cannot see counts as gone);
- INSERTED when, after a removal, the same token (module + serial + certificate fingerprint) is back;
- OTHER_INSERTED when, after a removal, a token that is not ours appears (the session stays in grace).

While the card is away the watch re-scans the module (C_Finalize + C_Initialize) on a back-off, because
p11-kit remoting and many modules only show a re-inserted token after a re-initialisation.

With an event source (a module whose C_WaitForSlotEvent works: OpenSC; see app.tokens.p11.events) the
watch does not poll at all: it sleeps until a slot event, then confirms with C_GetSlotInfo (PC/SC reader
state, no card traffic). A logged-in session that sits still then costs the card zero APDUs, where a
C_GetTokenInfo poll costs OpenSC's PIV driver ~4 APDUs a second. Only an event on our slot (or a
"look again" after the module re-initialised) checks our login on the card, and only a card seen back
re-scans the module (which also drops the login OpenSC may keep from before the removal).
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from app.tokens.errors import TokenError, TokenNotPresent
from app.tokens.p11.registry import load_module, loaded_module

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 0.25  # seconds between presence polls while the card is in
DEFAULT_RESCAN_BACKOFF: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0)  # delays between re-scans while it is out


@dataclass(frozen=True)
class TokenIdentity:
    """Which card holds the session's key: module + token serial + certificate fingerprint (SHA-256 hex)."""

    module_path: str
    serial: str
    cert_fingerprint: str
    label: str | None = None  # for messages only; not part of the identity

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TokenIdentity):
            return NotImplemented
        return (self.module_path, self.serial, self.cert_fingerprint.lower()) == (
            other.module_path, other.serial, other.cert_fingerprint.lower())

    def __hash__(self) -> int:
        return hash((self.module_path, self.serial, self.cert_fingerprint.lower()))


class TokenProbe(Protocol):
    """What the watch needs from one loaded module. Calls may raise TokenError subclasses.

    A probe may also have `probe(serial)` returning app.tokens.p11.readings.Presence (`.present`, and
    `.value == "present_logged_in"` while our login holds): the watch then also notices a card pulled
    and put back between two polls, from the lost login (checked every `login_check_every` polls).
    With `still_present(serial)` (one C_GetTokenInfo) the other polls use that cheaper check.
    """

    def is_present(self, serial: str) -> bool:
        """Whether the token with this serial is in a slot now (the cheap poll while the card is in)."""
        ...

    def present_serials(self) -> frozenset[str]:
        """Serial numbers of the initialised tokens present in the module's slots now."""
        ...

    def rescan(self) -> None:
        """Re-initialise the module (C_Finalize + C_Initialize) so that a re-inserted token shows up."""
        ...

    def holds_certificate(self, serial: str, fingerprint: str) -> bool:
        """Whether the token with this serial holds the certificate with this SHA-256 fingerprint."""
        ...


class WatchEventKind(enum.StrEnum):
    """What the watch saw."""

    REMOVED = "removed"
    INSERTED = "inserted"  # our card is back
    OTHER_INSERTED = "other_inserted"  # a card that is not ours appeared while ours is away


@dataclass(frozen=True)
class WatchEvent:
    """One change seen by the watch. `at_monotonic` is when it was detected (time.monotonic())."""

    kind: WatchEventKind
    identity: TokenIdentity
    at_monotonic: float
    detail: str | None = None  # plain words (e.g. the error that revealed the removal); never a secret
    other_serial: str | None = None  # OTHER_INSERTED: the serial that appeared


WatchCallback = Callable[[WatchEvent], None]


class EventSource(Protocol):
    """Slot events of one module (app.tokens.p11.events.EventPump): a listener gets a slot id, or None
    for "look again" (events may have been missed); it must only note the event and return."""

    def subscribe(self, listener: Callable[[int | None], None]) -> Callable[[], None]:
        """Start telling `listener`; returns the call that stops it (never blocks)."""
        ...


class TokenWatch:
    """Polls one token's presence on a daemon thread and reports removals and re-insertions."""

    def __init__(
        self,
        identity: TokenIdentity,
        probe: TokenProbe,
        on_event: WatchCallback,
        *,
        interval: float = DEFAULT_INTERVAL,
        rescan_backoff: Sequence[float] = DEFAULT_RESCAN_BACKOFF,
        monotonic: Callable[[], float] = time.monotonic,
        login_check_every: int = 4,  # with a login-aware probe: every Nth poll also checks our login
        events: EventSource | None = None,  # slot events: no polling (see the module docstring)
    ) -> None:
        if interval <= 0 or not rescan_backoff or min(rescan_backoff) <= 0:
            raise ValueError("poll interval and re-scan delays must be positive")
        self.identity = identity
        self._probe = probe
        self._on_event = on_event
        self._interval = interval
        self._backoff = tuple(rescan_backoff)
        self._monotonic = monotonic
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._present = True
        self._others_at_removal: frozenset[str] = frozenset()
        self._others_reported: set[str] = set()
        self._rescans = 0
        self._seen_logged_in = False  # a login-aware probe reported our login alive at least once
        self._next_delay = interval
        self._login_check_every = max(1, login_check_every)
        self._present_polls = 0
        self.polls = 0  # how many probes ran (for the benchmark and tests)
        self._events = events
        self._event_slots: set[int | None] = set()  # slots with events since the last check
        self._event_lock = threading.Lock()

    @property
    def event_driven(self) -> bool:
        """True when the watch sleeps on slot events instead of polling."""
        return self._events is not None

    @property
    def present(self) -> bool:
        """Whether the card was present at the last poll."""
        return self._present

    def start(self) -> None:
        """Start polling (assumes the card is present now: the session just used it)."""
        if self._thread is not None:
            raise RuntimeError("the watch was already started")
        self._thread = threading.Thread(target=self._run, name=f"token-watch-{self.identity.serial}",
                                        daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """Poll now (a card call just failed in a way that suggests the card is gone)."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop polling and wait for the thread (a probe in flight is allowed to finish)."""
        self._stop.set()
        self._wake.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)

    # -- the polling thread ---------------------------------------------------------------------

    def _run(self) -> None:
        if self._events is not None:
            self._run_on_events(self._events)
            return
        # A probe that has a worker (the token layer's serial executor for the module) gets each
        # poll handed over without waiting for it: one thread wake-up per poll instead of two, which
        # is most of the watch's idle CPU (see docs/BENCHMARKS.md). The poll itself then runs on the
        # module's worker, in order with every other call to the card.
        executor = getattr(self._probe, "executor", None)
        submit: Callable[..., Any] | None = getattr(executor, "submit", None)
        pending: Any = None
        while not self._stop.is_set():
            if submit is None:
                self._next_delay = self._step()
            elif pending is None or pending.done():
                try:
                    pending = submit(self._step_on_worker)
                except RuntimeError:  # the module was unloaded: poll inline (its calls now fail)
                    submit = None
                    continue
            # else: the previous poll still runs (a slow re-scan, a PIN-pad login holding the
            # module): skip this turn rather than queue polls behind it
            if self._stop.is_set():
                break
            self._wake.wait(self._next_delay)
            self._wake.clear()

    # -- the event-driven watch -----------------------------------------------------------------

    def _on_slot_event(self, slot: int | None) -> None:
        with self._event_lock:
            self._event_slots.add(slot)
        self._wake.set()

    def _run_on_events(self, events: EventSource) -> None:
        unsubscribe = events.subscribe(self._on_slot_event)
        try:
            self._prime()
            while not self._stop.is_set():
                self._wake.wait()
                self._wake.clear()
                if self._stop.is_set():
                    break
                with self._event_lock:
                    slots, self._event_slots = self._event_slots, set()
                try:
                    self._check_after_event(slots)
                except Exception:  # a module's bug must not kill the watch silently
                    log.exception("card watch check failed")
        finally:
            unsubscribe()

    def _prime(self) -> None:
        """Once at start: find our slot (for C_GetSlotInfo) and see our login alive (so that a lost
        login later reads as "pulled and put back")."""
        self.polls += 1
        self._event_check(login=True)

    def _check_after_event(self, slots: set[int | None]) -> None:
        self.polls += 1
        if not self._present:
            self._check_absent()
            return
        ours = getattr(self._probe, "cached_slot_id", lambda _s: None)(self.identity.serial)
        # an event on our slot (or "look again"): the card may have been swapped between two events
        self._event_check(login=None in slots or ours is None or ours in slots)

    def _event_check(self, *, login: bool) -> None:
        slot_present = getattr(self._probe, "slot_present", None)
        try:
            present = slot_present(self.identity.serial) if callable(slot_present) else None
            if present is None:  # no slot known for this generation: find it (one C_GetTokenInfo)
                cheap = getattr(self._probe, "still_present", self._probe.is_present)
                present = bool(cheap(self.identity.serial))
            logged_in: bool | None = None
            presence = getattr(self._probe, "probe", None)
            if present and login and callable(presence):
                logged_in = getattr(presence(self.identity.serial), "value", None) == "present_logged_in"
        except TokenError as e:
            self._removed(_describe(e))
            return
        if not present:
            self._removed("the card is no longer in the reader", self._others_now())
        elif logged_in:
            self._seen_logged_in = True
        elif logged_in is False and self._seen_logged_in:
            self._removed("the card's login was lost (it was removed and inserted again)", self._others_now())

    def _check_absent(self) -> None:
        try:
            serials = self._probe.present_serials()  # OpenSC sees a new card without a re-scan
            if self.identity.serial in serials:
                # ours may be back: re-scan once (drops the stale login OpenSC keeps from before the
                # removal), then check it holds our certificate
                self._probe.rescan()
                serials = self._probe.present_serials()
        except TokenError as e:
            log.debug("card still away: %s", type(e).__name__)
            return
        self._absent_found(serials)

    def _step_on_worker(self) -> None:
        if self._stop.is_set():
            return
        try:
            self._next_delay = self._step()
        except Exception:  # never let a poll kill the module's worker silently
            log.exception("card watch poll failed")

    def _step(self) -> float:
        """One poll; returns how long to wait before the next one."""
        self.polls += 1
        if self._present:
            return self._poll_present()
        return self._poll_absent()

    def _poll_present(self) -> float:
        logged_in: bool | None = None
        self._present_polls += 1
        cheap = getattr(self._probe, "still_present", None)
        try:
            presence = getattr(self._probe, "probe", None)
            if callable(cheap) and self._present_polls % self._login_check_every != 0:
                # most polls: one C_GetTokenInfo on the known slot (each call into the module is a
                # round trip to the card, and p11-kit makes it one to another process)
                present = bool(cheap(self.identity.serial))
            elif callable(presence):
                # the token layer's richer probe also says whether our login on the card still holds
                found = presence(self.identity.serial)
                present = bool(found.present)
                logged_in = getattr(found, "value", None) == "present_logged_in"
            else:
                present = self._probe.is_present(self.identity.serial)
        except TokenError as e:
            # TokenNotPresent/TokenRemoved are the expected removal signals; any other token error
            # also means we can no longer see the card, and the session must not outlive it silently.
            self._removed(_describe(e))
            return self._backoff[0]
        except Exception as e:  # a bug in a module must not kill the watch thread silently
            log.exception("presence probe failed unexpectedly")
            self._removed(f"the card could not be checked ({type(e).__name__})")
            return self._backoff[0]
        if not present:
            self._removed("the card is no longer in the reader", self._others_now())
            return self._backoff[0]
        if logged_in:
            self._seen_logged_in = True
        elif logged_in is False and self._seen_logged_in:
            # The card is there but our login on it is gone: it was pulled and put back between two
            # polls (or reset). It left our hands, so this is a removal; the next poll re-scans and
            # checks that the same card is back, and the session logs in to it again.
            self._removed("the card's login was lost (it was removed and inserted again)", self._others_now())
            return self._backoff[0]
        return self._interval

    def _others_now(self) -> frozenset[str]:
        """Tokens present besides ours when ours left (so that only NEW ones count as another card)."""
        try:
            return self._probe.present_serials() - {self.identity.serial}
        except Exception:
            return frozenset()

    def _poll_absent(self) -> float:
        delay = self._backoff[min(self._rescans, len(self._backoff) - 1)]
        self._rescans += 1
        try:
            self._probe.rescan()
            serials = self._probe.present_serials()
        except TokenError as e:
            log.debug("card still away: %s", type(e).__name__)
            return delay
        except Exception:
            log.exception("re-scan failed unexpectedly")
            return delay
        return self._interval if self._absent_found(serials) else delay

    def _absent_found(self, serials: frozenset[str]) -> bool:
        """While ours is away: report what the slots hold now; True when ours is back."""
        if self.identity.serial in serials:
            try:
                ours = self._probe.holds_certificate(self.identity.serial, self.identity.cert_fingerprint)
            except TokenError as e:
                log.debug("card reappeared but could not be read yet: %s", type(e).__name__)
                return False
            if ours:
                self._present = True
                self._rescans = 0
                self._others_reported.clear()
                if self._events is not None:
                    self._event_check(login=False)  # remember its slot for C_GetSlotInfo
                self._emit(WatchEventKind.INSERTED, "the card is back")
                return True
            self._report_other(self.identity.serial, "a card with the same serial but another certificate")
        for serial in sorted(serials - self._others_at_removal - {self.identity.serial}):
            self._report_other(serial, "another card was inserted")
        return False

    def _removed(self, detail: str, serials: frozenset[str] = frozenset()) -> None:
        self._present = False
        self._seen_logged_in = False
        self._rescans = 0
        self._others_at_removal = serials
        self._others_reported.clear()
        self._emit(WatchEventKind.REMOVED, detail)

    def _report_other(self, serial: str, detail: str) -> None:
        if serial in self._others_reported:
            return
        self._others_reported.add(serial)
        self._emit(WatchEventKind.OTHER_INSERTED, detail, other_serial=serial)

    def _emit(self, kind: WatchEventKind, detail: str, other_serial: str | None = None) -> None:
        event = WatchEvent(kind, self.identity, self._monotonic(), detail, other_serial)
        try:
            self._on_event(event)
        except Exception:  # the receiver's bug must not stop the watch
            log.exception("token watch callback failed")


def _describe(e: TokenError) -> str:
    if isinstance(e, TokenNotPresent):
        return "the card is no longer in the reader"
    ckr = getattr(e, "ckr", None)
    return f"the card stopped answering ({ckr or type(e).__name__})"


def watch_card(identity: TokenIdentity, on_event: WatchCallback, *, interval: float = DEFAULT_INTERVAL,
               rescan_backoff: Sequence[float] = DEFAULT_RESCAN_BACKOFF) -> TokenWatch:
    """A (not yet started) watch of a card whose module is already loaded by the token layer."""
    module = loaded_module(identity.module_path) or load_module(identity.module_path)
    # Pkcs11Module implements TokenProbe; its calls run on the module's serial worker thread. A module
    # with slot events (OpenSC) is watched on them instead of polled.
    return TokenWatch(identity, module, on_event, interval=interval,
                      rescan_backoff=rescan_backoff, events=module.pump)
