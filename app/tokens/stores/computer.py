"""Every store of this computer beside the cards and files: listing, merging, finding by fingerprint.

On Linux the NSS databases of Chrome and Firefox; on Windows CurrentUser\\My; on macOS the keychain
(with CryptoTokenKit cards). A certificate seen twice (on a card and copied into a store) is one
entry: the card's when there is one (possession, opened directly), with every place in `sources`.
"""

from __future__ import annotations

import datetime as _dt
import re
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from app.tokens.errors import KeyNotFound
from app.tokens.inventory import Inventory, scan
from app.tokens.model import CertificateEntry, CertificateSource
from app.tokens.pin import PinCallback
from app.tokens.signer import CardSigner
from app.tokens.stores.base import ComputerStore, StoreUnavailable

_FINGERPRINT = re.compile(r"^(?:[0-9a-fA-F]{2}:?){31}[0-9a-fA-F]{2}$")


def is_fingerprint(text: str) -> bool:
    """Whether `text` is a SHA-256 fingerprint (64 hex digits, colons allowed)."""
    return bool(_FINGERPRINT.match(text.strip()))


def platform_stores(platform: str | None = None, home: Path | str | None = None) -> list[ComputerStore]:
    """The stores of this platform (imports only the backend of this platform)."""
    plat = platform or sys.platform
    if plat.startswith("win"):
        from app.tokens.stores.windows import WindowsStore

        return [WindowsStore()]
    if plat == "darwin":
        from app.tokens.stores.macos import KeychainStore

        return [KeychainStore()]
    from app.tokens.stores.nss import stores

    return list(stores(home))


def scan_stores(stores: Sequence[ComputerStore], now: _dt.datetime | None = None) -> Inventory:
    """The identities of the stores (NSS databases read in one softokn pass); one failing store never
    hides the others."""
    from app.tokens.stores.nss import NssStore, scan_databases

    entries: list[CertificateEntry] = []
    errors = []
    nss = [s.db for s in stores if isinstance(s, NssStore)]
    if nss:
        e, errs = scan_databases(nss, now)
        entries += e
        errors += errs
    for store in stores:
        if isinstance(store, NssStore):
            continue
        try:
            e, errs = store.list_entries(now)
        except Exception as exc:  # a broken OS API must not break the listing
            errs = [StoreUnavailable(store.info.name, f"{type(exc).__name__}")]
            e = []
        entries += e
        errors += errs
    return Inventory((), tuple(entries), tuple(errors))


_RANK = {CertificateSource.PKCS11: 0, CertificateSource.STORE: 1, CertificateSource.FILE: 2}


def merge_duplicates(inv: Inventory) -> Inventory:
    """One entry per certificate seen both in a store and elsewhere (a card, another store), listing
    every source; the one opened is a usable card entry when there is one, else the first usable."""
    groups: dict[str, list[CertificateEntry]] = {}
    order: list[str | int] = []
    for i, c in enumerate(inv.certificates):
        if c.fingerprint_sha256:
            if c.fingerprint_sha256 not in groups:
                order.append(c.fingerprint_sha256)
            groups.setdefault(c.fingerprint_sha256, []).append(c)
        else:
            order.append(i)
    out: list[CertificateEntry] = []
    for key in order:
        if isinstance(key, int):
            out.append(inv.certificates[key])
            continue
        group = groups[key]
        if len(group) == 1 or not any(c.source is CertificateSource.STORE for c in group):
            out += group  # two cards or two files with one certificate stay two (e.g. a spare card)
            continue
        best = min(group, key=lambda c: (not c.usable, _RANK[c.source]))
        sources = tuple(dict.fromkeys(s for c in group for s in (c.sources or (c.where,))))
        out.append(replace(best, sources=sources))
    return Inventory(inv.tokens, tuple(out), inv.errors)


def scan_everything(
    module_paths: Sequence[str] = (),
    store_paths: Sequence[str] = (),
    *,
    computer: bool = True,
    stores: Sequence[ComputerStore] | None = None,
    now: _dt.datetime | None = None,
) -> Inventory:
    """Cards, files and (unless `computer` is False) the stores of this computer, duplicates merged."""
    inv = scan(module_paths, store_paths, now=now)
    if computer:
        inv = inv.merged(scan_stores(platform_stores() if stores is None else stores, now))
    return merge_duplicates(inv)


def find_fingerprint(inv: Inventory, fingerprint: str) -> CertificateEntry:
    """The listed certificate with this SHA-256 fingerprint (KeyNotFound with the listing's words)."""
    found = inv.find(fingerprint.strip())
    if found is None:
        raise KeyNotFound(f"No listed certificate has the SHA-256 fingerprint {fingerprint.strip()}.")
    return found


def open_store_signer(entry: CertificateEntry, pin_callback: PinCallback,
                      stores: Sequence[ComputerStore] | None = None) -> CardSigner:
    """A signer of a store entry, by the store it came from (its `uri` starts with the store's kind);
    `stores` are the ones to use instead of this computer's (the tests' fakes)."""
    kind = entry.uri.partition(":")[0]
    given = next((s for s in stores or () if s.info.kind == kind), None)
    if given is not None:
        return given.open_signer(entry, pin_callback)
    if kind == "windows":
        from app.tokens.stores.windows import WindowsStore

        return WindowsStore().open_signer(entry, pin_callback)
    if kind == "keychain":
        from app.tokens.stores.macos import KeychainStore

        return KeychainStore().open_signer(entry, pin_callback)
    from app.tokens.stores.nss import open_nss_signer

    return open_nss_signer(entry, pin_callback)
