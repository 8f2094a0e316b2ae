"""The card key as a tlslite key: `TlsIdentity` (certificate, chain, schemes) and the RSA/EC adapters.

tlslite asks the key object to sign; the adapters hand the digest to the `Signer` (card or file), so
the private key never leaves it.
"""

from __future__ import annotations

import threading
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from tlslite.constants import SignatureScheme as TlsScheme
from tlslite.errors import TLSIllegalParameterException
from tlslite.utils.ecdsakey import ECDSAKey
from tlslite.utils.rsakey import RSAKey
from tlslite.x509certchain import X509CertChain

from app.session.errors import SignatureBudgetSpent, TlsHandshakeError
from app.session.tls.speedups import _parse_x509
from app.session.tls.verify import _BY_DIGEST_LEN, _HASHES, _CurveInfo, _verify_ec, _verify_rsa
from app.tokens.errors import MechanismUnsupported
from app.tokens.signer import KeyType, SignatureScheme, Signer

#: Signatures in a row whose connections brought no answer, after which the card is not asked again.
WASTED_SIGNATURES_LIMIT = 3


class TlsIdentity:
    """A client certificate and the Signer holding its key, ready for tlslite; counts signatures."""

    def __init__(self, signer: Signer) -> None:
        self.signer = signer
        self.certificate = signer.certificate
        self.subject = signer.certificate.subject.rfc4514_string()
        ders = [c.public_bytes(serialization.Encoding.DER) for c in (signer.certificate, *signer.chain)]
        self._chain = X509CertChain([_parse_x509(d) for d in ders])
        self._lock = threading.Lock()
        self._signatures = 0
        self._wasted = 0  # signatures in a row whose connection brought no answer
        schemes = tuple(signer.supported_schemes())
        self.key_type = signer.key_type
        self.key_size = signer.key_size
        self.note: str | None = None
        if self.key_type == KeyType.RSA:
            self.schemes = tuple(s for s in schemes if s.is_pss or s.is_pkcs1)
            if not any(s.is_pss for s in self.schemes):
                # TLS 1.3 allows only RSA-PSS for client signatures (RFC 8446 4.2.3).
                self.max_version = (3, 3)
                self.note = f"TLS 1.2: the key on {signer.description} cannot make RSA-PSS signatures"
            else:
                self.max_version = (3, 4)
        elif self.key_type == KeyType.EC:
            want = {256: "sha256", 384: "sha384", 521: "sha512"}.get(self.key_size)
            # In TLS 1.3 the curve fixes the hash; we use the same pairing in TLS 1.2 so the card
            # never signs a hash longer than its curve.
            self.schemes = tuple(s for s in schemes if s.is_ecdsa and s.hash_name == want)
            self.max_version = (3, 4)
        else:
            raise MechanismUnsupported(f"{signer.description}: only RSA and EC keys can authenticate TLS")
        if not self.schemes:
            raise MechanismUnsupported(f"{signer.description} offers no signature scheme usable for TLS")

    @property
    def signatures(self) -> int:
        """How many signatures the signer made for TLS handshakes so far."""
        return self._signatures

    def _count(self) -> None:
        with self._lock:
            self._signatures += 1

    def _allow(self, key_signed_already: bool) -> None:
        """Refuse a second signature on one connection, and any once servers wasted too many in a row."""
        if key_signed_already:
            raise TlsHandshakeError("The server asked the card to sign twice on one connection; refused: "
                                    "the card signs once per connection.")
        with self._lock:
            wasted = self._wasted
        if wasted >= WASTED_SIGNATURES_LIMIT:
            raise SignatureBudgetSpent(
                f"The card was not asked to sign again: the server dropped the last {wasted} connections "
                "right after the card signed for them. Log in again to retry.")

    def settle(self, signed: int, answered: bool) -> None:
        """After a request: `signed` signatures were made for it; `answered` whether an answer came.

        Signatures that bought no answer add up; an answer clears them. A server dropping each connection
        after the handshake thus gets WASTED_SIGNATURES_LIMIT signatures, then none (issue 18, class 6).
        """
        with self._lock:
            self._wasted = 0 if answered else self._wasted + signed

    def _key(self) -> _SignerRSAKey | _SignerECKey:
        """A fresh tlslite key object for one connection (it records the scheme it used)."""
        if self.key_type == KeyType.RSA:
            return _SignerRSAKey(self)
        return _SignerECKey(self)

    def _tls_schemes(self, version: tuple[int, int]) -> list[tuple[int, int]]:
        out = []
        for s in self.schemes:
            if version > (3, 3) and s.is_pkcs1:
                continue
            out.append(getattr(TlsScheme, s.value))
        return out


# DigestInfo prefixes (tlslite adds them in TLS 1.2 before calling sign(); the Signer wants raw hashes).
_PKCS1_PREFIXES = {bytes(v): k for k, v in RSAKey._pkcs1Prefixes.items()
                   if k in ("sha256", "sha384", "sha512")}


def _split_digest_info(data: bytes) -> tuple[str, bytes]:
    for prefix, name in _PKCS1_PREFIXES.items():
        if data.startswith(prefix) and len(data) - len(prefix) == _HASHES[name].digest_size:
            return name, data[len(prefix):]
    raise TLSIllegalParameterException("unexpected PKCS#1 DigestInfo")


class _SignerRSAKey(RSAKey):  # type: ignore[misc]
    """tlslite RSA key whose private operation is the Signer's sign_digest (PSS or PKCS#1 v1.5)."""

    def __init__(self, identity: TlsIdentity) -> None:
        pub = identity.certificate.public_key()
        assert isinstance(pub, rsa.RSAPublicKey)
        nums = pub.public_numbers()
        # RSAKey.__init__ is abstract (raises); set what it would.
        self.n, self.e, self.key_type, self._key_hash = nums.n, nums.e, "rsa", None
        self._identity = identity
        self._public = pub
        self.used_scheme: SignatureScheme | None = None

    def hasPrivateKey(self) -> bool:
        return True

    def sign(self, data: bytearray, padding: str = "pkcs1", hashAlg: str | None = None,
             saltLen: int | None = None) -> bytearray:
        raw = bytes(data)
        if padding.lower() == "pss":
            assert hashAlg is not None
            scheme = SignatureScheme(f"rsa_pss_rsae_{hashAlg}")
            if saltLen not in (None, _HASHES[hashAlg].digest_size):
                raise TLSIllegalParameterException("unsupported PSS salt length")
        else:
            if hashAlg is None:  # TLS 1.2: the DigestInfo is already there
                hashAlg, raw = _split_digest_info(raw)
            scheme = SignatureScheme(f"rsa_pkcs1_{hashAlg}")
        self._identity._allow(self.used_scheme is not None)
        sig = self._identity.signer.sign_digest(raw, scheme)
        self._identity._count()
        self.used_scheme = scheme
        return bytearray(sig)

    def verify(self, sigBytes: bytearray, data: bytearray, padding: str = "pkcs1",
               hashAlg: str | None = None, saltLen: int | None = None) -> bool:
        return _verify_rsa(self._public, bytes(sigBytes), bytes(data), padding, hashAlg, saltLen)

    def acceptsPassword(self) -> bool:
        return False

    def write(self, password: Any = None) -> str:
        raise NotImplementedError("the private key stays on the card")


class _SignerECKey(ECDSAKey):  # type: ignore[misc]
    """tlslite ECDSA key whose signing is the Signer's sign_digest (DER signature)."""

    _CURVE_NAMES = {256: "NIST256p", 384: "NIST384p", 521: "NIST521p"}

    def __init__(self, identity: TlsIdentity) -> None:
        pub = identity.certificate.public_key()
        assert isinstance(pub, ec.EllipticCurvePublicKey)
        self._identity = identity
        self._public = pub
        self.key_type = "ecdsa"
        self.curve_name = self._CURVE_NAMES.get(pub.curve.key_size, pub.curve.name)
        self._bits = pub.curve.key_size
        # tlslite's TLS 1.2 CertificateVerify truncates the hash to private_key.curve.baselen.
        self.private_key = _CurveInfo(self._bits)
        self.public_key = None
        self.used_scheme: SignatureScheme | None = None

    def __len__(self) -> int:
        return self._bits

    def hasPrivateKey(self) -> bool:
        return True

    def _sign(self, data: bytearray, hash_alg: str) -> bytearray:
        raw = bytes(data)
        name = hash_alg if hash_alg in _HASHES else _BY_DIGEST_LEN.get(len(raw), "sha256")
        scheme = {"sha256": SignatureScheme.ECDSA_SECP256R1_SHA256,
                  "sha384": SignatureScheme.ECDSA_SECP384R1_SHA384,
                  "sha512": SignatureScheme.ECDSA_SECP521R1_SHA512}[name]
        self._identity._allow(self.used_scheme is not None)
        sig = self._identity.signer.sign_digest(raw, scheme)
        self._identity._count()
        self.used_scheme = scheme
        return bytearray(sig)

    def verify(self, sigBytes: bytearray, data: bytearray, padding: Any = None,
               hashAlg: str | None = None, saltLen: Any = None) -> bool:
        return _verify_ec(self._public, bytes(sigBytes), bytes(data))

    def acceptsPassword(self) -> bool:
        return False
