"""CK_TOKEN_INFO and CK_SLOT_INFO flags as `IntFlag`s, without the PKCS#11 binding.

The values are the PKCS#11 standard's (pkcs11t.h); a test compares them with python-pkcs11's own
enums. Values (model, inventory, watch, file store) import this module, so reading a certificate file
never loads the driver.
"""

from __future__ import annotations

import enum
from typing import NamedTuple


class TokenFlags(enum.IntFlag):
    """CK_TOKEN_INFO.flags."""

    RNG = 0x1
    WRITE_PROTECTED = 0x2
    LOGIN_REQUIRED = 0x4
    USER_PIN_INITIALIZED = 0x8
    RESTORE_KEY_NOT_NEEDED = 0x20
    CLOCK_ON_TOKEN = 0x40
    PROTECTED_AUTHENTICATION_PATH = 0x100  # a PIN pad: the PIN is typed on the reader
    DUAL_CRYPTO_OPERATIONS = 0x200
    TOKEN_INITIALIZED = 0x400
    USER_PIN_COUNT_LOW = 0x10000
    USER_PIN_FINAL_TRY = 0x20000
    USER_PIN_LOCKED = 0x40000
    USER_PIN_TO_BE_CHANGED = 0x80000
    SO_PIN_COUNT_LOW = 0x100000
    SO_PIN_FINAL_TRY = 0x200000
    SO_PIN_LOCKED = 0x400000
    SO_PIN_TO_BE_CHANGED = 0x800000
    ERROR_STATE = 0x1000000


class SlotFlags(enum.IntFlag):
    """CK_SLOT_INFO.flags."""

    NONE = 0
    TOKEN_PRESENT = 0x1
    REMOVABLE_DEVICE = 0x2
    HW_SLOT = 0x4


class PinState(NamedTuple):
    """What the token flags say about the user PIN."""

    tries_left: int | None  # 1 on the final try, 0 when locked, else unknown
    count_low: bool
    final_try: bool
    locked: bool


def pin_state_from_flags(flags: int | None) -> PinState:
    """(tries_left, count_low, final_try, locked) from CK_TOKEN_INFO flags.

    PKCS#11 gives no exact counter: FINAL_TRY means one try left, LOCKED none; otherwise unknown.
    """
    if flags is None:
        return PinState(None, False, False, False)
    f = TokenFlags(flags)
    locked = TokenFlags.USER_PIN_LOCKED in f
    final = TokenFlags.USER_PIN_FINAL_TRY in f
    low = TokenFlags.USER_PIN_COUNT_LOW in f
    return PinState(0 if locked else (1 if final else None), low, final, locked)
