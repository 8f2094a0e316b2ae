"""Fakes of the thin OS classes (Windows CryptApi, macOS SecurityApi): they hold `cryptography` keys and
answer in each OS's native format (CNG's raw r||s, CryptoAPI's little-endian PKCS#1, Apple's DER) and,
on demand, with the error codes the real APIs were seen to return (`fail_next`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.serialization import Encoding

from app.tokens.stores.ecdsa import der_to_raw
from app.tokens.stores.macos_api import ALGORITHMS, MacIdentity, MacSecError
from app.tokens.stores.windows_api import (
    CERT_NCRYPT_KEY_SPEC,
    NTE_BAD_KEYSET,
    NTE_NOT_SUPPORTED,
    NTE_SILENT_CONTEXT,
    SCARD_E_NO_SMARTCARD,
    SCARD_W_CANCELLED_BY_USER,
    SCARD_W_REMOVED_CARD,
    WinApiError,
    WinCertificate,
    WinKey,
)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
_HASHES: dict[str, hashes.HashAlgorithm] = {"SHA256": hashes.SHA256(), "SHA384": hashes.SHA384(),
                                            "SHA512": hashes.SHA512()}
AT_SIGNATURE = 2

# the error codes recorded from the real APIs, by what happened
WINDOWS_CODES = {"silent context refused": NTE_SILENT_CONTEXT, "user cancelled": SCARD_W_CANCELLED_BY_USER,
                 "card removed": SCARD_W_REMOVED_CARD}
MACOS_CODES = {"user cancelled": -128, "interaction not allowed": -25308, "card removed": -25291}


@dataclass
class FakeWinItem:
    """One certificate of the fake CurrentUser\\My and the key its provider holds (None: listed only)."""

    der: bytes
    key: PrivateKey | None
    provider: str = "Microsoft Software Key Storage Provider"
    legacy: bool = False  # a CryptoAPI provider ("Microsoft Enhanced RSA and AES Cryptographic Provider")
    needs_pin: bool = False  # a card's key: the provider would show a PIN dialog
    friendly_name: str = ""
    cng_handle: bool | None = None  # None: CNG unless legacy (PREFER_NCRYPT may wrap a CryptoAPI key too)
    reader: str | None = None  # a card key: the reader its provider names ("SmartCardReader"); None: none
    card: str = ""  # a card key: which card holds its container (FakeCryptApi.card_in says what is in)

    @property
    def thumbprint(self) -> str:
        return hashlib.sha1(self.der).hexdigest().upper()  # Windows' own thumbprint


@dataclass
class FakeCryptApi:
    """CryptApi holding keys in memory; `calls` records every call, `fail_next[call] = code` fails one."""

    items: list[FakeWinItem]
    calls: list[str] = field(default_factory=list)
    fail_next: dict[str, int] = field(default_factory=dict)
    released: list[int] = field(default_factory=list)
    hwnds: list[int | None] = field(default_factory=list)
    card_in: dict[str, str] = field(default_factory=dict)  # reader -> the card in it, as providers read it

    def _fail(self, call: str) -> None:
        self.calls.append(call)
        if call in self.fail_next:
            raise WinApiError(self.fail_next.pop(call), call)

    def list_my(self) -> list[WinCertificate]:
        self._fail("list_my")
        return [WinCertificate(i.thumbprint, i.der, i.friendly_name, i.provider, i.legacy)
                for i in self.items]

    def _item(self, key: WinKey) -> FakeWinItem:
        return self.items[key.handle - 1]

    def acquire_key(self, thumbprint: str, hwnd: int | None, silent: bool) -> WinKey:
        self._fail("acquire_key")
        self.hwnds.append(hwnd)
        for n, item in enumerate(self.items, 1):
            if item.thumbprint == thumbprint and item.key is not None:
                if silent and item.needs_pin:
                    raise WinApiError(NTE_SILENT_CONTEXT, "CryptAcquireCertificatePrivateKey")
                cng = not item.legacy if item.cng_handle is None else item.cng_handle
                return WinKey(n, cng, CERT_NCRYPT_KEY_SPEC if cng else AT_SIGNATURE, True)
        raise WinApiError(NTE_BAD_KEYSET, "CryptAcquireCertificatePrivateKey")

    def ncrypt_sign(self, key: WinKey, digest: bytes, padding_name: str | None, alg: str, salt: int) -> bytes:
        self._fail("ncrypt_sign")
        item = self._item(key)
        if not key.cng or item.key is None:
            raise WinApiError(NTE_NOT_SUPPORTED, "NCryptSignHash")
        h = _HASHES[alg]
        if isinstance(item.key, rsa.RSAPrivateKey):
            pad: Any = padding.PSS(padding.MGF1(h), salt) if padding_name == "pss" else padding.PKCS1v15()
            if padding_name is None:
                raise WinApiError(NTE_NOT_SUPPORTED, "NCryptSignHash")
            return item.key.sign(digest, pad, Prehashed(h))
        der = item.key.sign(digest, ec.ECDSA(Prehashed(h)))
        return der_to_raw(der, item.key.curve.key_size)  # CNG: r||s

    def capi_sign(self, key: WinKey, digest: bytes, hash_name: str) -> bytes:
        self._fail("capi_sign")
        item = self._item(key)
        if key.cng or not isinstance(item.key, rsa.RSAPrivateKey):
            raise WinApiError(NTE_NOT_SUPPORTED, "CryptSignHash")
        h = _HASHES[hash_name]
        return item.key.sign(digest, padding.PKCS1v15(), Prehashed(h))[::-1]  # CryptoAPI: little-endian

    def release(self, key: WinKey) -> None:
        self.calls.append("release")
        self.released.append(key.handle)

    def _by_thumbprint(self, thumbprint: str) -> FakeWinItem:
        item = next((i for i in self.items if i.thumbprint == thumbprint), None)
        if item is None:
            raise WinApiError(NTE_BAD_KEYSET, "NCryptOpenKey")
        return item

    def key_reader(self, thumbprint: str) -> str | None:
        """The reader a card key's provider names (silently; a software key has none: None)."""
        self._fail("key_reader")
        item = self._by_thumbprint(thumbprint)
        on_card = WinCertificate(item.thumbprint, item.der, "", item.provider, item.legacy).on_card
        return item.reader if on_card else None

    def card_certificate(self, thumbprint: str) -> bytes | None:
        """The certificate the card in the key's reader holds for its container: ours when our card is
        in, NTE_BAD_KEYSET for another card (no such container), SCARD_E_NO_SMARTCARD when empty."""
        self._fail("card_certificate")
        item = self._by_thumbprint(thumbprint)
        card = self.card_in.get(item.reader or "")
        if card is None:
            raise WinApiError(SCARD_E_NO_SMARTCARD, "NCryptOpenKey")
        if card != item.card:
            raise WinApiError(NTE_BAD_KEYSET, "NCryptOpenKey")
        return item.der

    @property
    def key_calls(self) -> int:
        """Calls that open or use a key (a listing must make none)."""
        return sum(c in ("acquire_key", "ncrypt_sign", "capi_sign") for c in self.calls)


@dataclass
class FakeMacItem:
    """One keychain identity: certificate, key, and its CryptoTokenKit token (None: software)."""

    der: bytes
    key: PrivateKey
    label: str = ""
    token_id: str | None = None
    unsupported: tuple[str, ...] = ()  # algorithm names SecKeyIsAlgorithmSupported refuses
    reader: str | None = None  # a token: the reader CryptoTokenKit's slot manager names (None: cannot tell)
    present: bool = True  # a token's identities are listed only while its card is in

    @property
    def ref(self) -> str:
        return hashlib.sha256(self.der).hexdigest()


@dataclass
class FakeSecurityApi:
    """SecurityApi holding keys in memory; answers like SecKeyCreateSignature (RSA big-endian, ECDSA DER)."""

    items: list[FakeMacItem]
    calls: list[str] = field(default_factory=list)
    fail_next: dict[str, int] = field(default_factory=dict)

    def _fail(self, call: str) -> None:
        self.calls.append(call)
        if call in self.fail_next:
            raise MacSecError(self.fail_next.pop(call), call)

    def identities(self) -> list[MacIdentity]:
        self._fail("identities")
        return [MacIdentity(i.ref, i.der, i.label, i.token_id) for i in self.items
                if i.token_id is None or i.present]

    def token_reader(self, token_id: str) -> str | None:
        self._fail("token_reader")
        return next((i.reader for i in self.items if i.token_id == token_id), None)

    def _find(self, ref: str) -> FakeMacItem:
        item = next((i for i in self.items if i.ref == ref), None)
        if item is None:
            raise MacSecError(-25300, "SecIdentityCopyPrivateKey")
        return item

    def supports(self, ref: str, algorithm: str) -> bool:
        self._fail("supports")
        item = self._find(ref)
        if algorithm in item.unsupported or algorithm not in ALGORITHMS.values():
            return False
        if isinstance(item.key, rsa.RSAPrivateKey):
            return "RSASignature" in algorithm
        return algorithm.endswith(f"SHA{ {256: 256, 384: 384, 521: 512}[item.key.curve.key_size] }")

    def sign(self, ref: str, algorithm: str, digest: bytes) -> bytes:
        self._fail("sign")
        item = self._find(ref)
        if not self.supports(ref, algorithm):
            raise MacSecError(-50, "SecKeyCreateSignature")
        self.calls.pop()  # the inner supports() is not the caller's
        h = _HASHES["SHA" + algorithm[-3:]]
        if isinstance(item.key, rsa.RSAPrivateKey):
            pad: Any = (padding.PSS(padding.MGF1(h), h.digest_size) if "PSS" in algorithm
                        else padding.PKCS1v15())
            return item.key.sign(digest, pad, Prehashed(h))
        return item.key.sign(digest, ec.ECDSA(Prehashed(h)))  # X9.62: DER

    @property
    def key_calls(self) -> int:
        return sum(c in ("supports", "sign") for c in self.calls)


def der_of(issued: Any) -> bytes:
    """The DER of an Issued certificate."""
    return bytes(issued.certificate.public_bytes(Encoding.DER))
