"""Server-key verification for tlslite, computed by `cryptography` (RSA PKCS#1/PSS, ECDSA).

tlslite's own checks are pure Python; `_ServerKey` wraps the key tlslite extracted from the server's
certificate so its CertificateVerify / ServerKeyExchange signature is checked by `cryptography`.
"""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from tlslite.utils.rsakey import RSAKey


class _CurveInfo:
    """The one python-ecdsa attribute tlslite reads from EC keys: `.curve.baselen`."""

    def __init__(self, bits: int) -> None:
        self.curve = self
        self.baselen = (bits + 7) // 8


_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha1": hashes.SHA1(), "sha224": hashes.SHA224(), "sha256": hashes.SHA256(),  # noqa: S303
    "sha384": hashes.SHA384(), "sha512": hashes.SHA512(),
}


_BY_DIGEST_LEN = {20: "sha1", 28: "sha224", 32: "sha256", 48: "sha384", 64: "sha512"}


def _verify_rsa(pub: rsa.RSAPublicKey, sig: bytes, data: bytes, pad: str | None, hash_name: str | None,
                salt_len: int | None) -> bool:
    """tlslite's RSAKey.verify semantics, computed by cryptography."""
    try:
        if (pad or "pkcs1").lower() == "pss":
            assert hash_name is not None
            algo = _HASHES[hash_name]
            pub.verify(sig, data, padding.PSS(mgf=padding.MGF1(algo),
                                              salt_length=salt_len or algo.digest_size), Prehashed(algo))
            return True
        expected = bytes(RSAKey.addPKCS1Prefix(bytearray(data), hash_name)) if hash_name else data
        recovered = pub.recover_data_from_signature(sig, padding.PKCS1v15(), None)
        return recovered == expected
    except (InvalidSignature, ValueError):
        return False


def _verify_ec(pub: ec.EllipticCurvePublicKey, sig: bytes, digest: bytes) -> bool:
    name = _BY_DIGEST_LEN.get(len(digest))
    if name is None:
        return False
    try:
        pub.verify(sig, digest, ec.ECDSA(Prehashed(_HASHES[name])))
        return True
    except (InvalidSignature, ValueError):
        return False


class _ServerKey:
    """The server's public key: tlslite's object for its attributes, cryptography for verify()."""

    def __init__(self, original: Any, public: Any) -> None:
        self._original = original
        self._public = public

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)

    def __len__(self) -> int:
        return len(self._original)

    def verify(self, sigBytes: bytearray, data: bytearray, padding: str | None = None,
               hashAlg: str | None = None, saltLen: int | None = None) -> bool:
        if isinstance(self._public, rsa.RSAPublicKey):
            return _verify_rsa(self._public, bytes(sigBytes), bytes(data), padding, hashAlg, saltLen)
        if isinstance(self._public, ec.EllipticCurvePublicKey):
            return _verify_ec(self._public, bytes(sigBytes), bytes(data))
        return bool(self._original.verify(sigBytes, data, padding, hashAlg, saltLen))

    def hashAndVerify(self, sigBytes: bytearray, data: bytearray, rsaScheme: str = "PKCS1",
                      hAlg: str = "sha1", sLen: int = 0) -> bool:
        if hAlg == "intrinsic":
            return bool(self._original.hashAndVerify(sigBytes, data, rsaScheme, hAlg, sLen))
        h = hashes.Hash(_HASHES[hAlg.lower()])
        h.update(bytes(data))
        return self.verify(sigBytes, bytearray(h.finalize()), rsaScheme.lower(), hAlg.lower(), sLen)
