"""What a long-running process must keep flat: memory, reference counts of the singletons, threads,
file descriptors, live QObjects and PKCS#11 sessions. Shared by tests/soak and bench/soak.py."""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

FIGURES = ("rss_kib", "none_refs", "true_refs", "false_refs", "threads", "fds", "qobjects", "p11_sessions")


@dataclass(frozen=True)
class Sample:
    """One reading of every figure, taken at the same point of each cycle."""

    t: float  # seconds since the soak started
    cycle: int
    rss_kib: int
    none_refs: int
    true_refs: int
    false_refs: int
    threads: int
    fds: int
    qobjects: int  # -1 when Qt is not running
    p11_sessions: int

    def as_dict(self) -> dict[str, float | int]:
        """The figures by name (for JSON)."""
        return asdict(self)


def rss_kib() -> int:
    """Resident memory of this process, in KiB (Linux /proc)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def open_fds() -> int:
    """File descriptors this process holds."""
    return len(os.listdir("/proc/self/fd"))


def live_qobjects() -> int:
    """QObjects alive under the application and its top-level widgets (-1 without a QApplication)."""
    if "PySide6.QtWidgets" not in sys.modules:
        return -1
    from PySide6.QtCore import QObject
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        return -1
    count = 1 + len(app.findChildren(QObject))
    for w in QApplication.topLevelWidgets():
        count += 1 + len(w.findChildren(QObject))
    return count


def p11_sessions() -> int:
    """Open PKCS#11 sessions: the binding's live session objects (each holds one C_OpenSession)."""
    if "pkcs11" not in sys.modules:
        return 0
    gc.collect()
    return sum(
        1 for o in gc.get_objects() if type(o).__name__ == "Session" and "pkcs11" in type(o).__module__
    )


class Sampler:
    """Takes samples; `flat()` says which figures grew after the warm-up."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.samples: list[Sample] = []

    def take(self, cycle: int) -> Sample:
        """Read every figure now (after a garbage collection, as the product's own collector would)."""
        gc.collect()
        s = Sample(
            t=round(time.monotonic() - self.start, 3),
            cycle=cycle,
            rss_kib=rss_kib(),
            none_refs=sys.getrefcount(None),
            true_refs=sys.getrefcount(True),
            false_refs=sys.getrefcount(False),
            threads=threading.active_count(),
            fds=open_fds(),
            qobjects=live_qobjects(),
            p11_sessions=p11_sessions(),
        )
        self.samples.append(s)
        return s

    def growth(self, warmup: int) -> dict[str, int]:
        """Each figure's last sample minus its first sample after `warmup` samples."""
        after = self.samples[warmup:]
        if len(after) < 2:
            return {}
        return {f: int(getattr(after[-1], f)) - int(getattr(after[0], f)) for f in FIGURES}

    def per_hour(self, warmup: int) -> dict[str, float]:
        """Each figure's growth after the warm-up, scaled to one hour (least-squares slope)."""
        after = self.samples[warmup:]
        if len(after) < 2 or after[-1].t == after[0].t:
            return {}
        ts = [s.t for s in after]
        return {f: round(_slope(ts, [getattr(s, f) for s in after]) * 3600, 1) for f in FIGURES}

    def problems(self, warmup: int, allowed: dict[str, int] | None = None) -> list[str]:
        """The figures that grew more than allowed after the warm-up, in words (empty: flat)."""
        limits = {**DEFAULT_ALLOWED, **(allowed or {})}
        out = []
        for figure, change in self.growth(warmup).items():
            limit = limits[figure]
            if figure == "rss_kib":
                limit = max(limit, self.samples[warmup].rss_kib // 10)
            if change > limit or (figure.endswith("_refs") and -change > limit):
                out.append(f"{figure} moved by {change:+d} after warm-up (allowed {limit})")
        return out


# How far a figure may move between the first and the last sample after the warm-up. Reference counts
# may move a little (caches); a broken binding moves None by thousands. Memory may wobble by a few MiB
# (allocator arenas), threads and descriptors by a transient worker.
DEFAULT_ALLOWED = {
    "rss_kib": 12 * 1024,
    "none_refs": 300,
    "true_refs": 300,
    "false_refs": 300,
    "threads": 1,
    "fds": 2,
    "qobjects": 10,
    "p11_sessions": 1,  # the watch may hold its probe's session at the moment of a sample
}


def _slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def soak_seconds(default: float) -> float:
    """How long each soak runs: OTL_SOAK_SECONDS (the long run on demand), else the short CI default."""
    value = os.environ.get("OTL_SOAK_SECONDS")
    return float(value) if value else default


def run_cycles(cycle: Callable[[int], None], sampler: Sampler, seconds: float, min_cycles: int) -> int:
    """Run `cycle` until `seconds` passed and at least `min_cycles` ran, sampling after each one."""
    n = 0
    deadline = time.monotonic() + seconds
    sampler.take(0)
    while n < min_cycles or time.monotonic() < deadline:
        n += 1
        cycle(n)
        sampler.take(n)
    return n
