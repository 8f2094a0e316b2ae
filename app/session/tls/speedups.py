"""The speed-ups: `cryptography` instead of tlslite's pure-Python primitives (see docs/BENCHMARKS.md).

AEADs (AES-GCM, ChaCha20-Poly1305) in the record layer, ECDHE (X25519, P-256, P-384) and EC public keys
of certificates. The one global change to tlslite (the X509 class its messages parse with) is made by
`install_speedups()`, called where a TlsContext is built: importing this module changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from tlslite import messages as tlslite_messages
from tlslite.constants import CipherSuite, GroupName
from tlslite.errors import TLSIllegalParameterException
from tlslite.recordlayer import RecordLayer
from tlslite.utils import cipherfactory
from tlslite.x509 import X509

from app.session.tls.verify import _HASHES, _CurveInfo, _verify_ec


class _ECPublicKey:
    """A certificate's EC public key for tlslite, backed by cryptography (verify only)."""

    key_type = "ecdsa"
    _NAMES = {"secp256r1": "NIST256p", "secp384r1": "NIST384p", "secp521r1": "NIST521p"}

    def __init__(self, public: ec.EllipticCurvePublicKey) -> None:
        self._public = public
        self.curve_name = self._NAMES.get(public.curve.name, public.curve.name)
        # TLS 1.2 ServerKeyExchange checks truncate the hash to public_key.curve.baselen.
        self.public_key = _CurveInfo(public.curve.key_size)

    def __len__(self) -> int:
        return self._public.curve.key_size

    def hasPrivateKey(self) -> bool:
        return False

    def verify(self, sigBytes: bytearray, data: bytearray, padding: Any = None,
               hashAlg: Any = None, saltLen: Any = None) -> bool:
        return _verify_ec(self._public, bytes(sigBytes), bytes(data))

    def hashAndVerify(self, sigBytes: bytearray, data: bytearray, rsaScheme: Any = None,
                      hAlg: str = "sha1", sLen: Any = None) -> bool:
        h = hashes.Hash(_HASHES[hAlg.lower()])
        h.update(bytes(data))
        return self.verify(sigBytes, bytearray(h.finalize()))


class _FastX509(X509):  # type: ignore[misc]
    """tlslite's X509 with EC public keys read by cryptography.

    tlslite builds a python-ecdsa key for every EC certificate it parses, validating the point with a
    pure-Python scalar multiplication: about 1.6 ms per certificate, a third of our handshake.
    """

    def _ecdsa_pubkey_parsing(self, subject_public_key_info: bytearray) -> None:
        try:
            public = serialization.load_der_public_key(bytes(subject_public_key_info))
        except ValueError as e:
            raise SyntaxError("Malformed or unsupported public key in certificate") from e
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise SyntaxError("Malformed or unsupported public key in certificate")
        self.publicKey = _ECPublicKey(public)


def _parse_x509(der: bytes) -> X509:
    cert = _FastX509()
    cert.parseBinary(bytearray(der))
    return cert


class _CryptographyAead:
    """tlslite's AEAD interface (seal/open) over cryptography's AESGCM / ChaCha20Poly1305."""

    implementation = "cryptography"
    isBlockCipher = False
    isAEAD = True
    nonceLength = 12
    tagLength = 16

    def __init__(self, key: bytearray, name: str, cls: type[AESGCM] | type[ChaCha20Poly1305]) -> None:
        self.name = name
        self.key = key
        self._aead = cls(bytes(key))

    def seal(self, nonce: bytearray, plaintext: bytearray, data: bytearray) -> bytearray:
        return bytearray(self._aead.encrypt(bytes(nonce), bytes(plaintext), bytes(data)))

    def open(self, nonce: bytearray, ciphertext: bytearray, data: bytearray) -> bytearray | None:
        try:
            return bytearray(self._aead.decrypt(bytes(nonce), bytes(ciphertext), bytes(data)))
        except InvalidTag:
            return None


def _create_aesgcm(key: bytearray, implList: Any = None) -> _CryptographyAead:
    return _CryptographyAead(key, "aes128gcm" if len(key) == 16 else "aes256gcm", AESGCM)


def _create_chacha(key: bytearray, implList: Any = None) -> _CryptographyAead:
    return _CryptographyAead(key, "chacha20-poly1305", ChaCha20Poly1305)


class _FastRecordLayer(RecordLayer):  # type: ignore[misc]
    """tlslite's record layer with cryptography's AEADs (its own are pure Python: ~0.2 MiB/s)."""

    @staticmethod
    def _getCipherSettings(cipherSuite: int) -> tuple[int, int, Callable[..., Any]]:
        key_len, iv_len, func = RecordLayer._getCipherSettings(cipherSuite)
        if func is cipherfactory.createAESGCM:
            func = _create_aesgcm
        elif func is cipherfactory.createCHACHA20 and cipherSuite in CipherSuite.chacha20Suites:
            func = _create_chacha
        return key_len, iv_len, func


class _CryptographyECDH:
    """tlslite's ECDHKeyExchange interface for X25519 / P-256 / P-384 over cryptography."""

    _CURVES: Mapping[int, ec.EllipticCurve] = {
        GroupName.secp256r1: ec.SECP256R1(), GroupName.secp384r1: ec.SECP384R1(),
        GroupName.secp521r1: ec.SECP521R1(),
    }

    def __init__(self, group: int, version: tuple[int, int]) -> None:
        self.group = group
        self.version = version

    def get_random_private_key(self) -> Any:
        if self.group == GroupName.x25519:
            return x25519.X25519PrivateKey.generate()
        return ec.generate_private_key(self._CURVES[self.group])

    def calc_public_value(self, private: Any, point_format: str = "uncompressed") -> bytearray:
        pub = private.public_key()
        if self.group == GroupName.x25519:
            return bytearray(pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
        return bytearray(pub.public_bytes(serialization.Encoding.X962,
                                          serialization.PublicFormat.UncompressedPoint))

    def calc_shared_key(self, private: Any, peer_share: bytearray,
                        valid_point_formats: Any = ("uncompressed",)) -> bytearray:
        try:
            if self.group == GroupName.x25519:
                peer = x25519.X25519PublicKey.from_public_bytes(bytes(peer_share))
                return bytearray(private.exchange(peer))
            curve = self._CURVES[self.group]
            peer_ec = ec.EllipticCurvePublicKey.from_encoded_point(curve, bytes(peer_share))
            return bytearray(private.exchange(ec.ECDH(), peer_ec))
        except ValueError as e:  # off-curve point, all-zero X25519 result, wrong length
            raise TLSIllegalParameterException("Invalid key share") from e


# Imported for tests: proves which AEAD class the record layer uses.
FAST_AEAD_CLASS = _CryptographyAead


def install_speedups() -> None:
    """Make tlslite parse Certificate messages with _FastX509 (idempotent; the only global change).

    tlslite-ng 0.8.2 looks the X509 class up in `tlslite.messages` at parse time; nothing else in the
    process uses tlslite. Called where a TlsContext is built, never at import.
    """
    if tlslite_messages.X509 is not _FastX509:
        tlslite_messages.X509 = _FastX509


def speedups_installed() -> bool:
    """Whether install_speedups() has run in this process."""
    return tlslite_messages.X509 is _FastX509
