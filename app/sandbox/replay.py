"""Replay protection: OSC4 signatures already accepted are remembered for as long as their X-Osc-Date
is within the allowed clock skew; the same signature again is a replay and is refused.

An OSC4 signature covers the method, path, signed headers (X-Osc-Date, to the second) and body, so an
honest client that sends the same call with the same body twice within one second makes the same
signature; the product's client waits for the next second rather than do so (OutscaleClient).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

MAX_REMEMBERED = 200_000  # a bound on memory: beyond it the oldest are forgotten early (~40 MB at most)


class ReplayGuard:
    """Remembers accepted signatures until their date leaves the skew window (not thread-safe: the
    sandbox state's lock is held around it)."""

    def __init__(self, window: float, *, now: Callable[[], float]) -> None:
        self._window, self._now = window, now
        self._seen: set[str] = set()
        self._expiry: list[tuple[float, str]] = []  # (when it may be forgotten, signature)

    def _forget_old(self) -> None:
        now = self._now()
        while self._expiry and (self._expiry[0][0] <= now or len(self._expiry) > MAX_REMEMBERED):
            _, sig = heapq.heappop(self._expiry)
            self._seen.discard(sig)

    def seen(self, signature: str) -> bool:
        """Whether this signature was already accepted (and is still within its window)."""
        self._forget_old()
        return signature in self._seen

    def remember(self, signature: str, signed_at: float) -> None:
        """Remember an accepted signature until its date is out of the window on both sides."""
        if signature in self._seen:
            return
        self._seen.add(signature)
        heapq.heappush(self._expiry, (signed_at + self._window, signature))
        self._forget_old()
