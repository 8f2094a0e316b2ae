"""Small pure helpers of the session state machine: card-removal detection (and the signer wrapper
that notices it while signing), the texts of ends and failures, ISO dates.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterator
from typing import Any

from app.session.errors import ApiError
from app.session.model import (
    EndReason,
    LoginRequest,
    Notice,
    SessionInfo,
)
from app.session.ports import AccessPolicy, AccountSummary, OpenedCertificate, SessionApi, TemporaryKey
from app.tokens.errors import PinIncorrect, TokenError, TokenNotPresent
from app.tokens.signer import Signer, SignerBase


class WatchedSigner(SignerBase):
    """Passes signatures through; a signature failing because the card is gone wakes the watch at once."""

    def __init__(self, inner: Signer, on_card_gone: Callable[[], None]) -> None:
        super().__init__(inner.certificate, inner.chain, inner.key_type, inner.key_size, inner.description)
        self._inner = inner
        self._on_card_gone = on_card_gone

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def supported_schemes(self) -> Any:
        return self._inner.supported_schemes()

    def sign_digest(self, digest: bytes, scheme: Any) -> bytes:
        try:
            return self._inner.sign_digest(digest, scheme)
        except TokenNotPresent:
            self._on_card_gone()
            raise

    def __repr__(self) -> str:
        return f"WatchedSigner({self._inner!r})"


def endpoint_url(api: SessionApi, req: LoginRequest) -> str:
    """The API base URL the session talks to (as the client resolved it, when it says)."""
    url = getattr(getattr(api.client, "endpoint", None), "url", None)
    if isinstance(url, str) and url:
        return url
    return req.endpoint or f"https://api.{req.region}.outscale.com/api/v1"


def card_removed_error(detail: str) -> TokenNotPresent:
    """The error for a card pulled out while the login was using it."""
    from app.tokens.errors import TokenRemoved

    return TokenRemoved(f"The card was removed during login ({detail}).")


def error_causes(e: BaseException) -> Iterator[BaseException]:
    """The error, then its causes (explicit or implicit), each once."""
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def card_was_removed(e: BaseException) -> bool:
    """Whether an error (or one of its causes) says the card is gone."""
    return any(isinstance(c, TokenNotPresent) for c in error_causes(e))


def plain_text(e: BaseException) -> str:
    """An error's message, or its class name when it has none."""
    text = str(e).strip()
    return text or type(e).__name__


def pin_error_data(e: TokenError) -> dict[str, Any]:
    """The event data of a refused PIN: tries left, or that the PIN is locked."""
    if isinstance(e, PinIncorrect):
        return {"tries_left": e.tries_left, "final_try": e.final_try}
    return {"pin_locked": True}


def duration_text(seconds: float) -> str:
    """'1 hour', '5 minutes', '90 seconds'."""
    if seconds >= 3600 and seconds % 3600 == 0:
        h = int(seconds // 3600)
        return f"{h} hour" + ("s" if h > 1 else "")
    if seconds >= 60 and seconds % 60 == 0:
        m = int(seconds // 60)
        return f"{m} minute" + ("s" if m > 1 else "")
    return f"{seconds:g} seconds"


def end_message(reason: EndReason) -> str:
    """The sentence shown when a session ends for `reason`."""
    return {
        EndReason.CARD_REMOVED: "The card was not inserted again in time: the session ended.",
        EndReason.LOGOUT: "You logged out.",
        EndReason.QUIT: "The application quit: the session ended.",
        EndReason.KEY_EXPIRED: "The temporary access key expired: the session ended.",
        EndReason.ERROR: "The session ended after an error.",
        EndReason.LOGIN_FAILED: "The login failed.",
    }[reason]


def parse_iso(value: str | None) -> float | None:
    """An ISO 8601 date (as the API writes it) as a POSIX timestamp; None if absent or unreadable."""
    if not value:
        return None
    try:
        d = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=_dt.UTC)
    return d.timestamp()


def read_account(api: SessionApi, warnings: list[Notice]) -> AccountSummary:
    """The account's id and e-mail, or an empty summary (and a warning) when the user may not read it."""
    try:
        return api.read_account()
    except ApiError as e:
        # EIM users may not be allowed to read the account: the session still works.
        warnings.append(Notice(f"The account could not be read ({e}).", "account_unreadable", str(e)))
        return AccountSummary(None, None)


def session_info(req: LoginRequest, endpoint: str, opened: OpenedCertificate | None, key: TemporaryKey | None,
                 policy: AccessPolicy, grace: float, account: AccountSummary, warnings: list[Notice],
                 tls_summary: str | None) -> SessionInfo:
    """What the session window shows, from what the login gathered."""
    return SessionInfo(
        account_id=account.account_id,
        account_email=account.email,
        method=req.credentials.method,
        identity=req.credentials.identity,
        region=req.region,
        endpoint=endpoint,
        certificate_subject=opened.subject if opened else None,
        certificate_fingerprint=opened.fingerprint if opened else None,
        card_label=(opened.card_label or opened.card.label) if opened and opened.card else None,
        temporary_key_id=key.access_key_id if key else None,
        temporary_key_expires=key.expiration_date if key else None,
        trusted_env=policy.require_trusted_env,
        grace_seconds=grace,
        tls_summary=tls_summary,
        warnings=tuple(warnings),
    )



def shorten_deadline(connections: tuple[object, ...], seconds: float) -> None:
    """Give the transports' requests at most `seconds` each from now on (mTLS sessions have a deadline)."""
    for connection in connections:
        current = getattr(connection, "deadline", None)
        if isinstance(current, int | float) and seconds < current:
            connection.deadline = seconds  # type: ignore[attr-defined]


def cancel_requests(connection: object) -> None:
    """Cut the transport's requests in flight short (mTLS sessions can; other transports are left be)."""
    cancel = getattr(connection, "cancel", None)
    if callable(cancel):
        cancel()
