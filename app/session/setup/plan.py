"""The proposed change: which CA to upload, which rule to create, which IP-only rules it replaces and
the optional trusted-session policy, checked before anything is sent (a wrong CA is refused here)."""

from __future__ import annotations

import datetime as _dt
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from app.session.errors import SessionError
from app.session.setup.account import MARKER, AccountSnapshot, describe_policy, keys_outliving

MAX_EXPIRATION_SECONDS = 3_153_600_000  # UpdateApiAccessPolicy's upper bound (outscale.yaml)


class SetupRefused(SessionError):
    """The set-up cannot be done as asked; nothing was sent to the account."""


@dataclass(frozen=True)
class SetupOptions:
    """What the operator chose: CN pinning, IP ranges, keeping IP-only rules, the trusted session."""

    pin_cn: bool = True
    ip_ranges: tuple[str, ...] | None = None  # None: those of the IP-only rules the new rule replaces
    keep_ip_rules: bool = False
    trusted_session_seconds: int | None = None  # MaxAccessKeyExpirationSeconds; None: policy unchanged


@dataclass(frozen=True)
class SetupPlan:
    """Everything the apply step will do, in order, and why; `problems` non-empty: refused."""

    run_id: str
    leaf: x509.Certificate
    ca: x509.Certificate
    ca_pem: str
    ca_fingerprint: str  # SHA-1 hex of the CA's DER, as the API shows CaFingerprint
    existing_ca_id: str | None  # the account already has this CA: reuse it
    rule_ip_ranges: tuple[str, ...]
    rule_cns: tuple[str, ...]
    existing_rule_id: str | None  # a rule with this CA, CNs and ranges already exists
    retire_rule_ids: tuple[str, ...]  # IP-only rules the new rule replaces
    trusted_session_seconds: int | None
    notes: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    snapshot: AccountSnapshot | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        """Whether the plan may be applied."""
        return not self.problems

    @property
    def changes_anything(self) -> bool:
        """Whether applying would send any change."""
        return bool(
            self.existing_ca_id is None or self.existing_rule_id is None or self.retire_rule_ids
            or self.trusted_session_seconds is not None
        )

    def description(self, what: str) -> str:
        """The Description given to what this run creates (`--remove` finds it by the marker)."""
        return f"{MARKER} run={self.run_id} {what}"

    def steps(self) -> list[str]:
        """The plan in plain words, one step a line."""
        out = []
        subject = self.ca.subject.rfc4514_string()
        if self.existing_ca_id:
            out.append(f"Use the CA {self.existing_ca_id} already uploaded ({subject}).")
        else:
            out.append(f"Upload the CA that issued your certificate: {subject} "
                       f"(SHA-1 {self.ca_fingerprint}).")
        out.append("Prove it: a mutual-TLS call with your certificate, while the current rules still stand.")
        where = f"from {', '.join(self.rule_ip_ranges)}" if self.rule_ip_ranges else "from any address"
        who = f" whose common name is {', '.join(self.rule_cns)}" if self.rule_cns else ""
        if self.existing_rule_id:
            out.append(f"Keep rule {self.existing_rule_id}: it already lets this certificate in {where}.")
        else:
            out.append(f"Create a rule: requests {where}, only with a certificate issued by this CA{who}.")
            out.append("Prove it again with a new mutual-TLS connection, the old rules still in place.")
        for rid in self.retire_rule_ids:
            out.append(f"Delete the IP-only rule {rid} (the new rule keeps its addresses and adds the "
                       "certificate).")
        out.append("Verify with a new connection: with your certificate a call passes; without it, Code 14.")
        if self.trusted_session_seconds is not None:
            out.append(
                "Activate a trusted session: "
                + describe_policy_change(self.trusted_session_seconds)
            )
        out.append("On any failure, undo what this run created and say what the account looks like.")
        return out

    def to_json(self) -> dict[str, object]:
        """A JSON-ready view of the plan."""
        return {
            "run_id": self.run_id,
            "ca": {"subject": self.ca.subject.rfc4514_string(), "fingerprint": self.ca_fingerprint,
                   "existing_id": self.existing_ca_id},
            "rule": {"ip_ranges": list(self.rule_ip_ranges), "cns": list(self.rule_cns),
                     "existing_id": self.existing_rule_id},
            "retire_rule_ids": list(self.retire_rule_ids),
            "trusted_session_seconds": self.trusted_session_seconds,
            "steps": self.steps(),
            "notes": list(self.notes),
            "problems": list(self.problems),
        }


def describe_policy_change(seconds: int) -> str:
    """The trusted-session policy this run would set, in plain words."""
    from app.session.api import ApiAccessPolicy

    return describe_policy(ApiAccessPolicy(seconds, True))


def fingerprint_sha1(cert: x509.Certificate) -> str:
    """SHA-1 hex of the certificate's DER: the form of the API's CaFingerprint."""
    der = cert.public_bytes(serialization.Encoding.DER)
    return hashlib.sha1(der).hexdigest()  # noqa: S324 - the API's fingerprint format, not a security check


def same_fingerprint(api_value: str | None, sha1_hex: str) -> bool:
    """Whether the API's CaFingerprint is this SHA-1 (colons and case ignored: the form is not documented)."""
    return (api_value or "").replace(":", "").lower() == sha1_hex.lower()


def common_name(cert: x509.Certificate) -> str | None:
    """The certificate's subject CN, if it has one."""
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else None


def issued(leaf: x509.Certificate, ca: x509.Certificate) -> bool:
    """Whether `ca` signed `leaf` (its name and signature: what OUTSCALE checks a CA rule with)."""
    try:
        leaf.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def load_pem_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate of a PEM file (or one DER certificate); SetupRefused when there is none."""
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as e:
        raise SetupRefused("The CA file holds no readable certificate (PEM or DER).") from e


def choose_ca(leaf: x509.Certificate, chain: Sequence[x509.Certificate],
              given: Sequence[x509.Certificate] = ()) -> x509.Certificate:
    """The CA that issued `leaf`: from the certificates `given` (a file), else from the chain the card
    or file holds. Refuses a CA that did not issue it, or one that is not a CA at all."""
    issuer = leaf.issuer.rfc4514_string()
    if given:
        found = next((c for c in given if issued(leaf, c)), None)
        if found is None:
            names = "; ".join(c.subject.rfc4514_string() for c in given)
            raise SetupRefused(
                f"The CA you gave ({names}) did not issue your certificate (its issuer is {issuer}). "
                "Nothing was changed."
            )
    else:
        found = next((c for c in chain if issued(leaf, c)), None)
        if found is None:
            raise SetupRefused(
                f"Your certificate's issuer ({issuer}) is not on the card or in the file: give the CA's "
                "certificate file (PEM)."
            )
    if not _is_ca(found):
        raise SetupRefused(f"{found.subject.rfc4514_string()} is not a CA certificate "
                           "(basicConstraints CA:TRUE).")
    return found


def _validity_problems(leaf: x509.Certificate, ca: x509.Certificate, now: _dt.datetime) -> list[str]:
    out = []
    for what, c in (("Your certificate", leaf), ("The CA", ca)):
        if c.not_valid_after_utc <= now:
            out.append(f"{what} expired on {c.not_valid_after_utc:%Y-%m-%d}: it cannot open a session.")
        elif c.not_valid_before_utc > now:
            out.append(f"{what} is not valid before {c.not_valid_before_utc:%Y-%m-%d}.")
    return out


def _policy_problems(snapshot: AccountSnapshot, seconds: int, retire: Sequence[str], keep: bool,
                     now: _dt.datetime) -> list[str]:
    out = []
    if not 0 < seconds <= MAX_EXPIRATION_SECONDS:
        out.append("The maximum key lifetime must be between 1 second and 3153600000 seconds (100 years).")
    remaining_ip_only = [r.rule_id for r in snapshot.ip_only_rules() if r.rule_id not in retire]
    if remaining_ip_only and keep:
        out.append(
            "A trusted session needs every rule to name a CA; the IP-only rules "
            f"{', '.join(remaining_ip_only)} would stay (you asked to keep them)."
        )
    late = keys_outliving(snapshot, seconds, now)
    if late:
        ids = ", ".join(k.access_key_id for k in late)
        out.append(
            f"A trusted session needs every access key to expire within {seconds} s; these do not: {ids}. "
            "Give them an expiry date or delete them first (this tool does not touch your keys)."
        )
    return out


def make_plan(snapshot: AccountSnapshot, leaf: x509.Certificate, ca: x509.Certificate,
              options: SetupOptions, *, now: _dt.datetime | None = None) -> SetupPlan:
    """The plan for `snapshot`, with every problem that would refuse it and notes on what it means."""
    now = now or _dt.datetime.now(_dt.UTC)
    problems = _validity_problems(leaf, ca, now)
    notes: list[str] = []
    fp = fingerprint_sha1(ca)
    existing_ca = next((c for c in snapshot.cas if same_fingerprint(c.fingerprint, fp)), None)
    cn = common_name(leaf)
    cns: tuple[str, ...] = ()
    if options.pin_cn:
        if cn:
            cns = (cn,)
        else:
            notes.append("Your certificate has no common name: the rule names only the CA.")
    ip_only = snapshot.ip_only_rules()
    retire = () if options.keep_ip_rules else tuple(r.rule_id for r in ip_only)
    if options.ip_ranges is not None:
        ranges = tuple(options.ip_ranges)
    else:
        # Keep the addresses the IP-only rules allowed: a certificate rule must not silently widen them.
        ranges = tuple(dict.fromkeys(r for rule in ip_only for r in rule.ip_ranges))
    if not ranges:
        notes.append("The new rule names no address range: the certificate lets you in from any address.")
    if options.keep_ip_rules and ip_only:
        notes.append(
            "You keep the IP-only rules: a request from their addresses still passes without any "
            "certificate, "
            "so the certificate is not required yet (a request passes if any rule matches)."
        )
    elif retire:
        notes.append("Once the IP-only rules are deleted, no request passes without your certificate "
                     "(or another CA a remaining rule names).")
    for r in snapshot.rules:
        ours = existing_ca is not None and existing_ca.ca_id in r.ca_ids
        if r.ca_ids and r.rule_id not in retire and not ours:
            notes.append(f"Rule {r.rule_id} (another CA) stays: it keeps letting in what it lets in now.")
    existing_rule = None
    if existing_ca is not None:
        existing_rule = next(
            (r.rule_id for r in snapshot.rules
             if r.ca_ids == (existing_ca.ca_id,) and set(r.cns) == set(cns)
             # with no range asked and none to keep, a rule for this certificate from any range will do
             and (set(r.ip_ranges) == set(ranges) or (options.ip_ranges is None and not ip_only))),
            None,
        )
    seconds = options.trusted_session_seconds
    if seconds is not None:
        problems += _policy_problems(snapshot, seconds, retire, options.keep_ip_rules, now)
    return SetupPlan(
        run_id=secrets.token_hex(4),
        leaf=leaf,
        ca=ca,
        ca_pem=ca.public_bytes(serialization.Encoding.PEM).decode(),
        ca_fingerprint=fp,
        existing_ca_id=existing_ca.ca_id if existing_ca else None,
        rule_ip_ranges=ranges,
        rule_cns=cns,
        existing_rule_id=existing_rule,
        retire_rule_ids=retire,
        trusted_session_seconds=seconds,
        notes=tuple(notes),
        problems=tuple(problems),
        snapshot=snapshot,
    )
