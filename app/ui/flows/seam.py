"""The UI's typed seam to the core: what the flows call on a session, and the one session they share.

The core's types are imported for the type checker only (no start-up cost); the Protocols exist because
the tests give the app their own session factory (fakes at the seam), so the app must not insist on the
core's TrustedSession class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from app.session.model import EndReason, LoginRequest, SessionEvent, SessionInfo
    from app.session.ports import ApiClient, RevocationResult, SessionSettings
    from app.tokens.pin import PinCallback


class SessionHandle(Protocol):
    """What the UI calls on a session (app.session.lifecycle.TrustedSession in the product)."""

    @property
    def card_present(self) -> bool:
        """True while the session's card is in its reader."""
        ...

    @property
    def revocation(self) -> RevocationResult | None:
        """What happened to the temporary key, once the session ended."""
        ...

    @property
    def client(self) -> ApiClient:
        """The API client of the live session."""
        ...

    def login(self) -> SessionInfo:
        """Log in (blocking: called on a worker)."""
        ...

    def logout(self, reason: EndReason = ...) -> RevocationResult:
        """End the session, revoking its temporary key (blocking)."""
        ...

    def retry_card_login(self) -> None:
        """Ask the card's PIN again after it came back."""
        ...

    def wait_ended(self, timeout: float | None = None) -> bool:
        """Wait until the session has ended (its cleanup done); False on timeout."""
        ...


class SessionFactory(Protocol):
    """Builds a session for a login request (TrustedSession by default)."""

    def __call__(
        self,
        request: LoginRequest,
        *,
        pin_callback: PinCallback,
        on_event: Callable[[SessionEvent], None],
        settings: SessionSettings = ...,
    ) -> SessionHandle:
        """A new session, not logged in yet."""
        ...


def default_session_factory(
    request: LoginRequest,
    *,
    pin_callback: PinCallback,
    on_event: Callable[[SessionEvent], None],
    settings: SessionSettings | None = None,
) -> SessionHandle:
    """The product's session (imported when the first login starts: the window must not wait for it)."""
    from app.session.lifecycle import TrustedSession

    return TrustedSession(request, pin_callback=pin_callback, on_event=on_event, settings=settings)


@dataclass
class CurrentSession:
    """The one session the app drives, shared by the login flow, the session view and quit.

    `tag` marks the current session's events: a late event of a session that already failed (its ENDED
    arrives after login_failed) must not touch the next one (e.g. close its PIN prompt).
    """

    session: SessionHandle | None = None
    info: SessionInfo | None = None
    tag: object | None = None
