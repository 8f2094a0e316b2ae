"""`osc-trusted-login certs [--module PATH]... [--store PATH]... [--json]`: list cards and certificates.

Exit code 0 when the listing worked, even if some certificates are unusable or a module failed to load
(that is reported); 2 when nothing could be listed at all because every named module or store failed.
No PIN is ever asked: the listing reads what the cards show before logging in.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # imported when the command runs: app.__main__ configures every command at start-up,
    from app.tokens.inventory import Inventory  # and the token layer costs ~150 ms to the window's start



def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's options."""
    parser.add_argument(
        "--module",
        action="append",
        default=[],
        metavar="PATH",
        help="a PKCS#11 module to read (repeatable); default: OTL_PKCS11_MODULE(S), "
        "else the p11-kit registry (Linux) or OpenSC's default location",
    )
    parser.add_argument(
        "--store",
        action="append",
        default=[],
        metavar="PATH",
        help="a PKCS#12 / PEM file or a folder of them (repeatable)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.add_argument("--no-modules", action="store_true", help="read only the --store paths")
    parser.add_argument(
        "--no-computer-stores",
        action="store_true",
        help="skip this computer's stores (Chrome's and Firefox's NSS databases, the Windows store, "
        "the keychain)",
    )


def _inventory(args: argparse.Namespace) -> Inventory:
    from app.tokens.modules import discover
    from app.tokens.stores.computer import scan_everything

    modules = [] if args.no_modules else [c.path for c in discover(args.module)]
    computer = not (args.no_modules or args.no_computer_stores)
    return scan_everything(modules, args.store, computer=computer)


_REFUSALS = {"source": "not allowed by your organisation (smart cards only)",
             "issuer": "not allowed by your organisation (issuer)"}


def _refusal(entry: Any) -> str | None:
    """The organisation's refusal of this certificate in plain words (as the picker greys it), or None."""
    from app.session.policy_gate import certificate_refusal

    why = certificate_refusal(entry)
    return _REFUSALS[why] if why else None


def _json(inv: Inventory) -> dict[str, Any]:
    certs = []
    for c in inv.certificates:
        item = c.to_json()
        refusal = _refusal(c)
        if refusal:
            item["policy_refusal"] = refusal  # usable by the card's own terms, refused at login
        certs.append(item)
    return {
        "tokens": [t.to_json() for t in inv.tokens],
        "certificates": certs,
        "errors": [{"type": type(e).__name__, "message": str(e)} for e in inv.errors],
    }


def _table(inv: Inventory, out: TextIO) -> None:
    from app.tokens.flags import TokenFlags

    for t in inv.tokens:
        pin = []
        if TokenFlags.PROTECTED_AUTHENTICATION_PATH in t.flags:
            pin.append("PIN pad")
        if TokenFlags.USER_PIN_LOCKED in t.flags:
            pin.append("PIN LOCKED")
        elif TokenFlags.USER_PIN_FINAL_TRY in t.flags:
            pin.append("PIN: final try")
        elif TokenFlags.USER_PIN_COUNT_LOW in t.flags:
            pin.append("PIN: wrong PINs counted")
        extra = f" [{', '.join(pin)}]" if pin else ""
        print(
            f"Card '{t.label}' serial {t.serial} ({t.manufacturer} {t.model}) in {t.module_path}{extra}",
            file=out,
        )
    if inv.tokens:
        print(file=out)
    rows = [("", "WHERE", "LABEL", "SUBJECT", "KEY", "VALID UNTIL", "STATUS")]
    for c in inv.certificates:
        where = " + ".join(c.sources) if c.sources else c.where
        where += " (possession)" if c.factor == "possession" else " (knowledge)"
        key = f"{c.key_type} {c.key_size}" if c.key_size else str(c.key_type)
        until = c.not_after.strftime("%Y-%m-%d") if c.not_after else "-"
        status = "usable" if c.usable else "; ".join(c.problem_messages)
        if c.usable and c.needs_password:
            status = "usable (password needed)"
        if c.usable and c.always_authenticate:
            status += " (PIN for each signature)"
        refusal = _refusal(c)
        if refusal:
            status = refusal if c.usable else f"{status}; {refusal}"
        rows.append(("*" if c.usable and not refusal else "-", where, c.label, c.subject or "?", key, until,
                     status))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1], file=out)
    if not inv.certificates:
        print("(no certificate found)", file=out)
    for e in inv.errors:
        print(f"warning: {e}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """List and print; returns the exit code."""
    inv = _inventory(args)
    if args.json:
        json.dump(_json(inv), sys.stdout, indent=2)
        print()
    else:
        _table(inv, sys.stdout)
    named = len(args.module) + len(args.store)
    if named and not inv.tokens and not inv.certificates and len(inv.errors) >= named:
        return 2
    return 0
