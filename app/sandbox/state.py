"""The sandbox's account data and the OUTSCALE behaviour it emulates (no HTTP, no TLS here).

`SandboxState.handle(request)` takes one decoded request (call name, headers, body, client
certificate, client IP) and returns the HTTP status, the JSON answer and extra headers. It verifies
OSC4 signatures and Basic logins, enforces API access rules (Code 14), the trusted-environment bypass,
the brute-force lockout (Code 13 / 11), the access key quota (10) and expiry, and answers in
OUTSCALE's error format. State persists as JSON in the state folder (owner-only); it is test and demo
data: it holds the demo password and the secret keys in clear, like the server-side store it mimics.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import string
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from app.session import signing
from app.session.api import ANONYMOUS_CALLS, BASIC_AUTH_CALLS, format_api_datetime, parse_api_datetime
from app.session.regions import REGIONS

KEY_QUOTA = 10
LOCK_EVERY = 4  # failures
LOCK_STEP_SECONDS = 60.0  # the k-th lock lasts k minutes ...
LOCK_MAX_STEPS = 10  # ... up to ten; one more series of failures locks permanently (Code 11)
MAX_CLOCK_SKEW = 15 * 60  # seconds between X-Osc-Date and the sandbox clock
MAX_EXPIRATION_SECONDS = 3_153_600_000
DEMO_TAG = "sandbox-demo"  # the access key printed as demo credentials

# Parameters each emulated call accepts (outscale.yaml's Request schemas), and the required ones.
CALL_PARAMS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "ReadRegions": (frozenset({"DryRun"}), frozenset()),
    "ReadApiAccessPolicy": (frozenset({"DryRun"}), frozenset()),
    "UpdateApiAccessPolicy": (
        frozenset({"DryRun", "MaxAccessKeyExpirationSeconds", "RequireTrustedEnv"}),
        frozenset({"MaxAccessKeyExpirationSeconds", "RequireTrustedEnv"}),
    ),
    "CreateAccessKey": (frozenset({"DryRun", "ExpirationDate", "Tag", "UserName"}), frozenset()),
    "DeleteAccessKey": (frozenset({"DryRun", "AccessKeyId", "UserName"}), frozenset({"AccessKeyId"})),
    "ReadAccessKeys": (frozenset({"DryRun", "Filters", "Tag", "UserName"}), frozenset()),
    "UpdateAccessKey": (
        frozenset(
            {
                "DryRun",
                "AccessKeyId",
                "ClearExpirationDate",
                "ClearTag",
                "ExpirationDate",
                "State",
                "Tag",
                "UserName",
            }
        ),
        frozenset({"AccessKeyId"}),
    ),
    "ReadAccounts": (frozenset({"DryRun"}), frozenset()),
    "ReadVms": (frozenset({"DryRun", "Filters", "NextPageToken", "ResultsPerPage"}), frozenset()),
    "ReadCas": (frozenset({"DryRun", "Filters"}), frozenset()),
    "CreateCa": (frozenset({"DryRun", "CaPem", "Description"}), frozenset({"CaPem"})),
    "DeleteCa": (frozenset({"DryRun", "CaId"}), frozenset({"CaId"})),
    "UpdateCa": (frozenset({"DryRun", "CaId", "Description"}), frozenset({"CaId"})),
    "ReadApiAccessRules": (frozenset({"DryRun", "Filters"}), frozenset()),
    "CreateApiAccessRule": (frozenset({"DryRun", "CaIds", "Cns", "Description", "IpRanges"}), frozenset()),
    "DeleteApiAccessRule": (frozenset({"DryRun", "ApiAccessRuleId"}), frozenset({"ApiAccessRuleId"})),
    "UpdateApiAccessRule": (
        frozenset({"DryRun", "ApiAccessRuleId", "CaIds", "Cns", "Description", "IpRanges"}),
        frozenset({"ApiAccessRuleId"}),
    ),
    "CheckAuthentication": (frozenset({"DryRun", "Login", "Password"}), frozenset({"Login", "Password"})),
}
SUPPORTED_CALLS = frozenset(CALL_PARAMS)


class ApiFault(Exception):
    """An OUTSCALE error answer: HTTP status, Code, Type, Details."""

    def __init__(
        self, status: int, code: str, type_: str, details: str = "", headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{code} {type_}: {details}")
        self.status, self.code, self.type, self.details = status, code, type_, details
        self.headers = dict(headers or {})


def _auth_failed(details: str = "") -> ApiFault:
    return ApiFault(401, "1", "AccessDenied", details or "ErrorAuthenticationFailed")


def _invalid(details: str, code: str = "4047") -> ApiFault:
    return ApiFault(400, code, "InvalidParameterValue", details)


# --- records -----------------------------------------------------------------------------------------


def _rand(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


@dataclass
class AccountRecord:
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
    ca_id: str
    account_id: str
    pem: str
    fingerprint: str
    description: str | None = None

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {"CaId": self.ca_id, "CaFingerprint": self.fingerprint}
        if self.description is not None:
            out["Description"] = self.description
        return out


@dataclass
class RuleRecord:
    rule_id: str
    account_id: str
    ip_ranges: list[str] = field(default_factory=list)
    ca_ids: list[str] = field(default_factory=list)
    cns: list[str] = field(default_factory=list)
    description: str | None = None

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ApiAccessRuleId": self.rule_id,
            "IpRanges": list(self.ip_ranges),
            "CaIds": list(self.ca_ids),
            "Cns": list(self.cns),
        }
        if self.description is not None:
            out["Description"] = self.description
        return out


@dataclass
class _Failures:
    count: int = 0
    locked_until: float = 0.0
    permanent: bool = False


@dataclass(frozen=True)
class SandboxRequest:
    """One HTTP request as the server saw it."""

    call: str
    method: str
    headers: Mapping[str, str]  # keys lower-case
    body: bytes
    client_ip: str
    peer_cert_der: bytes | None = None
    path: str = ""


@dataclass(frozen=True)
class SandboxResponse:
    """Status, JSON answer and extra headers."""

    status: int
    body: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class AuthContext:
    account_id: str
    method: str  # "access_key" | "password"
    key: KeyRecord | None
    certificate_matched_ca: bool


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


def _plausible_vms(account_id: str, rng: secrets.SystemRandom) -> list[dict[str, Any]]:
    vms = []
    for i, (name, state, vtype) in enumerate(
        [
            ("web-1", "running", "tinav6.c2r4p2"),
            ("db-1", "running", "tinav6.c4r16p1"),
            ("batch", "stopped", "tinav5.c1r2p3"),
        ]
    ):
        n = rng.randrange(0x10000000, 0xFFFFFFFF)
        vms.append(
            {
                "VmId": f"i-{n:08x}",
                "State": state,
                "VmType": vtype,
                "ImageId": f"ami-{n ^ 0x5A5A5A5A:08x}",
                "PrivateIp": f"10.0.0.{10 + i}",
                "Architecture": "x86_64",
                "Hypervisor": "xen",
                "RootDeviceName": "/dev/sda1",
                "RootDeviceType": "ebs",
                "DeletionProtection": False,
                "CreationDate": "2026-01-15T09:30:00.000Z",
                "LaunchNumber": 0,
                "Placement": {"SubregionName": "eu-west-2a", "Tenancy": "default"},
                "Tags": [{"Key": "Name", "Value": name}],
                "SecurityGroups": [{"SecurityGroupId": f"sg-{n:08x}", "SecurityGroupName": "default"}],
            }
            | ({"PublicIp": f"192.0.2.{20 + i}"} if state == "running" else {})
        )
    return vms


class SandboxState:
    """Accounts, keys, CAs, rules and policies, with the emulated API behaviour. Thread-safe."""

    def __init__(
        self,
        state_dir: Path | str,
        *,
        clock: Callable[[], float] = time.time,
        on_ca_added: Callable[[str], None] | None = None,
    ) -> None:
        self.dir = Path(state_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._file = self.dir / "state.json"
        self._lock = threading.RLock()
        self._base_clock = clock
        self._offset = 0.0
        self.on_ca_added = on_ca_added
        self.accounts: dict[str, AccountRecord] = {}
        self.keys: dict[str, KeyRecord] = {}
        self.cas: dict[str, CaRecord] = {}
        self.rules: dict[str, RuleRecord] = {}
        self._failures: dict[str, _Failures] = {}
        self._throttle: list[tuple[str, int]] = []  # (code, remaining) injected by tests
        self.requests_seen = 0
        if self._file.exists():
            self._load()
        else:
            self._create_demo()
            self.save()

    # clock -------------------------------------------------------------------------------------------

    def now(self) -> float:
        """The sandbox clock (seconds since the epoch), shifted by `advance`."""
        return self._base_clock() + self._offset

    def now_dt(self) -> _dt.datetime:
        return _dt.datetime.fromtimestamp(self.now(), _dt.UTC)

    def advance(self, seconds: float) -> None:
        """Move the sandbox clock forward (tests: lock expiry, key expiry)."""
        with self._lock:
            self._offset += seconds

    # persistence ---------------------------------------------------------------------------------------

    def _load(self) -> None:
        try:
            data = json.loads(self._file.read_text(encoding="utf-8"))
            self.accounts = {a["account_id"]: AccountRecord(**a) for a in data["accounts"]}
            self.keys = {k["access_key_id"]: KeyRecord(**k) for k in data["keys"]}
            self.cas = {c["ca_id"]: CaRecord(**c) for c in data["cas"]}
            self.rules = {r["rule_id"]: RuleRecord(**r) for r in data["rules"]}
        except (ValueError, KeyError, TypeError) as e:
            raise RuntimeError(
                f"The sandbox state {self._file} is unreadable ({e}); remove it to start afresh."
            ) from e

    def save(self) -> None:
        """Write state.json atomically, owner-only."""
        with self._lock:
            data = {
                "accounts": [asdict(a) for a in self.accounts.values()],
                "keys": [asdict(k) for k in self.keys.values()],
                "cas": [asdict(c) for c in self.cas.values()],
                "rules": [asdict(r) for r in self.rules.values()],
            }
            fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".state-", suffix=".json")
            try:
                os.fchmod(fd, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(data, f, indent=1)
                os.replace(tmp, self._file)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise

    def _create_demo(self) -> None:
        account = self.add_account(login="demo@sandbox.invalid", password=None)
        self.create_key(account.account_id, tag=DEMO_TAG)

    # administration (tests, demo) --------------------------------------------------------------------

    def add_account(
        self, login: str, password: str | None = None, *, account_id: str | None = None
    ) -> AccountRecord:
        """A new account with the default 'allow all IPv4' rule, three plausible VMs and no key."""
        with self._lock:
            rng = secrets.SystemRandom()
            account_id = account_id or str(rng.randrange(10**11, 10**12))
            pw = password or _rand(string.ascii_letters + string.digits, 16)
            acc = AccountRecord(
                account_id=account_id,
                login=login,
                password=pw,
                email=login,
                customer_id=str(rng.randrange(10**7, 10**8)),
                vms=_plausible_vms(account_id, rng),
            )
            self.accounts[account_id] = acc
            rule = RuleRecord(
                rule_id="aar-" + secrets.token_hex(16),
                account_id=account_id,
                ip_ranges=["0.0.0.0/0"],
                description="Allows all IPv4 domain",
            )
            self.rules[rule.rule_id] = rule
            self.save()
            return acc

    def account_by_login(self, login: str) -> AccountRecord | None:
        return next((a for a in self.accounts.values() if a.login == login), None)

    def demo_account(self) -> AccountRecord:
        return next(iter(self.accounts.values()))

    def create_key(
        self,
        account_id: str,
        *,
        expiration: _dt.datetime | None = None,
        tag: str | None = None,
        created_with_certificate: bool = False,
        state: str = "ACTIVE",
    ) -> KeyRecord:
        """Add an access key directly (no quota check)."""
        with self._lock:
            now = format_api_datetime(self.now_dt())
            key = KeyRecord(
                access_key_id=_rand(string.ascii_uppercase + string.digits, 20),
                secret_key=_rand(string.ascii_uppercase + string.digits, 40),
                account_id=account_id,
                state=state,
                creation_date=now,
                last_modification_date=now,
                expiration_date=format_api_datetime(expiration) if expiration else None,
                tag=tag,
                created_with_certificate=created_with_certificate,
            )
            self.keys[key.access_key_id] = key
            self.save()
            return key

    def add_ca(self, account_id: str, ca_pem: str, description: str | None = None) -> CaRecord:
        """Upload a CA (as CreateCa does)."""
        try:
            cert = x509.load_pem_x509_certificate(ca_pem.encode())
        except ValueError as e:
            raise _invalid("CaPem is not a PEM certificate.") from e
        try:
            bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
            is_ca = bc.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            raise _invalid("CaPem is not a CA certificate (basicConstraints CA:TRUE is required).")
        with self._lock:
            rec = CaRecord(
                ca_id="ca-" + secrets.token_hex(16),
                account_id=account_id,
                pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
                fingerprint=_ca_fingerprint(cert),
                description=description,
            )
            self.cas[rec.ca_id] = rec
            self.save()
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
            self.save()
            return rec

    def remove_rule(self, rule_id: str) -> None:
        """Delete a rule without the 'last rule' protection (tests, --client-ca)."""
        with self._lock:
            self.rules.pop(rule_id, None)
            self.save()

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
            acc = self.accounts[account_id]
            mx = (
                acc.max_access_key_expiration_seconds
                if max_access_key_expiration_seconds is None
                else max_access_key_expiration_seconds
            )
            rte = acc.require_trusted_env if require_trusted_env is None else require_trusted_env
            if not force:
                self._validate_policy(account_id, mx, rte)
            acc.max_access_key_expiration_seconds, acc.require_trusted_env = int(mx), bool(rte)
            self.save()

    def throttle_next(self, count: int, code: str = "25") -> None:
        """Answer the next `count` authenticated calls with HTTP 429 and this Code (24 or 25)."""
        with self._lock:
            self._throttle.append((code, count))

    def lock_state(self, account_id: str) -> tuple[int, float, bool]:
        """(failures, seconds left locked, permanent) for an account."""
        with self._lock:
            f = self._failures.get(account_id, _Failures())
            return f.count, max(0.0, f.locked_until - self.now()), f.permanent

    def reset_lockout(self, account_id: str | None = None) -> None:
        with self._lock:
            if account_id is None:
                self._failures.clear()
            else:
                self._failures.pop(account_id, None)

    # request handling ------------------------------------------------------------------------------

    def handle(self, req: SandboxRequest) -> SandboxResponse:
        """Answer one API request (see the module docstring)."""
        request_id = str(uuid.uuid4())
        with self._lock:
            self.requests_seen += 1
            try:
                status, body, headers = 200, self._dispatch(req), {}
            except ApiFault as f:
                status, headers = f.status, f.headers
                body = {"Errors": [{"Code": f.code, "Type": f.type, "Details": f.details}]}
            body["ResponseContext"] = {"RequestId": request_id}
            return SandboxResponse(status, body, headers)

    def _dispatch(self, req: SandboxRequest) -> dict[str, Any]:
        if req.method != "POST":
            raise ApiFault(405, "2", "AccessDenied", "ErrorHttpMethodNotAllowed")
        if req.call not in SUPPORTED_CALLS:
            raise ApiFault(400, "5011", "InvalidResource", f"The sandbox does not emulate '{req.call}'.")
        try:
            params = json.loads(req.body.decode("utf-8")) if req.body.strip() else {}
        except (ValueError, UnicodeDecodeError):
            params = None
        if not isinstance(params, dict):
            raise _invalid("The request body is not a JSON object.", "4095")
        auth: AuthContext | None = None
        if req.call not in ANONYMOUS_CALLS:
            auth = self._authenticate(req, params)
            self._enforce_rules(req, auth)
            self._maybe_throttle()
        allowed, required = CALL_PARAMS[req.call]
        unknown = sorted(set(params) - allowed)
        if unknown:
            raise ApiFault(
                400, "3001", "InvalidParameter", f"The parameter '{unknown[0]}' is not valid here."
            )
        missing = sorted(required - set(params))
        if missing:
            raise ApiFault(400, "7000", "MissingParameter", f"The parameter '{missing[0]}' is required.")
        if params.get("DryRun") is True:
            return {}
        handler = getattr(self, "_call_" + req.call)
        result: dict[str, Any] = handler(params, auth)
        return result

    # authentication ------------------------------------------------------------------------------

    def _failure(self, account_id: str) -> None:
        f = self._failures.setdefault(account_id, _Failures())
        f.count += 1
        if f.count % LOCK_EVERY == 0:
            step = f.count // LOCK_EVERY
            if step > LOCK_MAX_STEPS:
                f.permanent = True
            else:
                f.locked_until = self.now() + step * LOCK_STEP_SECONDS

    def _check_lock(self, account_id: str) -> None:
        f = self._failures.get(account_id)
        if f is None:
            return
        if f.permanent:
            raise ApiFault(
                401,
                "11",
                "AccessDenied",
                "ErrorBruteForceAccessLocked: Too many failed connection attempts. Your access has been "
                "permanently locked. Please, contact the support to unlock it.",
            )
        left = f.locked_until - self.now()
        if left > 0:
            secs = int(left + 0.999)
            raise ApiFault(
                401,
                "13",
                "AccessDenied",
                "ErrorTemporaryBruteForceAccessLockedException: Too many failed connection attempts. "
                f"Your access has been locked for {secs} seconds.",
                {"Retry-After": str(secs)},
            )

    def _success(self, account_id: str) -> None:
        f = self._failures.get(account_id)
        if f is not None and not f.permanent:
            f.count = 0

    def _authenticate(self, req: SandboxRequest, params: Mapping[str, Any]) -> AuthContext:
        header = req.headers.get("authorization", "")
        if not header:
            raise _auth_failed("ErrorAuthenticationFailed: no credentials were given.")
        scheme = header.strip().split(" ", 1)[0]
        if scheme.lower() == "basic":
            return self._authenticate_basic(req, header)
        if scheme == signing.ALGORITHM:
            return self._authenticate_osc4(req, header)
        raise ApiFault(
            401,
            "12",
            "AccessDenied",
            "ErrorUnknownAuthorizationType: The authentication type "
            "specified in the Authorization header is unknown.",
        )

    def _check_date(self, req: SandboxRequest) -> str:
        value = req.headers.get("x-osc-date", "")
        try:
            when = signing.parse_osc_date(value)
        except ValueError as e:
            raise _auth_failed("ErrorAuthenticationFailed: X-Osc-Date is missing or malformed.") from e
        if abs(when.timestamp() - self.now()) > MAX_CLOCK_SKEW:
            raise _auth_failed("ErrorAuthenticationFailed: X-Osc-Date is too far from the server time.")
        return value

    def _authenticate_basic(self, req: SandboxRequest, header: str) -> AuthContext:
        if req.call not in BASIC_AUTH_CALLS:
            raise ApiFault(
                401,
                "9",
                "AuthFailure",
                "ErrorAuthFailure: The authentication using login/password is not allowed for this call.",
            )
        parsed = signing.parse_basic_authorization(header)
        if parsed is None:
            raise _auth_failed("ErrorAuthenticationFailed: malformed Basic credentials.")
        self._check_date(req)
        login, password = parsed
        acc = self.account_by_login(login)
        if acc is None:
            raise _auth_failed()
        self._check_lock(acc.account_id)
        if not hmac.compare_digest(acc.password.encode(), password.reveal().encode()):
            self._failure(acc.account_id)
            raise _auth_failed()
        self._success(acc.account_id)
        if acc.password_expired:
            raise ApiFault(401, "20", "PasswordExpired", "ErrorPasswordExpired: The password has expired.")
        return AuthContext(acc.account_id, "password", None, False)

    def _key_expired(self, key: KeyRecord) -> bool:
        exp = parse_api_datetime(key.expiration_date) if key.expiration_date else None
        return exp is not None and exp.timestamp() <= self.now()

    def _authenticate_osc4(self, req: SandboxRequest, header: str) -> AuthContext:
        parsed = signing.parse_osc4_authorization(header)
        signed = parsed.signed_headers.split(";") if parsed else []
        if parsed is None or parsed.service != signing.SERVICE or not {"host", "x-osc-date"} <= set(signed):
            raise _auth_failed("ErrorAuthenticationFailed: malformed OSC4-HMAC-SHA256 Authorization header.")
        key = self.keys.get(parsed.access_key)
        if key is None:
            raise _auth_failed()
        self._check_lock(key.account_id)
        date_iso = self._check_date(req)
        if parsed.date_stamp != date_iso[:8] or parsed.region not in REGIONS:
            self._failure(key.account_id)
            raise _auth_failed("ErrorAuthenticationFailed: the credential scope does not match.")
        host = req.headers.get("host", "")
        # osc-sdk-python signs the host without its port; a strict SigV4 client signs the Host header.
        good = False
        for h in {host, host.rsplit(":", 1)[0] if host.count(":") == 1 else host}:
            canonical = signing.canonical_request_from_headers(
                method=req.method,
                path=req.path or f"/api/v1/{req.call}",
                headers={**req.headers, "host": h},
                signed_headers=parsed.signed_headers,
                body=req.body,
            )
            expected = signing.signature_of_canonical(
                secret_key=key.secret_key, date_iso=date_iso, region=parsed.region, canonical=canonical
            )
            good = hmac.compare_digest(parsed.signature, expected) or good
        if not good:
            self._failure(key.account_id)
            raise _auth_failed()
        if key.state != "ACTIVE" or self._key_expired(key):
            raise _auth_failed("ErrorAuthenticationFailed: the access key is inactive or expired.")
        self._success(key.account_id)
        return AuthContext(key.account_id, "access_key", key, False)

    # API access rules --------------------------------------------------------------------------------

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

    def _enforce_rules(self, req: SandboxRequest, auth: AuthContext) -> None:
        cert = x509.load_der_x509_certificate(req.peer_cert_der) if req.peer_cert_der else None
        rules = [r for r in self.rules.values() if r.account_id == auth.account_id]
        matched = [r for r in rules if self._rule_matches(r, req.client_ip, cert, ignore_cert=False)]
        if matched:
            if cert is not None and any(r.ca_ids for r in matched):
                auth.certificate_matched_ca = True
            return
        acc = self.accounts[auth.account_id]
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

    def _maybe_throttle(self) -> None:
        if not self._throttle:
            return
        code, left = self._throttle[0]
        if left <= 1:
            self._throttle.pop(0)
        else:
            self._throttle[0] = (code, left - 1)
        name = "ErrorOperationThrottledPerAccount" if code == "24" else "ErrorOperationThrottledPerCall"
        raise ApiFault(429, code, "AccessDenied", f"{name}: Request rate exceeded.")

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
                raise _invalid(f"'{r}' is not an IP address or CIDR block.", "4030") from e
        for c in ca_ids:
            if c not in self.cas or self.cas[c].account_id != account_id:
                raise ApiFault(400, "5012", "InvalidResource", f"The CA '{c}' does not exist.")
        if self.accounts[account_id].require_trusted_env and not ca_ids:
            raise _invalid("With RequireTrustedEnv, every API access rule must name a CA.")

    def _validate_policy(self, account_id: str, max_seconds: int, trusted: bool) -> None:
        if (
            not isinstance(max_seconds, int)
            or isinstance(max_seconds, bool)
            or not 0 <= max_seconds <= MAX_EXPIRATION_SECONDS
        ):
            raise _invalid("MaxAccessKeyExpirationSeconds must be between 0 and 3153600000.")
        if trusted and max_seconds == 0:
            raise _invalid("RequireTrustedEnv needs MaxAccessKeyExpirationSeconds greater than 0.")
        keys = [k for k in self.keys.values() if k.account_id == account_id]
        if max_seconds > 0:
            for k in keys:
                exp = parse_api_datetime(k.expiration_date) if k.expiration_date else None
                if exp is None or exp.timestamp() - self.now() > max_seconds:
                    raise _invalid(
                        f"The access key {k.access_key_id} has no expiration date or outlives "
                        "MaxAccessKeyExpirationSeconds."
                    )
        if trusted:
            for r in self.rules.values():
                if r.account_id == account_id and not r.ca_ids:
                    raise _invalid(
                        f"The API access rule {r.rule_id} names no CA; RequireTrustedEnv needs one."
                    )

    def _parse_expiration(self, value: Any, account: AccountRecord) -> _dt.datetime | None:
        if value is None:
            exp = None
        else:
            if not isinstance(value, str):
                raise _invalid("ExpirationDate must be an ISO 8601 date.")
            try:
                exp = parse_api_datetime(value)
            except ValueError as e:
                raise _invalid("ExpirationDate must be an ISO 8601 date.") from e
            assert exp is not None
            if exp.timestamp() <= self.now():
                raise _invalid("ExpirationDate must be in the future.")
        mx = account.max_access_key_expiration_seconds
        if mx > 0:
            if exp is None:
                raise _invalid("The API access policy requires an ExpirationDate.")
            if exp.timestamp() - self.now() > mx:
                raise _invalid(f"ExpirationDate is later than the policy maximum ({mx} s).")
        return exp

    def _own_key(self, auth: AuthContext | None, key_id: Any) -> KeyRecord:
        assert auth is not None
        key = self.keys.get(key_id) if isinstance(key_id, str) else None
        if key is None or key.account_id != auth.account_id:
            raise ApiFault(400, "4000", "InvalidParameterValue", f"The access key '{key_id}' does not exist.")
        return key

    # calls ----------------------------------------------------------------------------------------------

    def _call_ReadRegions(self, p: Mapping[str, Any], auth: AuthContext | None) -> dict[str, Any]:
        return {"Regions": [{"RegionName": r, "Endpoint": f"api.{r}.outscale.com"} for r in REGIONS]}

    def _policy(self, acc: AccountRecord) -> dict[str, Any]:
        return {
            "ApiAccessPolicy": {
                "MaxAccessKeyExpirationSeconds": acc.max_access_key_expiration_seconds,
                "RequireTrustedEnv": acc.require_trusted_env,
            }
        }

    def _call_ReadApiAccessPolicy(self, p: Mapping[str, Any], auth: AuthContext | None) -> dict[str, Any]:
        assert auth is not None
        return self._policy(self.accounts[auth.account_id])

    def _call_UpdateApiAccessPolicy(self, p: Mapping[str, Any], auth: AuthContext | None) -> dict[str, Any]:
        assert auth is not None
        mx, trusted = p["MaxAccessKeyExpirationSeconds"], p["RequireTrustedEnv"]
        if not isinstance(trusted, bool):
            raise _invalid("RequireTrustedEnv must be a boolean.")
        self.set_policy(auth.account_id, max_access_key_expiration_seconds=mx, require_trusted_env=trusted)
        return self._policy(self.accounts[auth.account_id])

    def _call_CreateAccessKey(self, p: Mapping[str, Any], auth: AuthContext | None) -> dict[str, Any]:
        assert auth is not None
        if p.get("UserName"):
            raise ApiFault(400, "5075", "InvalidResource", "The sandbox has no EIM users.")
        acc = self.accounts[auth.account_id]
        if sum(1 for k in self.keys.values() if k.account_id == acc.account_id) >= KEY_QUOTA:
            raise ApiFault(
                400,
                "10005",
                "TooManyResources (QuotaExceded)",
                f"You have reached the limit of {KEY_QUOTA} access keys.",
            )
        exp = self._parse_expiration(p.get("ExpirationDate"), acc)
        tag = p.get("Tag")
        if tag is not None and not isinstance(tag, str):
            raise _invalid("Tag must be a string.")
        key = self.create_key(
            acc.account_id, expiration=exp, tag=tag, created_with_certificate=auth.certificate_matched_ca
        )
        return {"AccessKey": key.public() | {"SecretKey": key.secret_key}}

    def _call_DeleteAccessKey(self, p: Mapping[str, Any], auth: AuthContext | None) -> dict[str, Any]:
        key = self._own_key(auth, p["AccessKeyId"])
        del self.keys[key.access_key_id]
        self.save()
        return {}

    def _call_ReadAccessKeys(self, p: Mapping[str, Any], auth: AuthContext | None) -> dict[str, Any]:
        assert auth is not None
        f = p.get("Filters") or {}
        if not isinstance(f, dict) or set(f) - {"AccessKeyIds", "States"}:
            raise ApiFault(400, "3001", "InvalidParameter", "Unknown filter.")
        keys = [k for k in self.keys.values() if k.account_id == auth.account_id]
        if f.get("AccessKeyIds"):
            keys = [k for k in keys if k.access_key_id in f["AccessKeyIds"]]
        if f.get("States"):
            keys = [k for k in keys if k.state in f["States"]]
        if p.get("Tag") is not None:
            keys = [k for k in keys if k.tag == p["Tag"]]
        return {"AccessKeys": [k.public() for k in keys]}

    def _call_UpdateAccessKey(self, p: Mapping[str, Any], auth: AuthContext | None) -> dict[str, Any]:
        key = self._own_key(auth, p["AccessKeyId"])
        acc = self.accounts[key.account_id]
        if "State" in p:
            if p["State"] not in ("ACTIVE", "INACTIVE"):
                raise _invalid("State must be ACTIVE or INACTIVE.")
            key.state = p["State"]
        if p.get("ClearExpirationDate"):
            if acc.max_access_key_expiration_seconds > 0:
                raise _invalid("The API access policy requires an ExpirationDate.")
            key.expiration_date = None
        elif "ExpirationDate" in p:
            exp = self._parse_expiration(p["ExpirationDate"], acc)
            key.expiration_date = format_api_datetime(exp) if exp else None
        if p.get("ClearTag"):
            key.tag = None
        elif "Tag" in p:
            key.tag = str(p["Tag"])
        key.last_modification_date = format_api_datetime(self.now_dt())
        self.save()
        return {"AccessKey": key.public()}

    def _call_ReadAccounts(self, p: Mapping[str, Any], auth: AuthContext | None) -> dict[str, Any]:
        assert auth is not None
        a = self.accounts[auth.account_id]
        return {
            "Accounts": [
                {
                    "AccountId": a.account_id,
                    "Email": a.email,
                    "FirstName": a.first_name,
                    "LastName": a.last_name,
                    "CompanyName": a.company_name,
                    "CustomerId": a.customer_id,
                    "City": "Saint-Cloud",
                    "Country": "France",
                    "ZipCode": "92210",
                }
            ]
        }

    def _call_ReadVms(self, p: Mapping[str, Any], auth: AuthContext | None) -> dict[str, Any]:
        assert auth is not None
        vms = self.accounts[auth.account_id].vms
        per_page = p.get("ResultsPerPage")
        start = 0
        if p.get("NextPageToken"):
            try:
                start = int(bytes.fromhex(str(p["NextPageToken"])).decode() or "0")
            except ValueError as e:
                raise _invalid("NextPageToken is invalid.", "4091") from e
        if isinstance(per_page, int) and per_page > 0:
            page = vms[start : start + per_page]
            out: dict[str, Any] = {"Vms": page}
            if start + per_page < len(vms):
                out["NextPageToken"] = str(start + per_page).encode().hex()
            return out
        return {"Vms": vms[start:]}

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
            raise _invalid("CaPem must be a string.")
        return {"Ca": self.add_ca(auth.account_id, p["CaPem"], p.get("Description")).public()}

    def _own_ca(self, auth: AuthContext | None, ca_id: Any) -> CaRecord:
        assert auth is not None
        ca = self.cas.get(ca_id) if isinstance(ca_id, str) else None
        if ca is None or ca.account_id != auth.account_id:
            raise ApiFault(400, "5012", "InvalidResource", f"The CA '{ca_id}' does not exist.")
        return ca

    def _call_DeleteCa(self, p: Mapping[str, Any], auth: AuthContext | None) -> dict[str, Any]:
        ca = self._own_ca(auth, p["CaId"])
        if any(ca.ca_id in r.ca_ids for r in self.rules.values()):
            raise ApiFault(409, "9002", "ResourceConflict", "The CA is used by an API access rule.")
        del self.cas[ca.ca_id]
        self.save()
        return {}

    def _call_UpdateCa(self, p: Mapping[str, Any], auth: AuthContext | None) -> dict[str, Any]:
        ca = self._own_ca(auth, p["CaId"])
        if "Description" in p:
            ca.description = str(p["Description"])
        self.save()
        return {"Ca": ca.public()}

    def _call_ReadApiAccessRules(self, p: Mapping[str, Any], auth: AuthContext | None) -> dict[str, Any]:
        assert auth is not None
        rules = [r for r in self.rules.values() if r.account_id == auth.account_id]
        f = p.get("Filters") or {}
        if isinstance(f, dict) and f.get("ApiAccessRuleIds"):
            rules = [r for r in rules if r.rule_id in f["ApiAccessRuleIds"]]
        return {"ApiAccessRules": [r.public() for r in rules]}

    def _list_param(self, p: Mapping[str, Any], name: str) -> list[str]:
        v = p.get(name) or []
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise _invalid(f"{name} must be a list of strings.")
        return v

    def _call_CreateApiAccessRule(self, p: Mapping[str, Any], auth: AuthContext | None) -> dict[str, Any]:
        assert auth is not None
        rule = self.add_rule(
            auth.account_id,
            ip_ranges=self._list_param(p, "IpRanges"),
            ca_ids=self._list_param(p, "CaIds"),
            cns=self._list_param(p, "Cns"),
            description=p.get("Description"),
        )
        return {"ApiAccessRule": rule.public()}

    def _own_rule(self, auth: AuthContext | None, rule_id: Any) -> RuleRecord:
        assert auth is not None
        rule = self.rules.get(rule_id) if isinstance(rule_id, str) else None
        if rule is None or rule.account_id != auth.account_id:
            raise ApiFault(400, "5044", "InvalidResource", f"The API access rule '{rule_id}' does not exist.")
        return rule

    def _call_DeleteApiAccessRule(self, p: Mapping[str, Any], auth: AuthContext | None) -> dict[str, Any]:
        rule = self._own_rule(auth, p["ApiAccessRuleId"])
        if sum(1 for r in self.rules.values() if r.account_id == rule.account_id) <= 1:
            raise ApiFault(409, "9002", "ResourceConflict", "You cannot delete the last API access rule.")
        del self.rules[rule.rule_id]
        self.save()
        return {}

    def _call_UpdateApiAccessRule(self, p: Mapping[str, Any], auth: AuthContext | None) -> dict[str, Any]:
        rule = self._own_rule(auth, p["ApiAccessRuleId"])
        ip = self._list_param(p, "IpRanges") if "IpRanges" in p else rule.ip_ranges
        cas = self._list_param(p, "CaIds") if "CaIds" in p else rule.ca_ids
        cns = self._list_param(p, "Cns") if "Cns" in p else rule.cns
        self._validate_rule(rule.account_id, ip, cas, cns)
        rule.ip_ranges, rule.ca_ids, rule.cns = list(ip), list(cas), list(cns)
        if "Description" in p:
            rule.description = str(p["Description"])
        self.save()
        return {"ApiAccessRule": rule.public()}

    def _call_CheckAuthentication(self, p: Mapping[str, Any], auth: AuthContext | None) -> dict[str, Any]:
        acc = self.account_by_login(str(p["Login"]))
        if acc is None:
            raise _auth_failed()
        self._check_lock(acc.account_id)
        if not hmac.compare_digest(acc.password.encode(), str(p["Password"]).encode()):
            self._failure(acc.account_id)
            raise _auth_failed()
        self._success(acc.account_id)
        return {}
