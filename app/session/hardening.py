"""A process that holds a PIN, a password or a temporary secret key never leaves a core file.

`no_core_dumps` sets RLIMIT_CORE to 0 (soft and hard: the process cannot raise it again) and, on
Linux, marks the process not dumpable (PR_SET_DUMPABLE 0: no core even through a core_pattern pipe,
and other processes of the same user cannot ptrace it or read its memory through /proc), as
ssh-agent does. Called first by the commands that open a session (`login --headless`, the window).
"""

from __future__ import annotations

import contextlib
import sys

PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3


def no_core_dumps() -> bool:
    """Forbid core dumps for this process; True when every available protection was applied."""
    ok = True
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):  # Windows has no rlimits (and writes no core files)
        ok = sys.platform.startswith("win")
    if sys.platform.startswith("linux"):
        ok = _prctl(PR_SET_DUMPABLE, 0) == 0 and ok
    return ok


def dumpable() -> bool | None:
    """Whether the kernel would dump this process's memory (Linux; None elsewhere)."""
    if not sys.platform.startswith("linux"):
        return None
    return _prctl(PR_GET_DUMPABLE, 0) == 1


def _prctl(option: int, value: int) -> int:
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(option, value, 0, 0, 0))
    return -1
