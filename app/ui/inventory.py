"""Turns the token layer's inventory into picker rows. Runs on the cards worker, never on the UI thread."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.session.model import CertificateChoice, Secret
from app.tokens.errors import TokenError

if TYPE_CHECKING:
    from app.tokens.inventory import CertificateEntry, Inventory
    from app.ui.picker import CertRow, InventorySnapshot

# The token layer (cryptography, the PKCS#11 binding) is imported by the functions below, on the cards
# worker: importing it here would add ~100 ms to the window's start-up.

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InventoryConfig:
    """What to scan: PKCS#11 modules (with their environment, e.g. a private SOFTHSM2_CONF), local
    store folders, and the subjects of the account's CAs when known (their certificates go first)."""

    module_paths: tuple[str, ...] = ()
    store_paths: tuple[str, ...] = ()
    init_envs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    account_ca_subjects: frozenset[str] = frozenset()
    # Also use the modules found on the system (p11-kit registry, OpenSC defaults). Found on the cards
    # worker at the first scan rather than at start-up.
    discover_modules: bool = False
    # Also list this computer's stores (Chrome's/Firefox's NSS databases, the Windows store, the keychain)
    computer_stores: bool = False


_discovered: dict[tuple[str, ...], tuple[str, ...]] = {}


def module_paths_of(cfg: InventoryConfig) -> tuple[str, ...]:
    """The modules to scan: the configured ones, plus the discovered ones when asked (blocking)."""
    if not cfg.discover_modules:
        return tuple(dict.fromkeys(cfg.module_paths))
    found = _discovered.get(cfg.module_paths)
    if found is None:
        from app.tokens.modules import module_paths

        found = tuple(dict.fromkeys([*cfg.module_paths, *module_paths(cfg.module_paths)]))
        _discovered[cfg.module_paths] = found
    return found


def _row(e: CertificateEntry, ca_subjects: frozenset[str], password: Secret | None = None) -> CertRow:
    from app.tokens.inventory import CertificateSource
    from app.ui.picker import CertRow

    if e.source is CertificateSource.STORE:
        group = e.store_name or "?"
        choice = CertificateChoice(e.uri, module_path=e.module_path, entry=e)
        kind = "computer"
    elif e.source is CertificateSource.PKCS11:
        tok = e.token
        group = (
            f"{tok.label} ({tok.model.strip() or tok.manufacturer.strip()})"
            if tok
            else (e.module_path or "?")
        )
        # The entry travels with the choice: the login opens it without scanning the module again.
        choice = CertificateChoice(e.uri, module_path=e.module_path, entry=e)
        kind = "card"
    else:
        group = e.file_path or e.uri
        choice = CertificateChoice(e.file_path or e.uri, file_password=password)
        kind = "file"
    title = _cn(e.subject) or e.label or e.fingerprint_sha256[:16]
    key = f"{e.key_type} {e.curve or e.key_size}" if e.key_size or e.curve else str(e.key_type)
    if e.source is CertificateSource.STORE:  # software key (knowledge) or a card the OS reads (possession)
        from PySide6.QtCore import QCoreApplication

        translate = QCoreApplication.translate  # this name and literal arguments: lupdate extracts them
        software = str(e.factor) == "knowledge"
        key += ", " + (translate("picker", "software key") if software else translate("picker", "card key"))
    from app.ui.policy_marks import refusal_for

    refused = refusal_for(e)  # the organisation's policy: shown greyed, refused by the core too
    return CertRow(
        group=group,
        group_kind=kind,
        title=title,
        subject=e.subject,
        issuer=e.issuer,
        expires=e.not_after.date().isoformat() if e.not_after else "-",
        key=key,
        usable=e.usable and refused is None,
        problems=problem_words(e) + ((refused,) if refused else ()),
        choice=choice,
        fingerprint=e.fingerprint_sha256,
        matches_account=e.usable and e.issuer in ca_subjects,
    )


def problem_words(e: CertificateEntry) -> tuple[str, ...]:
    """Why a certificate is unusable, in the current language (details stay as the token layer wrote them)."""
    from PySide6.QtCore import QCoreApplication

    from app.tokens.inventory import Problem

    translate = QCoreApplication.translate
    words = {
        Problem.UNPARSABLE: translate("describe", "the certificate data cannot be parsed"),
        Problem.UNREADABLE: translate("describe", "the certificate cannot be read from the card"),
        Problem.NO_PRIVATE_KEY: translate("describe", "no private key for this certificate"),
        Problem.KEY_CANNOT_SIGN: translate("describe", "the private key is not allowed to sign"),
        Problem.EXPIRED: translate("describe", "the certificate has expired"),
        Problem.NOT_YET_VALID: translate("describe", "the certificate is not valid yet"),
        Problem.NOT_FOR_CLIENT_AUTH: translate(
            "describe", "not for client authentication (extended key usage)"
        ),
        Problem.NO_DIGITAL_SIGNATURE: translate(
            "describe", "its key usage does not allow digital signatures"
        ),
        Problem.UNSUPPORTED_KEY: translate("describe", "unsupported key type (RSA and EC only)"),
        Problem.CARD_NOT_PRESENT: translate("describe", "the card holding its key is not in its reader"),
    }
    return tuple(words.get(p, str(p)) for p in e.problems) + tuple(e.details)


def rows_from_inventory(
    inv: Inventory, ca_subjects: frozenset[str] = frozenset(), password: Secret | None = None
) -> tuple[CertRow, ...]:
    """Picker rows for every certificate of an inventory."""
    return tuple(_row(e, ca_subjects, password) for e in inv.certificates)


def _problems(errors: Sequence[TokenError]) -> tuple[str, ...]:
    from app.ui.errors import describe

    out = []
    for e in errors:
        title, text = describe(e)
        out.append(f"{title}: {text}")
    return tuple(dict.fromkeys(out))


def read_snapshot(cfg: InventoryConfig) -> InventorySnapshot:
    """Scan every module and store folder now (blocking: call it on a worker)."""
    from app.tokens.inventory import Inventory, rescan, scan_module
    from app.ui.picker import InventorySnapshot

    inv = Inventory()
    readers: int | None = None
    for path in module_paths_of(cfg):
        env = cfg.init_envs.get(path)
        part = scan_module(path, init_env=env)
        if part.errors or not part.tokens:
            # A card re-inserted behind p11-kit, and some readers, only show up after the module is
            # re-initialised: try once before reporting the module empty or failing.
            part = rescan(path) or part
        inv = inv.merged(part)
        readers = _slots(path, readers)
    if cfg.store_paths:
        try:
            from app.tokens.filestore import scan_store
        except ImportError:
            pass
        else:
            entries, errors = scan_store(list(cfg.store_paths))
            inv = inv.merged(Inventory((), tuple(entries), tuple(errors)))
    if cfg.computer_stores:
        from app.tokens.stores.computer import merge_duplicates, platform_stores, scan_stores

        inv = merge_duplicates(inv.merged(scan_stores(platform_stores())))
    return InventorySnapshot(rows_from_inventory(inv, cfg.account_ca_subjects), _problems(inv.errors),
                             readers=readers)


def _slots(path: str, counted: int | None) -> int | None:
    """`counted` plus the module's slots, empty readers included (None while no module could say):
    so that the picker tells "no reader" from "no card"."""
    from app.tokens.errors import TokenError
    from app.tokens.p11.registry import load_module

    try:
        n = len(load_module(path).slots())
    except (TokenError, OSError):
        return counted
    return n + (counted or 0)


def read_file(
    path: str, password: Secret | None, ca_subjects: frozenset[str] = frozenset()
) -> tuple[CertRow, ...]:
    """Rows for a PKCS#12/PEM file the user added, opened with its password to prove the password
    is right now rather than at login (raises StorePasswordIncorrect / FileStoreError / KeyNotFound)."""
    from app.tokens import filestore

    cred = filestore.load_credential(path, password)
    entry = filestore.credential_entry(path, cred, needs_password=password is not None)
    return (_row(entry, ca_subjects, password),)


def _cn(name: str) -> str:
    for part in name.split(","):
        k, _, v = part.strip().partition("=")
        if k.upper() == "CN" and v:
            return v
    return ""
