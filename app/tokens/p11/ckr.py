"""The CKR error map: python-pkcs11 exceptions -> the typed errors of app.tokens.errors.

Every binding exception that leaves a card call goes through `map_error` (raised `from` the original),
so no caller ever sees the binding's classes.
"""

from __future__ import annotations

from collections.abc import Callable

from pkcs11 import exceptions as _x

from app.tokens.errors import (
    MechanismUnsupported,
    PinCancelled,
    PinIncorrect,
    PinInvalid,
    PinLocked,
    TokenError,
    TokenNotPresent,
    TokenOperationFailed,
    TokenRemoved,
)
from app.tokens.flags import pin_state_from_flags

# python-pkcs11 exception class -> the CKR_ name (kept on TokenOperationFailed.ckr for diagnostics)
CKR_NAMES: dict[type[BaseException], str] = {
    _x.DeviceRemoved: "CKR_DEVICE_REMOVED",
    _x.DeviceError: "CKR_DEVICE_ERROR",
    _x.TokenNotPresent: "CKR_TOKEN_NOT_PRESENT",
    _x.TokenNotRecognised: "CKR_TOKEN_NOT_RECOGNIZED",
    _x.SessionHandleInvalid: "CKR_SESSION_HANDLE_INVALID",
    _x.SessionClosed: "CKR_SESSION_CLOSED",
    _x.SlotIDInvalid: "CKR_SLOT_ID_INVALID",
    _x.PinIncorrect: "CKR_PIN_INCORRECT",
    _x.PinLocked: "CKR_PIN_LOCKED",
    _x.PinLenRange: "CKR_PIN_LEN_RANGE",
    _x.PinInvalid: "CKR_PIN_INVALID",
    _x.PinExpired: "CKR_PIN_EXPIRED",
    _x.UserNotLoggedIn: "CKR_USER_NOT_LOGGED_IN",
    _x.UserAlreadyLoggedIn: "CKR_USER_ALREADY_LOGGED_IN",
    _x.UserPinNotInitialized: "CKR_USER_PIN_NOT_INITIALIZED",
    _x.MechanismInvalid: "CKR_MECHANISM_INVALID",
    _x.MechanismParamInvalid: "CKR_MECHANISM_PARAM_INVALID",
    _x.KeyTypeInconsistent: "CKR_KEY_TYPE_INCONSISTENT",
    _x.FunctionRejected: "CKR_FUNCTION_REJECTED",
    _x.FunctionCancelled: "CKR_FUNCTION_CANCELED",
    _x.FunctionFailed: "CKR_FUNCTION_FAILED",
    _x.FunctionNotSupported: "CKR_FUNCTION_NOT_SUPPORTED",
    _x.GeneralError: "CKR_GENERAL_ERROR",
    _x.ObjectHandleInvalid: "CKR_OBJECT_HANDLE_INVALID",
    _x.KeyHandleInvalid: "CKR_KEY_HANDLE_INVALID",
    _x.DataLenRange: "CKR_DATA_LEN_RANGE",
    _x.DataInvalid: "CKR_DATA_INVALID",
    _x.OperationActive: "CKR_OPERATION_ACTIVE",
    _x.HostMemory: "CKR_HOST_MEMORY",
    _x.DeviceMemory: "CKR_DEVICE_MEMORY",
    _x.SessionCount: "CKR_SESSION_COUNT",
    _x.AttributeSensitive: "CKR_ATTRIBUTE_SENSITIVE",
    _x.AttributeTypeInvalid: "CKR_ATTRIBUTE_TYPE_INVALID",
    _x.TemplateIncomplete: "CKR_TEMPLATE_INCOMPLETE",
    _x.TemplateInconsistent: "CKR_TEMPLATE_INCONSISTENT",
    _x.TokenWriteProtected: "CKR_TOKEN_WRITE_PROTECTED",
    _x.SessionReadOnly: "CKR_SESSION_READ_ONLY",
    _x.ArgumentsBad: "CKR_ARGUMENTS_BAD",
}

# Real readers report a pulled card in several ways; p11-kit remoting says CKR_DEVICE_ERROR.
REMOVED = (_x.DeviceRemoved, _x.DeviceError, _x.SessionHandleInvalid, _x.SessionClosed)
NOT_PRESENT = (_x.TokenNotPresent, _x.SlotIDInvalid, _x.TokenNotRecognised)


def ckr_name(exc: BaseException) -> str | None:
    """The CKR_ name of a binding exception, when known."""
    for cls in type(exc).__mro__:
        if cls in CKR_NAMES:
            return CKR_NAMES[cls]
    text = str(exc)
    if "Unmapped error code" in text:
        return text.rsplit(" ", 1)[-1]
    return None


def map_error(
    exc: BaseException,
    *,
    token_label: str | None = None,
    read_flags: Callable[[], int | None] | None = None,
    during: str = "",
) -> TokenError:
    """Translate a binding exception into the TokenError family (the caller raises it `from exc`).

    `read_flags` is called only after a refused PIN, to read the token's PIN flags as they are AFTER
    the failure (count low / final try / locked).
    """
    if isinstance(exc, TokenError):
        return exc
    what = f" during {during}" if during else ""
    name = ckr_name(exc)
    who = f"'{token_label}'" if token_label else "the card"
    if isinstance(exc, REMOVED):
        return TokenRemoved(
            f"{who} was removed or stopped answering{what} ({name}).", token_label=token_label
        )
    if isinstance(exc, NOT_PRESENT):
        return TokenNotPresent(f"{who} is not in the reader{what} ({name}).", token_label=token_label)
    if isinstance(exc, _x.PinIncorrect):
        flags: int | None = None
        if read_flags is not None:
            try:
                flags = read_flags()
            except Exception:  # the card may be gone by now; the PIN error is what matters
                flags = None
        tries, low, final, locked = pin_state_from_flags(flags)
        if locked:
            return PinLocked(f"The PIN is incorrect and {who} is now locked.", token_label=token_label)
        if final:
            msg = "The PIN is incorrect. One more wrong PIN will lock the card."
        elif low:
            msg = "The PIN is incorrect. The card counts wrong PINs: check it before trying again."
        else:
            msg = "The PIN is incorrect."
        return PinIncorrect(msg, token_label=token_label, tries_left=tries, count_low=low, final_try=final)
    if isinstance(exc, _x.PinLocked):
        return PinLocked(f"The PIN of {who} is locked.", token_label=token_label)
    if isinstance(exc, (_x.PinLenRange, _x.PinInvalid)):
        return PinInvalid(
            f"{who} does not accept a PIN of that length or with those characters ({name}).",
            token_label=token_label,
        )
    if isinstance(exc, _x.FunctionCancelled):
        return PinCancelled(f"The operation was cancelled on {who}.", token_label=token_label)
    if isinstance(exc, (_x.MechanismInvalid, _x.MechanismParamInvalid)):
        return MechanismUnsupported(
            f"{who} cannot do this signature mechanism ({name}).", token_label=token_label
        )
    if isinstance(exc, _x.PKCS11Error):
        return TokenOperationFailed(
            f"The card operation failed{what} ({name or type(exc).__name__}).",
            ckr=name,
            token_label=token_label,
        )
    return TokenOperationFailed(
        f"The card operation failed{what}: {type(exc).__name__}: {exc}", token_label=token_label
    )

