"""Typed errors of the session layer (TLS, API, configuration, lifecycle)."""

from __future__ import annotations


class SessionError(Exception):
    """Base of every error raised by app.session."""


class ConfigError(SessionError):
    """A configuration file is unreadable or invalid; it is never overwritten silently."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


# --- TLS -------------------------------------------------------------------------------------------


class TlsError(SessionError):
    """Base of transport-level failures."""

    def __init__(self, message: str, *, host: str | None = None) -> None:
        super().__init__(message)
        self.host = host


class TlsHandshakeError(TlsError):
    """The TLS handshake failed for a reason not covered by a more precise error."""


class ServerNotTrusted(TlsError):
    """The server's certificate chain or host name did not verify."""

    def __init__(self, message: str, *, host: str | None = None, reason: str = "") -> None:
        super().__init__(message, host=host)
        self.reason = reason


class ClientCertRejected(TlsError):
    """The server refused our client certificate at the TLS layer (alert)."""

    def __init__(self, message: str, *, host: str | None = None, alert: str = "",
                 certificate_subject: str | None = None) -> None:
        super().__init__(message, host=host)
        self.alert = alert
        self.certificate_subject = certificate_subject


class ConnectionTimeout(TlsError):
    """The server did not answer in time."""


class EndpointUnreachable(TlsError):
    """The endpoint could not be reached (DNS, refused, network down)."""


class SignatureBudgetSpent(TlsError):
    """The card was not asked to sign again: the server dropped the last connections right after the
    card signed for them (a server draining signatures); the user must start again."""


# --- API -------------------------------------------------------------------------------------------


class ApiError(SessionError):
    """An OUTSCALE API error response (classified by Code)."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        type: str | None = None,
        details: str | None = None,
        request_id: str | None = None,
        http_status: int | None = None,
        call: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.type = type
        self.details = details
        self.request_id = request_id
        self.http_status = http_status
        self.call = call


class AuthenticationFailed(ApiError):
    """Code 1 (and relatives): wrong credentials or signature."""


class UserNotAllowed(ApiError):
    """Code 7: the user is not allowed to do this."""


class AuthLocked(ApiError):
    """Codes 11/13: authentication locked; retry_after is None when permanent."""

    def __init__(self, message: str, *, retry_after: float | None = None, permanent: bool = False,
                 **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after
        self.permanent = permanent


class UnmatchedApiAccessRules(ApiError):
    """Code 14: certificate issuer/CN or IP not allowed by the account's API access rules."""


class PasswordExpired(ApiError):
    """Code 20: the password must be changed (in Cockpit) before logging in."""


class Throttled(ApiError):
    """Codes 24/25 / HTTP 429: too many requests."""

    retry_after: float | None = None  # seconds, when the answer said (Retry-After)


class QuotaExceeded(ApiError):
    """A quota was reached (e.g. 10 access keys per user)."""


class ApiUnavailable(ApiError):
    """5xx or an unparsable answer from the API."""


class WrongAuthenticationMethod(ApiError):
    """Codes 8/9/10/12: this call does not accept this kind of credentials (e.g. login/password)."""


class InvalidParameter(ApiError):
    """A request parameter was missing or refused (InvalidParameter*, MissingParameter: 3xxx, 4xxx, 7xxx)."""


class ResourceNotFound(ApiError):
    """A resource named in the request does not exist (InvalidResource, 5xxx)."""


class InvalidState(ApiError):
    """A resource is not in a state that allows the call (InvalidState, 6xxx)."""


class ResourceConflict(ApiError):
    """The call conflicts with an existing resource (ResourceConflict, 9xxx)."""


class DependencyProblem(ApiError):
    """A resource has dependencies that prevent the call (DependencyProblem, 1xxx)."""


# --- lifecycle -------------------------------------------------------------------------------------


class SessionEnded(SessionError):
    """The session is over; no more calls can be made with it."""


class LoginCancelled(SessionError):
    """The login was cancelled (logout or quit while it was in progress)."""


class RequestCancelled(TlsError, LoginCancelled):
    """A request was cut short by a Cancel (only a logout or quit during a login cancels requests)."""
