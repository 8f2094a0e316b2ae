"""The organisation's managed policy (issue 16): read once at start, merged key by key, obeyed by the core.

This package imports nothing of `app/`: the token layer, the session, the CLI and the UI all ask the
same `current()` object. Where it comes from (one small reader per OS, behind `read_sources`):
- Linux: /etc/osc-trusted-login/policy.json, then policy.d/*.json in name order (later files win);
- Windows: HKLM\\SOFTWARE\\Policies\\OUTSCALE\\TrustedLogin, which wins over the same key under HKCU;
- macOS: the managed preferences of com.outscale.trusted-login (the computer's win over the user's).

OTL_POLICY_ROOT=<folder> reads the Linux (or macOS) files under that folder instead of "/", and is
honoured only in test and demo builds (running from source, not the frozen installers), so a user of
an installed copy cannot swap the organisation's policy for their own.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

from app.policy.model import NOT_ALLOWED, SET_BY_ORGANISATION, Policy, PolicyRefused, SourceDoc
from app.policy.schema import check

__all__ = ["ENV_ROOT", "NOT_ALLOWED", "SET_BY_ORGANISATION", "Policy", "PolicyRefused", "SourceDoc",
           "current", "install", "load", "merge", "override_allowed", "read_sources"]

ENV_ROOT = "OTL_POLICY_ROOT"


def override_allowed() -> bool:
    """True in test and demo builds (the source tree); the frozen installers ignore OTL_POLICY_ROOT."""
    return not getattr(sys, "frozen", False)


def merge(sources: list[SourceDoc], notes: tuple[str, ...] = ()) -> Policy:
    """The effective policy of `sources` (lowest precedence first): later values replace earlier ones
    key by key; a source that could not be used blocks login (its content is unknown: the strictest)."""
    values: dict[str, object] = {}
    origins: dict[str, str] = {}
    problems: list[str] = list(notes)
    unknown: list[str] = []
    blocking: list[str] = []
    for src in sources:
        if src.error is not None or src.doc is None:
            blocking.append(f"{src.label} {src.error or 'is empty'}")
            continue
        vals, probs, unk = check(src.doc)
        problems += [f"{src.label}: {p}" for p in probs]
        unknown += [f"{src.label}: {k}" for k in unk]
        for key, v in vals.items():
            values[key] = v
            origins[key] = src.label
    problems += blocking
    return Policy(values, origins, tuple(s.label for s in sources), tuple(problems), tuple(unknown),
                  tuple(blocking))


def read_sources(platform: str | None = None, environ: Mapping[str, str] | None = None
                 ) -> tuple[list[SourceDoc], tuple[str, ...]]:
    """The policy sources of this OS (lowest precedence first) and notes about how they were found."""
    env = os.environ if environ is None else environ
    plat = platform or sys.platform
    root, trusted = Path("/"), frozenset({0})
    notes: tuple[str, ...] = ()
    if env.get(ENV_ROOT):
        if override_allowed():
            # the test and demo builds run as the tester: their own files count as an administrator's
            root = Path(env[ENV_ROOT])
            trusted = frozenset({0, os.geteuid()}) if hasattr(os, "geteuid") else trusted
        else:
            notes = (f"{ENV_ROOT} is ignored: only test and demo builds read a policy from elsewhere",)
    if plat.startswith("win") and not env.get(ENV_ROOT):
        from app.policy.windows import read_windows

        return read_windows(), notes
    if plat == "darwin":
        from app.policy.macos import read_macos

        return read_macos(root, trusted), notes
    from app.policy.linux import read_linux

    return read_linux(root, trusted), notes


def load(platform: str | None = None, environ: Mapping[str, str] | None = None) -> Policy:
    """Read and merge this machine's policy now (the app calls `current()`, which does this once)."""
    try:
        sources, notes = read_sources(platform, environ)
    except Exception as e:  # a reader failing is a broken policy, never an open one
        sources, notes = [SourceDoc("the policy", error=f"cannot be read ({type(e).__name__}: {e})")], ()
    return merge(sources, notes)


_lock = threading.Lock()
_current: Policy | None = None


def current() -> Policy:
    """The policy of this run: read at the first call, then the same object for the process's life."""
    global _current
    with _lock:
        if _current is None:
            _current = load()
        return _current


def install(policy: Policy | None) -> None:
    """Replace the process's policy (tests, and `demo`); None reads it again at the next `current()`."""
    global _current
    with _lock:
        _current = policy
