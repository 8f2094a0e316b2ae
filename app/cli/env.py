"""`osc-trusted-login env [--format sh|fish|powershell|json]`: the variables that take the OUTSCALE
tools to the running trusted session's local API agent.

Use: ``eval "$(osc-trusted-login env)"`` (sh, bash, zsh), ``osc-trusted-login env --format fish | source``,
``osc-trusted-login env --format powershell | Invoke-Expression``. The lines set OSC_ENDPOINT_API,
OSC_ACCESS_KEY, OSC_SECRET_KEY (the session's local pair, valid only at the agent and only while the
session lives), OSC_REGION, and OSC_CONFIG_FILE / OSC_PROFILE naming a per-session profile that agrees
with them (osc-sdk-python lets a config-file profile override the variables); they remove the
OSC_X509_* and login variables. Exit 1 with a plain message when no session is running.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TextIO

from app.session.agent.runtime import RuntimeFileRejected, env_lines, read_runtime, runtime_dir

FORMATS = ("sh", "fish", "powershell", "json")


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of the `env` command."""
    parser.add_argument("--format", choices=FORMATS, default="sh", help="output syntax (default: sh)")


def run(args: argparse.Namespace, *, env: dict[str, str] | None = None, out: TextIO | None = None,
        err: TextIO | None = None) -> int:
    """Print the variables of the running session; 1 when there is none."""
    env = dict(os.environ if env is None else env)
    out, err = out or sys.stdout, err or sys.stderr
    try:
        info = read_runtime(runtime_dir(env))
    except (RuntimeFileRejected, OSError) as e:
        print(f"env: the session's runtime file was not used: {e}", file=err)
        return 1
    if info is None:
        print("env: no trusted session is running for this user (start one with `osc-trusted-login` or "
              "`osc-trusted-login login --headless`).", file=err)
        return 1
    print(env_lines(info, args.format), file=out)
    return 0
