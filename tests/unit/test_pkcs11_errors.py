"""Every CKR_ code we care about maps to the right typed error (binding exceptions, no module)."""

from __future__ import annotations

import pytest
from pkcs11 import exceptions as x

from app.tokens.errors import (
    MechanismUnsupported,
    PinIncorrect,
    PinInvalid,
    PinLocked,
    TokenNotPresent,
    TokenOperationFailed,
    TokenRemoved,
)
from app.tokens.flags import TokenFlags, pin_state_from_flags
from app.tokens.p11.ckr import ckr_name, map_error


@pytest.mark.parametrize(
    ("exc", "ckr"),
    [
        (x.DeviceRemoved(), "CKR_DEVICE_REMOVED"),
        (x.DeviceError(), "CKR_DEVICE_ERROR"),
        (x.SessionHandleInvalid(), "CKR_SESSION_HANDLE_INVALID"),
        (x.SessionClosed(), "CKR_SESSION_CLOSED"),
    ],
)
def test_removal_codes_map_to_token_removed(exc: Exception, ckr: str) -> None:
    err = map_error(exc, token_label="Card")
    assert type(err) is TokenRemoved
    assert isinstance(err, TokenNotPresent)  # callers may catch the wider family
    assert ckr in str(err)
    assert err.token_label == "Card"


@pytest.mark.parametrize("exc", [x.TokenNotPresent(), x.SlotIDInvalid(), x.TokenNotRecognised()])
def test_absent_codes_map_to_token_not_present(exc: Exception) -> None:
    err = map_error(exc)
    assert type(err) is TokenNotPresent


def test_pin_incorrect_reads_flags_after_the_failure() -> None:
    calls = []

    def flags() -> int:
        calls.append(1)
        return TokenFlags.USER_PIN_COUNT_LOW

    err = map_error(x.PinIncorrect(), token_label="Card", read_flags=flags)
    assert isinstance(err, PinIncorrect)
    assert calls == [1]
    assert err.count_low and not err.final_try and err.tries_left is None


def test_pin_incorrect_final_try() -> None:
    flags = TokenFlags.USER_PIN_COUNT_LOW | TokenFlags.USER_PIN_FINAL_TRY
    err = map_error(x.PinIncorrect(), read_flags=lambda: flags)
    assert isinstance(err, PinIncorrect)
    assert err.final_try and err.tries_left == 1
    assert "lock" in str(err)


def test_pin_incorrect_that_locked_the_card_is_pin_locked() -> None:
    assert isinstance(map_error(x.PinIncorrect(), read_flags=lambda: TokenFlags.USER_PIN_LOCKED), PinLocked)


def test_pin_incorrect_when_flags_cannot_be_read() -> None:
    def boom() -> int:
        raise x.DeviceRemoved()

    err = map_error(x.PinIncorrect(), read_flags=boom)
    assert isinstance(err, PinIncorrect) and err.tries_left is None and not err.count_low


def test_pin_incorrect_without_flag_reader() -> None:
    err = map_error(x.PinIncorrect())
    assert isinstance(err, PinIncorrect) and not err.final_try


def test_pin_locked() -> None:
    assert isinstance(map_error(x.PinLocked(), token_label="Card"), PinLocked)


@pytest.mark.parametrize("exc", [x.PinLenRange(), x.PinInvalid()])
def test_pin_invalid(exc: Exception) -> None:
    assert isinstance(map_error(exc), PinInvalid)


@pytest.mark.parametrize("exc", [x.MechanismInvalid(), x.MechanismParamInvalid()])
def test_mechanism(exc: Exception) -> None:
    assert isinstance(map_error(exc), MechanismUnsupported)


def test_other_codes_keep_their_ckr_name() -> None:
    err = map_error(x.GeneralError(), during="C_Sign")
    assert isinstance(err, TokenOperationFailed)
    assert err.ckr == "CKR_GENERAL_ERROR"
    assert "C_Sign" in str(err)


def test_unmapped_code() -> None:
    err = map_error(x.PKCS11Error("Unmapped error code 0x80000001"))
    assert isinstance(err, TokenOperationFailed)
    assert err.ckr == "0x80000001"


def test_non_binding_exception() -> None:
    assert isinstance(map_error(OSError("x")), TokenOperationFailed)


def test_ckr_name_of_subclasses() -> None:
    assert ckr_name(x.UserNotLoggedIn()) == "CKR_USER_NOT_LOGGED_IN"
    assert ckr_name(ValueError()) is None


def test_pin_state_from_flags() -> None:
    assert pin_state_from_flags(None) == (None, False, False, False)
    assert pin_state_from_flags(0) == (None, False, False, False)
    assert pin_state_from_flags(TokenFlags.USER_PIN_FINAL_TRY) == (1, False, True, False)
    assert pin_state_from_flags(TokenFlags.USER_PIN_LOCKED)[0] == 0


def test_messages_never_carry_a_pin() -> None:
    err = map_error(x.PinIncorrect(), token_label="Card")
    assert "1234" not in str(err) and "1234" not in repr(err)
