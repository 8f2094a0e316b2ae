"""Who is calling: OSC4-HMAC-SHA256 signatures, Basic logins (with X-Osc-Date), and CheckAuthentication.

Password failures are counted by the lockout. A request whose signature does not verify is refused but
never counted: the access key id is no secret, so counting them would let anyone lock anyone out. The
clock-skew window is checked here, and an accepted signature seen again within it is a replay (replay.py).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from typing import Any

from app.sandbox.accounts import AccountBook
from app.sandbox.lockout import Lockout
from app.sandbox.replay import ReplayGuard
from app.sandbox.wire import ApiFault, AuthContext, CallHandler, SandboxRequest, auth_failed, invalid
from app.session import signing
from app.session.api import BASIC_AUTH_CALLS
from app.session.regions import REGIONS

MAX_CLOCK_SKEW = 15 * 60  # seconds between X-Osc-Date and the sandbox clock


class Authenticator:
    """Verifies a request's credentials against the account book, counting failures in the lockout."""

    def __init__(self, book: AccountBook, lockout: Lockout, *, now: Callable[[], float]) -> None:
        self._book, self._lockout, self._now = book, lockout, now
        self._replays = ReplayGuard(2 * MAX_CLOCK_SKEW, now=now)

    def handlers(self) -> dict[str, CallHandler]:
        """The emulated calls this part answers."""
        return {"CheckAuthentication": self._call_CheckAuthentication}

    def authenticate(self, req: SandboxRequest) -> AuthContext:
        """The account (and key) the request's Authorization header proves, or an ApiFault."""
        header = req.headers.get("authorization", "")
        if not header:
            raise auth_failed("ErrorAuthenticationFailed: no credentials were given.")
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
            raise auth_failed("ErrorAuthenticationFailed: X-Osc-Date is missing or malformed.") from e
        if abs(when.timestamp() - self._now()) > MAX_CLOCK_SKEW:
            raise auth_failed("ErrorAuthenticationFailed: X-Osc-Date is too far from the server time.")
        return value

    def _check_password(self, login: str, password: str) -> str:
        """The account id if `password` is the login's; counts a failure (or resets) in the lockout."""
        acc = self._book.by_login(login)
        if acc is None:
            raise auth_failed()
        self._lockout.check(acc.account_id)
        if not hmac.compare_digest(acc.password.encode(), password.encode()):
            self._lockout.failure(acc.account_id)
            raise auth_failed()
        self._lockout.success(acc.account_id)
        return acc.account_id

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
            raise auth_failed("ErrorAuthenticationFailed: malformed Basic credentials.")
        self._check_date(req)
        login, password = parsed
        account_id = self._check_password(login, password.reveal())
        if self._book.accounts[account_id].password_expired:
            raise ApiFault(401, "20", "PasswordExpired", "ErrorPasswordExpired: The password has expired.")
        return AuthContext(account_id, None, False)

    def _signature_matches(
        self, req: SandboxRequest, parsed: signing.Osc4Authorization, secret: str, date_iso: str
    ) -> bool:
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
                secret_key=secret, date_iso=date_iso, region=parsed.region, canonical=canonical
            )
            good = hmac.compare_digest(parsed.signature, expected) or good
        return good

    def _authenticate_osc4(self, req: SandboxRequest, header: str) -> AuthContext:
        parsed = signing.parse_osc4_authorization(header)
        signed = parsed.signed_headers.split(";") if parsed else []
        if parsed is None or parsed.service != signing.SERVICE or not {"host", "x-osc-date"} <= set(signed):
            raise auth_failed("ErrorAuthenticationFailed: malformed OSC4-HMAC-SHA256 Authorization header.")
        key = self._book.keys.get(parsed.access_key)
        if key is None:
            raise auth_failed()
        self._lockout.check(key.account_id)
        date_iso = self._check_date(req)
        # Not counted by the lockout (module docstring): a wrong scope or signature proves nothing about
        # who sent it.
        if parsed.date_stamp != date_iso[:8] or parsed.region not in REGIONS:
            raise auth_failed("ErrorAuthenticationFailed: the credential scope does not match.")
        if not self._signature_matches(req, parsed, key.secret_key, date_iso):
            raise auth_failed()
        if self._replays.seen(parsed.signature):
            raise auth_failed("ErrorAuthenticationFailed: this signed request was already received (a "
                              "replay); sign each request anew.")
        self._replays.remember(parsed.signature, signing.parse_osc_date(date_iso).timestamp())
        if key.state != "ACTIVE" or self._book.key_expired(key):
            raise auth_failed("ErrorAuthenticationFailed: the access key is inactive or expired.")
        self._lockout.success(key.account_id)
        return AuthContext(key.account_id, key, False)

    def _call_CheckAuthentication(self, p: Mapping[str, Any], auth: AuthContext | None) -> dict[str, Any]:
        login, password = p["Login"], p["Password"]
        if not isinstance(login, str) or not isinstance(password, str):
            raise invalid("Login and Password must be strings.")
        self._check_password(login, password)
        return {}
