"""Command line entry point: `osc-trusted-login [COMMAND] ...` (no command opens the desktop window)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from app import __version__

# Each command lives in its own module under app/cli/ with `configure(parser)` and `run(args) -> int`,
# imported only when used so that `certs` or `login --headless` never load Qt.
COMMANDS: dict[str, tuple[str, str]] = {
    "gui": ("app.cli.gui", "open the login window (the default)"),
    "certs": ("app.cli.certs", "list certificates on cards and in local files"),
    "tls-check": ("app.cli.tls_check", "open a mutual-TLS connection and show what happened"),
    "login": ("app.cli.login", "log in and keep the trusted session while the card is present"),
    "demo": ("app.cli.demo", "run the product against the built-in sandbox API and a demo card"),
    "selftest": ("app.cli.selftest", "check that this installation has everything it needs"),
    "exec": ("app.cli.exec", "run an OUTSCALE tool through the trusted session's local API agent"),
    "env": ("app.cli.env", "print the variables that take OUTSCALE tools to the running session"),
    "mfa-setup": ("app.cli.mfa_setup", "set up certificate login on an account without locking it out"),
    "policy": ("app.cli.policy", "show the organisation's managed policy and where each value comes from"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; with `only`, just that command's module is imported to configure it.

    Importing every command's module costs the window 100-150 ms at start (the inventory, the TLS
    engine...), so a run configures the command it runs and lists the others by name only.
    """
    parser = argparse.ArgumentParser(prog="osc-trusted-login", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if only is not None and name != only:
            continue
        try:
            importlib.import_module(module).configure(p)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise
            p.set_defaults(_missing=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run the chosen command; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["__probe-pkcs11"]:  # the frozen app's PKCS#11 module probe child (app.tokens.p11.probe)
        from app.tokens.p11.probe import child_main

        return child_main(argv[1:])
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "gui")
    # Top-level --help/--version and unknown commands need no command module at all.
    parser = build_parser(argv[0] if argv[0] in COMMANDS else "")
    args = parser.parse_args(argv)
    if getattr(args, "_missing", None):
        parser.error(f"the '{args.command}' command is not available in this build")
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
