"""Typed errors of the token layer. Messages never carry a PIN or a password."""

from __future__ import annotations


class TokenError(Exception):
    """Base of every error raised by app.tokens."""

    def __init__(self, message: str, *, token_label: str | None = None) -> None:
        super().__init__(message)
        self.token_label = token_label


class ModuleLoadFailed(TokenError):
    """A PKCS#11 module could not be loaded or initialised."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"Cannot load the PKCS#11 module {path}: {reason}")
        self.path = path
        self.reason = reason


class ModuleNotAllowed(ModuleLoadFailed):
    """A card URI (or a remembered choice) names a PKCS#11 module that is not a known one: not loaded."""


class TokenNotPresent(TokenError):
    """The card is not in the reader (or the slot is gone)."""


class TokenRemoved(TokenNotPresent):
    """The card was removed while we were using it."""


class PinIncorrect(TokenError):
    """The PIN was refused. Never retried automatically."""

    def __init__(
        self,
        message: str = "The PIN is incorrect.",
        *,
        token_label: str | None = None,
        tries_left: int | None = None,
        count_low: bool = False,
        final_try: bool = False,
    ) -> None:
        super().__init__(message, token_label=token_label)
        self.tries_left = tries_left
        self.count_low = count_low
        self.final_try = final_try


class PinLocked(TokenError):
    """The card's user PIN is blocked; only an administrator (SO PIN / PUK) can unblock it."""


class PinInvalid(TokenError):
    """The PIN has characters or a length the card does not accept (not counted as a try)."""


class PinCancelled(TokenError):
    """The user cancelled the PIN prompt."""


class MechanismUnsupported(TokenError):
    """The card cannot do the requested signature mechanism."""


class KeyNotFound(TokenError):
    """No private key matches the certificate on the card."""


class CertificateUnusable(TokenError):
    """The certificate cannot be used for client authentication (reason in the message)."""


class FileStoreError(TokenError):
    """A local PKCS#12 / PEM file could not be read."""


class FileRefused(FileStoreError):
    """A local file was refused before use: not a regular file, too large, or writable by another user.

    The message is one plain sentence; `fix` is the command that fixes the permissions, when one does.
    """

    def __init__(self, path: str, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.fix = fix


class FileDamaged(FileStoreError):
    """A credential file is truncated or damaged: no password can open it."""


class StorePasswordIncorrect(FileStoreError):
    """The password of a PKCS#12 file or encrypted PEM key is wrong (or missing)."""


class TokenOperationFailed(TokenError):
    """Any other PKCS#11 failure; carries the CKR_ name when known."""

    def __init__(self, message: str, *, ckr: str | None = None, token_label: str | None = None) -> None:
        super().__init__(message, token_label=token_label)
        self.ckr = ckr
