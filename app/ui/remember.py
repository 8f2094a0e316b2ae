"""'Remember my login' in the OS keyring. Called on a worker thread: a keyring may talk to D-Bus."""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import ModuleType

    from app.session.model import Secret

log = logging.getLogger(__name__)

SERVICE = "osc-trusted-login"
_LAST = "last-login"  # keyring "user name" of the non-secret part (method, identity, region, endpoint)


@dataclass(frozen=True)
class RememberedLogin:
    """What was remembered. `password` is set only when the user opted in to remembering it."""

    method: str
    identity: str
    region: str | None = None
    endpoint: str | None = None
    password: str | None = None
    # The certificate last used: (ref, module path, title, detail). Never a file's password.
    certificate: tuple[str, str | None, str, str] | None = None

    def __repr__(self) -> str:
        return (
            f"RememberedLogin(method={self.method!r}, identity={self.identity!r}, region={self.region!r}, "
            f"endpoint={self.endpoint!r}, password={'***' if self.password else None})"
        )


@dataclass(frozen=True)
class LoginToRemember:
    """A login waiting for its session to go live before it is remembered. The password (only when the
    user opted in) stays a Secret until the keyring call."""

    method: str
    identity: str
    region: str | None
    endpoint: str | None
    password: Secret | None = field(default=None, repr=False)
    certificate: tuple[str, str | None, str, str] | None = None


# Imported lazily: keyring's backend discovery costs start-up time.
def _keyring() -> tuple[ModuleType, type[Exception]]:
    import keyring
    import keyring.errors

    return keyring, keyring.errors.KeyringError


def load() -> RememberedLogin | None:
    """The remembered login, or None (nothing stored, no usable keyring, or the policy forbids it)."""
    from app.policy import current

    if not current().allows_remember_me:
        return None
    try:
        keyring, keyring_error = _keyring()
    except ImportError:
        return None
    try:
        raw = keyring.get_password(SERVICE, _LAST)
        if not raw:
            return None
        data = json.loads(raw)
        identity = str(data["identity"])
        password = keyring.get_password(SERVICE, f"secret:{identity}") if data.get("with_secret") else None
        cert = data.get("certificate")
        certificate = (str(cert[0]), cert[1], str(cert[2]), str(cert[3])) if cert else None
        return RememberedLogin(
            method=str(data.get("method", "password")),
            identity=identity,
            region=data.get("region"),
            endpoint=data.get("endpoint"),
            password=password,
            certificate=certificate,
        )
    except (keyring_error, RuntimeError, ValueError, KeyError, TypeError, IndexError) as e:
        # No keyring (NoKeyringError), a locked one, or a malformed entry: start with an empty form.
        log.info("no remembered login: %s", type(e).__name__)
        return None


def save(
    method: str,
    identity: str,
    region: str | None,
    endpoint: str | None,
    password: str | None,
    certificate: tuple[str, str | None, str, str] | None = None,
) -> str | None:
    """Remember the login (and the password only if given); returns a problem in plain words, or None."""
    from app.policy import NOT_ALLOWED, current

    if not current().allows_remember_me:  # the managed policy's remember_me: false stores nothing
        return f"remembering the login is {NOT_ALLOWED}"
    try:
        keyring, keyring_error = _keyring()
    except ImportError:
        return "the keyring library is not installed"
    try:
        data = {
            "method": method,
            "identity": identity,
            "region": region,
            "endpoint": endpoint,
            "with_secret": password is not None,
            "certificate": list(certificate) if certificate else None,
        }
        keyring.set_password(SERVICE, _LAST, json.dumps(data))
        if password is not None:
            keyring.set_password(SERVICE, f"secret:{identity}", password)
        else:
            _delete(keyring, keyring_error, f"secret:{identity}")
        return None
    except (keyring_error, RuntimeError) as e:
        return f"the system keyring is not available ({type(e).__name__})"


def save_login(login: LoginToRemember) -> str | None:
    """Remember a login that went live (see save()); its password is revealed for the keyring only."""
    password = login.password.reveal() if login.password is not None else None
    return save(login.method, login.identity, login.region, login.endpoint, password, login.certificate)


def forget(identity: str | None = None) -> None:
    """Forget the remembered login (and its password)."""
    try:
        keyring, keyring_error = _keyring()
    except ImportError:
        return
    if identity:
        _delete(keyring, keyring_error, f"secret:{identity}")
    _delete(keyring, keyring_error, _LAST)


def _delete(keyring: ModuleType, keyring_error: type[Exception], name: str) -> None:
    # Nothing stored, or no keyring: nothing to forget.
    with contextlib.suppress(keyring_error, RuntimeError):
        keyring.delete_password(SERVICE, name)
