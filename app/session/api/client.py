"""OutscaleClient: typed OUTSCALE API calls over any requests.Session (see the package docstring)."""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import requests

from app.session import errors as E
from app.session.api.error_map import error_from_response, network_error
from app.session.api.values import (
    AccessKey,
    Account,
    AnswerShapeError,
    ApiAccessPolicy,
    ApiAccessRule,
    Ca,
    CreatedAccessKey,
    Region,
    Vm,
    format_api_datetime,
    items,
    obj,
    opt_text,
    parse_access_key,
    parse_account,
    parse_ca,
    parse_policy,
    parse_region,
    parse_rule,
    parse_vm,
    text,
)
from app.session.model import AuthMethod, Secret
from app.session.regions import Endpoint
from app.session.signing import CONTENT_TYPE, SigningKeys, basic_headers, osc4_headers

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


#: No honest OUTSCALE answer comes near this (the mTLS transport stops reading there already).
MAX_ANSWER_BYTES = 32 * 2**20


_signed_lock = threading.Lock()
_signed_at: dict[tuple[str, str, bytes], int] = {}  # (key id, call, body digest) -> second last signed in

_answers = threading.local()  # .status: the HTTP status of this thread's last 2xx answer


_F = TypeVar("_F", bound=Callable[..., Any])


def _typed(fn: _F) -> _F:
    """A typed call: an answer of the wrong shape becomes one plain ApiUnavailable, never a KeyError."""

    @functools.wraps(fn)
    def wrapper(self: OutscaleClient, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except AnswerShapeError as e:
            call = "".join(p.title() for p in fn.__name__.split("_"))  # read_vms -> ReadVms
            status = getattr(_answers, "status", 200)
            raise self._not_outscale(call, status, f"JSON of the wrong shape: {e}") from e

    return wrapper  # type: ignore[return-value]


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
        self._keys: SigningKeys | None = None  # the access key's derived signing key, kept for the day
        self._forward_proxies: dict[str, str] | None = None  # forward(): the proxy variables, read once

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
        other._keys = SigningKeys(secret) if method is AuthMethod.ACCESS_KEY else None
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
        """The API endpoint this client calls."""
        return self._endpoint

    @property
    def http(self) -> requests.Session:
        """The HTTP session under it (shared by the clients derived from it)."""
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
                secret_key=self._keys or self._secret,
                region=self._endpoint.region,
                host=self._endpoint.host,
                path=self._endpoint.path_for(call),
                body=body,
                now=self._unique_second(call, body),
            )
        )
        return headers

    def _unique_second(self, call: str, body: bytes) -> _dt.datetime:
        """The signing time: now, or the next second not yet used for this exact request.

        X-Osc-Date has whole seconds: the same call with the same body twice in one second would carry
        the same signature, which an API that refuses replays (the sandbox does) must refuse. A date a
        few seconds ahead is well within the API's clock-skew allowance (15 minutes), so nobody waits.
        """
        key = (self._identity or "", call, hashlib.sha256(body).digest())
        now = self._now()
        second = current = int(now.timestamp())
        with _signed_lock:
            last = _signed_at.get(key)
            if last is not None and 0 <= last - second < 600:  # (a clock set back is left alone)
                second = last + 1
                now = _dt.datetime.fromtimestamp(second, _dt.UTC)
            if len(_signed_at) > 4096:
                _signed_at.clear()
            _signed_at[key] = second
        if second - current > 60:  # a burst of identical requests: never more than a minute ahead
            self._sleep(second - current - 60)
        return now

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
                raise network_error(e, self._endpoint.host) from e
            if len(resp.content) > MAX_ANSWER_BYTES:
                raise self._not_outscale(call, resp.status_code, "an answer too large to be one")
            if 200 <= resp.status_code < 300:
                try:
                    data = resp.json()
                except (ValueError, RecursionError) as e:  # HTML, truncated, not UTF-8, nested too deep
                    raise self._not_outscale(call, resp.status_code, "not JSON") from e
                if not isinstance(data, dict):
                    raise self._not_outscale(call, resp.status_code, "JSON of the wrong shape")
                _answers.status = resp.status_code
                return data
            err = error_from_response(resp.status_code, resp.content, call=call, headers=resp.headers,
                                      host=self._endpoint.host)
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

    def forward(self, call: str, body: bytes) -> tuple[int, bytes, str]:
        """POST `body` (JSON bytes as a tool sent them) as `call`, signed with this client's credentials.

        The local API agent's path: the answer comes back raw (status, body, Content-Type), errors and
        throttling included, so the tool sees what the API said; no retry (the tool retries as it
        would). Network and TLS failures raise typed errors as `call` does.
        """
        url = self._endpoint.url_for(call)
        if self._forward_proxies is None:
            # The proxy variables, read once per client: looking them up on each call (what the session
            # does when none is given) scans the whole environment, a fifth of the agent's time per call.
            self._forward_proxies = dict(requests.utils.get_environ_proxies(url))
        headers = self._headers(call, body)
        post_raw = getattr(self._http, "post_raw", None)
        if post_raw is not None and not self._forward_proxies and url.startswith("https://"):
            # the mTLS session's lean path (no requests preparing, one TLS record): same pool and errors
            status, content, ctype = post_raw(url, body, headers, self._timeout)
            return int(status), bytes(content), str(ctype)
        try:
            resp = self._http.post(url, data=body, headers=headers, timeout=self._timeout,
                                   allow_redirects=False, verify=self._http.verify,
                                   proxies=self._forward_proxies)
        except E.SessionError:
            raise
        except requests.RequestException as e:
            raise network_error(e, self._endpoint.host) from e
        return resp.status_code, resp.content, resp.headers.get("Content-Type", "application/json")

    def _not_outscale(self, call: str, status: int, what: str) -> E.ApiUnavailable:
        return E.ApiUnavailable(f"{call}: the server at {self._endpoint.host} did not answer as the OUTSCALE "
                                f"API does ({what}; HTTP {status}).", http_status=status, call=call)

    # typed calls: each reads its answer with values.py's shape checks (@_typed says a wrong shape plainly)

    @_typed
    def read_regions(self) -> tuple[Region, ...]:
        """ReadRegions (no authentication): the Regions and their endpoints."""
        data = self.call("ReadRegions")
        return tuple(parse_region(r) for r in items(data, "Regions"))

    @_typed
    def read_api_access_policy(self) -> ApiAccessPolicy:
        """ReadApiAccessPolicy: MaxAccessKeyExpirationSeconds and RequireTrustedEnv."""
        return parse_policy(obj(self.call("ReadApiAccessPolicy"), "ApiAccessPolicy"))

    @_typed
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
        return parse_policy(obj(data, "ApiAccessPolicy"))

    @_typed
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
        raw = obj(self.call("CreateAccessKey", params), "AccessKey")
        base = parse_access_key(raw)
        return CreatedAccessKey(
            base.access_key_id,
            base.state,
            base.creation_date,
            base.expiration_date,
            base.last_modification_date,
            base.tag,
            secret_key=Secret(text(raw, "SecretKey")),
        )

    def delete_access_key(self, access_key_id: str) -> None:
        """DeleteAccessKey."""
        self.call("DeleteAccessKey", {"AccessKeyId": access_key_id})

    @_typed
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
        return tuple(parse_access_key(k) for k in items(data, "AccessKeys"))

    @_typed
    def read_accounts(self) -> tuple[Account, ...]:
        """ReadAccounts: the account that sent the request."""
        data = self.call("ReadAccounts")
        return tuple(parse_account(a) for a in items(data, "Accounts"))

    @_typed
    def read_vms(self, *, max_pages: int = 20) -> tuple[Vm, ...]:
        """ReadVms, following NextPageToken (at most `max_pages` pages)."""
        out: list[Vm] = []
        token: str | None = None
        for _ in range(max_pages):
            data = self.call("ReadVms", {"NextPageToken": token} if token else {})
            out.extend(parse_vm(v) for v in items(data, "Vms"))
            token = opt_text(data, "NextPageToken")
            if not token:
                break
        return tuple(out)

    @_typed
    def read_cas(self) -> tuple[Ca, ...]:
        """ReadCas."""
        data = self.call("ReadCas")
        return tuple(parse_ca(c) for c in items(data, "Cas"))

    @_typed
    def create_ca(self, ca_pem: str, description: str | None = None) -> Ca:
        """CreateCa (upload a client CA certificate in PEM)."""
        params: dict[str, Any] = {"CaPem": ca_pem}
        if description is not None:
            params["Description"] = description
        return parse_ca(obj(self.call("CreateCa", params), "Ca"))

    def delete_ca(self, ca_id: str) -> None:
        """DeleteCa."""
        self.call("DeleteCa", {"CaId": ca_id})

    @_typed
    def read_api_access_rules(self) -> tuple[ApiAccessRule, ...]:
        """ReadApiAccessRules."""
        data = self.call("ReadApiAccessRules")
        return tuple(parse_rule(r) for r in items(data, "ApiAccessRules"))

    @_typed
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
        return parse_rule(obj(self.call("CreateApiAccessRule", params), "ApiAccessRule"))

    def delete_api_access_rule(self, rule_id: str) -> None:
        """DeleteApiAccessRule."""
        self.call("DeleteApiAccessRule", {"ApiAccessRuleId": rule_id})

    @_typed
    def update_api_access_rule(
        self,
        rule_id: str,
        *,
        ip_ranges: Sequence[str] | None = None,
        ca_ids: Sequence[str] | None = None,
        cns: Sequence[str] | None = None,
        description: str | None = None,
    ) -> ApiAccessRule:
        """UpdateApiAccessRule (None leaves a field as it is; an empty list clears it)."""
        params: dict[str, Any] = {"ApiAccessRuleId": rule_id}
        for name, value in (("IpRanges", ip_ranges), ("CaIds", ca_ids), ("Cns", cns)):
            if value is not None:
                params[name] = list(value)
        if description is not None:
            params["Description"] = description
        return parse_rule(obj(self.call("UpdateApiAccessRule", params), "ApiAccessRule"))

    @_typed
    def update_ca(self, ca_id: str, description: str) -> Ca:
        """UpdateCa (its description: the only field the API lets change)."""
        return parse_ca(obj(self.call("UpdateCa", {"CaId": ca_id, "Description": description}), "Ca"))

    def check_authentication(self, login: str, password: Secret) -> None:
        """CheckAuthentication (signed with this client's access key): raises if login/password is wrong."""
        self.call("CheckAuthentication", {"Login": login, "Password": password.reveal()})
