"""The sandbox's account data and the OUTSCALE behaviour it emulates (no HTTP, no TLS here).

`SandboxState.handle(request)` takes one decoded request (call name, headers, body, client
certificate, client IP) and returns the HTTP status, the JSON answer and extra headers. It checks the
call and its parameters here, then lets the parts answer: `auth` (OSC4 signatures, Basic logins,
clock skew), `lockout` (Code 13 / 11), `throttle` (429), `faults` (failures injected by tests), `access`
(API access rules, CAs, the policy, the trusted-environment bypass: Code 14), `book` (accounts,
access keys, the quota of 10, expiry) and `catalogue` (Regions, VMs). Errors take OUTSCALE's form
(`app.sandbox.wire`); the records these parts share are in `app.sandbox.records`.

State persists as JSON in the state folder (owner-only); it is test and demo data: it holds the demo
password and the secret keys in clear, like the server-side store it mimics.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import secrets
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from app.sandbox.accounts import DEMO_TAG, AccountBook
from app.sandbox.auth import Authenticator
from app.sandbox.faults import FaultInjector
from app.sandbox.lockout import Lockout, Throttle
from app.sandbox.records import AccountRecord, CaRecord, KeyRecord, RuleRecord
from app.sandbox.rules import AccessControl
from app.sandbox.vms import Catalogue, plausible_vms
from app.sandbox.wire import (
    ApiFault,
    AuthContext,
    CallHandler,
    SandboxRequest,
    SandboxResponse,
    ServedCall,
    invalid,
)
from app.session import signing
from app.session.api import ANONYMOUS_CALLS

log = logging.getLogger(__name__)

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


CALL_LOG_LIMIT = 10_000


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
        self.lock = threading.RLock()
        self._base_clock = clock
        self._offset = 0.0
        self.book = AccountBook(now=self.now, save=self.save, lock=self.lock)
        self.access = AccessControl(
            self.book, now=self.now, save=self.save, lock=self.lock, on_ca_added=on_ca_added
        )
        self.lockout = Lockout(now=self.now, lock=self.lock)
        self.throttle = Throttle(lock=self.lock)
        self.faults = FaultInjector(lock=self.lock)
        self.auth = Authenticator(self.book, self.lockout, now=self.now)
        self.catalogue = Catalogue(self.book)
        self._handlers: dict[str, CallHandler] = {}
        for part in (self.book, self.access, self.auth, self.catalogue):
            self._handlers |= part.handlers()
        assert set(self._handlers) == SUPPORTED_CALLS
        self.requests_seen = 0
        # The call log: answered requests, oldest first; bounded (the sandbox also runs all day as the demo).
        self.served: deque[ServedCall] = deque(maxlen=CALL_LOG_LIMIT)
        if self._file.exists():
            self._load()
        else:
            self._create_demo()
            self.save()

    @property
    def keys(self) -> dict[str, KeyRecord]:
        """Every account's access keys by id (tests edit a record in place)."""
        return self.book.keys

    # clock -------------------------------------------------------------------------------------------

    def now(self) -> float:
        """The sandbox clock (seconds since the epoch), shifted by `advance`."""
        return self._base_clock() + self._offset

    def now_dt(self) -> _dt.datetime:
        """The sandbox clock as an aware UTC datetime."""
        return _dt.datetime.fromtimestamp(self.now(), _dt.UTC)

    def advance(self, seconds: float) -> None:
        """Move the sandbox clock forward (tests: lock expiry, key expiry)."""
        with self.lock:
            self._offset += seconds

    # persistence ---------------------------------------------------------------------------------------

    def _load(self) -> None:
        try:
            data = json.loads(self._file.read_text(encoding="utf-8"))
            self.book.accounts = {a["account_id"]: AccountRecord(**a) for a in data["accounts"]}
            self.book.keys = {k["access_key_id"]: KeyRecord(**k) for k in data["keys"]}
            self.access.cas = {c["ca_id"]: CaRecord(**c) for c in data["cas"]}
            self.access.rules = {r["rule_id"]: RuleRecord(**r) for r in data["rules"]}
        except (ValueError, KeyError, TypeError) as e:
            raise RuntimeError(
                f"The sandbox state {self._file} is unreadable ({e}); remove it to start afresh."
            ) from e

    def save(self) -> None:
        """Write state.json atomically, owner-only."""
        with self.lock:
            data = {
                "accounts": [asdict(a) for a in self.book.accounts.values()],
                "keys": [asdict(k) for k in self.book.keys.values()],
                "cas": [asdict(c) for c in self.access.cas.values()],
                "rules": [asdict(r) for r in self.access.rules.values()],
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
        self.book.create_key(account.account_id, tag=DEMO_TAG)

    def add_account(self, login: str, password: str | None = None) -> AccountRecord:
        """A new account with the default 'allow all IPv4' rule, three plausible VMs and no key."""
        with self.lock:
            acc = self.book.add(login, password, plausible_vms(secrets.SystemRandom()))
            self.access.add_default_rule(acc.account_id)
            self.save()
            return acc

    # request handling ------------------------------------------------------------------------------

    def handle(self, req: SandboxRequest) -> SandboxResponse:
        """Answer one API request (see the module docstring)."""
        request_id = str(uuid.uuid4())
        with self.lock:
            self.requests_seen += 1
            try:
                self.faults.check()
                status, body, headers = 200, self._dispatch(req), {}
                self.faults.seen(req.call)
            except Exception as e:  # every answer is OUTSCALE-shaped, never a bare 500
                f = e if isinstance(e, ApiFault) else _unexpected(req, e)
                status, headers = f.status, f.headers
                body = {"Errors": [{"Code": f.code, "Type": f.type, "Details": f.details}]}
            body["ResponseContext"] = {"RequestId": request_id}
            self.served.append(_served(req, status, body))
            return SandboxResponse(status, body, headers)

    def _dispatch(self, req: SandboxRequest) -> dict[str, Any]:
        if req.method != "POST":
            raise ApiFault(405, "2", "AccessDenied", "ErrorHttpMethodNotAllowed")
        if req.call not in SUPPORTED_CALLS:
            raise ApiFault(400, "5011", "InvalidResource", f"The sandbox does not emulate '{req.call}'.")
        if not _json_media(req.headers.get("content-type")):
            raise invalid("The request body must be JSON (Content-Type: application/json).", "4095")
        try:
            params = json.loads(req.body.decode("utf-8")) if req.body.strip() else {}
        except (ValueError, RecursionError):  # not JSON, not UTF-8, nested too deep
            params = None
        if not isinstance(params, dict):
            raise invalid("The request body is not a JSON object.", "4095")
        auth: AuthContext | None = None
        if req.call not in ANONYMOUS_CALLS:
            auth = self.auth.authenticate(req)
            self.access.enforce(req, auth)
            self.throttle.maybe_refuse()
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
        return self._handlers[req.call](params, auth)



def _json_media(content_type: str | None) -> bool:
    """Whether a Content-Type may carry the JSON body: none, JSON, or a form type (curl -d's default)."""
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return (media in ("application/json", "application/x-www-form-urlencoded", "text/plain")
            or media.endswith("+json") or media.startswith("application/x-amz-json"))


def _unexpected(req: SandboxRequest, error: Exception) -> ApiFault:
    """A handler failed on parameters it did not expect (a wrong type or form): say so the OUTSCALE way."""
    log.warning("sandbox: %s failed on its parameters (%s)", req.call, type(error).__name__)
    return invalid("A parameter has a value of the wrong type or form.", "4047")


def _served(req: SandboxRequest, status: int, body: dict[str, Any]) -> ServedCall:
    parsed = signing.parse_osc4_authorization(req.headers.get("authorization", ""))
    errors = body.get("Errors") or [{}]
    return ServedCall(req.call, status, parsed.access_key if parsed else None,
                      errors[0].get("Code") if status >= 300 else None, req.body)
