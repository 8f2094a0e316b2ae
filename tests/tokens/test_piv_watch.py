"""The card watch on the operators' stack: OpenSC over a private pcscd, an emulated PIV card.

OpenSC has C_WaitForSlotEvent, so the watch sleeps on slot events and confirms with C_GetSlotInfo: the
card answers no APDU while a logged-in session sits still (a C_GetTokenInfo poll costs ~4 a second).
"""

from __future__ import annotations

from app.tokens.p11.registry import load_module
from app.tokens.pin import Pin
from app.tokens.watch import TokenIdentity, TokenWatch, WatchEventKind, watch_card
from tests.rigs.events import WatchEvents
from tests.rigs.pcsc.rig import PcscRig, RigCard, idle_apdus, wait_until


def _identity(rig: PcscRig, card: RigCard, slot: str = "9A") -> TokenIdentity:
    return TokenIdentity(rig.module_path, card.serial, card.fingerprints[slot], label=f"{card.name} {slot}")


def _ready(rig: PcscRig, card: RigCard) -> None:
    mod = load_module(rig.module_path)
    wait_until(lambda: card.serial in mod.present_serials(), what="OpenSC seeing the card")


def _started(rig: PcscRig, card: RigCard, rec: WatchEvents) -> TokenWatch:
    _ready(rig, card)
    watch = watch_card(_identity(rig, card), rec)
    assert watch.event_driven  # OpenSC's C_WaitForSlotEvent works: no polling
    watch.start()
    return watch


def _idle_apdus(rig: PcscRig, card: RigCard, seconds: float) -> int:
    return idle_apdus(rig, card, seconds)


def test_a_logged_in_idle_session_costs_the_card_no_apdu(pcsc_rig: PcscRig, piv: RigCard) -> None:
    _ready(pcsc_rig, piv)
    login = load_module(pcsc_rig.module_path).login(piv.serial, lambda req: Pin(piv.pin))
    rec = WatchEvents()
    watch = _started(pcsc_rig, piv, rec)
    try:
        wait_until(lambda: watch.polls >= 1, what="the watch's first check")
        assert _idle_apdus(pcsc_rig, piv, 2.0) == 0
        assert rec.kinds() == []
        assert login.logged_in if hasattr(login, "logged_in") else True
    finally:
        watch.stop()
        login.close()


def test_removal_and_the_same_card_back(pcsc_rig: PcscRig, piv: RigCard) -> None:
    rec = WatchEvents(timeout=15.0)
    watch = _started(pcsc_rig, piv, rec)
    try:
        pcsc_rig.remove(0)
        rec.wait(lambda e: e.kind is WatchEventKind.REMOVED)
        assert not watch.present
        pcsc_rig.insert(piv, 0)
        rec.wait(lambda e: e.kind is WatchEventKind.INSERTED)
        assert watch.present
        assert rec.kinds() == [WatchEventKind.REMOVED, WatchEventKind.INSERTED]
    finally:
        watch.stop()


def test_another_card_does_not_resume(pcsc_rig: PcscRig, piv: RigCard) -> None:
    bob = pcsc_rig.cards["bob"]
    rec = WatchEvents(timeout=15.0)
    watch = _started(pcsc_rig, piv, rec)
    try:
        pcsc_rig.remove(0)
        rec.wait(lambda e: e.kind is WatchEventKind.REMOVED)
        pcsc_rig.insert(bob, 0)
        other = rec.wait(lambda e: e.kind is WatchEventKind.OTHER_INSERTED)
        assert other.other_serial == bob.serial
        assert WatchEventKind.INSERTED not in rec.kinds()
        pcsc_rig.remove(0)
        pcsc_rig.insert(piv, 0)
        rec.wait(lambda e: e.kind is WatchEventKind.INSERTED)
    finally:
        watch.stop()


def test_stopping_never_waits_for_the_blocked_slot_wait(pcsc_rig: PcscRig, piv: RigCard) -> None:
    watch = _started(pcsc_rig, piv, WatchEvents())
    wait_until(lambda: watch.polls >= 1, what="the watch's first check")
    thread = watch._thread
    watch.stop(timeout=5.0)
    assert thread is not None and not thread.is_alive()
