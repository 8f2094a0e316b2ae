"""The effective policy: merged values, where each came from, and the questions the core asks it."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from app.policy.schema import nest

GRACE_FOR_REMOVAL = 0.0  # end_on_removal: the session ends the moment the card leaves
NOT_ALLOWED = "not allowed by your organisation"
SET_BY_ORGANISATION = "Set by your organisation"


class PolicyRefused(Exception):
    """The organisation's policy forbids what was asked (the message says what, and whom to ask)."""


@dataclass(frozen=True)
class SourceDoc:
    """One place a policy was read from: its label, its document, or why it could not be used."""

    label: str  # a path, "HKLM\\SOFTWARE\\Policies\\...", "managed preferences (device)"
    doc: Mapping[str, Any] | None = None
    error: str | None = None  # unreadable, unparseable, writable by users: nothing of it applies


def _norm_url(url: str) -> str:
    p = urlsplit(url.strip())
    path = p.path.rstrip("/") or "/api/v1"  # a bare https://host means its /api/v1 (regions.resolve_endpoint)
    port = f":{p.port}" if p.port and p.port != 443 else ""
    return f"{p.scheme.lower()}://{(p.hostname or '').lower()}{port}{path}"


@dataclass(frozen=True)
class Policy:
    """The organisation's policy as it applies to this run: read once at start, never changed after."""

    values: Mapping[str, Any] = field(default_factory=dict)  # dotted keys ("pkcs11_modules.allowed")
    origins: Mapping[str, str] = field(default_factory=dict)  # dotted key -> the source's label
    sources: tuple[str, ...] = ()  # every place a policy was found, lowest precedence first
    problems: tuple[str, ...] = ()  # plain words; reported, shown in Settings and by `policy`
    unknown: tuple[str, ...] = ()  # "source: key" of keys this version does not know
    blocking: tuple[str, ...] = ()  # why no login is possible until the administrator fixes the policy

    # -- what is there -------------------------------------------------------------------------

    @property
    def present(self) -> bool:
        """True when any policy source exists (even a broken one)."""
        return bool(self.sources)

    def is_set(self, key: str) -> bool:
        """True when the policy fixes `key` (dotted name): the UI shows that field read-only."""
        return key in self.values

    def origin(self, key: str) -> str | None:
        """Where `key`'s value came from."""
        return self.origins.get(key)

    def get(self, key: str, default: Any = None) -> Any:
        """The value of a dotted key, or `default`."""
        return self.values.get(key, default)

    def document(self) -> dict[str, Any]:
        """The effective values in the documented JSON shape."""
        return nest(self.values)

    # -- support --------------------------------------------------------------------------------

    def support_line(self) -> str | None:
        """The organisation's help text and address in one line, shown with every error."""
        parts = [p for p in (self.get("support.text"), self.get("support.url")) if p]
        return " - ".join(parts) if parts else None

    def refuse(self, what: str) -> PolicyRefused:
        """The error for something this policy forbids, with the support line."""
        support = self.support_line()
        return PolicyRefused(f"{what}{f' (help: {support})' if support else ''}")

    # -- login ----------------------------------------------------------------------------------

    def login_blocked(self) -> str | None:
        """Why no login may start (a broken or untrusted policy file), else None."""
        if not self.blocking:
            return None
        return ("Your organisation's policy could not be used, so logging in is blocked until an "
                "administrator fixes it: " + "; ".join(self.blocking))

    # -- PKCS#11 modules ------------------------------------------------------------------------

    def module_allowed(self, path: str, *, user_added: bool = False) -> bool:
        """May this module file be loaded? `user_added`: the user named it (Settings, --module)."""
        patterns = self.get("pkcs11_modules.allowed")
        if patterns is None:
            return True
        if user_added and self.get("pkcs11_modules.user_may_add", False):
            return True
        names = {os.path.expanduser(path), os.path.realpath(os.path.expanduser(path))}
        return any(fnmatch.fnmatchcase(n, pat) or os.path.realpath(pat) == n
                   for n in names for pat in patterns)

    # -- certificates ---------------------------------------------------------------------------

    @property
    def file_keys_allowed(self) -> bool:
        """False under certificate_sources ["card"]: keys in files are refused."""
        return "file" in self.get("certificate_sources", ["card", "file"])

    def issuer_allowed(self, issuer_fingerprints: Iterable[str]) -> bool:
        """True when no issuer list is set, or one of the certificate's issuing CAs (SHA-256 of its
        DER, as found by the caller) is on it."""
        allowed = self.get("allowed_issuers_sha256")
        if allowed is None:
            return True
        return any(f.lower() in allowed for f in issuer_fingerprints)

    # -- endpoints ------------------------------------------------------------------------------

    @property
    def fixed_endpoints(self) -> list[dict[str, str]] | None:
        """The endpoints the user picks from (None: not fixed)."""
        fixed = self.get("endpoints.fixed")
        return list(fixed) if fixed is not None else None

    @property
    def default_endpoint(self) -> dict[str, str] | None:
        """The endpoint used when the user names none (the first fixed one, or `default`)."""
        fixed = self.fixed_endpoints
        if fixed:
            return fixed[0]
        default = self.get("endpoints.default")
        return dict(default) if default else None

    def endpoint_allowed(self, url: str) -> bool:
        """True unless endpoints are fixed and `url` is none of them."""
        fixed = self.fixed_endpoints
        if fixed is None:
            return True
        return _norm_url(url) in {_norm_url(e["api"]) for e in fixed}

    # -- the session ----------------------------------------------------------------------------

    def grace_cap(self) -> float | None:
        """The longest grace the policy allows after a card removal (None: the API's rule alone)."""
        caps = [float(self.values["max_grace_seconds"])] if "max_grace_seconds" in self.values else []
        if self.get("end_on_removal", False):
            caps.append(GRACE_FOR_REMOVAL)
        return min(caps) if caps else None

    def capped_grace(self, grace: float) -> float:
        """`grace` (from the API's 5 min / 1 h rule) shortened by the policy, never lengthened."""
        cap = self.grace_cap()
        return grace if cap is None else min(grace, cap)

    @property
    def allows_remember_me(self) -> bool:
        """False forbids remembering the login."""
        return bool(self.get("remember_me", True))

    @property
    def allows_local_agent(self) -> bool:
        """False forbids the local API agent."""
        return bool(self.get("local_agent", True))

    @property
    def allows_publish_profile(self) -> bool:
        """False forbids publishing an osc profile for the session."""
        return bool(self.get("publish_profile", True))

    @property
    def extra_ca_file(self) -> str | None:
        """The organisation's extra CA bundle (TLS inspection proxies), or None."""
        value = self.get("extra_ca_file")
        return str(value) if value else None

    # -- reporting ------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The effective policy, where each value came from, and what is wrong (`policy --json`)."""
        return {
            "present": self.present,
            "sources": list(self.sources),
            "policy": self.document(),
            "origins": dict(sorted(self.origins.items())),
            "problems": list(self.problems),
            "unknown_keys": list(self.unknown),
            "login_blocked": self.login_blocked(),
        }
