"""The typed answers of the API calls the product makes, and the API's date format."""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.session.model import Secret

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
        """Whether the key is ACTIVE."""
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
        """Whether the rule names CAs (a request must then present a certificate they issued)."""
        return bool(self.ca_ids)


class AnswerShapeError(ValueError):
    """An API answer is JSON, but not of the shape the OUTSCALE API gives (the client says so plainly)."""


def obj(m: Any, key: str) -> Mapping[str, Any]:
    """`m[key]` as an object ({} when absent); AnswerShapeError for anything else."""
    if not isinstance(m, Mapping):
        raise AnswerShapeError("an object was expected")
    v = m.get(key)
    if v is None:
        return {}
    if not isinstance(v, Mapping):
        raise AnswerShapeError(f"{key} is not an object")
    return v


def items(m: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """`m[key]` as a list of objects ([] when absent); AnswerShapeError for anything else."""
    v = m.get(key)
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(i, Mapping) for i in v):
        raise AnswerShapeError(f"{key} is not a list of objects")
    return v


def text(m: Mapping[str, Any], key: str, default: str = "") -> str:
    """`m[key]` as a string (`default` when absent); AnswerShapeError for anything else."""
    v = opt_text(m, key)
    return default if v is None else v


def opt_text(m: Mapping[str, Any], key: str) -> str | None:
    """`m[key]` as a string or None; AnswerShapeError for anything else."""
    v = m.get(key)
    if v is not None and not isinstance(v, str):
        raise AnswerShapeError(f"{key} is not a string")
    return v


def texts(m: Mapping[str, Any], key: str) -> tuple[str, ...]:
    """`m[key]` as strings (() when absent); AnswerShapeError for anything else."""
    v = m.get(key)
    if v is None:
        return ()
    if not isinstance(v, list) or not all(isinstance(i, str) for i in v):
        raise AnswerShapeError(f"{key} is not a list of strings")
    return tuple(v)


def parse_policy(p: Mapping[str, Any]) -> ApiAccessPolicy:
    """An ApiAccessPolicy from its API JSON."""
    seconds, trusted = p.get("MaxAccessKeyExpirationSeconds"), p.get("RequireTrustedEnv")
    if seconds is not None and (not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 0):
        raise AnswerShapeError("MaxAccessKeyExpirationSeconds is not a number of seconds")
    if trusted is not None and not isinstance(trusted, bool):
        raise AnswerShapeError("RequireTrustedEnv is not true or false")
    return ApiAccessPolicy(seconds or 0, bool(trusted))


def parse_date(value: Any) -> _dt.datetime | None:
    """An API date, or None when absent or unreadable."""
    try:
        return parse_api_datetime(value) if isinstance(value, str) else None
    except ValueError:
        return None


def parse_access_key(k: Mapping[str, Any]) -> AccessKey:
    """An AccessKey from its API JSON."""
    return AccessKey(
        text(k, "AccessKeyId"),
        text(k, "State"),
        parse_date(k.get("CreationDate")),
        parse_date(k.get("ExpirationDate")),
        parse_date(k.get("LastModificationDate")),
        opt_text(k, "Tag"),
    )


def parse_vm(v: Mapping[str, Any]) -> Vm:
    """A Vm from its API JSON."""
    tags = tuple((text(t, "Key"), text(t, "Value")) for t in items(v, "Tags"))
    return Vm(
        text(v, "VmId"),
        opt_text(v, "State"),
        opt_text(v, "VmType"),
        opt_text(v, "ImageId"),
        opt_text(v, "PrivateIp"),
        opt_text(v, "PublicIp"),
        opt_text(obj(v, "Placement"), "SubregionName"),
        parse_date(v.get("CreationDate")),
        tags,
    )


def parse_rule(r: Mapping[str, Any]) -> ApiAccessRule:
    """An ApiAccessRule from its API JSON."""
    return ApiAccessRule(
        text(r, "ApiAccessRuleId"),
        texts(r, "IpRanges"),
        texts(r, "CaIds"),
        texts(r, "Cns"),
        opt_text(r, "Description"),
    )


def parse_region(r: Mapping[str, Any]) -> Region:
    """A Region from its API JSON."""
    return Region(text(r, "RegionName"), text(r, "Endpoint"))


def parse_account(a: Mapping[str, Any]) -> Account:
    """An Account from its API JSON."""
    return Account(text(a, "AccountId"), opt_text(a, "Email"), opt_text(a, "FirstName"),
                   opt_text(a, "LastName"), opt_text(a, "CompanyName"), opt_text(a, "CustomerId"))


def parse_ca(c: Mapping[str, Any]) -> Ca:
    """A Ca from its API JSON."""
    return Ca(text(c, "CaId"), opt_text(c, "CaFingerprint"), opt_text(c, "Description"))
