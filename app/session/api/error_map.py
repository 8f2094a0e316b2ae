"""API error answers and network failures to typed errors (app.session.errors).

The error class comes from the OUTSCALE `Code`, then its `Type`, then the code's family, then the HTTP
status; a typed SessionError raised under requests (the mTLS adapter's) passes through unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import requests

from app.session import errors as E

_CODE_CLASSES: dict[str, type[E.ApiError]] = {
    "1": E.AuthenticationFailed,
    "4": E.UserNotAllowed,
    "5": E.UserNotAllowed,
    "7": E.UserNotAllowed,
    "8": E.WrongAuthenticationMethod,
    "9": E.WrongAuthenticationMethod,
    "10": E.WrongAuthenticationMethod,
    "12": E.WrongAuthenticationMethod,
    "11": E.AuthLocked,
    "13": E.AuthLocked,
    "14": E.UnmatchedApiAccessRules,
    "20": E.PasswordExpired,
    "6": E.Throttled,
    "24": E.Throttled,
    "25": E.Throttled,
}


# By Type name, for codes outside the table above (gateway_errors.yaml and the public error list).
_TYPE_CLASSES: dict[str, type[E.ApiError]] = {
    "InvalidParameterValue": E.InvalidParameter,
    "InvalidParameter": E.InvalidParameter,
    "MissingParameter": E.InvalidParameter,
    "InvalidResource": E.ResourceNotFound,
    "InvalidState": E.InvalidState,
    "ResourceConflict": E.ResourceConflict,
    "DependencyProblem": E.DependencyProblem,
    "TooManyResources": E.QuotaExceeded,
    "TooManyResources (QuotaExceded)": E.QuotaExceeded,
    "PasswordExpired": E.PasswordExpired,
    "WrongAuthenticationMethod": E.WrongAuthenticationMethod,
    "MissingLoginPassword": E.WrongAuthenticationMethod,
    "AuthFailure": E.WrongAuthenticationMethod,
}


# By thousand, when neither the Code nor the Type is known (the public error list's families).
_RANGE_CLASSES: dict[int, type[E.ApiError]] = {
    1: E.DependencyProblem,
    3: E.InvalidParameter,
    4: E.InvalidParameter,
    5: E.ResourceNotFound,
    6: E.InvalidState,
    7: E.InvalidParameter,
    9: E.ResourceConflict,
    10: E.QuotaExceeded,
}


_MESSAGES: dict[type[E.ApiError], str] = {
    E.AuthenticationFailed: "The credentials were refused (wrong access key, secret key, login or password).",
    E.UserNotAllowed: "This user is not allowed to do this.",
    E.WrongAuthenticationMethod: "This call does not accept this kind of credentials.",
    E.UnmatchedApiAccessRules: (
        "The API access rules of the account refused this request: the client "
        "certificate (its CA or CN) or the IP address is not allowed."
    ),
    E.PasswordExpired: "The password has expired; change it in Cockpit first.",
    E.Throttled: "Too many requests; the API asked us to slow down.",
    E.QuotaExceeded: "A quota of the account was reached.",
    E.InvalidParameter: "The API refused a parameter of the request.",
    E.ResourceNotFound: "A resource named in the request does not exist.",
    E.InvalidState: "A resource is not in a state that allows this.",
    E.ResourceConflict: "The request conflicts with an existing resource.",
    E.DependencyProblem: "A resource has dependencies that prevent this.",
    E.ApiUnavailable: "The API is unavailable or gave an answer that could not be read.",
}


def error_class_for(
    code: str | None, type_: str | None = None, http_status: int | None = None
) -> type[E.ApiError]:
    """The ApiError subclass for an OUTSCALE error Code (then Type, then code family, then HTTP status)."""
    if code is not None and code in _CODE_CLASSES:
        return _CODE_CLASSES[code]
    if type_ and type_ in _TYPE_CLASSES:
        return _TYPE_CLASSES[type_]
    if type_ and type_.startswith("TooManyResources"):
        return E.QuotaExceeded
    if code is not None and code.isdigit() and int(code) >= 1000 and int(code) // 1000 in _RANGE_CLASSES:
        return _RANGE_CLASSES[int(code) // 1000]
    if http_status == 429:
        return E.Throttled
    if http_status is not None and http_status >= 500:
        return E.ApiUnavailable
    return E.ApiError


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


_SECONDS_RE = re.compile(r"(\d+)\s*seconds?")


def error_from_response(
    status: int,
    body: bytes | str | Mapping[str, Any] | None,
    *,
    call: str | None = None,
    headers: Mapping[str, str] | None = None,
    host: str | None = None,
) -> E.ApiError:
    """Build the typed error for an API error answer (OUTSCALE's ``Errors``/``ResponseContext`` format).

    An answer that is not an OUTSCALE error (an HTML page from a proxy, truncated or foreign JSON) says
    so plainly, with its HTTP status.
    """
    data: Any = body
    if isinstance(body, bytes | str):
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None
    code = type_ = details = request_id = None
    if isinstance(data, Mapping):
        errs = data.get("Errors")
        if isinstance(errs, list) and errs and isinstance(errs[0], Mapping):
            first = errs[0]
            code = str(first["Code"]) if first.get("Code") is not None else None
            type_ = first.get("Type") if isinstance(first.get("Type"), str) else None
            details = first.get("Details") if isinstance(first.get("Details"), str) else None
        ctx = data.get("ResponseContext")
        if isinstance(ctx, Mapping) and isinstance(ctx.get("RequestId"), str):
            request_id = ctx["RequestId"]
    cls = error_class_for(code, type_, status)
    if code is None and cls is E.ApiError and status >= 400:
        cls = E.ApiUnavailable if status >= 500 or not isinstance(data, Mapping) else E.ApiError
    summary = _MESSAGES.get(cls, "The API refused the request.")
    where = f"{call}: " if call else ""
    outscale = isinstance(data, Mapping) and isinstance(data.get("Errors"), list)
    if not outscale and cls in (E.ApiError, E.ApiUnavailable):
        server = f"the server at {host}" if host else "the server"
        return cls(f"{where}{server} did not answer as the OUTSCALE API does (HTTP {status}).",
                   http_status=status, call=call)
    ident = f" (Code {code}{', ' + type_ if type_ else ''}; HTTP {status})" if code else f" (HTTP {status})"
    message = f"{where}{summary}{ident}"
    kw: dict[str, Any] = dict(
        code=code, type=type_, details=details, request_id=request_id, http_status=status, call=call
    )
    if cls is E.AuthLocked:
        permanent = code == "11"
        retry_after: float | None = None
        if not permanent:
            retry_after = _retry_after(headers)
            if retry_after is None and details:
                m = _SECONDS_RE.search(details)
                retry_after = float(m.group(1)) if m else None
            if retry_after is None:
                retry_after = 60.0
        text = (
            "Authentication is locked after too many failures; contact support to unlock it."
            if permanent
            else f"Authentication is locked after too many failures; wait {retry_after:.0f} s."
        )
        return E.AuthLocked(f"{where}{text}{ident}", retry_after=retry_after, permanent=permanent, **kw)
    err = cls(message, **kw)
    if isinstance(err, E.Throttled):
        err.retry_after = _retry_after(headers)
    return err


def find_session_error(exc: BaseException) -> E.SessionError | None:
    """A typed SessionError hidden in an exception's cause/context/args chain (adapters wrap them)."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, E.SessionError):
            return e
        stack.extend(x for x in (e.__cause__, e.__context__) if x is not None)
        stack.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))
        reason = getattr(e, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)
    return None


def network_error(exc: requests.RequestException, host: str) -> E.SessionError:
    """The typed error for a failed request: a SessionError it carries, or timeout / TLS / unreachable."""
    found = find_session_error(exc)
    if found is not None:
        return found
    text = str(exc)
    if isinstance(exc, requests.exceptions.Timeout):
        return E.ConnectionTimeout(f"{host} did not answer in time.", host=host)
    if isinstance(exc, requests.exceptions.SSLError):
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
            return E.ServerNotTrusted(
                f"The certificate of {host} could not be verified.",
                host=host,
                reason="certificate verify failed",
            )
        return E.TlsHandshakeError(f"The TLS handshake with {host} failed.", host=host)
    return E.EndpointUnreachable(f"{host} cannot be reached.", host=host)
