"""Run the real `python -m app ...` in a private HOME with a hard deadline (the 'stated time')."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 60.0  # seconds a hostile input may cost the command before it must have ended (it takes ~1 s)
MEMORY_CAP = 1 << 30  # a process that tried to read /dev/zero whole would hit this instead of the machine


@dataclass(frozen=True)
class Ran:
    """What a finished command left: exit code and its two streams."""

    rc: int
    out: str
    err: str

    @property
    def text(self) -> str:
        """stdout and stderr together (where the plain message lands depends on the command)."""
        return self.out + self.err


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def private_env(home: Path, **extra: str) -> dict[str, str]:
    """os.environ without OSC_*/OTL_* and with HOME / XDG folders inside `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OSC_", "OTL_", "XDG_"))}
    home.mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_STATE_HOME=str(home / ".state"),
               XDG_CACHE_HOME=str(home / ".cache"), PYTHONPATH=str(ROOT), **extra)
    return env


def run_cli(*args: str, env: dict[str, str], stdin: str = "", timeout: float = DEADLINE) -> Ran:
    """Run `python -m app ARGS`; subprocess.TimeoutExpired (a failed test) when it outlives `timeout`."""
    p = subprocess.run([sys.executable, "-m", "app", *args], cwd=env["HOME"], env=env, input=stdin,
                       capture_output=True, text=True, timeout=timeout, preexec_fn=_cap_memory)
    return Ran(p.returncode, p.stdout, p.stderr)
