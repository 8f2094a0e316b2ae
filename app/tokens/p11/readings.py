"""Plain values the driver hands to the rest of app.tokens (binding-free: importing this loads no driver)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from app.tokens.flags import SlotFlags, TokenFlags


class Presence(enum.StrEnum):
    """What a presence probe found for one token (module path + token serial)."""

    PRESENT_LOGGED_IN = "present_logged_in"  # present and our login on it is still valid
    PRESENT_LOGGED_OUT = "present_logged_out"  # present, but we hold no valid login (lost or never made)
    REMOVED = "removed"  # not in any slot, or the module reports the device gone

    @property
    def present(self) -> bool:
        return self is not Presence.REMOVED


@dataclass(frozen=True)
class TokenReading:
    """CK_SLOT_INFO + CK_TOKEN_INFO of one slot with an initialised token."""

    slot_id: int
    slot_description: str
    slot_flags: SlotFlags
    label: str
    serial: str
    manufacturer: str
    model: str
    flags: TokenFlags
    hardware_version: tuple[int, int] = (0, 0)
    firmware_version: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class SlotReading:
    """One slot; `token` is None for an empty slot or an uninitialised token."""

    slot_id: int
    description: str
    flags: SlotFlags
    token: TokenReading | None
    token_initialized: bool = False


@dataclass(frozen=True)
class ObjectReading:
    """The attributes we read from one object; `error` says why some could not be read."""

    object_class: str  # "certificate", "private_key", "public_key"
    cka_id: bytes = b""
    label: str = ""
    value: bytes | None = field(default=None, repr=False)  # CKA_VALUE of a certificate
    key_type: str | None = None  # "RSA", "EC", ...
    key_bits: int | None = None  # RSA modulus bits (when the token says)
    always_authenticate: bool | None = None
    can_sign: bool | None = None
    private: bool | None = None
    error: str | None = None


@dataclass(frozen=True)
class TokenObjects:
    """Everything the inventory needs from one token, read in one pass without logging in."""

    token: TokenReading
    certificates: tuple[ObjectReading, ...]
    private_keys: tuple[ObjectReading, ...]
    public_keys: tuple[ObjectReading, ...]
    mechanisms: frozenset[str]
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class MechanismReading:
    """C_GetMechanismInfo of one mechanism."""

    name: str
    min_key_size: int
    max_key_size: int
    flags: int
