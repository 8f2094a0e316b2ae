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
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

from app.session import errors as E
from app.session.model import AuthMethod, Secret
from app.session.regions import Endpoint
from app.session.signing import CONTENT_TYPE, basic_headers, osc4_headers

log = logging.getLogger(__name__)

#: Calls that accept login/password (security: ApiKeyAuthSec or BasicAuth in outscale.yaml). A
#: trusted session never lifts the certificate requirement on them.
BASIC_AUTH_CALLS: frozenset[str] = frozenset(
    {
        "CreateAccessKey",
        "DeleteAccessKey",
        "ReadAccessKeys",
        "UpdateAccessKey",
        "CreateApiAccessRule",
        "DeleteApiAccessRule",
        "ReadApiAccessRules",
        "UpdateApiAccessRule",
        "CreateCa",
        "DeleteCa",
        "ReadCas",
        "UpdateCa",
        "ReadApiAccessPolicy",
        "UpdateApiAccessPolicy",
    }
)

#: Calls with no authentication at all (security: [] in outscale.yaml).
ANONYMOUS_CALLS: frozenset[str] = frozenset(
    {
        "ReadRegions",
        "ReadPublicCatalog",
        "ReadVmTypes",
        "ReadLocations",
        "ReadPublicIpRanges",
        "ReadProductTypes",
        "ReadFlexibleGpuCatalog",
        "ReadNetAccessPointServices",
    }
)

DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 30.0)  # (connect, read) seconds
DEFAULT_MAX_RETRIES = 3
USER_AGENT = "osc-trusted-login"


# --- values ------------------------------------------------------------------------------------------

_DATE_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}:\d{2})(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")


def parse_api_datetime(value: str | None) -> _dt.datetime | None:
    """Parse the API's dates (``2063-04-05T00:00:00.000+0000``, ``...Z``, ``2020-06-14``); UTC-aware.

    Returns None for None/empty; raises ValueError for anything else unparsable.
    """
    if not value:
        return None
    m = _DATE_RE.match(value.strip())
    if not m:
        raise ValueError(f"not an ISO 8601 date: {value!r}")
    day, clock, frac, tz = m.groups()
    text = f"{day}T{clock or '00:00:00'}{(frac or '')[:7]}"
    if tz in (None, "Z"):
        tz = "+00:00"
    elif ":" not in tz:
        tz = tz[:3] + ":" + tz[3:]
    return _dt.datetime.fromisoformat(text + tz).astimezone(_dt.UTC)


def format_api_datetime(value: _dt.datetime) -> str:
    """A datetime as the API writes them: ``2063-04-05T00:00:00.000+0000`` (UTC)."""
    if value.tzinfo is None:
        raise ValueError("API dates must be timezone-aware")
    v = value.astimezone(_dt.UTC)
    return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}+0000"


@dataclass(frozen=True)
class Region:
    """One Region as ReadRegions lists it."""

    name: str
    endpoint: str


@dataclass(frozen=True)
class ApiAccessPolicy:
    """The account's API access policy. `max_access_key_expiration_seconds` 0 means unlimited."""

    max_access_key_expiration_seconds: int
    require_trusted_env: bool


@dataclass(frozen=True)
class AccessKey:
    """An access key as ReadAccessKeys lists it (no secret). State is ACTIVE or INACTIVE."""

    access_key_id: str
    state: str
    creation_date: _dt.datetime | None = None
    expiration_date: _dt.datetime | None = None
    last_modification_date: _dt.datetime | None = None
    tag: str | None = None

    @property
    def active(self) -> bool:
        return self.state == "ACTIVE"


@dataclass(frozen=True)
class CreatedAccessKey(AccessKey):
    """A new access key with its secret (a Secret: never shown by repr)."""

    secret_key: Secret = field(default_factory=lambda: Secret(""), repr=False, compare=False)

    def public(self) -> AccessKey:
        """The same key without its secret."""
        return AccessKey(
            self.access_key_id,
            self.state,
            self.creation_date,
            self.expiration_date,
            self.last_modification_date,
            self.tag,
        )


@dataclass(frozen=True)
class Account:
    """The account that sent the request (ReadAccounts)."""

    account_id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company_name: str | None = None
    customer_id: str | None = None


@dataclass(frozen=True)
class Vm:
    """A virtual machine, with the few fields the session window shows."""

    vm_id: str
    state: str | None = None
    vm_type: str | None = None
    image_id: str | None = None
    private_ip: str | None = None
    public_ip: str | None = None
    subregion: str | None = None
    creation_date: _dt.datetime | None = None
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str | None:
        """The value of the ``Name`` tag, if any."""
        return next((v for k, v in self.tags if k == "Name"), None)


@dataclass(frozen=True)
class Ca:
    """A client certificate authority uploaded with CreateCa."""

    ca_id: str
    fingerprint: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class ApiAccessRule:
    """An allow-list entry: IP ranges, CA ids and certificate CNs (each empty when not used)."""

    rule_id: str
    ip_ranges: tuple[str, ...] = ()
    ca_ids: tuple[str, ...] = ()
    cns: tuple[str, ...] = ()
    description: str | None = None

    @property
    def requires_certificate(self) -> bool:
        return bool(self.ca_ids)


# --- error mapping -----------------------------------------------------------------------------------

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
) -> E.ApiError:
    """Build the typed error for an API error answer (OUTSCALE's ``Errors``/``ResponseContext`` format)."""
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


# --- the client ----------------------------------------------------------------------------------------


def _find_session_error(exc: BaseException) -> E.SessionError | None:
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


def _network_error(exc: requests.RequestException, host: str) -> E.SessionError:
    found = _find_session_error(exc)
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


class OutscaleClient:
    """Typed OUTSCALE API calls. See the module docstring for credentials, errors and retries.

    `timeout` is a (connect, read) pair or one number of seconds, applied to every request;
    `max_retries` bounds the retries after throttling; `sleep` and `jitter` are injectable for tests.
    """

    def __init__(
        self,
        http: requests.Session,
        endpoint: Endpoint,
        *,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
        user_agent: str = USER_AGENT,
        clock: Callable[[], _dt.datetime] | None = None,
    ) -> None:
        if timeout is None:
            raise ValueError("every call needs a timeout")
        self._http = http
        self._endpoint = endpoint
        self._timeout = timeout
        self._max_retries = max(0, int(max_retries))
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._sleep = sleep
        self._user_agent = user_agent
        self._clock = clock
        self._method: AuthMethod | None = None
        self._identity: str | None = None
        self._secret: Secret | None = None

    def __repr__(self) -> str:
        who = f"{self._method.value} {self._identity}" if self._method else "anonymous"
        return f"OutscaleClient({self._endpoint.url!r}, {who})"

    # credentials ---------------------------------------------------------------------------------------

    def _copy(self, method: AuthMethod, identity: str, secret: Secret) -> OutscaleClient:
        other = OutscaleClient(
            self._http,
            self._endpoint,
            timeout=self._timeout,
            max_retries=self._max_retries,
            backoff_base=self._backoff_base,
            backoff_max=self._backoff_max,
            sleep=self._sleep,
            user_agent=self._user_agent,
            clock=self._clock,
        )
        other._method, other._identity, other._secret = method, identity, secret
        return other

    def with_access_key(self, access_key: str, secret_key: Secret) -> OutscaleClient:
        """A client (same HTTP session) that signs every call with this access key."""
        if not access_key:
            raise ValueError("an access key id is required")
        return self._copy(AuthMethod.ACCESS_KEY, access_key, secret_key)

    def with_password(self, login: str, password: Secret) -> OutscaleClient:
        """A client (same HTTP session) that uses login/password on the 14 calls that accept it."""
        if not login:
            raise ValueError("a login is required")
        return self._copy(AuthMethod.PASSWORD, login, password)

    @property
    def endpoint(self) -> Endpoint:
        return self._endpoint

    @property
    def http(self) -> requests.Session:
        return self._http

    @property
    def auth_method(self) -> AuthMethod | None:
        """How calls are authenticated (None: anonymous)."""
        return self._method

    @property
    def identity(self) -> str | None:
        """The login or access key id (never a secret)."""
        return self._identity

    # transport -----------------------------------------------------------------------------------------

    def _now(self) -> _dt.datetime:
        return self._clock() if self._clock else _dt.datetime.now(_dt.UTC)

    def _headers(self, call: str, body: bytes) -> dict[str, str]:
        headers = {"User-Agent": self._user_agent, "Accept": "application/json"}
        if call in ANONYMOUS_CALLS or self._method is None or self._secret is None or self._identity is None:
            if call not in ANONYMOUS_CALLS:
                raise E.WrongAuthenticationMethod(
                    f"{call}: this call needs credentials (an access key or, for a few calls, a login).",
                    code="10",
                    call=call,
                )
            headers["Content-Type"] = CONTENT_TYPE
            return headers
        if self._method is AuthMethod.PASSWORD:
            if call not in BASIC_AUTH_CALLS:
                raise E.WrongAuthenticationMethod(
                    f"{call}: the API accepts login/password only on access key, CA, access rule and policy "
                    "calls; create an access key first.",
                    code="9",
                    call=call,
                )
            headers.update(basic_headers(login=self._identity, password=self._secret, now=self._now()))
            return headers
        headers.update(
            osc4_headers(
                access_key=self._identity,
                secret_key=self._secret,
                region=self._endpoint.region,
                host=self._endpoint.host,
                path=self._endpoint.path_for(call),
                body=body,
                now=self._now(),
            )
        )
        return headers

    def _backoff(self, attempt: int, hint: float | None) -> float:
        if hint is not None:
            return min(hint, self._backoff_max)
        delay = self._backoff_base * (2**attempt)
        return float(min(self._backoff_max, delay + random.uniform(0, self._backoff_base)))  # noqa: S311

    def call(self, call: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """POST one call and return its decoded JSON answer; raises typed errors (see module doc)."""
        # ASCII-escaped JSON, as osc-sdk-python sends: the signed bytes are the bytes sent.
        body = json.dumps(dict(params or {})).encode("ascii")
        url = self._endpoint.url_for(call)
        attempt = 0
        while True:
            headers = self._headers(call, body)  # re-signed on each try: X-Osc-Date must be fresh
            try:
                # verify= repeats the session's own setting: requests would otherwise let
                # REQUESTS_CA_BUNDLE from the environment replace a session-level CA file.
                resp = self._http.post(
                    url,
                    data=body,
                    headers=headers,
                    timeout=self._timeout,
                    allow_redirects=False,
                    verify=self._http.verify,
                )
            except E.SessionError:
                raise
            except requests.RequestException as e:
                raise _network_error(e, self._endpoint.host) from e
            if 200 <= resp.status_code < 300:
                try:
                    data = resp.json()
                except ValueError as e:
                    raise E.ApiUnavailable(
                        f"{call}: the API answered with something that is not JSON.",
                        http_status=resp.status_code,
                        call=call,
                    ) from e
                if not isinstance(data, dict):
                    raise E.ApiUnavailable(
                        f"{call}: unexpected answer from the API.", http_status=resp.status_code, call=call
                    )
                return data
            err = error_from_response(resp.status_code, resp.content, call=call, headers=resp.headers)
            if isinstance(err, E.Throttled) and attempt < self._max_retries:
                delay = self._backoff(attempt, getattr(err, "retry_after", None))
                log.info(
                    "%s throttled (Code %s); retry %d/%d in %.1f s",
                    call,
                    err.code,
                    attempt + 1,
                    self._max_retries,
                    delay,
                )
                self._sleep(delay)
                attempt += 1
                continue
            raise err

    # typed calls ---------------------------------------------------------------------------------------

    def read_regions(self) -> tuple[Region, ...]:
        """ReadRegions (no authentication): the Regions and their endpoints."""
        data = self.call("ReadRegions")
        return tuple(Region(r.get("RegionName", ""), r.get("Endpoint", "")) for r in data.get("Regions", []))

    def read_api_access_policy(self) -> ApiAccessPolicy:
        """ReadApiAccessPolicy: MaxAccessKeyExpirationSeconds and RequireTrustedEnv."""
        return _policy(self.call("ReadApiAccessPolicy").get("ApiAccessPolicy", {}))

    def update_api_access_policy(
        self, max_access_key_expiration_seconds: int, require_trusted_env: bool
    ) -> ApiAccessPolicy:
        """UpdateApiAccessPolicy."""
        data = self.call(
            "UpdateApiAccessPolicy",
            {
                "MaxAccessKeyExpirationSeconds": int(max_access_key_expiration_seconds),
                "RequireTrustedEnv": bool(require_trusted_env),
            },
        )
        return _policy(data.get("ApiAccessPolicy", {}))

    def create_access_key(
        self, expiration_date: _dt.datetime | _dt.date | str | None = None, tag: str | None = None
    ) -> CreatedAccessKey:
        """CreateAccessKey (with an ExpirationDate for a temporary key); the secret comes back as a Secret."""
        params: dict[str, Any] = {}
        if expiration_date is not None:
            if isinstance(expiration_date, _dt.datetime):
                params["ExpirationDate"] = format_api_datetime(expiration_date).replace("+0000", "Z")
            elif isinstance(expiration_date, _dt.date):
                params["ExpirationDate"] = expiration_date.isoformat()
            else:
                params["ExpirationDate"] = expiration_date
        if tag is not None:
            params["Tag"] = tag
        raw = self.call("CreateAccessKey", params).get("AccessKey", {})
        base = _access_key(raw)
        return CreatedAccessKey(
            base.access_key_id,
            base.state,
            base.creation_date,
            base.expiration_date,
            base.last_modification_date,
            base.tag,
            secret_key=Secret(raw.get("SecretKey", "")),
        )

    def delete_access_key(self, access_key_id: str) -> None:
        """DeleteAccessKey."""
        self.call("DeleteAccessKey", {"AccessKeyId": access_key_id})

    def read_access_keys(
        self, access_key_ids: Sequence[str] | None = None, states: Sequence[str] | None = None
    ) -> tuple[AccessKey, ...]:
        """ReadAccessKeys (optionally filtered by ids / states)."""
        filters: dict[str, Any] = {}
        if access_key_ids:
            filters["AccessKeyIds"] = list(access_key_ids)
        if states:
            filters["States"] = list(states)
        data = self.call("ReadAccessKeys", {"Filters": filters} if filters else {})
        return tuple(_access_key(k) for k in data.get("AccessKeys", []))

    def read_accounts(self) -> tuple[Account, ...]:
        """ReadAccounts: the account that sent the request."""
        data = self.call("ReadAccounts")
        return tuple(
            Account(
                a.get("AccountId", ""),
                a.get("Email"),
                a.get("FirstName"),
                a.get("LastName"),
                a.get("CompanyName"),
                a.get("CustomerId"),
            )
            for a in data.get("Accounts", [])
        )

    def read_vms(self, *, max_pages: int = 20) -> tuple[Vm, ...]:
        """ReadVms, following NextPageToken (at most `max_pages` pages)."""
        out: list[Vm] = []
        token: str | None = None
        for _ in range(max_pages):
            data = self.call("ReadVms", {"NextPageToken": token} if token else {})
            out.extend(_vm(v) for v in data.get("Vms", []))
            token = data.get("NextPageToken")
            if not token:
                break
        return tuple(out)

    def read_cas(self) -> tuple[Ca, ...]:
        """ReadCas."""
        data = self.call("ReadCas")
        return tuple(
            Ca(c.get("CaId", ""), c.get("CaFingerprint"), c.get("Description")) for c in data.get("Cas", [])
        )

    def create_ca(self, ca_pem: str, description: str | None = None) -> Ca:
        """CreateCa (upload a client CA certificate in PEM)."""
        params: dict[str, Any] = {"CaPem": ca_pem}
        if description is not None:
            params["Description"] = description
        c = self.call("CreateCa", params).get("Ca", {})
        return Ca(c.get("CaId", ""), c.get("CaFingerprint"), c.get("Description"))

    def delete_ca(self, ca_id: str) -> None:
        """DeleteCa."""
        self.call("DeleteCa", {"CaId": ca_id})

    def read_api_access_rules(self) -> tuple[ApiAccessRule, ...]:
        """ReadApiAccessRules."""
        data = self.call("ReadApiAccessRules")
        return tuple(_rule(r) for r in data.get("ApiAccessRules", []))

    def create_api_access_rule(
        self,
        *,
        ip_ranges: Sequence[str] = (),
        ca_ids: Sequence[str] = (),
        cns: Sequence[str] = (),
        description: str | None = None,
    ) -> ApiAccessRule:
        """CreateApiAccessRule."""
        params: dict[str, Any] = {}
        if ip_ranges:
            params["IpRanges"] = list(ip_ranges)
        if ca_ids:
            params["CaIds"] = list(ca_ids)
        if cns:
            params["Cns"] = list(cns)
        if description is not None:
            params["Description"] = description
        return _rule(self.call("CreateApiAccessRule", params).get("ApiAccessRule", {}))

    def delete_api_access_rule(self, rule_id: str) -> None:
        """DeleteApiAccessRule."""
        self.call("DeleteApiAccessRule", {"ApiAccessRuleId": rule_id})

    def check_authentication(self, login: str, password: Secret) -> None:
        """CheckAuthentication (signed with this client's access key): raises if login/password is wrong."""
        self.call("CheckAuthentication", {"Login": login, "Password": password.reveal()})


def _policy(p: Mapping[str, Any]) -> ApiAccessPolicy:
    return ApiAccessPolicy(int(p.get("MaxAccessKeyExpirationSeconds") or 0), bool(p.get("RequireTrustedEnv")))


def _date(value: Any) -> _dt.datetime | None:
    try:
        return parse_api_datetime(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _access_key(k: Mapping[str, Any]) -> AccessKey:
    return AccessKey(
        k.get("AccessKeyId", ""),
        k.get("State", ""),
        _date(k.get("CreationDate")),
        _date(k.get("ExpirationDate")),
        _date(k.get("LastModificationDate")),
        k.get("Tag"),
    )


def _vm(v: Mapping[str, Any]) -> Vm:
    tags = tuple((str(t.get("Key", "")), str(t.get("Value", ""))) for t in v.get("Tags", []) or [])
    placement = v.get("Placement") or {}
    return Vm(
        v.get("VmId", ""),
        v.get("State"),
        v.get("VmType"),
        v.get("ImageId"),
        v.get("PrivateIp"),
        v.get("PublicIp"),
        placement.get("SubregionName"),
        _date(v.get("CreationDate")),
        tags,
    )


def _rule(r: Mapping[str, Any]) -> ApiAccessRule:
    return ApiAccessRule(
        r.get("ApiAccessRuleId", ""),
        tuple(r.get("IpRanges") or ()),
        tuple(r.get("CaIds") or ()),
        tuple(r.get("Cns") or ()),
        r.get("Description"),
    )
