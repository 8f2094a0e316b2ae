"""TokenWatch on slot events (no polling) against a fake probe and a fake event source."""

from __future__ import annotations

import threading
from collections.abc import Callable

from app.tokens.watch import TokenIdentity, TokenWatch, WatchEventKind
from tests.rigs.events import WatchEvents
from tests.unit.test_watch import FakeProbe, until

ID = TokenIdentity("/mod.so", "SERIAL1", "AB" * 32, label="card")


class FakeEvents:
    """Slot events the test fires; counts subscriptions."""

    def __init__(self) -> None:
        self.listeners: list[Callable[[int | None], None]] = []
        self.lock = threading.Lock()

    def subscribe(self, listener: Callable[[int | None], None]) -> Callable[[], None]:
        with self.lock:
            self.listeners.append(listener)

        def unsubscribe() -> None:
            with self.lock:
                self.listeners.remove(listener)

        return unsubscribe

    def fire(self, slot: int | None) -> None:
        with self.lock:
            listeners = list(self.listeners)
        for fn in listeners:
            fn(slot)


class SlotProbe(FakeProbe):
    """A module with C_GetSlotInfo: `slot_present` answers without card traffic; calls are counted."""

    def __init__(self) -> None:
        super().__init__()
        self.card_calls = 0  # calls that would talk to the card (C_GetTokenInfo, login checks)
        self.slot_calls = 0
        self.logged_in = True

    def slot_present(self, serial: str) -> bool | None:
        self.slot_calls += 1
        return serial in self.present_serials()

    def cached_slot_id(self, serial: str) -> int | None:
        return 0

    def still_present(self, serial: str) -> bool:
        self.card_calls += 1
        return serial in self.present_serials()

    def probe(self, serial: str) -> object:
        self.card_calls += 1
        value = "present_logged_in" if self.logged_in else "present_logged_out"
        return type("P", (), {"present": True, "value": value})()


def _watch() -> tuple[SlotProbe, FakeEvents, WatchEvents, TokenWatch]:
    probe, events, rec = SlotProbe(), FakeEvents(), WatchEvents(timeout=5.0)
    watch = TokenWatch(ID, probe, rec, events=events)
    watch.start()
    until(lambda: watch.polls >= 1 and len(events.listeners) == 1)
    return probe, events, rec, watch


def test_no_event_no_call_then_removal_and_return_on_events() -> None:
    probe, events, rec, watch = _watch()
    try:
        assert watch.event_driven
        calls = probe.card_calls + probe.slot_calls
        threading.Event().wait(0.1)  # idle: nothing may be called
        assert probe.card_calls + probe.slot_calls == calls
        probe.remove()
        events.fire(0)
        rec.wait(lambda e: e.kind is WatchEventKind.REMOVED)
        probe.insert()
        events.fire(0)
        rec.wait(lambda e: e.kind is WatchEventKind.INSERTED)
        assert probe.rescans == 1  # one re-scan, when our card was seen back
    finally:
        watch.stop()


def test_an_event_on_another_slot_checks_only_the_slot_state() -> None:
    probe, events, rec, watch = _watch()
    try:
        calls = probe.card_calls
        slot_calls = probe.slot_calls
        events.fire(4)
        until(lambda: probe.slot_calls > slot_calls)
        assert probe.card_calls == calls
        assert rec.kinds() == []
    finally:
        watch.stop()


def test_a_lost_login_after_an_event_on_our_slot_is_a_removal() -> None:
    probe, events, rec, watch = _watch()
    try:
        probe.logged_in = False  # pulled and put back between two events
        events.fire(0)
        rec.wait(lambda e: e.kind is WatchEventKind.REMOVED)
    finally:
        watch.stop()


def test_stop_unsubscribes_and_returns_at_once() -> None:
    _probe, events, _rec, watch = _watch()
    watch.stop(timeout=5.0)
    assert events.listeners == []
    assert watch._thread is not None and not watch._thread.is_alive()
