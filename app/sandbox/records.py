"""What state.json holds, one dataclass per table: accounts (with their API access policy and VMs),
access keys, CAs and API access rules. The parts that act on them: accounts.py, rules.py, vms.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class AccountRecord:
    """An account: its login, profile, API access policy and VMs."""

    account_id: str
    login: str
    password: str
    email: str
    first_name: str = "Camille"
    last_name: str = "Martin"
    company_name: str = "Sandbox SAS"
    customer_id: str = ""
    password_expired: bool = False
    max_access_key_expiration_seconds: int = 0
    require_trusted_env: bool = False
    vms: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class KeyRecord:
    """An access key (with its secret, as the server-side store keeps it)."""

    access_key_id: str
    secret_key: str
    account_id: str
    state: str
    creation_date: str
    last_modification_date: str
    expiration_date: str | None = None
    tag: str | None = None
    created_with_certificate: bool = False  # created over mTLS: eligible for the trusted-env bypass

    def public(self) -> dict[str, Any]:
        """The key as the API shows it (no secret)."""
        out: dict[str, Any] = {
            "AccessKeyId": self.access_key_id,
            "State": self.state,
            "CreationDate": self.creation_date,
            "LastModificationDate": self.last_modification_date,
        }
        if self.expiration_date:
            out["ExpirationDate"] = self.expiration_date
        if self.tag is not None:
            out["Tag"] = self.tag
        return out


@dataclass
class CaRecord:
    """A CA uploaded with CreateCa (PEM and SHA-1 fingerprint, as the API shows it)."""

    ca_id: str
    account_id: str
    pem: str
    fingerprint: str
    description: str | None = None

    def public(self) -> dict[str, Any]:
        """The CA as the API shows it."""
        out: dict[str, Any] = {"CaId": self.ca_id, "CaFingerprint": self.fingerprint}
        if self.description is not None:
            out["Description"] = self.description
        return out


@dataclass
class RuleRecord:
    """An API access rule: IP ranges, CAs and CNs a request must match."""

    rule_id: str
    account_id: str
    ip_ranges: list[str] = field(default_factory=list)
    ca_ids: list[str] = field(default_factory=list)
    cns: list[str] = field(default_factory=list)
    description: str | None = None

    def public(self) -> dict[str, Any]:
        """The rule as the API shows it."""
        out: dict[str, Any] = {
            "ApiAccessRuleId": self.rule_id,
            "IpRanges": list(self.ip_ranges),
            "CaIds": list(self.ca_ids),
            "Cns": list(self.cns),
        }
        if self.description is not None:
            out["Description"] = self.description
        return out
