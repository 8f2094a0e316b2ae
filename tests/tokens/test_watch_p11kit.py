"""TokenWatch on a real module: a SoftHSM2 card served by p11-kit, pulled out and put back."""

from __future__ import annotations

import pytest

from app.tokens.watch import TokenIdentity, WatchEventKind, watch_card
from tests.rigs.events import WatchEvents
from tests.rigs.p11kit import P11KitCard
from tests.rigs.softhsm import SoftHsmRig


def _identity(card: P11KitCard, rig: SoftHsmRig, key: str = "second_p256") -> TokenIdentity:
    fpr = rig.keys[key].fingerprint_sha256
    assert fpr is not None
    return TokenIdentity(card.client_module_path, card.token.serial, fpr, label=card.token.label)


def test_probe_sees_the_card_and_its_certificate(p11kit_card: P11KitCard, softhsm_rig: SoftHsmRig) -> None:
    probe = p11kit_card.module()
    ident = _identity(p11kit_card, softhsm_rig)
    assert probe.is_present(ident.serial)
    assert ident.serial in probe.present_serials()
    assert probe.holds_certificate(ident.serial, ident.cert_fingerprint)
    assert not probe.holds_certificate(ident.serial, "00" * 32)
    assert not probe.is_present("NO-SUCH-SERIAL")


def test_the_one_call_check_follows_the_card(p11kit_card: P11KitCard) -> None:
    module = p11kit_card.module()
    serial = p11kit_card.token.serial
    assert module.still_present(serial)
    assert module.still_present(serial)  # the cached slot
    assert not module.still_present("NO-SUCH-SERIAL")
    p11kit_card.remove()
    assert not module.still_present(serial)
    p11kit_card.insert()
    module.rescan()
    assert module.still_present(serial)


def test_removal_and_reinsertion_of_the_same_card(p11kit_card: P11KitCard, softhsm_rig: SoftHsmRig) -> None:
    p11kit_card.module()
    rec = WatchEvents(timeout=15.0)
    watch = watch_card(_identity(p11kit_card, softhsm_rig), rec, interval=0.05, rescan_backoff=(0.05, 0.1))
    watch.start()
    try:
        p11kit_card.remove()
        rec.wait_all(lambda ev: len(ev) >= 1)
        assert rec.kinds() == [WatchEventKind.REMOVED]
        assert not watch.present
        p11kit_card.insert()
        rec.wait_all(lambda ev: len(ev) >= 2)
        assert rec.kinds() == [WatchEventKind.REMOVED, WatchEventKind.INSERTED]
        assert watch.present
        # and again: the watch keeps working after a re-scan
        p11kit_card.remove()
        rec.wait_all(lambda ev: len(ev) >= 3)
        assert rec.kinds()[2] == WatchEventKind.REMOVED
    finally:
        watch.stop()


def test_a_card_with_another_certificate_is_not_ours(
    p11kit_card: P11KitCard, softhsm_rig: SoftHsmRig
) -> None:
    p11kit_card.module()
    real = _identity(p11kit_card, softhsm_rig)
    # the same module and serial, but the session was opened with a certificate this card does not hold
    impostor = TokenIdentity(real.module_path, real.serial, "ab" * 32, label=real.label)
    rec = WatchEvents(timeout=15.0)
    watch = watch_card(impostor, rec, interval=0.05, rescan_backoff=(0.05, 0.1))
    watch.start()
    try:
        p11kit_card.remove()
        rec.wait_all(lambda ev: len(ev) >= 1)
        p11kit_card.insert()
        rec.wait_all(lambda ev: len(ev) >= 2)
        assert rec.kinds()[:2] == [WatchEventKind.REMOVED, WatchEventKind.OTHER_INSERTED]
        assert not watch.present
    finally:
        watch.stop()


@pytest.mark.parametrize("interval", [0.25])
def test_the_product_interval_detects_removal(
    p11kit_card: P11KitCard, softhsm_rig: SoftHsmRig, interval: float
) -> None:
    p11kit_card.module()
    rec = WatchEvents(timeout=15.0)
    watch = watch_card(_identity(p11kit_card, softhsm_rig), rec, interval=interval)
    watch.start()
    try:
        p11kit_card.remove()
        rec.wait_all(lambda ev: len(ev) >= 1, timeout=5.0)
        assert rec.events[0].kind is WatchEventKind.REMOVED
        assert watch.polls >= 1
    finally:
        watch.stop()
