"""Accounts and their access keys: creation, the key quota and expiry, and the account/key calls.

An account also carries its API access policy (two fields OUTSCALE keeps per account); the rules that
read and change the policy live in `app.sandbox.rules`. Key lifetimes (ExpirationDate, the policy's
maximum) are decided here.
"""

from __future__ import annotations

import datetime as _dt
import secrets
import string
import threading
from collections.abc import Callable, Mapping
from typing import Any

from app.sandbox.records import AccountRecord, KeyRecord
from app.sandbox.wire import ApiFault, AuthContext, CallHandler, invalid, owned
from app.session.api import format_api_datetime, parse_api_datetime

KEY_QUOTA = 10
DEMO_TAG = "sandbox-demo"  # the access key printed as demo credentials


def random_text(alphabet: str, n: int) -> str:
    """`n` characters drawn from `alphabet` by the system's CSPRNG."""
    return "".join(secrets.choice(alphabet) for _ in range(n))


class AccountBook:
    """The accounts and access keys, and the calls that read or change them (under the state's lock)."""

    def __init__(self, *, now: Callable[[], float], save: Callable[[], None], lock: threading.RLock) -> None:
        self._now, self._save, self._lock = now, save, lock
        self.accounts: dict[str, AccountRecord] = {}
        self.keys: dict[str, KeyRecord] = {}
        # Test option: every key made by CreateAccessKey expires at most this many seconds after its
        # creation (a session's key renewal is tested in seconds, not hours). None: no cap.
        self.key_lifetime_cap: float | None = None

    def handlers(self) -> dict[str, CallHandler]:
        """The emulated calls this part answers."""
        return {
            "CreateAccessKey": self._call_CreateAccessKey,
            "DeleteAccessKey": self._call_DeleteAccessKey,
            "ReadAccessKeys": self._call_ReadAccessKeys,
            "UpdateAccessKey": self._call_UpdateAccessKey,
            "ReadAccounts": self._call_ReadAccounts,
        }

    def _now_dt(self) -> _dt.datetime:
        return _dt.datetime.fromtimestamp(self._now(), _dt.UTC)

    # administration (tests, demo) --------------------------------------------------------------------

    def add(self, login: str, password: str | None, vms: list[dict[str, Any]]) -> AccountRecord:
        """A new account with these VMs, no key and no rule (not saved)."""
        rng = secrets.SystemRandom()
        account_id = str(rng.randrange(10**11, 10**12))
        acc = AccountRecord(
            account_id=account_id,
            login=login,
            password=password or random_text(string.ascii_letters + string.digits, 16),
            email=login,
            customer_id=str(rng.randrange(10**7, 10**8)),
            vms=vms,
        )
        self.accounts[account_id] = acc
        return acc

    def by_login(self, login: str) -> AccountRecord | None:
        """The account with this login, if any."""
        return next((a for a in self.accounts.values() if a.login == login), None)

    def demo(self) -> AccountRecord:
        """The first account (the demo one)."""
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
            now = format_api_datetime(self._now_dt())
            key = KeyRecord(
                access_key_id=random_text(string.ascii_uppercase + string.digits, 20),
                secret_key=random_text(string.ascii_uppercase + string.digits, 40),
                account_id=account_id,
                state=state,
                creation_date=now,
                last_modification_date=now,
                expiration_date=format_api_datetime(expiration) if expiration else None,
                tag=tag,
                created_with_certificate=created_with_certificate,
            )
            self.keys[key.access_key_id] = key
            self._save()
            return key

    def demo_key(self) -> KeyRecord:
        """The demo account's active, unexpired demo key; a new one (within the policy's maximum) if none."""
        acc = self.demo()
        with self._lock:
            for k in self.keys.values():
                if (
                    k.account_id == acc.account_id
                    and k.tag == DEMO_TAG
                    and k.state == "ACTIVE"
                    and not self.key_expired(k)
                ):
                    return k
            exp = None
            if acc.max_access_key_expiration_seconds > 0:
                exp = self._now_dt() + _dt.timedelta(seconds=acc.max_access_key_expiration_seconds)
            return self.create_key(acc.account_id, expiration=exp, tag=DEMO_TAG)

    def cap_key_lifetimes(self, account_id: str, limit: _dt.datetime) -> None:
        """Make every key of the account that never expires or outlives `limit` expire at `limit`
        (not saved: the caller saves with the policy change this prepares)."""
        with self._lock:
            for k in self.keys.values():
                exp = parse_api_datetime(k.expiration_date) if k.expiration_date else None
                if k.account_id == account_id and (exp is None or exp > limit):
                    k.expiration_date = format_api_datetime(limit)

    def key_expired(self, key: KeyRecord) -> bool:
        """Whether the key's ExpirationDate has passed on the sandbox clock."""
        exp = parse_api_datetime(key.expiration_date) if key.expiration_date else None
        return exp is not None and exp.timestamp() <= self._now()

    # validation helpers --------------------------------------------------------------------------------

    def _parse_expiration(self, value: Any, account: AccountRecord) -> _dt.datetime | None:
        if value is None:
            exp = None
        else:
            if not isinstance(value, str):
                raise invalid("ExpirationDate must be an ISO 8601 date.")
            try:
                exp = parse_api_datetime(value)
            except ValueError as e:
                raise invalid("ExpirationDate must be an ISO 8601 date.") from e
            assert exp is not None
            if exp.timestamp() <= self._now():
                raise invalid("ExpirationDate must be in the future.")
        mx = account.max_access_key_expiration_seconds
        if mx > 0:
            if exp is None:
                raise invalid("The API access policy requires an ExpirationDate.")
            if exp.timestamp() - self._now() > mx:
                raise invalid(f"ExpirationDate is later than the policy maximum ({mx} s).")
        return exp

    def _own_key(self, auth: AuthContext | None, key_id: Any) -> KeyRecord:
        missing = ApiFault(400, "4000", "InvalidParameterValue", f"The access key '{key_id}' does not exist.")
        return owned(self.keys, key_id, auth, missing)

    # calls ----------------------------------------------------------------------------------------------

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
        if self.key_lifetime_cap is not None:
            cap = self._now_dt() + _dt.timedelta(seconds=self.key_lifetime_cap)
            exp = cap if exp is None or exp > cap else exp
        tag = p.get("Tag")
        if tag is not None and not isinstance(tag, str):
            raise invalid("Tag must be a string.")
        key = self.create_key(
            acc.account_id, expiration=exp, tag=tag, created_with_certificate=auth.certificate_matched_ca
        )
        return {"AccessKey": key.public() | {"SecretKey": key.secret_key}}

    def _call_DeleteAccessKey(self, p: Mapping[str, Any], auth: AuthContext | None) -> dict[str, Any]:
        key = self._own_key(auth, p["AccessKeyId"])
        del self.keys[key.access_key_id]
        self._save()
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
                raise invalid("State must be ACTIVE or INACTIVE.")
            key.state = p["State"]
        if p.get("ClearExpirationDate"):
            if acc.max_access_key_expiration_seconds > 0:
                raise invalid("The API access policy requires an ExpirationDate.")
            key.expiration_date = None
        elif "ExpirationDate" in p:
            exp = self._parse_expiration(p["ExpirationDate"], acc)
            key.expiration_date = format_api_datetime(exp) if exp else None
        if p.get("ClearTag"):
            key.tag = None
        elif "Tag" in p:
            key.tag = str(p["Tag"])
        key.last_modification_date = format_api_datetime(self._now_dt())
        self._save()
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
