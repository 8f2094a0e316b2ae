"""A typed OUTSCALE API client over any ``requests.Session`` (the mTLS one in production).

Credentials are set per client and never change on it: ``OutscaleClient(http, endpoint)`` makes
anonymous calls only (ReadRegions ...); ``client.with_access_key(ak, sk)`` and
``client.with_password(login, password)`` return new clients that share the same HTTP session
(connection pool, TLS session tickets). Login/password (Basic) is sent only on the 14 calls the API
accepts it for; any other call with a password client raises WrongAuthenticationMethod before
anything is sent.

Errors: every non-2xx answer becomes an ApiError subclass chosen by the OUTSCALE ``Code``
(:func:`error_from_response`). Throttling (codes 6/24/25, HTTP 429) is retried a bounded number of
times with exponential back-off; nothing else is retried (authentication failures never are, so a
wrong password can never count twice towards the lockout). Network failures become
EndpointUnreachable / ConnectionTimeout; typed SessionErrors raised by the HTTP session (the mTLS
adapter's TLS errors) pass through unchanged.

One file a concern: `client` (OutscaleClient, the call sets, signing and retries), `values` (the typed
answers and API dates), `error_map` (API error answers and network failures to typed errors).
"""

from __future__ import annotations

from app.session.api.client import (
    ANONYMOUS_CALLS,
    BASIC_AUTH_CALLS,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    USER_AGENT,
    OutscaleClient,
)
from app.session.api.error_map import error_class_for, error_from_response
from app.session.api.values import (
    AccessKey,
    Account,
    ApiAccessPolicy,
    ApiAccessRule,
    Ca,
    CreatedAccessKey,
    Region,
    Vm,
    format_api_datetime,
    parse_api_datetime,
)

__all__ = [
    "ANONYMOUS_CALLS",
    "BASIC_AUTH_CALLS",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "USER_AGENT",
    "AccessKey",
    "Account",
    "ApiAccessPolicy",
    "ApiAccessRule",
    "Ca",
    "CreatedAccessKey",
    "OutscaleClient",
    "Region",
    "Vm",
    "error_class_for",
    "error_from_response",
    "format_api_datetime",
    "parse_api_datetime",
]
