"""Policy schema v1: the keys an administrator may set, each checked on its own.

A policy document is a JSON object (or the same tree from the Windows registry or macOS managed
preferences). Objects one level down (`pkcs11_modules`, `endpoints`, `support`) are split into dotted
keys ("pkcs11_modules.allowed"), so that sources merge key by key and each value keeps its source.
A value that is present but wrong takes the key's strictest reading (never the lax default) and is
reported; an unknown key is reported and ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

SCHEMA_VERSION = 1

# The objects whose members are policy keys of their own (merged one by one).
OBJECTS = ("pkcs11_modules", "endpoints", "support")

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class BadValue(ValueError):
    """A key's value does not fit the schema (the message says what was expected)."""


def _bool(v: Any) -> bool:
    # the registry has no boolean: a DWORD 0/1 is how Group Policy writes one
    if isinstance(v, bool):
        return v
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    raise BadValue("expected true or false")


def _strings(v: Any, what: str = "strings") -> list[str]:
    if isinstance(v, str):
        v = [v]  # one string where a list is expected: a list of one
    if not isinstance(v, list) or not all(isinstance(s, str) and s.strip() for s in v):
        raise BadValue(f"expected a list of {what}")
    return [s.strip() for s in v]


def _sources(v: Any) -> list[str]:
    out = _strings(v)
    bad = [s for s in out if s not in ("card", "file")]
    if bad or not out:
        raise BadValue('expected ["card"] or ["card", "file"]')
    return out


def _issuers(v: Any) -> list[str]:
    out = [s.lower().replace(":", "").replace(" ", "") for s in _strings(v, "SHA-256 fingerprints")]
    bad = [s for s in out if not _HEX64.match(s)]
    if bad:
        raise BadValue(f"not a SHA-256 fingerprint (64 hex digits): {bad[0][:80]}")
    return out


def _endpoint(v: Any) -> dict[str, str]:
    if not isinstance(v, Mapping):
        raise BadValue('expected {"region": ..., "api": "https://..."}')
    region, api = v.get("region"), v.get("api")
    if not isinstance(region, str) or not region.strip() or any(c.isspace() or c == "/" for c in region):
        raise BadValue("an endpoint needs a Region name")
    if api is None:
        api = f"https://api.{region.strip()}.outscale.com/api/v1"
    parts = urlsplit(api.strip()) if isinstance(api, str) else None
    if parts is None or parts.scheme.lower() != "https" or not parts.hostname:
        raise BadValue("an endpoint's api must be an https:// URL")
    return {"region": region.strip(), "api": api.strip()}


def _endpoints(v: Any) -> list[dict[str, str]]:
    if isinstance(v, Mapping):
        v = [v]
    if not isinstance(v, list) or not v:
        raise BadValue("expected a non-empty list of endpoints")
    return [_endpoint(e) for e in v]


def _seconds(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or v < 0 or v != v:
        raise BadValue("expected a number of seconds, zero or more")
    return float(v)


def _path(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise BadValue("expected a file path")
    return v.strip()


def _text(v: Any) -> str:
    if not isinstance(v, str):
        raise BadValue("expected text")
    return v.strip()


def _version(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise BadValue("expected 1")
    return v


# dotted key -> (checker, the strictest reading used when the value is wrong; None = ignore the key)
KEYS: dict[str, tuple[Callable[[Any], Any], Any]] = {
    "version": (_version, None),
    "pkcs11_modules.allowed": (lambda v: _strings(v, "paths or globs"), []),
    "pkcs11_modules.user_may_add": (_bool, False),
    "certificate_sources": (_sources, ["card"]),
    "allowed_issuers_sha256": (_issuers, []),
    "endpoints.fixed": (_endpoints, []),
    "endpoints.default": (_endpoint, None),
    "max_grace_seconds": (_seconds, 0.0),
    "end_on_removal": (_bool, True),
    "remember_me": (_bool, False),
    "local_agent": (_bool, False),
    "publish_profile": (_bool, False),
    "extra_ca_file": (_path, None),
    "support.url": (_text, None),
    "support.text": (_text, None),
}


def flatten(doc: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The document as dotted keys, and the unknown keys (reported, not fatal)."""
    flat: dict[str, Any] = {}
    unknown: list[str] = []
    for key, value in doc.items():
        if key in OBJECTS:
            if not isinstance(value, Mapping):
                flat[key] = value  # checked below: reported as a wrong value of the object
                continue
            for sub, v in value.items():
                name = f"{key}.{sub}"
                (flat.__setitem__(name, v) if name in KEYS else unknown.append(name))
        elif key in KEYS:
            flat[key] = value
        elif not key.startswith("$"):  # "$schema", "$comment": annotations, not settings
            unknown.append(key)
    return flat, unknown


def check(doc: Mapping[str, Any]) -> tuple[dict[str, Any], list[str], list[str]]:
    """(valid dotted values, problems in plain words, unknown keys) of one source's document."""
    flat, unknown = flatten(doc)
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key, raw in flat.items():
        if key in OBJECTS:  # e.g. "endpoints": "x" - every member takes its strictest reading
            problems.append(f"'{key}' must be an object")
            for name, (_, strict) in KEYS.items():
                if name.startswith(key + ".") and strict is not None:
                    values[name] = strict
            continue
        checker, strict = KEYS[key]
        try:
            values[key] = checker(raw)
        except BadValue as e:
            problems.append(f"'{key}': {e}" + ("" if strict is None else "; the strictest reading applies"))
            if strict is not None:
                values[key] = strict
    version = values.get("version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        problems.append(f"this policy is version {version}; this application reads version {SCHEMA_VERSION}: "
                        "the keys it knows apply")
    return values, problems, unknown


def nest(values: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted keys back into the documented JSON shape."""
    out: dict[str, Any] = {}
    for key, v in values.items():
        head, _, sub = key.partition(".")
        if sub:
            out.setdefault(head, {})[sub] = v
        else:
            out[key] = v
    return out
