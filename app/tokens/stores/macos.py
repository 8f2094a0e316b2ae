"""macOS: identities of the keychain search list and of CryptoTokenKit tokens (native PIV), keys
used through SecKeyCreateSignature with the digest algorithms SecKeyIsAlgorithmSupported accepts.

The OS calls are in one thin class (app.tokens.stores.macos_api.PyObjcSecurityApi) behind the
`SecurityApi` protocol the tests fake. The system asks a token's PIN itself (its own dialog);
ECDSA comes back DER already (X9.62), RSA big-endian.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable

from cryptography import x509

from app.tokens.errors import (
    KeyNotFound,
    MechanismUnsupported,
    PinCancelled,
    PinIncorrect,
    TokenError,
    TokenOperationFailed,
    TokenRemoved,
)
from app.tokens.model import CertificateEntry, KeyFactor
from app.tokens.p11.pcsc import PcscAbi, platform_abi
from app.tokens.pin import PinCallback
from app.tokens.signer import ECDSA_SCHEMES, RSA_PKCS1_SCHEMES, RSA_PSS_SCHEMES, KeyType, SignatureScheme
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
from app.tokens.stores.macos_api import (
    ALGORITHMS,
    ERR_SEC_AUTH_FAILED,
    ERR_SEC_INTERACTION_NOT_ALLOWED,
    ERR_SEC_ITEM_NOT_FOUND,
    ERR_SEC_NOT_AVAILABLE,
    ERR_SEC_USER_CANCELED,
    MacIdentity,
    MacSecError,
    PyObjcSecurityApi,
    SecurityApi,
)


def map_mac_error(e: MacSecError, what: str, on_token: bool) -> TokenError:
    """The token layer's error for an OSStatus."""
    if e.status == ERR_SEC_USER_CANCELED:
        return PinCancelled("The PIN prompt was cancelled.", token_label=what)
    if e.status == ERR_SEC_INTERACTION_NOT_ALLOWED:
        return StoreInteractionRefused(f"The keychain may not ask for {what} now (interaction not allowed).")
    if e.status == ERR_SEC_AUTH_FAILED:
        return PinIncorrect(f"The PIN or password for {what} was refused.", token_label=what)
    if on_token and e.status in (ERR_SEC_NOT_AVAILABLE, ERR_SEC_ITEM_NOT_FOUND):
        return TokenRemoved(f"The card of {what} was removed.", token_label=what)
    if e.status == ERR_SEC_ITEM_NOT_FOUND:
        return KeyNotFound(f"The keychain has no private key for {what} any more.", token_label=what)
    return TokenOperationFailed(f"The keychain refused to use the key of {what} ({e}).", token_label=what)


_CANDIDATES = {KeyType.RSA: RSA_PSS_SCHEMES + RSA_PKCS1_SCHEMES, KeyType.EC: ECDSA_SCHEMES}
_CURVE_BITS = {256: ECDSA_SCHEMES[0], 384: ECDSA_SCHEMES[1], 521: ECDSA_SCHEMES[2]}


class KeychainSigner(StoreSignerBase):
    """Signs with a keychain or token key (the system may show its own PIN dialog)."""

    def __init__(self, api: SecurityApi, ref: str, cert: x509.Certificate, key_type: KeyType, size: int,
                 name: str, on_token: bool) -> None:
        super().__init__(cert, (), key_type, size, f"Keychain: {name}")
        self._api = api
        self._ref = ref
        self._on_token = on_token
        candidates = _CANDIDATES.get(key_type, ())
        if key_type is KeyType.EC:
            candidates = tuple(s for s in (_CURVE_BITS.get(size),) if s is not None)
        try:
            self._schemes = tuple(s for s in candidates if api.supports(ref, ALGORITHMS[s.value]))
        except MacSecError as e:
            raise map_mac_error(e, name, on_token) from None

    def __repr__(self) -> str:
        return f"KeychainSigner({self._description!r}, token={self._on_token})"

    def supported_schemes(self) -> tuple[SignatureScheme, ...]:
        """What SecKeyIsAlgorithmSupported accepted for this key, best first."""
        return self._schemes

    def sign_digest(self, digest: bytes, scheme: SignatureScheme) -> bytes:
        """SecKeyCreateSignature with the digest algorithm of the scheme."""
        if scheme not in self._schemes:
            raise MechanismUnsupported(f"{self._description} cannot sign with {scheme}")
        try:
            return self._api.sign(self._ref, ALGORITHMS[scheme.value], digest)
        except MacSecError as e:
            raise map_mac_error(e, self._description, self._on_token) from None


class KeychainStore:
    """The keychain search list and CryptoTokenKit tokens as a store of this computer (ComputerStore)."""

    def __init__(self, api: SecurityApi | None = None,
                 api_factory: Callable[[], SecurityApi] | None = None, pcsc: PcscAbi | None = None) -> None:
        self._api = api
        self._pcsc = pcsc or platform_abi()  # PCSC.framework: where a token's card is
        self._factory = api_factory or (lambda: PyObjcSecurityApi())

    @property
    def info(self) -> StoreInfo:
        """Kind "keychain", shown as "Keychain"."""
        return StoreInfo("keychain", "Keychain", "keychain search list")

    def api(self) -> SecurityApi:
        """The OS calls (made on first use: Security is imported only on macOS)."""
        if self._api is None:
            self._api = self._factory()
        return self._api

    def list_entries(self, now: _dt.datetime | None = None) -> Listing:
        """Identities of the keychains and tokens; nothing is asked."""
        try:
            found = self.api().identities()
        except (MacSecError, ImportError, AttributeError) as e:
            return [], [StoreUnavailable("the keychain", f"{e}")]
        entries: list[CertificateEntry] = []
        for ident in found:
            factor = KeyFactor.POSSESSION if ident.token_id else KeyFactor.KNOWLEDGE
            entry = store_entry(ident.der, self.info, ref=ident.ref, label=ident.label, factor=factor,
                                now=now)
            reader = self._reader(ident)
            reason = not_present_reason(reader, self._pcsc) if reader else None
            entries.append(not_present(entry, reason) if reason else entry)
        return entries, []

    def _reader(self, ident: MacIdentity) -> str | None:
        if not ident.token_id:
            return None
        try:
            return self.api().token_reader(ident.token_id)
        except MacSecError:
            return None

    def card_place(self, ref: str, name: str) -> CardPlace | None:
        """A token key's reader and ATR now (TokenRemoved when the card is out); None when the system
        does not say which reader (the key is then used unwatched)."""
        api = self.api()
        try:
            ident = next((i for i in api.identities() if i.ref == ref), None)
        except MacSecError as e:
            raise map_mac_error(e, name, True) from None
        reader = self._reader(ident) if ident is not None else None
        if ident is None or reader is None:
            return None
        try:
            st = reader_status(reader, self._pcsc)
        except OSError:
            return None
        if st is None or not st.present:
            raise TokenRemoved(f"The card of {name} is not in the reader '{reader}'.", token_label=name)
        token = ident.token_id

        def on_card() -> bytes | None:
            # CryptoTokenKit lists a token's identities only while its card is in (after it read them)
            try:
                now = [i for i in api.identities() if i.token_id is not None]
            except MacSecError:
                return None
            if any(i.ref == ref and i.token_id == token for i in now):
                return ident.der
            return b"" if now else None  # another token is published: not ours; none yet: cannot tell
        return CardPlace(reader, st.atr, self._pcsc, on_card)

    def open_signer(self, entry: CertificateEntry, pin_callback: PinCallback) -> KeychainSigner:
        """A signer of the identity's key (its schemes asked of the system now)."""
        if entry.store_ref is None:
            raise KeyNotFound("this certificate is not from the keychain")
        on_token = entry.factor is KeyFactor.POSSESSION
        name = entry.label or entry.subject
        place = self.card_place(entry.store_ref, name) if on_token else None
        signer = KeychainSigner(self.api(), entry.store_ref, entry.certificate(), entry.key_type,
                                entry.key_size, name, on_token)
        signer.card_place = place
        return signer
