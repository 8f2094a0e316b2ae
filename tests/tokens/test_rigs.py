"""The rigs themselves: SoftHSM2 cards are provisioned, p11-kit cards can be pulled and re-inserted."""

from __future__ import annotations

from app.tokens.p11.readings import Presence
from app.tokens.pin import Pin
from tests.rigs.p11kit import P11KitCard
from tests.rigs.softhsm import CARD_LABEL, SECOND_LABEL, SoftHsmRig


def test_rig_has_two_cards_with_keys(softhsm_rig: SoftHsmRig) -> None:
    labels = sorted(t.label for t in softhsm_rig.module().tokens())
    assert labels == sorted([CARD_LABEL, SECOND_LABEL])
    assert softhsm_rig.keys["rsa2048"].certificate is not None
    assert not softhsm_rig.keys["no_key"].on_token


def test_fresh_softhsm_is_independent(fresh_softhsm, softhsm_rig: SoftHsmRig) -> None:
    tok = fresh_softhsm.init_token("fresh one")
    assert [t.label for t in fresh_softhsm.module().tokens()] == ["fresh one"]
    assert tok.serial
    # the rig's module still sees only its own cards
    assert len(softhsm_rig.module().tokens()) == 2


def test_p11kit_card_removal_and_reinsertion(p11kit_card: P11KitCard, softhsm_rig: SoftHsmRig) -> None:
    mod = p11kit_card.module()
    serial = softhsm_rig.second.serial
    assert [t.serial for t in mod.tokens()] == [serial]
    login = mod.login(serial, lambda req: Pin(softhsm_rig.second.user_pin))
    assert mod.probe(serial) is Presence.PRESENT_LOGGED_IN
    p11kit_card.remove()
    assert mod.probe(serial) is Presence.REMOVED
    mod.reinitialize()  # safe while the card is out
    assert mod.probe(serial) is Presence.REMOVED
    p11kit_card.insert()
    assert mod.probe(serial) is Presence.REMOVED  # not seen before a re-scan
    mod.reinitialize()
    assert mod.probe(serial) is Presence.PRESENT_LOGGED_OUT
    assert not login.valid
    login2 = mod.login(serial, lambda req: Pin(softhsm_rig.second.user_pin))
    assert mod.probe(serial) is Presence.PRESENT_LOGGED_IN
    login2.close()
