"""The Signer protocol shared by card keys and file keys (CardSigner adds the login), the SignerBase
that holds their descriptive properties, and the software signer for file keys."""

from __future__ import annotations

import enum
from typing import Protocol, runtime_checkable

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from app.tokens.errors import MechanismUnsupported
from app.tokens.pin import PinCallback


class KeyType(enum.StrEnum):
    """Kinds of private key we can authenticate with."""

    RSA = "RSA"
    EC = "EC"
    OTHER = "other"


class SignatureScheme(enum.StrEnum):
    """TLS SignatureScheme names (RFC 8446 section 4.2.3) the signers can produce."""

    RSA_PKCS1_SHA256 = "rsa_pkcs1_sha256"
    RSA_PKCS1_SHA384 = "rsa_pkcs1_sha384"
    RSA_PKCS1_SHA512 = "rsa_pkcs1_sha512"
    RSA_PSS_RSAE_SHA256 = "rsa_pss_rsae_sha256"
    RSA_PSS_RSAE_SHA384 = "rsa_pss_rsae_sha384"
    RSA_PSS_RSAE_SHA512 = "rsa_pss_rsae_sha512"
    ECDSA_SECP256R1_SHA256 = "ecdsa_secp256r1_sha256"
    ECDSA_SECP384R1_SHA384 = "ecdsa_secp384r1_sha384"
    ECDSA_SECP521R1_SHA512 = "ecdsa_secp521r1_sha512"

    @property
    def hash_name(self) -> str:
        """'sha256', 'sha384' or 'sha512'."""
        return self.value.rsplit("_", 1)[1]

    @property
    def hash_algorithm(self) -> hashes.HashAlgorithm:
        """The cryptography hash object for this scheme."""
        return {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}[
            self.hash_name
        ]

    @property
    def is_pss(self) -> bool:
        return self.value.startswith("rsa_pss")

    @property
    def is_pkcs1(self) -> bool:
        return self.value.startswith("rsa_pkcs1")

    @property
    def is_ecdsa(self) -> bool:
        return self.value.startswith("ecdsa")


RSA_PSS_SCHEMES = (
    SignatureScheme.RSA_PSS_RSAE_SHA256,
    SignatureScheme.RSA_PSS_RSAE_SHA384,
    SignatureScheme.RSA_PSS_RSAE_SHA512,
)
RSA_PKCS1_SCHEMES = (
    SignatureScheme.RSA_PKCS1_SHA256,
    SignatureScheme.RSA_PKCS1_SHA384,
    SignatureScheme.RSA_PKCS1_SHA512,
)
ECDSA_SCHEMES = (
    SignatureScheme.ECDSA_SECP256R1_SHA256,
    SignatureScheme.ECDSA_SECP384R1_SHA384,
    SignatureScheme.ECDSA_SECP521R1_SHA512,
)


@runtime_checkable
class Signer(Protocol):
    """A private key we can ask for signatures; the key itself is never handed out.

    `sign_digest` receives the raw hash of the message (no DigestInfo), computed with the
    scheme's hash. RSA returns the signature; ECDSA returns it DER-encoded (as TLS wants).
    Card signers may block (PIN pad, always-authenticate prompt): never call them on a UI thread.
    """

    @property
    def certificate(self) -> x509.Certificate: ...

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        """Intermediate certificates to send after the leaf (may be empty)."""
        ...

    @property
    def key_type(self) -> KeyType: ...

    @property
    def key_size(self) -> int: ...

    @property
    def description(self) -> str:
        """Where the key lives, in the user's words (card label, file name). No secret."""
        ...

    def supported_schemes(self) -> tuple[SignatureScheme, ...]:
        """Schemes this key can produce, best first."""
        ...

    def sign_digest(self, digest: bytes, scheme: SignatureScheme) -> bytes:
        """Sign an already-hashed message."""
        ...


@runtime_checkable
class CardSigner(Signer, Protocol):
    """A Signer whose key stays on a card: it holds a login that the card's removal can lose."""

    @property
    def logged_in(self) -> bool:
        """False once the card was removed / the module re-scanned (then call relogin)."""
        ...

    def relogin(self, pin_callback: PinCallback | None = None, *, last_error: str | None = None) -> None:
        """Log in to the same card again (after re-insertion), asking the PIN with PinPurpose.RELOGIN."""
        ...

    def close(self) -> None:
        """Give the login back (the last user of it logs out)."""
        ...


class SignerBase:
    """The five descriptive properties of the Signer protocol, written once for every signer."""

    def __init__(
        self,
        certificate: x509.Certificate,
        chain: tuple[x509.Certificate, ...],
        key_type: KeyType,
        key_size: int,
        description: str,
    ) -> None:
        self._certificate = certificate
        self._chain = chain
        self._key_type = key_type
        self._key_size = key_size
        self._description = description

    @property
    def certificate(self) -> x509.Certificate:
        """The leaf certificate of the key."""
        return self._certificate

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        """Intermediate certificates to send after the leaf (may be empty)."""
        return self._chain

    @property
    def key_type(self) -> KeyType:
        """RSA or EC."""
        return self._key_type

    @property
    def key_size(self) -> int:
        """RSA modulus bits, or the EC curve's size."""
        return self._key_size

    @property
    def description(self) -> str:
        """Where the key lives, in the user's words (card label, file name). No secret."""
        return self._description


def sign_message(signer: Signer, message: bytes, scheme: SignatureScheme) -> bytes:
    """Hash `message` with the scheme's hash and sign it."""
    h = hashes.Hash(scheme.hash_algorithm)
    h.update(message)
    return signer.sign_digest(h.finalize(), scheme)


def verify_signature(
    certificate: x509.Certificate, message: bytes, signature: bytes, scheme: SignatureScheme
) -> None:
    """Verify a signature with the certificate's public key (raises InvalidSignature)."""
    public = certificate.public_key()
    algo = scheme.hash_algorithm
    if isinstance(public, rsa.RSAPublicKey):
        if scheme.is_pss:
            public.verify(signature, message,
                          padding.PSS(mgf=padding.MGF1(algo), salt_length=algo.digest_size), algo)
        else:
            public.verify(signature, message, padding.PKCS1v15(), algo)
    elif isinstance(public, ec.EllipticCurvePublicKey):
        public.verify(signature, message, ec.ECDSA(algo))
    else:
        raise MechanismUnsupported(f"cannot verify with a {type(public).__name__}")


class SoftwareSigner(SignerBase):
    """Signs with a key read from a PKCS#12 / PEM file. The key stays in this object's memory."""

    def __init__(
        self,
        private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
        certificate: x509.Certificate,
        chain: tuple[x509.Certificate, ...] = (),
        description: str = "file",
    ) -> None:
        if isinstance(private_key, rsa.RSAPrivateKey):
            key_type, key_size = KeyType.RSA, private_key.key_size
        else:
            key_type, key_size = KeyType.EC, private_key.curve.key_size
        super().__init__(certificate, chain, key_type, key_size, description)
        self._key = private_key

    def __repr__(self) -> str:
        return f"SoftwareSigner({self._description!r}, {self.key_type} {self.key_size})"

    def supported_schemes(self) -> tuple[SignatureScheme, ...]:
        if isinstance(self._key, rsa.RSAPrivateKey):
            return RSA_PSS_SCHEMES + RSA_PKCS1_SCHEMES
        return ECDSA_SCHEMES

    def sign_digest(self, digest: bytes, scheme: SignatureScheme) -> bytes:
        if scheme not in self.supported_schemes():
            raise MechanismUnsupported(f"{self._description} cannot sign with {scheme}")
        algo = scheme.hash_algorithm
        if len(digest) != algo.digest_size:
            raise ValueError(f"digest length {len(digest)} does not match {scheme.hash_name}")
        if isinstance(self._key, rsa.RSAPrivateKey):
            pad: padding.AsymmetricPadding
            if scheme.is_pss:
                pad = padding.PSS(mgf=padding.MGF1(algo), salt_length=algo.digest_size)
            else:
                pad = padding.PKCS1v15()
            return self._key.sign(digest, pad, Prehashed(algo))
        return self._key.sign(digest, ec.ECDSA(Prehashed(algo)))
