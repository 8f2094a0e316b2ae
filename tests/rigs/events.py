"""One event recorder for every test that listens to a callback from another thread (session events,
card-watch events): it keeps what arrived and waits, with a deadline, for what a test expects."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from app.session.model import EventKind, SessionEvent, SessionState
from app.tokens.watch import WatchEvent, WatchEventKind

E = TypeVar("E")


class Recorder(Generic[E]):
    """A callback that records events; `wait` blocks until one matches (fails with what did arrive)."""

    def __init__(self, timeout: float = 5.0) -> None:
        self.items: list[E] = []
        self.cond = threading.Condition()
        self.timeout = timeout
        self.hook: Callable[[E], None] | None = None  # called after recording, outside the lock

    def __call__(self, event: E) -> None:
        with self.cond:
            self.items.append(event)
            self.cond.notify_all()
        if self.hook is not None:
            self.hook(event)

    @property
    def events(self) -> list[E]:
        """What arrived so far (a copy)."""
        with self.cond:
            return list(self.items)

    def count(self) -> int:
        """How many events arrived so far."""
        with self.cond:
            return len(self.items)

    def wait(self, pred: Callable[[E], bool], timeout: float | None = None, after: int = 0) -> E:
        """The first event (from index `after` on) that matches; fails after the timeout."""
        with self.cond:
            ok = self.cond.wait_for(lambda: any(pred(e) for e in self.items[after:]), timeout or self.timeout)
            assert ok, self.describe()
            return next(e for e in self.items[after:] if pred(e))

    def wait_all(self, pred: Callable[[list[E]], bool], timeout: float | None = None) -> None:
        """Until the whole list satisfies `pred`; fails after the timeout."""
        with self.cond:
            assert self.cond.wait_for(lambda: pred(self.items), timeout or self.timeout), self.describe()

    def drain(self) -> list[E]:
        """What arrived so far, forgotten at once (a soak keeps only the current cycle's: the recorder's own
        list is the rig's growth, not the product's). Indices from before (`after=`) are void."""
        with self.cond:
            items, self.items = self.items, []
            return items

    def describe(self) -> list[object]:
        """What arrived, short (for assertion messages)."""
        return [_short(e) for e in self.items]


class SessionEvents(Recorder[SessionEvent]):
    """Session events, with waits by state."""

    def state(self, state: SessionState, after: int = 0, timeout: float | None = None) -> SessionEvent:
        """The first STATE event into `state` from index `after` on."""
        return self.wait(lambda e: e.kind is EventKind.STATE and e.state is state, timeout, after)

    def kinds(self) -> list[tuple[str, str]]:
        """(kind, state) of every event so far."""
        with self.cond:
            return [(e.kind.value, e.state.value) for e in self.items]


class WatchEvents(Recorder[WatchEvent]):
    """Card-watch events."""

    def kinds(self) -> list[WatchEventKind]:
        """The kind of every event so far."""
        with self.cond:
            return [e.kind for e in self.items]


def _short(e: object) -> object:
    if isinstance(e, SessionEvent):
        return (e.kind.value, e.state.value, e.message)
    kind = getattr(e, "kind", None)
    return kind if kind is not None else e
