"""OSC4-HMAC-SHA256 request signatures and login/password Basic headers for the OUTSCALE API.

The algorithm is AWS Signature V4 with OUTSCALE's names: key derivation starts from
``"OSC4" + secret_key``, the scope is ``DATE/REGION/api/osc4_request``, the date header is
``X-Osc-Date`` and the signed headers are ``content-type;host;x-osc-date``. For the same date, host,
region, path and body, :func:`osc4_headers` gives exactly the headers of osc-sdk-python's
``Authentication.forge_headers_signed`` (tested on generated bodies, non-ASCII included).

Secrets arrive as :class:`~app.session.model.Secret` and are revealed only inside the HMAC/Base64
computation; nothing here logs or keeps them.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

from app.session.model import Secret
from app.tokens.secret import SecretWiped

ALGORITHM = "OSC4-HMAC-SHA256"
SERVICE = "api"
SIGNED_HEADERS = "content-type;host;x-osc-date"
CONTENT_TYPE = "application/json; charset=utf-8"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"


def _reveal(value: Secret | str) -> str:
    return value.reveal() if isinstance(value, Secret) else value


def _utc(now: _dt.datetime | None) -> _dt.datetime:
    if now is None:
        return _dt.datetime.now(_dt.UTC)
    if now.tzinfo is None:
        raise ValueError("signing dates must be timezone-aware (UTC)")
    return now.astimezone(_dt.UTC)


def osc_date(now: _dt.datetime | None = None) -> str:
    """The X-Osc-Date value (YYYYMMDDTHHMMSSZ) for `now` (default: the current UTC time)."""
    return _utc(now).strftime(DATE_FORMAT)


_DATE_RE = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z", re.ASCII)


def parse_osc_date(value: str) -> _dt.datetime:
    """Parse an X-Osc-Date value (exactly YYYYMMDDTHHMMSSZ); raises ValueError when malformed.

    Not strptime: it costs ten times more (the agent checks a date per call) and accepts one-digit
    fields, which no signer sends.
    """
    m = _DATE_RE.fullmatch(value)
    if m is None:
        raise ValueError(f"X-Osc-Date must be {DATE_FORMAT}")
    year, month, day, hour, minute, second = map(int, m.groups())
    return _dt.datetime(year, month, day, hour, minute, second, tzinfo=_dt.UTC)  # ValueError out of range


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


def canonical_request(
    *, method: str, path: str, host: str, content_type: str, date_iso: str, body: bytes | str
) -> str:
    """The canonical request (step 1 of SigV4), with OUTSCALE's three signed headers."""
    payload_hash = hashlib.sha256(_as_bytes(body)).hexdigest()
    canonical_headers = f"content-type:{content_type}\nhost:{host}\nx-osc-date:{date_iso}\n"
    return "\n".join([method, path, "", canonical_headers, SIGNED_HEADERS, payload_hash])


def credential_scope(date_stamp: str, region: str, service: str = SERVICE) -> str:
    """DATE/REGION/SERVICE/osc4_request."""
    return f"{date_stamp}/{region}/{service}/osc4_request"


def string_to_sign(date_iso: str, scope: str, canonical: str) -> str:
    """Step 2 of SigV4."""
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{date_iso}\n{scope}\n{digest}"


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret_key: Secret | str, date_stamp: str, region: str, service: str = SERVICE) -> bytes:
    """The derived signing key: HMAC chain from "OSC4" + secret key."""
    k = _hmac(("OSC4" + _reveal(secret_key)).encode("utf-8"), date_stamp)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "osc4_request")


class SigningKeys:
    """The derived key of one secret, kept for the last (day, Region): four HMACs saved per request.

    Holds the secret as the owner does (a Secret is revealed only to derive); no repr of either.
    """

    __slots__ = ("_last", "_secret")

    def __init__(self, secret_key: Secret | str) -> None:
        self._secret = secret_key
        self._last: tuple[tuple[str, str, str], bytes] | None = None

    def __repr__(self) -> str:
        return "SigningKeys(<hidden>)"

    def key(self, date_stamp: str, region: str, service: str = SERVICE) -> bytes:
        """The derived signing key for this day and Region."""
        last = self._last
        if isinstance(self._secret, Secret) and self._secret.wiped:
            self._last = None
            raise SecretWiped("this secret was wiped")  # a wiped key signs nothing more, cached or not
        if last is not None and last[0] == (date_stamp, region, service):
            return last[1]
        key = signing_key(self._secret, date_stamp, region, service)
        self._last = ((date_stamp, region, service), key)  # one tuple swap: safe across threads
        return key

    def forget(self) -> None:
        """Drop the derived key."""
        self._last = None


def _derived(secret_key: Secret | str | SigningKeys, date_stamp: str, region: str, service: str) -> bytes:
    if isinstance(secret_key, SigningKeys):
        return secret_key.key(date_stamp, region, service)
    return signing_key(secret_key, date_stamp, region, service)


def compute_signature(
    *,
    secret_key: Secret | str | SigningKeys,
    region: str,
    host: str,
    path: str,
    body: bytes | str,
    date_iso: str,
    method: str = "POST",
    content_type: str = CONTENT_TYPE,
    service: str = SERVICE,
) -> str:
    """The hex signature of one request."""
    date_stamp = date_iso[:8]
    scope = credential_scope(date_stamp, region, service)
    canonical = canonical_request(
        method=method, path=path, host=host, content_type=content_type, date_iso=date_iso, body=body
    )
    key = _derived(secret_key, date_stamp, region, service)
    return hmac.new(
        key, string_to_sign(date_iso, scope, canonical).encode("utf-8"), hashlib.sha256
    ).hexdigest()


def canonical_request_from_headers(
    *,
    method: str,
    path: str,
    headers: Mapping[str, str],
    signed_headers: str,
    body: bytes | str,
    query: str = "",
) -> str:
    """The canonical request over any SignedHeaders list (verifier side: curl and others may sign more).

    `headers` maps lower-case names to values; values are trimmed and inner spaces collapsed (SigV4).
    """
    canonical_headers = "".join(
        f"{n}:{' '.join(headers.get(n, '').split())}\n" for n in signed_headers.split(";")
    )
    payload_hash = hashlib.sha256(_as_bytes(body)).hexdigest()
    return "\n".join([method, path, query, canonical_headers, signed_headers, payload_hash])


def signature_of_canonical(
    *, secret_key: Secret | str, date_iso: str, region: str, canonical: str, service: str = SERVICE
) -> str:
    """The hex signature of an already built canonical request."""
    date_stamp = date_iso[:8]
    key = signing_key(secret_key, date_stamp, region, service)
    to_sign = string_to_sign(date_iso, credential_scope(date_stamp, region, service), canonical)
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def osc4_headers(
    *,
    access_key: str,
    secret_key: Secret | str | SigningKeys,
    region: str,
    host: str,
    path: str,
    body: bytes | str,
    now: _dt.datetime | None = None,
    method: str = "POST",
    content_type: str = CONTENT_TYPE,
) -> dict[str, str]:
    """Content-Type, X-Osc-Date and Authorization headers for an access-key-signed request.

    `host` is the value of the Host header the request will carry; `path` is the URL path
    (e.g. ``/api/v1/ReadVms``); `body` the exact bytes sent (a str is encoded as UTF-8).
    """
    date_iso = osc_date(now)
    scope = credential_scope(date_iso[:8], region)
    signature = compute_signature(
        secret_key=secret_key,
        region=region,
        host=host,
        path=path,
        body=body,
        date_iso=date_iso,
        method=method,
        content_type=content_type,
    )
    authorization = (
        f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={SIGNED_HEADERS}, Signature={signature}"
    )
    return {"Content-Type": content_type, "X-Osc-Date": date_iso, "Authorization": authorization}


def basic_headers(
    *, login: str, password: Secret | str, now: _dt.datetime | None = None, content_type: str = CONTENT_TYPE
) -> dict[str, str]:
    """Content-Type, X-Osc-Date and ``Authorization: Basic base64(login:password)`` headers."""
    token = base64.b64encode(f"{login}:{_reveal(password)}".encode()).decode("ascii")
    return {"Content-Type": content_type, "X-Osc-Date": osc_date(now), "Authorization": "Basic " + token}


# --- parsing (used by the sandbox to verify requests) ----------------------------------------------

_AUTH_RE = re.compile(
    r"^OSC4-HMAC-SHA256\s+Credential=(?P<ak>[^/\s,]+)/(?P<date>\d{8})/(?P<region>[^/\s,]+)/"
    r"(?P<service>[^/\s,]+)/osc4_request\s*,\s*SignedHeaders=(?P<signed>[a-z0-9;-]+)\s*,\s*"
    r"Signature=(?P<sig>[0-9a-fA-F]+)\s*$"
)


@dataclass(frozen=True)
class Osc4Authorization:
    """The parts of an ``Authorization: OSC4-HMAC-SHA256 ...`` header."""

    access_key: str
    date_stamp: str
    region: str
    service: str
    signed_headers: str
    signature: str


def parse_osc4_authorization(value: str) -> Osc4Authorization | None:
    """Split an OSC4 Authorization header; None when it is not one."""
    m = _AUTH_RE.match(value.strip())
    if not m:
        return None
    return Osc4Authorization(m["ak"], m["date"], m["region"], m["service"], m["signed"], m["sig"].lower())


def parse_basic_authorization(value: str) -> tuple[str, Secret] | None:
    """(login, password) from an ``Authorization: Basic ...`` header; None when it is not one."""
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    login, sep, password = decoded.partition(":")
    if not sep:
        return None
    return login, Secret(password)
