"""Brute-force protection (Code 13 for a while, then Code 11 for good) and injected throttling (429).

Failures are counted per account, in memory only (a restarted sandbox forgets them, as the tests want).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from app.sandbox.wire import ApiFault

LOCK_EVERY = 4  # failures
LOCK_STEP_SECONDS = 60.0  # the k-th lock lasts k minutes ...
LOCK_MAX_STEPS = 10  # ... up to ten; one more series of failures locks permanently (Code 11)


@dataclass
class _Failures:
    count: int = 0
    locked_until: float = 0.0
    permanent: bool = False


class Lockout:
    """Counts failed authentications per account and refuses locked accounts."""

    def __init__(self, *, now: Callable[[], float], lock: threading.RLock) -> None:
        self._now, self._lock = now, lock
        self._failures: dict[str, _Failures] = {}

    def failure(self, account_id: str) -> None:
        """Count a failed authentication; every LOCK_EVERY-th locks the account a step longer."""
        f = self._failures.setdefault(account_id, _Failures())
        f.count += 1
        if f.count % LOCK_EVERY == 0:
            step = f.count // LOCK_EVERY
            if step > LOCK_MAX_STEPS:
                f.permanent = True
            else:
                f.locked_until = self._now() + step * LOCK_STEP_SECONDS

    def check(self, account_id: str) -> None:
        """Raise Code 11 (permanent) or 13 (with Retry-After) if the account is locked."""
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
        left = f.locked_until - self._now()
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

    def success(self, account_id: str) -> None:
        """A successful authentication resets the count (not a permanent lock)."""
        f = self._failures.get(account_id)
        if f is not None and not f.permanent:
            f.count = 0

    def state(self, account_id: str) -> tuple[int, float, bool]:
        """(failures, seconds left locked, permanent) for an account."""
        with self._lock:
            f = self._failures.get(account_id, _Failures())
            return f.count, max(0.0, f.locked_until - self._now()), f.permanent


class Throttle:
    """HTTP 429 answers that tests inject for the next authenticated calls."""

    def __init__(self, *, lock: threading.RLock) -> None:
        self._lock = lock
        self._pending: list[tuple[str, int]] = []  # (code, remaining)

    def next(self, count: int, code: str = "25") -> None:
        """Answer the next `count` authenticated calls with HTTP 429 and this Code (24 or 25)."""
        with self._lock:
            self._pending.append((code, count))

    def maybe_refuse(self) -> None:
        """Raise the pending 429, if any, and count it down."""
        if not self._pending:
            return
        code, left = self._pending[0]
        if left <= 1:
            self._pending.pop(0)
        else:
            self._pending[0] = (code, left - 1)
        name = "ErrorOperationThrottledPerAccount" if code == "24" else "ErrorOperationThrottledPerCall"
        raise ApiFault(429, code, "AccessDenied", f"{name}: Request rate exceeded.")
