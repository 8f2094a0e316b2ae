"""Python's cyclic garbage collector, run on the UI thread only.

The collector runs on whichever thread happens to allocate when a threshold is crossed: in this
application often a PKCS#11 or network worker. If the garbage holds a PySide object (a dialog in a
reference cycle with its own slot), its C++ side is then destroyed off the UI thread, and Qt crashes
(seen in the UI tests: a segfault "Garbage-collecting" on the PKCS#11 worker). So automatic collection
is switched off while the application runs, and a UI-thread timer does the same work.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer


class UiThreadGarbageCollector(QObject):
    """Disables automatic collection and collects from a timer on the thread that created it."""

    def __init__(self, interval_ms: int = 500, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        self._thresholds = gc.get_threshold()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check)
        self._timer.start()

    def check(self) -> None:
        """Collect the generations whose counters passed their thresholds (what gc would have done)."""
        c0, c1, c2 = gc.get_count()
        t0, t1, t2 = self._thresholds
        if c0 > t0:
            generation = 2 if c2 > t2 else 1 if c1 > t1 else 0
            gc.collect(generation)

    def stop(self) -> None:
        """Collect once more here and give automatic collection back."""
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()
