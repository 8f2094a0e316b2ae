"""`osc-trusted-login policy`: the organisation's effective policy and where each value came from.

Exit codes: 0 the policy is usable (or there is none); 1 a policy source is broken or refused, so
logging in is blocked until an administrator fixes it.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of the `policy` command."""
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _show(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


def describe(policy: Any) -> list[str]:
    """The policy in plain lines (also used by `selftest`)."""
    if not policy.present:
        return ["No managed policy on this computer: every setting is the user's.", *policy.problems]
    lines = ["Managed policy read from (later ones win): " + ", ".join(policy.sources)]
    for key in sorted(policy.values):
        lines.append(f"  {key} = {_show(policy.values[key])}    (from {policy.origins[key]})")
    lines += [f"Problem: {p}" for p in policy.problems]
    lines += [f"Unknown key (ignored): {k}" for k in policy.unknown]
    blocked = policy.login_blocked()
    lines.append(f"Login: BLOCKED - {blocked}" if blocked else "Login: allowed within this policy")
    if policy.support_line():
        lines.append(f"Help: {policy.support_line()}")
    return lines


def support_suffix() -> str:
    """' (help: ...)' with the organisation's support line, or '' (appended to every CLI error)."""
    try:
        from app.policy import current

        line = current().support_line()
    except Exception:  # reporting an error must never raise another
        return ""
    return f" (help: {line})" if line else ""


def run(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Print the effective policy; 1 when it blocks login."""
    from app.policy import current

    out = out or sys.stdout
    policy = current()
    if args.json:
        out.write(json.dumps(policy.to_json(), indent=2) + "\n")
    else:
        out.write("\n".join(describe(policy)) + "\n")
    return 1 if policy.login_blocked() else 0
