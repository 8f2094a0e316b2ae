"""The interface of a store of this computer, and the errors it reports.

A store lists identities (certificate + private key) without asking anything, and opens a signer for
one of them; its key may be software (knowledge factor) or on a card the OS reads (possession).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, replace
from typing import Protocol

from app.tokens.errors import TokenError
from app.tokens.model import CertificateEntry, CertificateSource, KeyFactor, Problem, parse_certificate
from app.tokens.pin import PinCallback
from app.tokens.signer import CardSigner, SignerBase
from app.tokens.stores.card_watch import CardPlace

# what a store's listing gives: its identities and the errors met on the way
Listing = tuple[list[CertificateEntry], list[TokenError]]


class StoreUnavailable(TokenError):
    """A store could not be read (missing, corrupt, locked database; OS API refusing)."""

    def __init__(self, store: str, reason: str) -> None:
        super().__init__(f"Cannot read {store}: {reason}")
        self.store = store
        self.reason = reason


class StoreInteractionRefused(TokenError):
    """The store wanted to ask the user something and could not or was told not to (silent context,
    interaction not allowed), or the user cancelled its own prompt."""


@dataclass(frozen=True)
class StoreInfo:
    """One store: its kind ("nss", "windows", "keychain"), its name in the picker and where it is."""

    kind: str
    name: str
    location: str = ""


class ComputerStore(Protocol):
    """A store of this computer (one protocol for NSS, Windows and the keychain)."""

    @property
    def info(self) -> StoreInfo:
        """Kind, display name and location."""
        ...

    def list_entries(self, now: _dt.datetime | None = None) -> Listing:
        """Identities of the store (never asks for a password or PIN), and the errors met."""
        ...

    def open_signer(self, entry: CertificateEntry, pin_callback: PinCallback) -> CardSigner:
        """A signer of the entry's key (the store or its OS may ask for a password or PIN)."""
        ...


def store_entry(
    der: bytes,
    info: StoreInfo,
    *,
    ref: str,
    label: str,
    factor: KeyFactor,
    now: _dt.datetime | None = None,
) -> CertificateEntry:
    """A CertificateEntry for an identity of an OS store (the certificate's own problems filled in)."""
    p = parse_certificate(der, now)
    return CertificateEntry(
        source=CertificateSource.STORE,
        uri=f"{info.kind}:{ref}",
        label=label,
        der=der,
        **p.entry_fields(),
        has_private_key=True,
        private_key_visible=True,
        problems=p.problems,
        details=(p.error,) if p.error else (),
        store_name=info.name,
        key_factor=factor,
        store_ref=ref,
    )


def as_store_entry(entry: CertificateEntry, info: StoreInfo) -> CertificateEntry:
    """A PKCS#11 entry of a software database (NSS) shown as an entry of that store."""
    return replace(
        entry, source=CertificateSource.STORE, store_name=info.name, key_factor=KeyFactor.KNOWLEDGE
    )


def not_present(entry: CertificateEntry, reason: str) -> CertificateEntry:
    """The entry marked unusable because the card holding its key is not in its reader."""
    return replace(entry, problems=(*entry.problems, Problem.CARD_NOT_PRESENT),
                   details=(*entry.details, reason))


class StoreSignerBase(SignerBase):
    """A key an OS store holds: the OS keeps its own login (and asks its own PIN), so there is no
    login of ours to lose or redo; `close` gives the key handle back. A key on a card has a
    `card_place` (its reader): the session watches that card (app.tokens.stores.card_watch)."""

    card_place: CardPlace | None = None

    @property
    def logged_in(self) -> bool:
        """Always True: the OS, not us, knows whether the card behind the key still answers."""
        return True

    def relogin(self, pin_callback: PinCallback | None = None, *, last_error: str | None = None) -> None:
        """Nothing to do: the OS asks again by itself when it needs to."""

    def close(self) -> None:
        """Release the key handle (nothing by default)."""
