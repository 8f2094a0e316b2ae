"""Frozen values of the token layer: TokenInfo, CertificateEntry and the reasons a certificate is unusable.

They cross thread boundaries (worker -> UI) and are what `osc-trusted-login certs --json` prints.
"""

from __future__ import annotations

import datetime as _dt
import enum
import hashlib
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from app.tokens.flags import SlotFlags, TokenFlags, pin_state_from_flags
from app.tokens.p11.readings import TokenReading
from app.tokens.signer import KeyType
from app.tokens.uri import Pkcs11Uri


class CertificateSource(enum.StrEnum):
    """Where a certificate was found."""

    PKCS11 = "pkcs11"
    FILE = "file"
    STORE = "store"  # a store of this computer: an NSS database, the Windows store, the keychain


class KeyFactor(enum.StrEnum):
    """What holding the key proves (OUTSCALE's words): a file or software store is something known
    (its password), a card is something possessed."""

    KNOWLEDGE = "knowledge"
    POSSESSION = "possession"


class Problem(enum.StrEnum):
    """Why a certificate cannot be used to log in (machine-readable; `PROBLEM_TEXT` has the words)."""

    UNPARSABLE = "unparsable"
    UNREADABLE = "unreadable"
    NO_PRIVATE_KEY = "no_private_key"
    KEY_CANNOT_SIGN = "key_cannot_sign"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    NOT_FOR_CLIENT_AUTH = "not_for_client_auth"
    NO_DIGITAL_SIGNATURE = "no_digital_signature"
    UNSUPPORTED_KEY = "unsupported_key"
    CARD_NOT_PRESENT = "card_not_present"  # an OS store lists it, but the card holding its key is out


PROBLEM_TEXT: dict[Problem, str] = {
    Problem.UNPARSABLE: "the certificate data cannot be parsed",
    Problem.UNREADABLE: "the certificate object cannot be read from the card",
    Problem.NO_PRIVATE_KEY: "no private key for this certificate",
    Problem.KEY_CANNOT_SIGN: "the private key is not allowed to sign",
    Problem.EXPIRED: "the certificate has expired",
    Problem.NOT_YET_VALID: "the certificate is not valid yet",
    Problem.NOT_FOR_CLIENT_AUTH: "the certificate is not for client authentication (extended key usage)",
    Problem.NO_DIGITAL_SIGNATURE: "the certificate's key usage does not allow digital signatures",
    Problem.UNSUPPORTED_KEY: "the key type is not supported (RSA and EC only)",
    Problem.CARD_NOT_PRESENT: "the card holding its key is not in its reader",
}


# The token flags `certs --json` shows, by the name of their JSON field.
_TOKEN_FLAG_FIELDS: dict[str, TokenFlags] = {
    "login_required": TokenFlags.LOGIN_REQUIRED,
    "protected_authentication_path": TokenFlags.PROTECTED_AUTHENTICATION_PATH,
    "user_pin_initialized": TokenFlags.USER_PIN_INITIALIZED,
    "user_pin_count_low": TokenFlags.USER_PIN_COUNT_LOW,
    "user_pin_final_try": TokenFlags.USER_PIN_FINAL_TRY,
    "user_pin_locked": TokenFlags.USER_PIN_LOCKED,
    "user_pin_to_be_changed": TokenFlags.USER_PIN_TO_BE_CHANGED,
    "write_protected": TokenFlags.WRITE_PROTECTED,
}


@dataclass(frozen=True)
class TokenInfo:
    """One initialised token (card) in one module."""

    module_path: str
    slot_id: int
    slot_description: str
    label: str
    serial: str
    manufacturer: str
    model: str
    flags: TokenFlags  # CK_TOKEN_INFO flags
    slot_flags: SlotFlags = SlotFlags.NONE
    mechanisms: frozenset[str] = frozenset()

    @classmethod
    def from_reading(
        cls, module_path: str, r: TokenReading, mechanisms: frozenset[str] = frozenset()
    ) -> TokenInfo:
        return cls(
            module_path,
            r.slot_id,
            r.slot_description,
            r.label,
            r.serial,
            r.manufacturer,
            r.model,
            r.flags,
            r.slot_flags,
            mechanisms,
        )

    @property
    def tries_left(self) -> int | None:
        """1 on the final try, 0 when locked, else unknown (PKCS#11 has no counter)."""
        return pin_state_from_flags(self.flags).tries_left

    @property
    def uri(self) -> str:
        """RFC 7512 URI of the token."""
        return str(
            Pkcs11Uri(token=self.label, manufacturer=self.manufacturer, model=self.model, serial=self.serial)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "module": self.module_path,
            "slot_id": self.slot_id,
            "slot_description": self.slot_description,
            "label": self.label,
            "serial": self.serial,
            "manufacturer": self.manufacturer,
            "model": self.model,
            "uri": self.uri,
            **{name: flag in self.flags for name, flag in _TOKEN_FLAG_FIELDS.items()},
            "removable": SlotFlags.REMOVABLE_DEVICE in self.slot_flags,
            "tries_left": self.tries_left,
            "mechanisms": sorted(self.mechanisms),
        }


@dataclass(frozen=True)
class CertificateEntry:
    """A certificate we found, usable or not (then `problems` says why)."""

    source: CertificateSource
    uri: str  # RFC 7512 URI for a card certificate; the file path for a file
    label: str
    der: bytes = field(repr=False)
    subject: str = ""
    issuer: str = ""
    serial_number: str = ""  # hex
    not_before: _dt.datetime | None = None
    not_after: _dt.datetime | None = None
    key_type: KeyType = KeyType.OTHER
    key_size: int = 0
    curve: str | None = None
    key_usage: tuple[str, ...] = ()
    extended_key_usage: tuple[str, ...] = ()
    fingerprint_sha256: str = ""  # lowercase hex of SHA-256 over the DER
    has_private_key: bool = False
    private_key_visible: bool = (
        False  # False: inferred from the public key (private objects hidden until login)
    )
    always_authenticate: bool | None = None  # None: cannot tell before logging in
    problems: tuple[Problem, ...] = ()
    details: tuple[str, ...] = ()  # extra words about the problems (parse error...)
    cka_id: bytes = b""
    token: TokenInfo | None = None
    module_path: str | None = None
    file_path: str | None = None
    needs_password: bool = False  # a PKCS#12 / encrypted PEM key: the password is asked to use it
    store_name: str | None = None  # "Firefox profile default", "Chrome", "Windows", "Keychain"
    key_factor: KeyFactor | None = None  # None: the source says (a card: possession, a file: knowledge)
    # every place the same certificate was found ("card 'X'", "Firefox profile default"), merged
    sources: tuple[str, ...] = ()
    store_ref: str | None = None  # the store's own handle of the certificate (thumbprint, keychain ref)

    @property
    def factor(self) -> KeyFactor:
        """Knowledge for software keys (files, software stores), possession for card keys."""
        if self.key_factor is not None:
            return self.key_factor
        return KeyFactor.POSSESSION if self.source is CertificateSource.PKCS11 else KeyFactor.KNOWLEDGE

    @property
    def where(self) -> str:
        """Where it is, in words: "card 'X'", "file PATH" or the store's name."""
        if self.store_name:
            return self.store_name
        if self.token is not None:
            return f"card '{self.token.label}'"
        return f"file {self.file_path}"

    @property
    def usable(self) -> bool:
        return not self.problems

    @property
    def token_label(self) -> str | None:
        return self.token.label if self.token else None

    @property
    def token_serial(self) -> str | None:
        return self.token.serial if self.token else None

    @property
    def problem_messages(self) -> tuple[str, ...]:
        return tuple(PROBLEM_TEXT[p] for p in self.problems) + self.details

    def certificate(self) -> x509.Certificate:
        """The parsed certificate (ValueError for an unparsable one)."""
        return x509.load_der_x509_certificate(self.der)

    def to_json(self) -> dict[str, Any]:
        """One object of `certs --json`."""
        return {
            "source": str(self.source),
            "uri": self.uri,
            "module": self.module_path,
            "file": self.file_path,
            "token_label": self.token_label,
            "token_serial": self.token_serial,
            "label": self.label,
            "id": self.cka_id.hex(),
            "subject": self.subject,
            "issuer": self.issuer,
            "serial_number": self.serial_number,
            "not_before": self.not_before.isoformat() if self.not_before else None,
            "not_after": self.not_after.isoformat() if self.not_after else None,
            "key_type": str(self.key_type),
            "key_size": self.key_size,
            "curve": self.curve,
            "key_usage": list(self.key_usage),
            "extended_key_usage": list(self.extended_key_usage),
            "fingerprint_sha256": self.fingerprint_sha256,
            "has_private_key": self.has_private_key,
            "always_authenticate": self.always_authenticate,
            "needs_password": self.needs_password,
            "store": self.store_name,
            "key_factor": str(self.factor),
            "sources": list(self.sources or (self.where,)),
            "usable": self.usable,
            "problems": [str(p) for p in self.problems],
            "problem_messages": list(self.problem_messages),
        }


_EKU_NAMES = {
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
    ExtendedKeyUsageOID.SMARTCARD_LOGON: "smartcardLogon",
}
_KU_NAMES = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)
_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


@dataclass(frozen=True)
class ParsedCertificate:
    """What we read out of a certificate's DER (or why we could not)."""

    der: bytes
    fingerprint_sha256: str
    certificate: x509.Certificate | None = None
    error: str | None = None
    subject: str = ""
    issuer: str = ""
    serial_number: str = ""
    not_before: _dt.datetime | None = None
    not_after: _dt.datetime | None = None
    key_type: KeyType = KeyType.OTHER
    key_size: int = 0
    curve: str | None = None
    key_usage: tuple[str, ...] = ()
    extended_key_usage: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()

    def entry_fields(self) -> dict[str, Any]:
        """The fields of a CertificateEntry that come from the certificate itself (one place for the
        card, file and OS-store entries)."""
        return {name: getattr(self, name) for name in _CERTIFICATE_FIELDS}


_CERTIFICATE_FIELDS = ("subject", "issuer", "serial_number", "not_before", "not_after", "key_type",
                       "key_size", "curve", "key_usage", "extended_key_usage", "fingerprint_sha256")


def parse_certificate(der: bytes, now: _dt.datetime | None = None) -> ParsedCertificate:
    """Parse a certificate and find the problems that do not depend on where it is (never raises)."""
    fp = hashlib.sha256(der).hexdigest()
    try:
        cert = x509.load_der_x509_certificate(der)
        subject = cert.subject.rfc4514_string()
        issuer = cert.issuer.rfc4514_string()
        nb, na = cert.not_valid_before_utc, cert.not_valid_after_utc
        public = cert.public_key()
    except Exception as e:  # any parse failure: listed as unparsable, never breaks the listing
        return ParsedCertificate(
            der, fp, error=f"{type(e).__name__}: {e}"[:200], problems=(Problem.UNPARSABLE,)
        )
    problems: list[Problem] = []
    now = now or _dt.datetime.now(_dt.UTC)
    if na < now:
        problems.append(Problem.EXPIRED)
    elif nb > now:
        problems.append(Problem.NOT_YET_VALID)
    key_type, size, curve = KeyType.OTHER, 0, None
    if isinstance(public, rsa.RSAPublicKey):
        key_type, size = KeyType.RSA, public.key_size
    elif isinstance(public, ec.EllipticCurvePublicKey):
        key_type, size, curve = (
            KeyType.EC,
            public.curve.key_size,
            _CURVES.get(public.curve.name, public.curve.name),
        )
    else:
        if isinstance(public, (dsa.DSAPublicKey, ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            size = getattr(public, "key_size", 0)
        problems.append(Problem.UNSUPPORTED_KEY)
    ku: tuple[str, ...] = ()
    eku: tuple[str, ...] = ()
    try:
        ku_ext = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        ku = tuple(n for n in _KU_NAMES if getattr(ku_ext, n))
        if not ku_ext.digital_signature:
            problems.append(Problem.NO_DIGITAL_SIGNATURE)
    except x509.ExtensionNotFound:
        pass
    except Exception:
        problems.append(Problem.UNPARSABLE)
    try:
        eku_ext = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        eku = tuple(_EKU_NAMES.get(o, o.dotted_string) for o in eku_ext)
        if (
            ExtendedKeyUsageOID.CLIENT_AUTH not in eku_ext
            and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in eku_ext
        ):
            problems.append(Problem.NOT_FOR_CLIENT_AUTH)
    except x509.ExtensionNotFound:
        pass
    except Exception:
        problems.append(Problem.UNPARSABLE)
    return ParsedCertificate(
        der,
        fp,
        cert,
        None,
        subject,
        issuer,
        f"{cert.serial_number:x}",
        nb,
        na,
        key_type,
        size,
        curve,
        ku,
        eku,
        tuple(dict.fromkeys(problems)),
    )
