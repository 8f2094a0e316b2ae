"""What crosses the sandbox's edge: the request as the server saw it, the answer, OUTSCALE's error form,
and who a request authenticated as (no HTTP, no TLS here)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from app.sandbox.records import KeyRecord


class ApiFault(Exception):
    """An OUTSCALE error answer: HTTP status, Code, Type, Details."""

    def __init__(
        self, status: int, code: str, type_: str, details: str = "", headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{code} {type_}: {details}")
        self.status, self.code, self.type, self.details = status, code, type_, details
        self.headers = dict(headers or {})


def auth_failed(details: str = "") -> ApiFault:
    """OUTSCALE's Code 1 answer (a wrong or unknown credential)."""
    return ApiFault(401, "1", "AccessDenied", details or "ErrorAuthenticationFailed")


def invalid(details: str, code: str = "4047") -> ApiFault:
    """An InvalidParameterValue answer (HTTP 400)."""
    return ApiFault(400, code, "InvalidParameterValue", details)


@dataclass(frozen=True)
class SandboxRequest:
    """One HTTP request as the server saw it."""

    call: str
    method: str
    headers: Mapping[str, str]  # keys lower-case
    body: bytes
    client_ip: str
    peer_cert_der: bytes | None = None
    path: str = ""


@dataclass(frozen=True)
class SandboxResponse:
    """Status, JSON answer and extra headers."""

    status: int
    body: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class AuthContext:
    """Who a request authenticated as, and whether its certificate matched a rule's CA."""

    account_id: str
    key: KeyRecord | None  # None: a login/password request
    certificate_matched_ca: bool


class _Owned(Protocol):
    account_id: str


_R = TypeVar("_R", bound=_Owned)


def owned(table: Mapping[str, _R], record_id: Any, auth: AuthContext | None, missing: ApiFault) -> _R:
    """The record `record_id` of `table` if the caller's account owns it; else raise `missing` (OUTSCALE
    answers alike for another account's resource and for none)."""
    assert auth is not None
    rec = table.get(record_id) if isinstance(record_id, str) else None
    if rec is None or rec.account_id != auth.account_id:
        raise missing
    return rec


# One emulated call: its decoded parameters and the caller (None for anonymous calls) -> the answer.
CallHandler = Callable[[Mapping[str, Any], AuthContext | None], dict[str, Any]]


@dataclass(frozen=True)
class ServedCall:
    """One request the sandbox answered, as its call log keeps it (tests prove what was forwarded)."""

    call: str
    status: int
    access_key: str | None  # the OSC4 credential's access key; None for Basic or anonymous requests
    code: str | None  # the OUTSCALE error Code, None on success
    body: bytes  # the request body as received
