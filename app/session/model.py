"""Frozen values that cross thread boundaries between the session core and its drivers (UI, CLI)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.tokens.secret import SecretValue

if TYPE_CHECKING:  # a value only: the model (and cryptography) load when a card is chosen
    from app.tokens.model import CertificateEntry


class Secret(SecretValue):
    """A password or secret key held in memory only; never shown by repr/str, never pickled."""

    __slots__ = ()


class AuthMethod(enum.StrEnum):
    """How the operator identifies: login + password, or access key + secret key."""

    PASSWORD = "password"  # noqa: S105 - a method name, not a secret
    ACCESS_KEY = "access_key"


@dataclass(frozen=True)
class Credentials:
    """`identity` is the login (or AccountId/username for EIM users) or the access key id."""

    method: AuthMethod
    identity: str
    secret: Secret = field(repr=False)


@dataclass(frozen=True)
class CertificateChoice:
    """The certificate to log in with: an RFC 7512 URI (card) or a file path (PKCS#12/PEM)."""

    ref: str  # "pkcs11:..." or a path
    module_path: str | None = None  # the PKCS#11 module for a card certificate
    # True when the user gave module_path themselves (--module): only then may it be a module that is
    # not already known (app.tokens.modules.allowed_module); a remembered or profile path is checked
    module_from_user: bool = False
    file_password: Secret | None = field(default=None, repr=False)  # PKCS#12 / encrypted PEM key
    # the picker's inventory entry of a card certificate: the card opens it without scanning again
    entry: CertificateEntry | None = field(default=None, repr=False, compare=False)

    @property
    def is_card(self) -> bool:
        return self.ref.startswith("pkcs11:")


@dataclass(frozen=True)
class LoginRequest:
    """Everything the session needs to log in (secrets wrapped; the PIN is asked through a callback)."""

    credentials: Credentials
    region: str = "eu-west-2"
    endpoint: str | None = None  # custom API endpoint (private region, sandbox); overrides region's
    certificate: CertificateChoice | None = None
    ca_file: str | None = None  # extra trust anchors (sandbox, enterprise TLS inspection)
    grace_override_seconds: float | None = None  # may only shorten the policy's grace


class SessionState(enum.StrEnum):
    """The session's life: LOGGED_OUT -> AUTHENTICATING -> ACTIVE <-> GRACE -> ENDED."""

    LOGGED_OUT = "logged_out"
    AUTHENTICATING = "authenticating"
    ACTIVE = "active"
    GRACE = "grace"
    ENDED = "ended"


class EndReason(enum.StrEnum):
    """Why a session ended, in a form the UI can word."""

    CARD_REMOVED = "card removed"
    LOGOUT = "logout"
    QUIT = "quit"
    KEY_EXPIRED = "temporary key expired"
    ERROR = "error"
    LOGIN_FAILED = "login failed"


class EventKind(enum.StrEnum):
    """What a SessionEvent reports."""

    STATE = "state"
    CARD_REMOVED = "card_removed"
    CARD_INSERTED = "card_inserted"
    KEY_CREATED = "key_created"
    KEY_REVOKED = "key_revoked"
    KEY_REVOKE_FAILED = "key_revoke_failed"
    WARNING = "warning"
    TICK = "tick"
    PROGRESS = "progress"  # a login step begins: data["step"] is server, card or account


@dataclass(frozen=True)
class SessionEvent:
    """One thing that happened to the session. `data` holds JSON-friendly extras (never a secret)."""

    kind: EventKind
    state: SessionState
    at: float  # wall clock (time.time()) for display/logs
    deadline_monotonic: float | None = None  # GRACE only: time.monotonic() value of the end
    seconds_left: float | None = None  # GRACE only, at the moment of the event
    reason: EndReason | None = None
    message: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the headless `--json` line)."""
        out: dict[str, Any] = {"event": self.kind.value, "state": self.state.value, "at": self.at}
        if self.seconds_left is not None:
            out["seconds_left"] = round(self.seconds_left, 3)
        if self.reason is not None:
            out["reason"] = self.reason.value
        if self.message:
            out["message"] = self.message
        out.update(self.data)
        return out


class Notice(str):
    """A warning worded in plain English (the string itself), with a stable `code`, the English `detail`
    of its cause and its `params`: a face that speaks another language words it from those (the window,
    app/ui/errors.describe_warning); everything else uses it as the string it is."""

    code: str
    detail: str
    params: dict[str, Any]

    def __new__(cls, text: str, code: str, detail: str = "", **params: Any) -> Notice:
        """`text` in English; `code` names the kind of warning."""
        self = super().__new__(cls, text)
        self.code, self.detail, self.params = code, detail, params
        return self

    def event_data(self) -> dict[str, Any]:
        """What a WARNING event carries besides its message."""
        return {"warning": self.code, "detail": self.detail, **self.params}


@dataclass(frozen=True)
class SessionInfo:
    """What the session window shows once logged in."""

    account_id: str | None
    account_email: str | None
    method: AuthMethod
    identity: str  # login or access key id of the operator (not a secret)
    region: str
    endpoint: str
    certificate_subject: str | None
    certificate_fingerprint: str | None
    card_label: str | None  # None for file certificates (no countdown)
    temporary_key_id: str | None
    temporary_key_expires: str | None  # ISO 8601 as the API gave it
    trusted_env: bool  # RequireTrustedEnv of the API access policy
    grace_seconds: float  # 300 or 3600, or the shorter override
    tls_summary: str | None = None  # e.g. "TLS 1.3, TLS_AES_128_GCM_SHA256, rsa_pss_rsae_sha256"
    warnings: tuple[str, ...] = ()
