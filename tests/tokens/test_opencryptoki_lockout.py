"""The PIN lockout sequence on a token that really locks: count low -> final try -> locked -> refused."""

from __future__ import annotations

import pytest

from app.tokens.errors import PinIncorrect, PinLocked
from app.tokens.pin import Pin, PinRequest
from tests.rigs.opencryptoki import USER_PIN, OpencryptokiRig

pytestmark = pytest.mark.root


class Prompt:
    def __init__(self, pin: str) -> None:
        self.pin = pin
        self.requests: list[PinRequest] = []

    def __call__(self, req: PinRequest) -> Pin:
        self.requests.append(req)
        return Pin(self.pin)


def test_lockout_sequence(opencryptoki_rig: OpencryptokiRig) -> None:
    serial = opencryptoki_rig.init_token()
    mod = opencryptoki_rig.module()
    assert serial in {t.serial for t in mod.tokens()}

    # a good login resets the counter
    mod.login(serial, Prompt(USER_PIN)).close()

    seen: list[tuple[type, bool, bool, int | None]] = []
    wrong = Prompt("00000000")
    for _ in range(6):
        try:
            mod.login(serial, wrong).close()
        except (PinIncorrect, PinLocked) as e:
            pi = e if isinstance(e, PinIncorrect) else None
            seen.append(
                (type(e), bool(pi and pi.count_low), bool(pi and pi.final_try), pi.tries_left if pi else 0)
            )
            if isinstance(e, PinLocked):
                break
    kinds = [s[0] for s in seen]
    assert kinds[-1] is PinLocked
    assert PinIncorrect in kinds
    first = seen[0]
    assert first[0] is PinIncorrect and first[1]  # count low after the first wrong PIN
    finals = [s for s in seen if s[2]]
    assert finals and finals[0][3] == 1  # the final try is announced with one try left
    # each prompt showed what the card said before the attempt
    assert any(r.final_try for r in wrong.requests)

    # locked: refused without even asking, also with the right PIN
    right = Prompt(USER_PIN)
    with pytest.raises(PinLocked):
        mod.login(serial, right)
    assert right.requests == []
    info = {t.serial: t for t in mod.tokens()}[serial]
    assert info.flags & 0x00040000  # CKF_USER_PIN_LOCKED

    # SO login + C_InitPIN unlocks (token re-initialised for the next tests)
    serial = opencryptoki_rig.init_token()
    opencryptoki_rig.module().login(serial, Prompt(USER_PIN)).close()
