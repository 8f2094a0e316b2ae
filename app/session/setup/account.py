"""What an account's API access looks like: its CAs, rules and policy, read once and told in plain words."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from dataclasses import dataclass

from app.session.api import AccessKey, ApiAccessPolicy, ApiAccessRule, Ca, OutscaleClient

#: Descriptions of what this tool creates start with this, so `--remove` finds them again.
MARKER = "osc-trusted-login mfa-setup"


@dataclass(frozen=True)
class AccountSnapshot:
    """The account's CAs, API access rules, API access policy and access keys at one moment."""

    cas: tuple[Ca, ...]
    rules: tuple[ApiAccessRule, ...]
    policy: ApiAccessPolicy
    keys: tuple[AccessKey, ...]

    def ca(self, ca_id: str) -> Ca | None:
        """The CA with this id, if the account has it."""
        return next((c for c in self.cas if c.ca_id == ca_id), None)

    def ip_only_rules(self) -> tuple[ApiAccessRule, ...]:
        """Rules that name no CA: a request from their addresses passes without any certificate."""
        return tuple(r for r in self.rules if not r.ca_ids)

    def ours(self) -> tuple[tuple[ApiAccessRule, ...], tuple[Ca, ...]]:
        """The rules and CAs a previous run of this tool created (by their description)."""
        rules = tuple(r for r in self.rules if (r.description or "").startswith(MARKER))
        cas = tuple(c for c in self.cas if (c.description or "").startswith(MARKER))
        return rules, cas

    def to_json(self) -> dict[str, object]:
        """A JSON-ready view (no secrets: access keys are listed by id)."""
        return {
            "cas": [
                {"id": c.ca_id, "fingerprint": c.fingerprint, "description": c.description} for c in self.cas
            ],
            "rules": [
                {"id": r.rule_id, "ip_ranges": list(r.ip_ranges), "ca_ids": list(r.ca_ids),
                 "cns": list(r.cns), "description": r.description}
                for r in self.rules
            ],
            "policy": {
                "max_access_key_expiration_seconds": self.policy.max_access_key_expiration_seconds,
                "require_trusted_env": self.policy.require_trusted_env,
            },
            "access_keys": [
                {"id": k.access_key_id, "state": k.state,
                 "expires": k.expiration_date.isoformat() if k.expiration_date else None}
                for k in self.keys
            ],
        }


def read_snapshot(client: OutscaleClient) -> AccountSnapshot:
    """ReadCas, ReadApiAccessRules, ReadApiAccessPolicy and ReadAccessKeys (all accept a login)."""
    return AccountSnapshot(
        client.read_cas(), client.read_api_access_rules(), client.read_api_access_policy(),
        client.read_access_keys(),
    )


def _names(items: Iterable[str]) -> str:
    return ", ".join(items)


def describe_rule(rule: ApiAccessRule, snapshot: AccountSnapshot | None = None) -> str:
    """One rule in plain words."""
    where = f"from {_names(rule.ip_ranges)}" if rule.ip_ranges else "from any address"
    if not rule.ca_ids:
        return f"Rule {rule.rule_id}: lets in any request {where}, with or without a certificate."
    cas = []
    for ca_id in rule.ca_ids:
        ca = snapshot.ca(ca_id) if snapshot else None
        cas.append(f"{ca_id} ({ca.description})" if ca and ca.description else ca_id)
    who = f"a certificate issued by {_names(cas)}"
    if rule.cns:
        who += f" whose common name is {_names(rule.cns)}"
    return f"Rule {rule.rule_id}: lets in a request {where} only with {who}."


def describe_policy(policy: ApiAccessPolicy) -> str:
    """The API access policy in plain words."""
    mx = policy.max_access_key_expiration_seconds
    life = f"access keys live at most {_duration(mx)}" if mx else "access keys may live forever"
    trusted = (
        "a trusted session is active: the certificate is needed to create a temporary key, calls signed "
        "with it pass without the certificate"
        if policy.require_trusted_env
        else "no trusted session is activated through the API"
    )
    return f"Policy: {life}; {trusted}."


def _duration(seconds: int) -> str:
    if seconds % 86400 == 0:
        return f"{seconds // 86400} day(s)"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} hour(s)"
    return f"{seconds} s"


def describe_account(snapshot: AccountSnapshot) -> list[str]:
    """The account's API access in plain words, one line each."""
    lines = []
    if snapshot.cas:
        for c in snapshot.cas:
            lines.append(f"CA {c.ca_id}: {c.description or 'no description'} (SHA-1 {c.fingerprint}).")
    else:
        lines.append("No CA is uploaded.")
    if not snapshot.rules:
        lines.append("No API access rule: every request is refused (Code 14).")
    lines.extend(describe_rule(r, snapshot) for r in snapshot.rules)
    if snapshot.rules and not snapshot.ip_only_rules():
        lines.append("Every rule names a CA: no request passes without a certificate they issued.")
    elif snapshot.rules:
        lines.append("A request from an address of an IP-only rule passes without any certificate.")
    lines.append(describe_policy(snapshot.policy))
    never = [k.access_key_id for k in snapshot.keys if k.expiration_date is None]
    if never:
        lines.append(f"Access keys that never expire: {_names(never)}.")
    return lines


def keys_outliving(snapshot: AccountSnapshot, max_seconds: int, now: _dt.datetime) -> list[AccessKey]:
    """The access keys that have no expiry or expire later than `max_seconds` from `now`."""
    limit = now + _dt.timedelta(seconds=max_seconds)
    return [k for k in snapshot.keys if k.expiration_date is None or k.expiration_date > limit]
