"""Windows: identities of CurrentUser\\My, keys through CNG (ncrypt) or the legacy CryptoAPI.

Every OS call is in one thin class, `Win32CryptApi` (ctypes to crypt32/ncrypt/advapi32; no pywin32:
its key wrapper cannot hold a CNG key), behind the `CryptApi` protocol that the tests fake. The
listing reads CERT_KEY_PROV_INFO_PROP_ID only (which key, which provider), never the key itself, so
no card is touched and no PIN asked. A signature: CryptAcquireCertificatePrivateKey preferring CNG,
parented to our window so that the provider's own PIN dialog sits on it; NCryptSignHash (PSS with
salt = hash length, PKCS#1 v1.5, ECDSA whose raw r||s becomes DER) or, for a legacy CryptoAPI key,
CryptSignHash (PKCS#1 only; its little-endian signature is reversed). This module imports on Linux:
the DLLs load only when `Win32CryptApi` is made.
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
from collections.abc import Callable

from cryptography import x509

from app.tokens.errors import (
    KeyNotFound,
    MechanismUnsupported,
    PinCancelled,
    PinIncorrect,
    PinLocked,
    TokenError,
    TokenNotPresent,
    TokenOperationFailed,
    TokenRemoved,
)
from app.tokens.model import CertificateEntry, KeyFactor
from app.tokens.p11.pcsc import PcscAbi, platform_abi
from app.tokens.pin import PinCallback
from app.tokens.signer import (
    ECDSA_SCHEMES,
    RSA_PKCS1_SCHEMES,
    RSA_PSS_SCHEMES,
    KeyType,
    SignatureScheme,
)
from app.tokens.stores.base import (
    Listing,
    StoreInfo,
    StoreInteractionRefused,
    StoreSignerBase,
    StoreUnavailable,
    not_present,
    store_entry,
)
from app.tokens.stores.card_watch import CardPlace, not_present_reason, reader_status
from app.tokens.stores.ecdsa import raw_to_der
from app.tokens.stores.windows_api import (
    CRYPT_E_NOT_FOUND,
    HRESULT_ERROR_CANCELLED,
    NTE_BAD_KEYSET,
    NTE_SILENT_CONTEXT,
    SCARD_E_NO_SMARTCARD,
    SCARD_W_CANCELLED_BY_USER,
    SCARD_W_CHV_BLOCKED,
    SCARD_W_REMOVED_CARD,
    SCARD_W_WRONG_CHV,
    CryptApi,
    Win32CryptApi,
    WinApiError,
    WinCertificate,
    WinKey,
)

log = logging.getLogger(__name__)
_CARD_OUT = (SCARD_E_NO_SMARTCARD, SCARD_W_REMOVED_CARD)


def map_win_error(e: WinApiError, what: str) -> TokenError:
    """The token layer's error for an HRESULT (no PIN in it: Windows asked it, not us)."""
    code = e.code
    if code == NTE_SILENT_CONTEXT:
        return StoreInteractionRefused(f"{what} needs to ask for its PIN, and was told to stay silent.")
    if code in (SCARD_W_CANCELLED_BY_USER, HRESULT_ERROR_CANCELLED):
        return PinCancelled("The PIN prompt was cancelled.", token_label=what)
    if code == SCARD_W_REMOVED_CARD:
        return TokenRemoved(f"The card of {what} was removed.", token_label=what)
    if code == SCARD_E_NO_SMARTCARD:
        return TokenNotPresent(f"The card of {what} is not in the reader.", token_label=what)
    if code == SCARD_W_WRONG_CHV:
        return PinIncorrect(f"The card refused the PIN for {what}.", token_label=what)
    if code == SCARD_W_CHV_BLOCKED:
        return PinLocked(f"The PIN of the card of {what} is blocked.", token_label=what)
    if code in (NTE_BAD_KEYSET, CRYPT_E_NOT_FOUND):
        return KeyNotFound(f"Windows has no private key for {what} any more.", token_label=what)
    return TokenOperationFailed(f"Windows refused to use the key of {what} ({e}).", token_label=what)


_WINDOW: list[int | None] = [None]
_WINDOW_LOCK = threading.Lock()


def set_parent_window(hwnd: int | None) -> None:
    """The window the providers' PIN dialogs are parented to (the UI sets its main window's HWND)."""
    with _WINDOW_LOCK:
        _WINDOW[0] = hwnd


def _parent_window() -> int | None:
    with _WINDOW_LOCK:
        return _WINDOW[0]


_HASH_NAMES = {"sha256": "SHA256", "sha384": "SHA384", "sha512": "SHA512"}
_CURVE_SCHEME = {256: ECDSA_SCHEMES[0], 384: ECDSA_SCHEMES[1], 521: ECDSA_SCHEMES[2]}


class WindowsSigner(StoreSignerBase):
    """Signs with a key of the Windows store (the provider may show its own PIN dialog)."""

    def __init__(self, api: CryptApi, key: WinKey, cert: x509.Certificate, key_type: KeyType, size: int,
                 name: str, legacy_provider: bool = False) -> None:
        super().__init__(cert, (), key_type, size, f"Windows store: {name}")
        self._api = api
        self._key: WinKey | None = key
        # a CryptoAPI provider's key may come back as a CNG handle (PREFER_NCRYPT): it still has no PSS
        self._legacy_provider = legacy_provider

    def __repr__(self) -> str:
        return f"WindowsSigner({self._description!r}, cng={self._key.cng if self._key else None})"

    def supported_schemes(self) -> tuple[SignatureScheme, ...]:
        """PSS and PKCS#1 (CNG RSA), PKCS#1 only (CryptoAPI RSA), the curve's ECDSA (CNG EC)."""
        cng = self._key is not None and self._key.cng
        if self.key_type is KeyType.RSA:
            pss = cng and not self._legacy_provider
            return RSA_PSS_SCHEMES + RSA_PKCS1_SCHEMES if pss else RSA_PKCS1_SCHEMES
        scheme = _CURVE_SCHEME.get(self.key_size)
        return (scheme,) if cng and scheme else ()

    def sign_digest(self, digest: bytes, scheme: SignatureScheme) -> bytes:
        """NCryptSignHash or CryptSignHash; ECDSA comes back DER, RSA big-endian."""
        key = self._key
        if key is None:
            raise TokenOperationFailed("this Windows key was released")
        if scheme not in self.supported_schemes():
            raise MechanismUnsupported(f"{self._description} cannot sign with {scheme}")
        hash_name = _HASH_NAMES[scheme.hash_name]
        try:
            if not key.cng:
                return self._api.capi_sign(key, digest, hash_name)[::-1]  # CryptoAPI is little-endian
            if scheme.is_ecdsa:
                return raw_to_der(self._api.ncrypt_sign(key, digest, None, hash_name, 0))
            padding = "pss" if scheme.is_pss else "pkcs1"
            return self._api.ncrypt_sign(key, digest, padding, hash_name, len(digest))
        except WinApiError as e:
            raise map_win_error(e, self._description) from None

    def close(self) -> None:
        """Free the key handle."""
        key, self._key = self._key, None
        if key is not None:
            self._api.release(key)


class WindowsStore:
    """CurrentUser\\My as a store of this computer (ComputerStore)."""

    def __init__(self, api: CryptApi | None = None,
                 api_factory: Callable[[], CryptApi] | None = None, pcsc: PcscAbi | None = None) -> None:
        self._api = api
        self._pcsc = pcsc or platform_abi()  # the smart card service that says where a card key's card is
        self._factory = api_factory or (lambda: Win32CryptApi())
        self._legacy: set[str] | None = None  # thumbprints whose provider is a CryptoAPI one (last listing)

    @property
    def info(self) -> StoreInfo:
        """Kind "windows", shown as "Windows"."""
        return StoreInfo("windows", "Windows", "CurrentUser\\My")

    def api(self) -> CryptApi:
        """The OS calls (made on first use: the DLLs load only on Windows)."""
        if self._api is None:
            self._api = self._factory()
        return self._api

    def list_entries(self, now: _dt.datetime | None = None) -> Listing:
        """Certificates with a key; validity and clientAuth usage are checked like any other's."""
        try:
            certs = self.api().list_my()
        except (WinApiError, OSError, AttributeError) as e:
            return [], [StoreUnavailable("the Windows certificate store", f"{e}")]
        entries: list[CertificateEntry] = []
        self._legacy = {c.thumbprint for c in certs if c.legacy}
        for c in certs:
            factor = KeyFactor.POSSESSION if c.on_card else KeyFactor.KNOWLEDGE
            entry = store_entry(c.der, self.info, ref=c.thumbprint, label=c.friendly_name, factor=factor,
                                now=now)
            reason = self._absent_reason(c) if c.on_card else None
            entries.append(not_present(entry, reason) if reason else entry)
        return entries, []

    def _absent_reason(self, c: WinCertificate) -> str | None:
        """Why a listed card certificate is not usable now ("listed" is not "present"), or None."""
        try:
            reader = self.api().key_reader(c.thumbprint)
        except WinApiError as e:
            if e.code in _CARD_OUT:
                return "the card holding this key is not in any reader"
            return None  # the provider's own words come when the key is opened
        return not_present_reason(reader, self._pcsc) if reader else None

    def card_place(self, thumbprint: str, name: str) -> CardPlace | None:
        """The reader and ATR of a card key's card now (TokenNotPresent when it is out); None when the
        provider does not say which reader (the key is then used unwatched, as a software key is)."""
        api = self.api()
        try:
            reader = api.key_reader(thumbprint)
        except WinApiError as e:
            raise map_win_error(e, name) from None
        if not reader:
            log.warning("the provider of %s names no smart card reader: its card cannot be watched", name)
            return None
        try:
            st = reader_status(reader, self._pcsc)
        except OSError as e:
            raise TokenNotPresent(f"The smart card service does not answer ({e}).",
                                  token_label=name) from None
        if st is None or not st.present:
            raise TokenNotPresent(f"The card of {name} is not in the reader '{reader}'.", token_label=name)

        def on_card() -> bytes | None:
            try:
                return api.card_certificate(thumbprint) or b""
            except WinApiError as e:
                # this card has no such key container: another card; else not readable yet
                return b"" if e.code in (NTE_BAD_KEYSET, CRYPT_E_NOT_FOUND) else None
        return CardPlace(reader, st.atr, self._pcsc, on_card)

    def open_signer(self, entry: CertificateEntry, pin_callback: PinCallback) -> WindowsSigner:
        """Acquire the key (never silently: a card's provider shows its PIN dialog on our window)."""
        if entry.store_ref is None:
            raise KeyNotFound("this certificate is not from the Windows store")
        name = entry.label or entry.subject
        place = self.card_place(entry.store_ref, name) if entry.factor is KeyFactor.POSSESSION else None
        try:
            key = self.api().acquire_key(entry.store_ref, _parent_window(), False)
        except WinApiError as e:
            raise map_win_error(e, name) from None
        if self._legacy is None:  # opened without a listing in this object (the session's path): read it
            self.list_entries()
        legacy = entry.store_ref in (self._legacy or set())
        signer = WindowsSigner(self.api(), key, entry.certificate(), entry.key_type, entry.key_size, name,
                               legacy)
        signer.card_place = place
        return signer
