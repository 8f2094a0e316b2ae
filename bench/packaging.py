"""Packaging figures: bundle and .deb sizes, and frozen vs unfrozen start-up measured in the same run.

    .venv/bin/python bench/packaging.py [--bundle dist/osc-trusted-login] [--deb dist/...deb] [--runs 7]

Build first (packaging/build-linux.sh). Start-up is timed as whole processes, launched alternately
frozen / unfrozen so that machine noise hits both alike; the median of each is compared:
- "to the login window": `selftest --check login-window` (start Python, import, start Qt offscreen,
  build and show the real login window, close it, exit);
- "--version": interpreter and bootloader start-up alone (no Qt).
Goals (issue 7): frozen start-up to the login window <= 1.2x unfrozen; bundle <= 140 MiB (exit 1 if missed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIB = 2**20


def tree_size(path: Path) -> int:
    """Bytes of the files under `path` (symlinks not followed, not counted twice)."""
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def timed(cmd: list[str], env: dict[str, str]) -> float:
    """Wall time of one process, which must succeed."""
    start = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    """Print the figures and ratios; exit 1 when a goal is missed."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", type=Path, default=ROOT / "dist" / "osc-trusted-login")
    ap.add_argument("--deb", type=Path, default=None)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--full-bundle", type=Path, default=None,
                    help="an unslimmed build (OTL_NO_SLIM=1) to compare size and start-up with")
    args = ap.parse_args()

    exe = args.bundle / "osc-trusted-login"
    if not exe.exists():
        print(f"no bundle at {args.bundle}: run packaging/build-linux.sh first", file=sys.stderr)
        return 2
    deb = args.deb or max((ROOT / "dist").glob("osc-trusted-login_*.deb"), default=None,
                          key=lambda p: p.stat().st_mtime)
    bundle_mib = tree_size(args.bundle) / MIB
    qt_mib = tree_size(args.bundle / "_internal" / "PySide6") / MIB
    print(f"bundle: {bundle_mib:.1f} MiB (Qt/PySide6 {qt_mib:.1f} MiB) "
          f"-> {bundle_mib / 140:.2f}x the 140 MiB goal")
    if deb:
        print(f".deb:   {deb.stat().st_size / MIB:.1f} MiB ({deb.name}, xz)")

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(QT_QPA_PLATFORM="offscreen", PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
    unfrozen = [sys.executable, "-m", "app"]
    frozen = [str(exe)]
    cases = {"to the login window": ["selftest", "--check", "login-window"], "--version": ["--version"]}
    ok = bundle_mib <= 140
    for label, argv in cases.items():
        f, u = compare(frozen + argv, unfrozen + argv, env, args.runs)
        goal = " (goal <= 1.2x)" if label == "to the login window" else " (no goal)"
        print(f"start-up {label}: frozen {f * 1000:.0f} ms, unfrozen {u * 1000:.0f} ms "
              f"(median of {args.runs}) -> ratio {f / u:.2f}x{goal}")
        ok = ok and (f / u <= 1.2 or label != "to the login window")
    if args.full_bundle:
        full_mib = tree_size(args.full_bundle) / MIB
        print(f"unslimmed bundle: {full_mib:.1f} MiB -> slimmed is {bundle_mib / full_mib:.2f}x its size")
        argv = cases["to the login window"]
        f, full = compare(frozen + argv, [str(args.full_bundle / "osc-trusted-login"), *argv], env, args.runs)
        print(f"start-up to the login window: slimmed {f * 1000:.0f} ms, unslimmed {full * 1000:.0f} ms "
              f"-> ratio {f / full:.2f}x")
    return 0 if ok else 1


def compare(a: list[str], b: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    """Median wall times of two commands, run alternately after one warm-up run each."""
    timed(a, env)  # warm the page cache and the .pyc files for both
    timed(b, env)
    a_times, b_times = [], []
    for _ in range(runs):
        a_times.append(timed(a, env))
        b_times.append(timed(b, env))
    return statistics.median(a_times), statistics.median(b_times)


if __name__ == "__main__":
    sys.exit(main())
