"""Failures injected by tests: "after call X succeeds, answer the next N requests with this error".

The set-up flow (issue 17) must roll back what it created when a step fails half-way; these faults let
a test break the flow right after a given call, on the real server, without patching the client.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from app.sandbox.wire import ApiFault


@dataclass
class _Armed:
    after: str
    count: int
    fault: ApiFault
    triggered: bool = False


class FaultInjector:
    """Faults armed by `fail_after`; `check` is called before a request, `seen` after a success."""

    def __init__(self, *, lock: threading.RLock) -> None:
        self._lock = lock
        self._armed: list[_Armed] = []
        self.injected = 0  # requests answered with an injected fault so far

    def fail_after(self, call: str, *, count: int = 1, fault: ApiFault | None = None) -> None:
        """Once `call` has succeeded, answer the next `count` requests (any call) with `fault`
        (default: HTTP 503, the API is unavailable)."""
        default = ApiFault(503, "2000", "ServiceUnavailable", "Injected failure: the service is unavailable.")
        with self._lock:
            self._armed.append(_Armed(call, count, fault or default))

    def fail_next(self, *, count: int = 1, fault: ApiFault | None = None) -> None:
        """Answer the next `count` requests with `fault`, whatever they are."""
        self.fail_after("", count=count, fault=fault)
        with self._lock:
            self._armed[-1].triggered = True

    def clear(self) -> None:
        """Forget every armed fault."""
        with self._lock:
            self._armed.clear()

    def check(self) -> None:
        """Raise the first triggered fault that still has requests to answer."""
        with self._lock:
            for a in self._armed:
                if a.triggered and a.count > 0:
                    a.count -= 1
                    self.injected += 1
                    raise a.fault
            self._armed = [a for a in self._armed if not (a.triggered and a.count <= 0)]

    def seen(self, call: str) -> None:
        """A request for `call` succeeded: trigger the faults armed after it."""
        with self._lock:
            for a in self._armed:
                if a.after == call:
                    a.triggered = True
