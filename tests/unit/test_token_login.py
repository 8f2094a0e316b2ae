"""Login rules at the binding seam (a fake library): PIN pads, cancel, locked cards, no retries."""

from __future__ import annotations

from typing import Any

import pkcs11 as p11
import pytest
from pkcs11 import exceptions as x

from app.tokens.errors import PinCancelled, PinIncorrect, PinLocked
from app.tokens.flags import SlotFlags, TokenFlags
from app.tokens.p11.executor import SerialExecutor
from app.tokens.p11.module import Pkcs11Module
from app.tokens.p11.readings import Presence
from app.tokens.pin import Pin, PinRequest


class FakeSession:
    def __init__(self) -> None:
        self.closed = False
        self.token = None

    def get_objects(self, attrs: Any) -> list[Any]:
        return []

    def close(self) -> None:
        self.closed = True


class FakeToken:
    def __init__(self, flags: int, fail: Exception | None = None) -> None:
        self.flags = flags
        self.serial = b"SERIAL1"
        self.label = "Fake"
        self.manufacturer_id = "m"
        self.model = "x"
        self.hardware_version = (1, 0)
        self.firmware_version = (1, 0)
        self.fail = fail
        self.opened: list[Any] = []
        self.slot: Any = None

    def open(self, **kw: Any) -> FakeSession:
        self.opened.append(kw.get("user_pin"))
        if self.fail is not None and kw.get("user_pin") is not None:
            raise self.fail
        s = FakeSession()
        s.token = self  # type: ignore[assignment]
        return s


class FakeSlot:
    def __init__(self, token: FakeToken) -> None:
        self.token = token
        token.slot = self
        self.slot_id = 1
        self.slot_description = "reader"
        self.flags = SlotFlags.TOKEN_PRESENT

    def get_token(self) -> FakeToken:
        return self.token


class FakeLib:
    initialized = True

    def __init__(self, token: FakeToken | None) -> None:
        self.token = token

    def get_slots(self, token_present: bool = False) -> list[FakeSlot]:
        return [FakeSlot(self.token)] if self.token else []


def module_with(token: FakeToken | None) -> Pkcs11Module:
    mod = object.__new__(Pkcs11Module)
    mod.path = "/fake.so"
    mod.init_env = {}
    mod.executor = SerialExecutor("fake")
    mod.generation = 0
    mod._lib = FakeLib(token)
    mod._logins = {}
    mod._closed = False
    # the attributes __init__ sets besides (NSS stores, slot events): none of them in use here
    mod._opener = None
    mod.slot_serials = {}
    mod.password_named = False
    mod._slot_cache = {}
    mod._events = None
    mod.pump = None
    return mod


class Prompt:
    def __init__(self, pin: str | None) -> None:
        self.pin = pin
        self.requests: list[PinRequest] = []

    def __call__(self, req: PinRequest) -> Pin | None:
        self.requests.append(req)
        return Pin(self.pin) if self.pin is not None else None


def test_pin_pad_logs_in_without_a_pin_from_us() -> None:
    tok = FakeToken(TokenFlags.TOKEN_INITIALIZED | TokenFlags.PROTECTED_AUTHENTICATION_PATH)
    mod = module_with(tok)
    prompt = Prompt(None)  # the UI's answer is ignored for a PIN pad
    login = mod.login("SERIAL1", prompt)
    assert prompt.requests[0].protected_path
    assert tok.opened == [p11.PROTECTED_AUTH]
    assert mod.probe("SERIAL1") is Presence.PRESENT_LOGGED_IN
    login.close()


def test_cancel_does_not_touch_the_card() -> None:
    tok = FakeToken(TokenFlags.TOKEN_INITIALIZED)
    with pytest.raises(PinCancelled):
        module_with(tok).login("SERIAL1", Prompt(None))
    assert tok.opened == []


def test_locked_card_is_refused_before_asking() -> None:
    tok = FakeToken(TokenFlags.TOKEN_INITIALIZED | TokenFlags.USER_PIN_LOCKED)
    prompt = Prompt("1234")
    with pytest.raises(PinLocked):
        module_with(tok).login("SERIAL1", prompt)
    assert prompt.requests == [] and tok.opened == []


def test_wrong_pin_is_tried_once_and_flags_are_read_after() -> None:
    tok = FakeToken(TokenFlags.TOKEN_INITIALIZED, fail=x.PinIncorrect())
    mod = module_with(tok)
    prompt = Prompt("1234")

    real_open = tok.open

    def open_and_count(**kw: Any) -> FakeSession:
        tok.flags |= TokenFlags.USER_PIN_COUNT_LOW  # the card counts the failure
        return real_open(**kw)

    tok.open = open_and_count  # type: ignore[method-assign]
    with pytest.raises(PinIncorrect) as ei:
        mod.login("SERIAL1", prompt)
    assert tok.opened == ["1234"] and len(prompt.requests) == 1
    assert ei.value.count_low
    assert "1234" not in str(ei.value)


def test_removed_token_probe() -> None:
    mod = module_with(None)
    assert mod.probe("SERIAL1") is Presence.REMOVED
    assert mod.present_serials() == frozenset()
