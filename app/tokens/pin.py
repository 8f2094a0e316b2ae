"""PIN requests and the secret wrapper that keeps a PIN out of reprs, logs and exceptions."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from app.tokens.flags import pin_state_from_flags
from app.tokens.secret import SecretValue


class PinPurpose(enum.Enum):
    """Why the PIN is asked for (the UI words its prompt from this)."""

    LOGIN = "login"  # first log-in to the card for this session
    SIGNATURE = "signature"  # context-specific login for an always-authenticate key
    RELOGIN = "relogin"  # the same card came back and lost its login state


@dataclass(frozen=True)
class PinRequest:
    """What the PIN prompt should show. Carries no secret."""

    token_label: str
    purpose: PinPurpose
    tries_left: int | None = None  # exact count when the card tells it, else None
    count_low: bool = False  # CKF_USER_PIN_COUNT_LOW: at least one wrong PIN since the last good one
    final_try: bool = False  # CKF_USER_PIN_FINAL_TRY: one more wrong PIN locks the card
    protected_path: bool = False  # PIN pad: the PIN is typed on the reader, not in our window
    last_error: str | None = None  # plain words about the previous attempt, if any
    # a software database's password (NSS), asked under the database's name: no lockout, no tries
    database_password: bool = False

    @classmethod
    def for_token(
        cls,
        token_label: str,
        purpose: PinPurpose,
        flags: int | None,
        *,
        protected_path: bool = False,
        last_error: str | None = None,
    ) -> PinRequest:
        """The request for a token whose CK_TOKEN_INFO flags are `flags` (None: could not be read)."""
        state = pin_state_from_flags(flags)
        return cls(
            token_label,
            purpose,
            tries_left=state.tries_left,
            count_low=state.count_low,
            final_try=state.final_try,
            protected_path=protected_path,
            last_error=last_error,
        )


class Pin(SecretValue):
    """A PIN held in memory only. Its repr/str never show the value; `wipe()` forgets it."""

    __slots__ = ()
    _what = "PIN"


# Asked on the calling thread: the UI implements it by blocking a worker until the dialog answers.
# Returning None means the user cancelled. For a PIN-pad reader the callback is still called
# (with protected_path=True) so the UI can say "enter the PIN on the reader"; its return value
# is then ignored.
PinCallback = Callable[[PinRequest], Pin | None]
