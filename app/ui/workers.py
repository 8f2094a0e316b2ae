"""Workers: a QObject on its own QThread runs jobs one after another; results come back as signals.

The shape of nitrokey-app2's worker (a QObject moved to a QThread, triggered by a signal, answering
with result/error signals) with Vorta's one-serial-queue-per-resource. Jobs are plain callables into
the Qt-free core; they return frozen values or raise typed errors, and never touch a widget.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

log = logging.getLogger(__name__)
_ids = itertools.count(1)
T = TypeVar("T")


@dataclass(frozen=True)
class Job:
    """One call to run on a worker; `on_done`/`on_error` run on the UI thread afterwards."""

    fn: Callable[[], Any] = field(repr=False)
    on_done: Callable[[Any], None] | None = field(default=None, repr=False)
    on_error: Callable[[BaseException], None] | None = field(default=None, repr=False)
    name: str = ""
    id: int = field(default_factory=lambda: next(_ids))


class _Runner(QObject):
    """Lives on the worker thread."""

    done = Signal(object, object, object)  # Job, result, error

    @Slot(object)
    def run(self, job: Job) -> None:
        try:
            result = job.fn()
        except BaseException as e:  # delivered to the UI as a value; the worker thread goes on
            self.done.emit(job, None, e)
        else:
            self.done.emit(job, result, None)


class Worker(QObject):
    """A serial queue on its own thread (one for the network, one for the cards...)."""

    _trigger = Signal(object)
    job_finished = Signal(object)  # Job, on the UI thread, after its callback ran

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.pending = 0
        self._thread = QThread()
        self._thread.setObjectName(name)
        self._runner = _Runner()
        self._runner.moveToThread(self._thread)
        self._trigger.connect(self._runner.run)
        # The runner's signal is emitted on the worker thread and received by this UI-thread object:
        # Qt queues it, so the callbacks below always run on the UI thread.
        self._runner.done.connect(self._finished)
        self._thread.start()

    def submit(
        self,
        fn: Callable[[], T],
        on_done: Callable[[T], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        name: str = "",
    ) -> Job:
        """Queue `fn` on the worker thread; `on_done` gets its result (typed alike)."""
        job = Job(fn, on_done, on_error, name)
        self.pending += 1
        self._trigger.emit(job)
        return job

    @property
    def busy(self) -> bool:
        """Whether a job is queued or running."""
        return self.pending > 0

    @Slot(object, object, object)
    def _finished(self, job: Job, result: Any, error: BaseException | None) -> None:
        self.pending -= 1
        try:
            if error is None:
                if job.on_done is not None:
                    job.on_done(result)
            elif job.on_error is not None:
                job.on_error(error)
            else:
                log.error("job %s failed: %s", job.name or job.id, type(error).__name__)
        finally:
            self.job_finished.emit(job)

    def stop(self, timeout_ms: int = 10000) -> bool:
        """Let the queued jobs finish and end the thread; False if it did not end in time."""
        self._thread.quit()
        return bool(self._thread.wait(timeout_ms))


class StallMeter(QObject):
    """Measures how long the UI event loop goes without running: a timer ticks every `interval_ms`
    and records the largest gap between ticks beyond the interval."""

    def __init__(self, interval_ms: int = 5, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.interval = interval_ms / 1000.0
        self.max_gap = 0.0
        self.ticks = 0
        self._last: float | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        """Start (or restart) measuring."""
        self.max_gap = 0.0
        self.ticks = 0
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> float:
        """Stop; returns the longest stall in milliseconds."""
        self._timer.stop()
        return self.max_stall_ms

    @property
    def max_stall_ms(self) -> float:
        """The longest time between two ticks, minus the tick interval, in ms."""
        return max(0.0, (self.max_gap - self.interval) * 1000.0)

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.max_gap = max(self.max_gap, now - self._last)
        self._last = now
        self.ticks += 1
