"""Try a PKCS#11 module in a child process before this process loads it.

A module runs native code: one that crashes in C_Initialize or C_GetSlotList would kill the app, one
that hangs would freeze it. `ensure_probed` runs `python -m app.tokens.p11.probe PATH` (the frozen app:
`osc-trusted-login __probe-pkcs11 PATH`) with a deadline; the child says which step it starts before it
starts it, so a crash or a hang is reported with the step and the reason. A module that failed is
remembered (per file, size and date) for the life of the process and is never loaded in it; one that
passed is not probed again. A clean error (a missing symbol, CKR_...) is left to the real load, which
reports it in its usual words.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence

from app.tokens.errors import ModuleLoadFailed

PROBE_SECONDS_ENV = "OTL_PKCS11_PROBE_SECONDS"
DEFAULT_DEADLINE = 10.0  # a reader stack with many slots initialises in well under 5 s; the picker waits
FROZEN_COMMAND = "__probe-pkcs11"

_Key = tuple[str, int, int]
_LOCK = threading.Lock()
_PASSED: set[_Key] = set()
_FAILED: dict[_Key, str] = {}


def deadline() -> float:
    """Seconds a module gets to initialise and list its slots (OTL_PKCS11_PROBE_SECONDS overrides)."""
    try:
        return max(0.5, float(os.environ.get(PROBE_SECONDS_ENV, DEFAULT_DEADLINE)))
    except ValueError:
        return DEFAULT_DEADLINE


def _key(path: str) -> _Key | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return os.path.realpath(path), st.st_mtime_ns, st.st_size


def failed_modules() -> dict[str, str]:
    """Module files that crashed or hung when probed in this process, with the reason."""
    with _LOCK:
        return {k[0]: why for k, why in _FAILED.items()}


def forget(path: str | None = None) -> None:
    """Probe `path` (or every module) again on its next load (after the user replaced a driver)."""
    with _LOCK:
        for store in (_PASSED, _FAILED):
            for k in [k for k in store if path is None or k[0] == os.path.realpath(path)]:
                if isinstance(store, set):
                    store.discard(k)
                else:
                    store.pop(k, None)


def _command(path: str) -> list[str]:
    if getattr(sys, "frozen", False):
        return [sys.executable, FROZEN_COMMAND, path]
    return [sys.executable, "-m", "app.tokens.p11.probe", path]


def _signal_name(rc: int) -> str:
    try:
        return signal.Signals(-rc).name
    except ValueError:
        return f"signal {-rc}"


def run_probe(path: str, init_env: Mapping[str, str] | None = None,
              timeout: float | None = None) -> str | None:
    """Run the child; the reason it crashed or hung, or None when it came through (or failed cleanly)."""
    limit = deadline() if timeout is None else timeout
    env = {**os.environ, **dict(init_env or {})}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    proc = subprocess.Popen(_command(path), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        return f"it did not answer within {limit:g} s in {_last_step(out)}, so it was stopped and not loaded"
    if proc.returncode < 0:
        return f"it crashed in {_last_step(out)} ({_signal_name(proc.returncode)}), so it was not loaded"
    if proc.returncode not in (0, 3) and "step " not in out:
        return f"the probe could not run (exit code {proc.returncode})"
    return None  # 0 passed; 3 a clean error that the real load words itself


def _last_step(out: str) -> str:
    steps = [ln[5:].strip() for ln in out.splitlines() if ln.startswith("step ")]
    return steps[-1] if steps else "loading"


def ensure_probed(path: str, init_env: Mapping[str, str] | None = None) -> None:
    """ModuleLoadFailed when `path` crashed or hung in a child (now or earlier in this process)."""
    key = _key(path)
    if key is None:
        return  # no such file: the real load says so
    with _LOCK:
        if key in _PASSED:
            return
        why = _FAILED.get(key)
    if why is None:
        why = run_probe(path, init_env)
        with _LOCK:
            if why is None:
                _PASSED.add(key)
            else:
                _FAILED[key] = why
    if why is not None:
        raise ModuleLoadFailed(path, why)


def child_main(argv: Sequence[str]) -> int:
    """The child: load the module, C_Initialize, C_GetSlotList, announcing each step before it."""
    import contextlib

    with contextlib.suppress(Exception):  # a crash here must not leave a core file with anything in it
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if len(argv) != 1:
        return 2

    def step(name: str) -> None:
        sys.stdout.write(f"step {name}\n")
        sys.stdout.flush()

    try:
        import pkcs11

        step("loading the library or C_Initialize")  # the binding's lib() calls C_Initialize itself
        lib = pkcs11.lib(argv[0])
        if not lib.initialized:
            step("C_Initialize")
            lib.initialize()
        step("C_GetSlotList")
        n = len(lib.get_slots(token_present=False))
        step("C_Finalize")
        lib.finalize()
    except Exception:
        return 3
    sys.stdout.write(f"ok {n}\n")
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
