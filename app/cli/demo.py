"""`osc-trusted-login demo`: the product against the built-in sandbox API and a demo smart card.

One command: provisions a demo card (a private SoftHSM2 token with a key generated on it and a
certificate from a demo CA) in the per-user state folder and reuses it on later runs; starts the
sandbox OUTSCALE API on 127.0.0.1 requiring that CA through an API access rule; then opens the login
window prefilled for it. With no display (no DISPLAY / WAYLAND_DISPLAY) or --headless, it runs the
same flow without a window: log in with the card, print the session's events, list the VMs, log out
(the temporary key is revoked, checked on the sandbox) and exit.

Every value printed (PIN, login, password) is a throwaway demo value of this local sandbox.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

DEMO_LABEL = "OTL Demo Card"
DEMO_PIN = "123456"
DEMO_SO_PIN = "12345678"
DEMO_CN = "demo operator"


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of the `demo` command."""
    parser.add_argument(
        "--headless", action="store_true", help="run without a window even if a display is there"
    )
    parser.add_argument("--state-dir", help="where the demo card lives (default: the per-user state folder)")
    parser.add_argument("--reset", action="store_true", help="create a new demo card")
    parser.add_argument("--json", action="store_true", help="headless: print one JSON object per event")
    parser.add_argument(
        "--trusted-env",
        action="store_true",
        help="activate a trusted session through the sandbox's API access policy (1 h grace)",
    )
    parser.add_argument(
        "--grace-seconds",
        type=float,
        help="end the session this many seconds after the card is removed (only shortens it)",
    )
    parser.add_argument("--language", choices=("en", "fr"), help="window language (default: the system's)")


@dataclass(frozen=True)
class DemoCard:
    """The provisioned demo card."""

    root: str
    module_path: str
    init_env: dict[str, str]
    label: str
    serial: str
    pin: str
    uri: str  # RFC 7512 URI of the certificate
    fingerprint: str
    subject: str
    ca_pem: bytes
    reused: bool


def default_state_dir() -> Path:
    """The per-user folder that keeps the demo card between runs."""
    import platformdirs

    return Path(platformdirs.user_state_dir("osc-trusted-login", appauthor=False)) / "demo"


def prepare_card(state_dir: Path, *, reset: bool = False) -> DemoCard:
    """The demo card: reused when it is already there and readable, else provisioned anew."""
    from app.sandbox.softhsm import SoftHsm

    root = state_dir / "softhsm"
    ca_file = state_dir / "demo-client-ca.pem"
    if reset and state_dir.exists():
        _unload(root)
        shutil.rmtree(state_dir)
    if ca_file.exists() and root.exists():
        card = _find_card(SoftHsm(root), ca_file.read_bytes(), reused=True)
        if card is not None:
            return card
        _unload(root)
        shutil.rmtree(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    from app.sandbox.pki import CertificateAuthority

    ca = CertificateAuthority("OTL Demo Client CA")
    hsm = SoftHsm(root)
    tok = hsm.init_token(DEMO_LABEL, user_pin=DEMO_PIN, so_pin=DEMO_SO_PIN)
    hsm.add_client_certificate(tok, ca, DEMO_CN, "p256", label=DEMO_CN)
    # Only the CA certificate is kept: the sandbox needs it to require the card; its key is dropped,
    # so nothing can issue more certificates under this demo CA.
    ca_file.write_bytes(ca.cert_pem())
    card = _find_card(hsm, ca.cert_pem(), reused=False)
    if card is None:
        raise RuntimeError("the demo card was created but its certificate cannot be read back")
    return card


def _unload(root: Path) -> None:
    from app.sandbox.softhsm import find_softhsm_module
    from app.tokens.p11.registry import loaded_module, unload_module

    path = find_softhsm_module()
    mod = loaded_module(path) if path else None
    if mod is not None and getattr(mod, "init_env", {}).get("SOFTHSM2_CONF", "").startswith(str(root)):
        unload_module(mod.path)


def _find_card(hsm: Any, ca_pem: bytes, *, reused: bool) -> DemoCard | None:
    from app.tokens.inventory import scan_module

    inv = scan_module(hsm.module_path, module=hsm.module())
    for c in inv.certificates:
        if c.token is not None and c.token.label == DEMO_LABEL and c.usable:
            return DemoCard(
                root=str(hsm.root),
                module_path=hsm.module_path,
                init_env=dict(hsm.env),
                label=DEMO_LABEL,
                serial=c.token.serial,
                pin=DEMO_PIN,
                uri=c.uri,
                fingerprint=c.fingerprint_sha256,
                subject=c.subject,
                ca_pem=ca_pem,
                reused=reused,
            )
    return None


def start_sandbox(card: DemoCard, sandbox_dir: Path, *, trusted_env: bool = False) -> tuple[Any, Any]:
    """The sandbox API on 127.0.0.1 (a free port), requiring the demo card's CA."""
    from app.sandbox.server import Sandbox

    sandbox = Sandbox(sandbox_dir, client_ca_pem=card.ca_pem, trusted_env=trusted_env)
    return sandbox, sandbox.start()


def has_display(env: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """Whether a window can be shown (Linux/BSD need an X11 or Wayland display; others always can)."""
    if env.get("QT_QPA_PLATFORM", "").startswith(("offscreen", "minimal")):
        return False
    if sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
    return True


def _banner(card: DemoCard, info: Any, out: TextIO) -> None:
    reuse = "reused from" if card.reused else "created in"
    print(
        "OUTSCALE Trusted Login demo - every value below is a THROWAWAY DEMO VALUE of a local sandbox.",
        file=out,
    )
    print(f"  demo card   : '{card.label}' (SoftHSM2, serial {card.serial}), {reuse} {card.root}", file=out)
    print(f"  certificate : {card.subject}", file=out)
    print(f"  card PIN    : {card.pin}", file=out)
    print(f"  sandbox API : {info.endpoint} (server CA {info.ca_file})", file=out)
    print(f"  login       : {info.login}", file=out)
    print(f"  password    : {info.password}", file=out)
    print(
        f"  account     : {info.account_id}; the API requires the demo card's CA (API access rule)", file=out
    )
    out.flush()


def _request(card: DemoCard, info: Any, grace: float | None) -> Any:
    from app.session.model import AuthMethod, CertificateChoice, Credentials, LoginRequest, Secret

    return LoginRequest(
        credentials=Credentials(AuthMethod.PASSWORD, info.login, Secret(info.password)),
        region=info.region,
        endpoint=info.endpoint,
        certificate=CertificateChoice(card.uri, module_path=card.module_path),
        ca_file=info.ca_file,
        grace_override_seconds=grace,
    )


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the demo; returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    from app.sandbox.softhsm import softhsm_available

    if not softhsm_available():
        print(
            "demo: SoftHSM2 is not installed; run ./scripts/setup.sh (Debian: apt-get install softhsm2)",
            file=err,
        )
        return 2
    state_dir = Path(args.state_dir) if args.state_dir else default_state_dir()
    try:
        card = prepare_card(state_dir, reset=args.reset)
    except Exception as e:
        print(f"demo: the demo card could not be prepared: {e}", file=err)
        return 2
    import tempfile

    # The sandbox's state (accounts, keys) is fresh on every run, so an interrupted run never leaves
    # keys that count against the 10-keys quota of the next one.
    sandbox_dir = Path(tempfile.mkdtemp(prefix="otl-demo-sandbox-"))
    try:
        sandbox, info = start_sandbox(card, sandbox_dir, trusted_env=args.trusted_env)
    except Exception as e:
        print(f"demo: the sandbox API could not start: {e}", file=err)
        shutil.rmtree(sandbox_dir, ignore_errors=True)
        return 2
    try:
        _banner(card, info, err if args.json else out)
        if args.headless or not has_display():
            return run_headless(card, sandbox, info, args, out=out, err=err)
        return run_window(card, info, args)
    finally:
        sandbox.stop()
        shutil.rmtree(sandbox_dir, ignore_errors=True)


def run_headless(
    card: DemoCard, sandbox: Any, info: Any, args: argparse.Namespace, *, out: TextIO, err: TextIO
) -> int:
    """Log in with the demo card, print events, list VMs, log out, check the key is gone."""
    import threading

    from app.cli.login import Printer
    from app.session.lifecycle import TrustedSession
    from app.tokens.pin import Pin, PinRequest

    note = err if args.json else out
    printer = Printer(out, as_json=args.json)
    asked = threading.Event()

    def demo_pin(request: PinRequest) -> Pin | None:
        # Headless and unattended: the demo answers with its own throwaway PIN, once. A refused PIN
        # is not retried (the login then fails), exactly as the product behaves with a person.
        if asked.is_set():
            return None
        asked.set()
        print(
            f"demo: the card '{request.token_label}' asks for its PIN: giving the demo PIN",
            file=note,
            flush=True,
        )
        return Pin(card.pin)

    # The card module must be loaded with the demo's private SOFTHSM2_CONF before the session uses it.
    from app.tokens.p11.registry import load_module

    load_module(card.module_path, init_env=card.init_env)
    print("demo: headless run (no display, or --headless): logging in...", file=note, flush=True)
    started = time.monotonic()
    session = TrustedSession(
        _request(card, info, args.grace_seconds), pin_callback=demo_pin, on_event=printer
    )
    try:
        session_info = session.login()
    except Exception as e:
        from app.cli.login import _drain

        session.wait_ended(10)
        _drain(session)
        print(f"demo: login failed: {type(e).__name__}: {e}", file=err)
        return 1
    print(
        f"demo: logged in as {session_info.account_email or session_info.account_id} with "
        f"'{session_info.certificate_subject}' on '{session_info.card_label}'; temporary key "
        f"{session_info.temporary_key_id} (expires {session_info.temporary_key_expires}); trusted session "
        f"through the API: {'yes' if session_info.trusted_env else 'no'}; card removal grace "
        f"{session_info.grace_seconds:g} s",
        file=note,
        flush=True,
    )
    code = _print_vms(session, args, out, err)
    revocation = session.logout()
    session.wait_ended(30)
    from app.cli.login import _drain

    _drain(session)
    key_id = session_info.temporary_key_id
    still_active = [k for k in sandbox.access_keys() if k.access_key_id == key_id and k.state == "ACTIVE"]
    revoked = bool(revocation.revoked) and not still_active
    print(
        f"demo: logged out; temporary key {key_id} "
        f"{'revoked (checked on the sandbox)' if revoked else 'NOT revoked'}; "
        f"{time.monotonic() - started:.1f} s",
        file=note,
        flush=True,
    )
    return code if revoked else 1


def _print_vms(session: Any, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """ReadVms through the session, printed as a table (or one JSON line); 0, or 1 when it failed."""
    import json

    try:
        vms = session.client.read_vms()
    except Exception as e:
        print(f"demo: ReadVms failed: {type(e).__name__}: {e}", file=err)
        return 1
    if args.json:
        fields = ("vm_id", "name", "state", "vm_type", "private_ip")
        rows = [{f: getattr(v, f) for f in fields} for v in vms]
        out.write(json.dumps({"event": "vms", "vms": rows}) + "\n")
    else:
        print(f"demo: ReadVms returned {len(vms)} VM(s):", file=out)
        for v in vms:
            print(
                f"  {v.vm_id:<12} {v.name or '-':<20} {v.state or '-':<10} {v.vm_type or '-':<12} "
                f"{v.private_ip or '-'}",
                file=out,
            )
    out.flush()
    return 0


def run_window(card: DemoCard, info: Any, args: argparse.Namespace) -> int:
    """The desktop application, prefilled for the sandbox and the demo card."""
    from app.cli.gui import display_problem

    problem = display_problem()
    if problem:
        print(f"demo: the window cannot open ({problem}); run with --headless", file=sys.stderr)
        return 2
    from app.session.model import AuthMethod
    from app.tokens.p11.registry import load_module
    from app.ui.app import AppOptions, run
    from app.ui.inventory import InventoryConfig
    from app.ui.login import LoginPrefill, PickedCertificate

    load_module(card.module_path, init_env=card.init_env)
    req = _request(card, info, args.grace_seconds)
    assert req.certificate is not None
    prefill = LoginPrefill(
        method=AuthMethod.PASSWORD,
        identity=info.login,
        secret=info.password,
        endpoint=info.endpoint,
        ca_file=info.ca_file,
        certificate=PickedCertificate(req.certificate, DEMO_CN, f"{card.label} (SoftHSM2)"),
        note=f"Demo: sandbox API on {info.endpoint}. The card's PIN is {card.pin} (a throwaway demo value).",
        grace_override_seconds=args.grace_seconds,
    )
    from cryptography import x509

    ca_subject = x509.load_pem_x509_certificate(card.ca_pem).subject.rfc4514_string()
    options = AppOptions(
        inventory=InventoryConfig(
            module_paths=(card.module_path,),
            init_envs={card.module_path: card.init_env},
            account_ca_subjects=frozenset({ca_subject}),
        ),
        prefill=prefill,
        use_keyring=False,
    )
    return run(options, language=args.language or _saved_language())


def _saved_language() -> str | None:
    """The language chosen in Settings (the demo honours it as the product does); None: the system's."""
    from app.session.config import load_settings

    try:
        return load_settings().language
    except Exception:  # a settings file that cannot be read changes nothing here
        return None
