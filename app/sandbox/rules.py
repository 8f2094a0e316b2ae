"""API access rules, the CAs they name, and the API access policy: storing, validating and enforcing them.

`AccessControl.enforce` decides Code 14 for an authenticated request (IP ranges, CA, CN) and applies the
trusted-environment bypass; how OUTSCALE evaluates CAs and rules belongs here.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from app.sandbox.accounts import AccountBook
from app.sandbox.records import AccountRecord, CaRecord, RuleRecord
from app.sandbox.wire import ApiFault, AuthContext, CallHandler, SandboxRequest, invalid, owned
from app.session.api import BASIC_AUTH_CALLS, parse_api_datetime

MAX_EXPIRATION_SECONDS = 3_153_600_000


def _ca_fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest()  # noqa: S324 - API's format


def _cn(cert: x509.Certificate) -> str | None:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else None


def _issued_by(leaf: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        leaf.verify_directly_issued_by(ca)
    except Exception:
        return False
    return True


def _list_param(p: Mapping[str, Any], name: str) -> list[str]:
    v = p.get(name) or []
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise invalid(f"{name} must be a list of strings.")
    return v


def _policy(acc: AccountRecord) -> dict[str, Any]:
    return {
        "ApiAccessPolicy": {
            "MaxAccessKeyExpirationSeconds": acc.max_access_key_expiration_seconds,
            "RequireTrustedEnv": acc.require_trusted_env,
        }
    }


class AccessControl:
    """CAs, API access rules and the API access policy of every account (under the state's lock)."""

    def __init__(
        self,
        book: AccountBook,
        *,
        now: Callable[[], float],
        save: Callable[[], None],
        lock: threading.RLock,
        on_ca_added: Callable[[str], None] | None = None,
    ) -> None:
        self._book, self._now, self._save, self._lock = book, now, save, lock
        self.on_ca_added = on_ca_added
        self.cas: dict[str, CaRecord] = {}
        self.rules: dict[str, RuleRecord] = {}

    def handlers(self) -> dict[str, CallHandler]:
        """The emulated calls this part answers."""
        return {
            "ReadApiAccessPolicy": self._call_ReadApiAccessPolicy,
            "UpdateApiAccessPolicy": self._call_UpdateApiAccessPolicy,
            "ReadCas": self._call_ReadCas,
            "CreateCa": self._call_CreateCa,
            "DeleteCa": self._call_DeleteCa,
            "UpdateCa": self._call_UpdateCa,
            "ReadApiAccessRules": self._call_ReadApiAccessRules,
            "CreateApiAccessRule": self._call_CreateApiAccessRule,
            "DeleteApiAccessRule": self._call_DeleteApiAccessRule,
            "UpdateApiAccessRule": self._call_UpdateApiAccessRule,
        }

    # administration (tests, demo) --------------------------------------------------------------------

    def add_default_rule(self, account_id: str) -> None:
        """The rule a new OUTSCALE account starts with: every IPv4 address (not saved)."""
        rule = RuleRecord(
            rule_id="aar-" + secrets.token_hex(16),
            account_id=account_id,
            ip_ranges=["0.0.0.0/0"],
            description="Allows all IPv4 domain",
        )
        self.rules[rule.rule_id] = rule

    def add_ca(self, account_id: str, ca_pem: str, description: str | None = None) -> CaRecord:
        """Upload a CA (as CreateCa does)."""
        try:
            cert = x509.load_pem_x509_certificate(ca_pem.encode())
        except ValueError as e:
            raise invalid("CaPem is not a PEM certificate.") from e
        try:
            bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
            is_ca = bc.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            raise invalid("CaPem is not a CA certificate (basicConstraints CA:TRUE is required).")
        with self._lock:
            rec = CaRecord(
                ca_id="ca-" + secrets.token_hex(16),
                account_id=account_id,
                pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
                fingerprint=_ca_fingerprint(cert),
                description=description,
            )
            self.cas[rec.ca_id] = rec
            self._save()
        if self.on_ca_added:
            self.on_ca_added(rec.pem)
        return rec

    def add_rule(
        self,
        account_id: str,
        *,
        ip_ranges: Sequence[str] = (),
        ca_ids: Sequence[str] = (),
        cns: Sequence[str] = (),
        description: str | None = None,
    ) -> RuleRecord:
        """Add an API access rule (validated as CreateApiAccessRule does)."""
        with self._lock:
            self._validate_rule(account_id, list(ip_ranges), list(ca_ids), list(cns))
            rec = RuleRecord(
                rule_id="aar-" + secrets.token_hex(16),
                account_id=account_id,
                ip_ranges=list(ip_ranges),
                ca_ids=list(ca_ids),
                cns=list(cns),
                description=description,
            )
            self.rules[rec.rule_id] = rec
            self._save()
            return rec

    def remove_rule(self, rule_id: str) -> None:
        """Delete a rule without the 'last rule' protection (tests, --client-ca)."""
        with self._lock:
            self.rules.pop(rule_id, None)
            self._save()

    def set_policy(
        self,
        account_id: str,
        *,
        max_access_key_expiration_seconds: int | None = None,
        require_trusted_env: bool | None = None,
        force: bool = False,
    ) -> None:
        """Change the API access policy (validated like UpdateApiAccessPolicy unless `force`)."""
        with self._lock:
            acc = self._book.accounts[account_id]
            mx = (
                acc.max_access_key_expiration_seconds
                if max_access_key_expiration_seconds is None
                else max_access_key_expiration_seconds
            )
            rte = acc.require_trusted_env if require_trusted_env is None else require_trusted_env
            if not force:
                self._validate_policy(account_id, mx, rte)
            acc.max_access_key_expiration_seconds, acc.require_trusted_env = int(mx), bool(rte)
            self._save()

    # enforcement ---------------------------------------------------------------------------------------

    def _rule_matches(
        self, rule: RuleRecord, ip: str, cert: x509.Certificate | None, *, ignore_cert: bool
    ) -> bool:
        if rule.ip_ranges:
            try:
                addr = ipaddress.ip_address(ip)
            except ValueError:
                return False
            if not any(addr in ipaddress.ip_network(r, strict=False) for r in rule.ip_ranges):
                return False
        if ignore_cert:
            return True
        if rule.ca_ids:
            if cert is None:
                return False
            cas = [self.cas[c] for c in rule.ca_ids if c in self.cas]
            if not any(_issued_by(cert, x509.load_pem_x509_certificate(c.pem.encode())) for c in cas):
                return False
            if rule.cns and _cn(cert) not in rule.cns:
                return False
        return True

    def enforce(self, req: SandboxRequest, auth: AuthContext) -> None:
        """Raise Code 14 unless a rule of the account matches the request (or the trusted-env bypass
        applies); note on `auth` whether the client certificate matched a rule's CA."""
        cert = x509.load_der_x509_certificate(req.peer_cert_der) if req.peer_cert_der else None
        rules = [r for r in self.rules.values() if r.account_id == auth.account_id]
        matched = [r for r in rules if self._rule_matches(r, req.client_ip, cert, ignore_cert=False)]
        if matched:
            if cert is not None and any(r.ca_ids for r in matched):
                auth.certificate_matched_ca = True
            return
        acc = self._book.accounts[auth.account_id]
        key = auth.key
        if (
            acc.require_trusted_env
            and key is not None
            and key.created_with_certificate
            and key.expiration_date
            and req.call not in BASIC_AUTH_CALLS
            and any(self._rule_matches(r, req.client_ip, None, ignore_cert=True) for r in rules)
        ):
            return
        raise ApiFault(
            401,
            "14",
            "AccessDenied",
            "ErrorUnmatchedApiAccessRules: The authentication method does not comply with the API access "
            "rules configured for your account. Please, use a valid certificate or IP address.",
        )

    # validation helpers --------------------------------------------------------------------------------

    def _validate_rule(
        self, account_id: str, ip_ranges: list[str], ca_ids: list[str], cns: list[str]
    ) -> None:
        if not ip_ranges and not ca_ids:
            raise ApiFault(400, "7000", "MissingParameter", "Specify at least CaIds or IpRanges.")
        if cns and not ca_ids:
            raise ApiFault(400, "7000", "MissingParameter", "Cns requires CaIds.")
        for r in ip_ranges:
            try:
                ipaddress.ip_network(r, strict=False)
            except ValueError as e:
                raise invalid(f"'{r}' is not an IP address or CIDR block.", "4030") from e
        for c in ca_ids:
            if c not in self.cas or self.cas[c].account_id != account_id:
                raise ApiFault(400, "5012", "InvalidResource", f"The CA '{c}' does not exist.")
        if self._book.accounts[account_id].require_trusted_env and not ca_ids:
            raise invalid("With RequireTrustedEnv, every API access rule must name a CA.")

    def _validate_policy(self, account_id: str, max_seconds: int, trusted: bool) -> None:
        if (
            not isinstance(max_seconds, int)
            or isinstance(max_seconds, bool)
            or not 0 <= max_seconds <= MAX_EXPIRATION_SECONDS
        ):
            raise invalid("MaxAccessKeyExpirationSeconds must be between 0 and 3153600000.")
        if trusted and max_seconds == 0:
            raise invalid("RequireTrustedEnv needs MaxAccessKeyExpirationSeconds greater than 0.")
        keys = [k for k in self._book.keys.values() if k.account_id == account_id]
        if max_seconds > 0:
            for k in keys:
                exp = parse_api_datetime(k.expiration_date) if k.expiration_date else None
                if exp is None or exp.timestamp() - self._now() > max_seconds:
                    raise invalid(
                        f"The access key {k.access_key_id} has no expiration date or outlives "
                        "MaxAccessKeyExpirationSeconds."
                    )
        if trusted:
            for r in self.rules.values():
                if r.account_id == account_id and not r.ca_ids:
                    raise invalid(
                        f"The API access rule {r.rule_id} names no CA; RequireTrustedEnv needs one."
                    )

    def _own_ca(self, auth: AuthContext | None, ca_id: Any) -> CaRecord:
        missing = ApiFault(400, "5012", "InvalidResource", f"The CA '{ca_id}' does not exist.")
        return owned(self.cas, ca_id, auth, missing)

    def _own_rule(self, auth: AuthContext | None, rule_id: Any) -> RuleRecord:
        missing = ApiFault(400, "5044", "InvalidResource", f"The API access rule '{rule_id}' does not exist.")
        return owned(self.rules, rule_id, auth, missing)

    # calls ----------------------------------------------------------------------------------------------

    def _call_ReadApiAccessPolicy(self, p: Mapping[str, Any], auth: AuthContext | None) -> dict[str, Any]:
        assert auth is not None
        return _policy(self._book.accounts[auth.account_id])

    def _call_UpdateApiAccessPolicy(self, p: Mapping[str, Any], auth: AuthContext | None) -> dict[str, Any]:
        assert auth is not None
        mx, trusted = p["MaxAccessKeyExpirationSeconds"], p["RequireTrustedEnv"]
        if not isinstance(trusted, bool):
            raise invalid("RequireTrustedEnv must be a boolean.")
        self.set_policy(auth.account_id, max_access_key_expiration_seconds=mx, require_trusted_env=trusted)
        return _policy(self._book.accounts[auth.account_id])

    def _call_ReadCas(self, p: Mapping[str, Any], auth: AuthContext | None) -> dict[str, Any]:
        assert auth is not None
        f = p.get("Filters") or {}
        cas = [c for c in self.cas.values() if c.account_id == auth.account_id]
        if isinstance(f, dict) and f.get("CaIds"):
            cas = [c for c in cas if c.ca_id in f["CaIds"]]
        return {"Cas": [c.public() for c in cas]}

    def _call_CreateCa(self, p: Mapping[str, Any], auth: AuthContext | None) -> dict[str, Any]:
        assert auth is not None
        if not isinstance(p["CaPem"], str):
            raise invalid("CaPem must be a string.")
        return {"Ca": self.add_ca(auth.account_id, p["CaPem"], p.get("Description")).public()}

    def _call_DeleteCa(self, p: Mapping[str, Any], auth: AuthContext | None) -> dict[str, Any]:
        ca = self._own_ca(auth, p["CaId"])
        if any(ca.ca_id in r.ca_ids for r in self.rules.values()):
            raise ApiFault(409, "9002", "ResourceConflict", "The CA is used by an API access rule.")
        del self.cas[ca.ca_id]
        self._save()
        return {}

    def _call_UpdateCa(self, p: Mapping[str, Any], auth: AuthContext | None) -> dict[str, Any]:
        ca = self._own_ca(auth, p["CaId"])
        if "Description" in p:
            ca.description = str(p["Description"])
        self._save()
        return {"Ca": ca.public()}

    def _call_ReadApiAccessRules(self, p: Mapping[str, Any], auth: AuthContext | None) -> dict[str, Any]:
        assert auth is not None
        rules = [r for r in self.rules.values() if r.account_id == auth.account_id]
        f = p.get("Filters") or {}
        if isinstance(f, dict) and f.get("ApiAccessRuleIds"):
            rules = [r for r in rules if r.rule_id in f["ApiAccessRuleIds"]]
        return {"ApiAccessRules": [r.public() for r in rules]}

    def _call_CreateApiAccessRule(self, p: Mapping[str, Any], auth: AuthContext | None) -> dict[str, Any]:
        assert auth is not None
        rule = self.add_rule(
            auth.account_id,
            ip_ranges=_list_param(p, "IpRanges"),
            ca_ids=_list_param(p, "CaIds"),
            cns=_list_param(p, "Cns"),
            description=p.get("Description"),
        )
        return {"ApiAccessRule": rule.public()}

    def _call_DeleteApiAccessRule(self, p: Mapping[str, Any], auth: AuthContext | None) -> dict[str, Any]:
        rule = self._own_rule(auth, p["ApiAccessRuleId"])
        if sum(1 for r in self.rules.values() if r.account_id == rule.account_id) <= 1:
            raise ApiFault(409, "9002", "ResourceConflict", "You cannot delete the last API access rule.")
        del self.rules[rule.rule_id]
        self._save()
        return {}

    def _call_UpdateApiAccessRule(self, p: Mapping[str, Any], auth: AuthContext | None) -> dict[str, Any]:
        rule = self._own_rule(auth, p["ApiAccessRuleId"])
        ip = _list_param(p, "IpRanges") if "IpRanges" in p else rule.ip_ranges
        cas = _list_param(p, "CaIds") if "CaIds" in p else rule.ca_ids
        cns = _list_param(p, "Cns") if "Cns" in p else rule.cns
        self._validate_rule(rule.account_id, ip, cas, cns)
        rule.ip_ranges, rule.ca_ids, rule.cns = list(ip), list(cas), list(cns)
        if "Description" in p:
            rule.description = str(p["Description"])
        self._save()
        return {"ApiAccessRule": rule.public()}
