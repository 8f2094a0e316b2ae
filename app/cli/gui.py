"""`osc-trusted-login [gui]`: the desktop application."""

from __future__ import annotations

import argparse
import importlib.util
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of the desktop application."""
    parser.add_argument(
        "--module",
        action="append",
        default=[],
        metavar="PATH",
        help="a PKCS#11 module to use besides the ones found (repeatable)",
    )
    parser.add_argument(
        "--store",
        action="append",
        default=[],
        metavar="PATH",
        help="a folder of PKCS#12/PEM certificates (repeatable)",
    )
    parser.add_argument("--profile", help="osc profile to prefill the login window with")
    parser.add_argument("--endpoint", help="custom API endpoint URL")
    parser.add_argument("--ca-file", help="extra trust anchors (PEM) for the endpoint's certificate")
    parser.add_argument("--language", choices=("en", "fr"), help="interface language (default: the system's)")


def run(args: argparse.Namespace) -> int:
    """Start the window; returns the exit code."""
    from app.session.hardening import no_core_dumps

    no_core_dumps()  # the window's process holds the PIN, the password and the temporary key
    if importlib.util.find_spec("PySide6") is None:  # Qt itself is imported in app/ui only
        print(
            "The desktop interface needs PySide6 (pip install 'osc-trusted-login[ui]'); "
            "`osc-trusted-login login --headless` works without it.",
            file=sys.stderr,
        )
        return 2
    problem = display_problem()
    if problem:
        print(f"The window cannot open: {problem}", file=sys.stderr)
        return 2
    from app.session.config import list_profiles, load_settings
    from app.ui.app import AppOptions
    from app.ui.app import run as run_app
    from app.ui.inventory import InventoryConfig
    from app.ui.login import LoginPrefill

    warnings: list[str] = []
    try:
        settings = load_settings()
    except Exception as e:  # a corrupt settings file: say so and start with defaults (never overwritten)
        print(f"warning: settings not read: {e}", file=sys.stderr)
        warnings.append(f"Settings were not read, defaults are used (the file is left as it is): {e}")
        from app.session.config import AppSettings

        settings = AppSettings()
    try:
        import os

        from app.session.config import default_osc_config_path

        profiles = list_profiles(os.environ.get("OSC_CONFIG_FILE") or default_osc_config_path())
    except Exception as e:  # a corrupt osc config: say so (the profile list stays empty; never rewritten)
        print(f"warning: osc profiles not read: {e}", file=sys.stderr)
        warnings.append(f"The osc profiles were not read (the file is left as it is): {e}")
        profiles = ()
    modules = tuple(dict.fromkeys([*args.module, *settings.pkcs11_modules]))
    stores = tuple(args.store) or tuple(settings.store_folders)
    prefill = None
    if args.endpoint or args.ca_file or settings.extra_ca_bundle:
        prefill = LoginPrefill(endpoint=args.endpoint, ca_file=args.ca_file or settings.extra_ca_bundle)
    # Module discovery (p11-kit registry, OpenSC defaults) runs on the cards worker at the first scan.
    options = AppOptions(
        inventory=InventoryConfig(module_paths=modules, store_paths=stores, discover_modules=True,
                                  computer_stores=True),
        prefill=prefill,
        profiles=tuple(profiles),
        profile=args.profile,
        startup_warnings=tuple(warnings),
    )
    return run_app(options, language=args.language or settings.language)


def display_problem() -> str | None:
    """Why Qt's X11 plugin would abort the process (Linux, X11 chosen), in plain words; None if fine.
    Qt itself would only print "could not load the Qt platform plugin" and abort."""
    import os

    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM", "xcb") != "xcb":
        return None
    if not os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None  # Wayland (or no display at all: Qt says so itself)
    from app.cli.selftest import x11_plugin_problem

    return x11_plugin_problem()
