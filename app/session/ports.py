"""The session's ports: the values it exchanges and the Protocols its collaborators implement.

`TrustedSession` (lifecycle.py) sees the token, TLS and API layers only through these; the product's
implementations are in backend.py, the unit tests' fakes in tests/unit/test_lifecycle.py.
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from app.session.model import (
    Credentials,
    LoginRequest,
    Secret,
)
from app.tokens.pin import PinCallback
from app.tokens.signer import Signer
from app.tokens.watch import TokenIdentity, WatchEvent

if TYPE_CHECKING:  # the API client's modules load requests: only when a session logs in
    from app.session.api.values import Vm


@dataclass(frozen=True)
class SessionSettings:
    """Tunables of a session; defaults are the product's."""

    key_lifetime_seconds: float = 12 * 3600.0  # temporary key lifetime, capped by the policy maximum
    tick_seconds: float = 1.0  # TICK events in GRACE, and how often the timer re-checks the clock
    watch_interval: float = 0.25  # card presence polls
    rescan_backoff: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0)  # re-scans while the card is away
    key_tag_value: str = "trusted-session"


@dataclass(frozen=True)
class RevocationResult:
    """What happened to the temporary key when the session ended."""

    key_id: str | None  # None when no temporary key was created (fallback to the given key, file login...)
    revoked: bool
    expires: str | None = None  # its ExpirationDate, which bounds its life when it could not be revoked
    message: str | None = None


@dataclass(frozen=True)
class OpenedCertificate:
    """The certificate chosen for the session, opened (PIN given for a card)."""

    signer: Signer
    subject: str
    fingerprint: str  # SHA-256 hex of the certificate's DER
    card: TokenIdentity | None  # None for a file certificate: nothing to watch
    card_label: str | None = None


@dataclass(frozen=True)
class AccessPolicy:
    """The parts of ReadApiAccessPolicy the session uses."""

    require_trusted_env: bool
    max_key_seconds: float | None  # MaxAccessKeyExpirationSeconds (None or 0: no maximum)


@dataclass(frozen=True)
class TemporaryKey:
    """The key created for the session."""

    access_key_id: str
    secret_key: Secret = field(repr=False)
    expiration_date: str | None  # ISO 8601 as the API gave it


@dataclass(frozen=True)
class AccountSummary:
    """What the session window shows about the account."""

    account_id: str | None
    email: str | None


class ApiClient(Protocol):
    """What the drivers (UI, CLI) call on the session's API client (OutscaleClient in the product)."""

    def read_vms(self, *, max_pages: int = 20) -> tuple[Vm, ...]:
        """ReadVms, every page up to `max_pages`."""
        ...


class SessionApi(Protocol):
    """The API calls the lifecycle makes, signed with one set of credentials."""

    @property
    def client(self) -> ApiClient:
        """The underlying API client (the UI uses it for ReadVms)."""
        ...

    def read_policy(self) -> AccessPolicy:
        """ReadApiAccessPolicy: the grace period and the longest key lifetime allowed."""
        ...

    def create_temporary_key(self, expires_at: _dt.datetime, tag: tuple[str, str]) -> TemporaryKey:
        """CreateAccessKey expiring at `expires_at`, tagged `tag` (key, value)."""
        ...

    def delete_key(self, access_key_id: str) -> None:
        """DeleteAccessKey."""
        ...

    def find_keys(self, tag: tuple[str, str]) -> list[str]:
        """Ids of the access keys that carry `tag` (to find a key whose creation answer was lost)."""
        ...

    def read_account(self) -> AccountSummary:
        """ReadAccounts, reduced to what the session window shows."""
        ...


class Connection(Protocol):
    """The mTLS transport (a requests.Session in the product)."""

    def close(self) -> None:
        """Drop pooled connections and TLS tickets."""
        ...


class Watch(Protocol):
    """A running card watch (app.tokens.watch.TokenWatch in the product)."""

    def start(self) -> None:
        """Start polling the card."""
        ...

    def poke(self) -> None:
        """Poll now (a signature just failed: the card may be gone)."""
        ...

    def stop(self, timeout: float = 5.0) -> None:
        """Stop polling; waits up to `timeout` seconds for the watch thread."""
        ...


class SessionBackend(Protocol):
    """Everything the lifecycle needs from the token, TLS and API layers."""

    def open_certificate(self, request: LoginRequest, pin_callback: PinCallback) -> OpenedCertificate:
        """Open the chosen certificate (asks the PIN for a card, PinPurpose.LOGIN)."""
        ...

    def card_login(self, opened: OpenedCertificate, pin_callback: PinCallback) -> None:
        """Log in to the card again if it lost its login state (PinPurpose.RELOGIN)."""
        ...

    def release_certificate(self, opened: OpenedCertificate) -> None:
        """Log out of the card and forget any PIN the signer holds."""
        ...

    def connect(self, request: LoginRequest, signer: Signer | None) -> Connection:
        """Open the transport to the endpoint (mTLS when a signer is given)."""
        ...

    def tls_summary(self, connection: Connection) -> str | None:
        """'TLS 1.3, <cipher>, <signature scheme>' of the last handshake, when known."""
        ...

    def api(self, connection: Connection, request: LoginRequest, credentials: Credentials) -> SessionApi:
        """An API client over `connection` signed with `credentials`."""
        ...

    def watch(self, opened: OpenedCertificate, on_event: Callable[[WatchEvent], None],
              settings: SessionSettings) -> Watch:
        """A card watch for the opened card certificate (not started)."""
        ...


class Clock(Protocol):
    """Time sources: monotonic for deadlines, wall clock for display and key expiry."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (deadlines)."""
        ...

    def time(self) -> float:
        """POSIX wall-clock seconds (display, key expiry)."""
        ...


class SystemClock:
    """The real clocks."""

    def monotonic(self) -> float:
        """time.monotonic()."""
        return time.monotonic()

    def time(self) -> float:
        """time.time()."""
        return time.time()
