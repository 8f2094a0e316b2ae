"""Pkcs11Signer: the Signer of a key that stays on a PKCS#11 card, and `open_card_signer` to get one.

`sign_digest` gets the raw hash: RSA PKCS#1 v1.5 builds the DigestInfo and signs it with CKM_RSA_PKCS;
RSA-PSS uses CKM_RSA_PKCS_PSS with salt = hash length; ECDSA uses raw CKM_ECDSA and turns the card's
r||s into DER. Always-authenticate keys ask the PIN (PinPurpose.SIGNATURE) through the injected
callback before each signature, on the calling thread; the card call itself runs on the module's
worker. Card signers block: never call them on a UI thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Callable, Iterable

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding

from app.tokens.errors import (
    CertificateUnusable,
    KeyNotFound,
    MechanismUnsupported,
    PinCancelled,
    TokenError,
    TokenNotPresent,
)
from app.tokens.flags import TokenFlags
from app.tokens.inventory import find_certificate
from app.tokens.model import CertificateEntry
from app.tokens.p11.login import CardLogin
from app.tokens.p11.module import Pkcs11Module
from app.tokens.p11.readings import Presence
from app.tokens.p11.registry import load_module
from app.tokens.pin import PinCallback, PinPurpose, PinRequest
from app.tokens.signer import (
    ECDSA_SCHEMES,
    RSA_PKCS1_SCHEMES,
    RSA_PSS_SCHEMES,
    KeyType,
    SignatureScheme,
    SignerBase,
)
from app.tokens.uri import Pkcs11Uri, is_pkcs11_uri
from app.tokens.watch import TokenIdentity

log = logging.getLogger(__name__)

# DER DigestInfo prefixes (RFC 8017 section 9.2, note 1)
DIGEST_INFO_PREFIX = {
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}
_CURVE_SCHEME = {
    "secp256r1": SignatureScheme.ECDSA_SECP256R1_SHA256,
    "secp384r1": SignatureScheme.ECDSA_SECP384R1_SHA384,
    "secp521r1": SignatureScheme.ECDSA_SECP521R1_SHA512,
}

MechanismFilter = Callable[[str], bool] | Iterable[str] | None


def _apply_filter(
    mechanisms: Iterable[str], mechanisms_filter: MechanismFilter, disable_pss: bool
) -> frozenset[str]:
    mechs = set(mechanisms)
    if mechanisms_filter is not None:
        if callable(mechanisms_filter):
            mechs = {m for m in mechs if mechanisms_filter(m)}
        else:
            mechs &= set(mechanisms_filter)
    if disable_pss:
        mechs = {m for m in mechs if "PSS" not in m}
    return frozenset(mechs)


def schemes_for(
    key_type: KeyType, key_size: int, mechanisms: Iterable[str], curve: str | None = None
) -> tuple[SignatureScheme, ...]:
    """TLS signature schemes a key of this type can make with these mechanisms, best first."""
    mechs = set(mechanisms)
    out: list[SignatureScheme] = []
    if key_type is KeyType.RSA:
        if "RSA_PKCS_PSS" in mechs:
            # emLen >= hLen + sLen + 2 with sLen = hLen
            out += [s for s in RSA_PSS_SCHEMES if (key_size + 7) // 8 >= 2 * s.hash_algorithm.digest_size + 2]
        if "RSA_PKCS" in mechs:
            out += [
                s
                for s in RSA_PKCS1_SCHEMES
                if (key_size + 7) // 8
                >= len(DIGEST_INFO_PREFIX[s.hash_name]) + s.hash_algorithm.digest_size + 11
            ]
    elif key_type is KeyType.EC and "ECDSA" in mechs:
        first = _CURVE_SCHEME.get(curve or "")
        out += ([first] if first else []) + [s for s in ECDSA_SCHEMES if s is not first]
    return tuple(out)


class Pkcs11Signer(SignerBase):
    """Signs with a private key on a card through a CardLogin. Implements the CardSigner protocol."""

    def __init__(
        self,
        module: Pkcs11Module,
        login: CardLogin,
        certificate: x509.Certificate,
        cka_id: bytes,
        *,
        mechanisms: Iterable[str],
        always_authenticate: bool = False,
        protected_path: bool = False,
        pin_callback: PinCallback | None = None,
        chain: tuple[x509.Certificate, ...] = (),
        mechanisms_filter: MechanismFilter = None,
        disable_pss: bool = False,
    ) -> None:
        public = certificate.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            key_type, key_size, self._curve = KeyType.RSA, public.key_size, None
        elif isinstance(public, ec.EllipticCurvePublicKey):
            key_type, key_size, self._curve = KeyType.EC, public.curve.key_size, public.curve.name
        else:
            raise CertificateUnusable("only RSA and EC keys are supported", token_label=login.token_label)
        super().__init__(certificate, chain, key_type, key_size, f"card '{login.token_label}'")
        self._module = module
        self._login = login
        self._cka_id = cka_id
        self._always_auth = always_authenticate
        self._protected = protected_path
        self._pin_callback = pin_callback
        self._mechanisms = _apply_filter(mechanisms, mechanisms_filter, disable_pss)
        self._fingerprint = hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest()

    def __repr__(self) -> str:
        return (
            f"Pkcs11Signer({self.token_label!r}, id={self._cka_id.hex()}, {self._key_type} {self._key_size}, "
            f"always_authenticate={self._always_auth})"
        )

    # -- Signer protocol ------------------------------------------------------------------------

    def supported_schemes(self) -> tuple[SignatureScheme, ...]:
        return schemes_for(self._key_type, self._key_size, self._mechanisms, self._curve)

    def sign_digest(self, digest: bytes, scheme: SignatureScheme) -> bytes:
        if scheme not in self.supported_schemes():
            raise MechanismUnsupported(
                f"'{self.token_label}' cannot sign with {scheme}", token_label=self.token_label
            )
        algo = scheme.hash_algorithm
        digest = bytes(digest)
        if len(digest) != algo.digest_size:
            raise ValueError(f"digest length {len(digest)} does not match {scheme.hash_name}")
        context_pin = None
        context_protected = False
        if self._always_auth:
            if self._protected:
                context_protected = True
                if self._pin_callback is not None:
                    self._pin_callback(self._request(PinPurpose.SIGNATURE))
            else:
                if self._pin_callback is None:
                    raise PinCancelled(
                        "This key asks for the PIN before each signature, and no PIN prompt is available.",
                        token_label=self.token_label,
                    )
                context_pin = self._pin_callback(self._request(PinPurpose.SIGNATURE))
                if context_pin is None:
                    raise PinCancelled("The PIN prompt was cancelled.", token_label=self.token_label)
        if scheme.is_pkcs1:
            return self._login.sign(
                self._cka_id,
                "RSA_PKCS",
                DIGEST_INFO_PREFIX[scheme.hash_name] + digest,
                context_pin=context_pin,
                context_protected=context_protected,
            )
        if scheme.is_pss:
            return self._login.sign(
                self._cka_id,
                "RSA_PKCS_PSS",
                digest,
                pss_hash=scheme.hash_name,
                salt_length=algo.digest_size,
                context_pin=context_pin,
                context_protected=context_protected,
            )
        raw = self._login.sign(
            self._cka_id, "ECDSA", digest, context_pin=context_pin, context_protected=context_protected
        )
        half = len(raw) // 2
        return encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))

    # -- card specifics -------------------------------------------------------------------------

    def _request(self, purpose: PinPurpose, last_error: str | None = None) -> PinRequest:
        flags = None
        with contextlib.suppress(TokenError):
            flags = self._module.token_flags(self.token_serial)
        return PinRequest.for_token(
            self.token_label, purpose, flags, protected_path=self._protected, last_error=last_error
        )

    @property
    def module(self) -> Pkcs11Module:
        """The loaded module of the card."""
        return self._module

    @property
    def module_path(self) -> str:
        """The module's library path."""
        return self._module.path

    @property
    def token_serial(self) -> str:
        return self._login.serial

    @property
    def token_label(self) -> str:
        return self._login.token_label

    @property
    def cka_id(self) -> bytes:
        return self._cka_id

    @property
    def fingerprint_sha256(self) -> str:
        """SHA-256 of the certificate's DER, lowercase hex."""
        return self._fingerprint

    @property
    def always_authenticate(self) -> bool:
        return self._always_auth

    @property
    def protected_path(self) -> bool:
        return self._protected

    @property
    def mechanisms(self) -> frozenset[str]:
        """The mechanisms this signer uses (after mechanisms_filter / disable_pss)."""
        return self._mechanisms

    @property
    def identity(self) -> TokenIdentity:
        """Module path + token serial + certificate fingerprint (what the card watch follows)."""
        return TokenIdentity(self.module_path, self.token_serial, self._fingerprint, self.token_label)

    @property
    def logged_in(self) -> bool:
        """False once the card was removed / the module re-scanned (then call relogin)."""
        return self._login.valid

    def presence(self) -> Presence:
        """Probe the card: REMOVED, PRESENT_LOGGED_OUT or PRESENT_LOGGED_IN."""
        return self._module.probe(self.token_serial)

    def relogin(self, pin_callback: PinCallback | None = None, *, last_error: str | None = None) -> None:
        """Log in to the same card again (after re-insertion), asking the PIN with PinPurpose.RELOGIN."""
        callback = pin_callback or self._pin_callback
        if callback is None:
            raise PinCancelled("No PIN prompt to log in again.", token_label=self.token_label)
        module = self._module
        if not module.holds_certificate(self.token_serial, self._fingerprint):
            raise KeyNotFound(
                f"'{self.token_label}' no longer holds this certificate.", token_label=self.token_label
            )
        old = self._login
        new = module.login(self.token_serial, callback, purpose=PinPurpose.RELOGIN, last_error=last_error)
        old.close()
        self._login = new
        if pin_callback is not None:
            self._pin_callback = pin_callback

    def close(self) -> None:
        """Log out (when this was the last user of the login) and forget the session."""
        self._login.close()


def _resolve(module: Pkcs11Module, uri_or_entry: str | CertificateEntry) -> CertificateEntry:
    if isinstance(uri_or_entry, CertificateEntry):
        if uri_or_entry.token is None:
            raise CertificateUnusable("this certificate is not on a card")
        return uri_or_entry
    if is_pkcs11_uri(uri_or_entry):
        return find_certificate(module, Pkcs11Uri.parse(uri_or_entry))
    raise ValueError("expected a pkcs11: URI or a CertificateEntry")


def open_card_signer(
    module_path: str,
    uri_or_entry: str | CertificateEntry,
    pin_callback: PinCallback,
    *,
    mechanisms_filter: MechanismFilter = None,
    disable_pss: bool = False,
    init_env: dict[str, str] | None = None,
    allow_unusable: bool = False,
) -> Pkcs11Signer:
    """Find the certificate (RFC 7512 URI or inventory entry), log in to its card (PinPurpose.LOGIN),
    find the matching private key and return a signer.

    An entry the caller already has (the picker's) is used as it is, without scanning the module
    again; a URI is resolved to its entry by the inventory (`find_certificate`, one scan).

    Raises CertificateUnusable (the entry has problems, unless allow_unusable), TokenNotPresent,
    PinIncorrect / PinLocked / PinCancelled (never retried here), KeyNotFound, ModuleLoadFailed.
    """
    module = load_module(module_path, init_env=init_env)
    try:
        entry = _resolve(module, uri_or_entry)
        assert entry.token is not None
        module.token(entry.token.serial)  # the card is in now (checked before any PIN prompt)
    except TokenNotPresent:
        # A card inserted since the module was initialised may not show yet (p11-kit, SoftHSM2), and
        # OpenSC may still show the card that left (it tells same-ATR cards apart only when it saw the
        # removal): re-scan once and look again, so that "Log in" works at once after an insertion.
        module.reinitialize()
        entry = _resolve(module, uri_or_entry)
    token = entry.token
    assert token is not None
    if entry.problems and not allow_unusable:
        raise CertificateUnusable(
            f"This certificate cannot be used: {'; '.join(entry.problem_messages)}.", token_label=token.label
        )
    cert = entry.certificate()
    login = module.login(token.serial, pin_callback, purpose=PinPurpose.LOGIN)
    try:
        key = login.find_private_key(entry.cka_id)
        mechanisms = set(module.mechanisms(token.serial))
        protected = TokenFlags.PROTECTED_AUTHENTICATION_PATH in module.token_flags(token.serial)
        return Pkcs11Signer(
            module,
            login,
            cert,
            entry.cka_id,
            mechanisms=mechanisms,
            always_authenticate=bool(key.always_authenticate),
            protected_path=protected,
            pin_callback=pin_callback,
            mechanisms_filter=mechanisms_filter,
            disable_pss=disable_pss,
        )
    except BaseException:
        login.close()
        raise
