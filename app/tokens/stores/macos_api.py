"""The thin OS class of the macOS keychain: `PyObjcSecurityApi` (pyobjc's Security framework) and
the plain values it hands out. Nothing else calls the Security framework; the tests fake the
`SecurityApi` protocol. Importable anywhere: `Security` is imported when a PyObjcSecurityApi is made.
"""

from __future__ import annotations

import hashlib
import importlib
from dataclasses import dataclass
from typing import Any, Protocol

# OSStatus values (SecBase.h)
ERR_SEC_USER_CANCELED = -128
ERR_SEC_AUTH_FAILED = -25293
ERR_SEC_NOT_AVAILABLE = -25291  # a token (card) that went away
ERR_SEC_ITEM_NOT_FOUND = -25300
ERR_SEC_INTERACTION_NOT_ALLOWED = -25308
ERR_SEC_PARAM = -50

# SecKeyAlgorithm constant names, by our scheme names (digest variants: we hand over the hash)
ALGORITHMS = {
    "rsa_pss_rsae_sha256": "kSecKeyAlgorithmRSASignatureDigestPSSSHA256",
    "rsa_pss_rsae_sha384": "kSecKeyAlgorithmRSASignatureDigestPSSSHA384",
    "rsa_pss_rsae_sha512": "kSecKeyAlgorithmRSASignatureDigestPSSSHA512",
    "rsa_pkcs1_sha256": "kSecKeyAlgorithmRSASignatureDigestPKCS1v15SHA256",
    "rsa_pkcs1_sha384": "kSecKeyAlgorithmRSASignatureDigestPKCS1v15SHA384",
    "rsa_pkcs1_sha512": "kSecKeyAlgorithmRSASignatureDigestPKCS1v15SHA512",
    "ecdsa_secp256r1_sha256": "kSecKeyAlgorithmECDSASignatureDigestX962SHA256",
    "ecdsa_secp384r1_sha384": "kSecKeyAlgorithmECDSASignatureDigestX962SHA384",
    "ecdsa_secp521r1_sha512": "kSecKeyAlgorithmECDSASignatureDigestX962SHA512",
}


class MacSecError(Exception):
    """A Security framework call failed with this OSStatus."""

    def __init__(self, status: int, call: str = "") -> None:
        super().__init__(f"{call} failed: OSStatus {status}")
        self.status = status
        self.call = call


@dataclass(frozen=True)
class MacIdentity:
    """A keychain identity: its certificate, label and CryptoTokenKit token (None: a software key)."""

    ref: str  # SHA-256 of the certificate's DER: our handle of it
    der: bytes
    label: str
    token_id: str | None = None  # kSecAttrTokenID: on a card the system reads (possession)


class SecurityApi(Protocol):
    """The keychain calls the store makes (PyObjcSecurityApi; a fake in the tests)."""

    def identities(self) -> list[MacIdentity]:
        """Every identity of the search list, CryptoTokenKit tokens included; nothing is asked."""
        ...

    def supports(self, ref: str, algorithm: str) -> bool:
        """SecKeyIsAlgorithmSupported(sign) on the identity's private key."""
        ...

    def sign(self, ref: str, algorithm: str, digest: bytes) -> bytes:
        """SecKeyCreateSignature: RSA big-endian, ECDSA DER (X9.62). The system asks a token's PIN."""
        ...

    def token_reader(self, token_id: str) -> str | None:
        """The smart card reader (CryptoTokenKit slot = PC/SC reader name) of a token, as far as the
        system says: None when it cannot tell which one."""
        ...


class PyObjcSecurityApi:
    """SecurityApi over pyobjc-framework-Security (macOS only)."""

    def __init__(self) -> None:
        self._sec: Any = importlib.import_module("Security")
        self._found: dict[str, Any] = {}  # ref -> SecIdentityRef

    def _query(self, token_group: bool) -> list[Any]:
        s = self._sec
        query = {s.kSecClass: s.kSecClassIdentity, s.kSecMatchLimit: s.kSecMatchLimitAll,
                 s.kSecReturnRef: True, s.kSecReturnAttributes: True}
        if token_group:  # CryptoTokenKit (native PIV and other token drivers) are listed only when asked
            query[s.kSecAttrAccessGroup] = s.kSecAttrAccessGroupToken
        status, result = s.SecItemCopyMatching(query, None)
        if status == ERR_SEC_ITEM_NOT_FOUND:
            return []
        if status != 0:
            raise MacSecError(status, "SecItemCopyMatching")
        return list(result or [])

    def identities(self) -> list[MacIdentity]:
        """Software keychain identities, then token ones; one entry per certificate."""
        s = self._sec
        out: dict[str, MacIdentity] = {}
        for token_group in (False, True):
            try:
                items = self._query(token_group)
            except MacSecError:
                if not token_group:
                    raise
                items = []  # no token access for this process (e.g. errSecMissingEntitlement): keychains only
            for item in items:
                identity = item[s.kSecValueRef]
                status, cert = s.SecIdentityCopyCertificate(identity, None)
                if status != 0 or cert is None:
                    continue
                der = bytes(s.SecCertificateCopyData(cert))
                ref = hashlib.sha256(der).hexdigest()
                token = item.get(s.kSecAttrTokenID)
                label = str(item.get(s.kSecAttrLabel) or "")
                self._found[ref] = identity
                out.setdefault(ref, MacIdentity(ref, der, label, str(token) if token else None))
        return list(out.values())

    def _key(self, ref: str) -> Any:
        identity = self._found.get(ref)
        if identity is None:
            self.identities()
            identity = self._found.get(ref)
        if identity is None:
            raise MacSecError(ERR_SEC_ITEM_NOT_FOUND, "SecItemCopyMatching")
        status, key = self._sec.SecIdentityCopyPrivateKey(identity, None)
        if status != 0 or key is None:
            raise MacSecError(status or ERR_SEC_ITEM_NOT_FOUND, "SecIdentityCopyPrivateKey")
        return key

    def supports(self, ref: str, algorithm: str) -> bool:
        """SecKeyIsAlgorithmSupported for a signature."""
        s = self._sec
        return bool(s.SecKeyIsAlgorithmSupported(self._key(ref), s.kSecKeyOperationTypeSign,
                                                 getattr(s, algorithm)))

    def sign(self, ref: str, algorithm: str, digest: bytes) -> bytes:
        """SecKeyCreateSignature; its CFError's code is the OSStatus."""
        s = self._sec
        sig, error = s.SecKeyCreateSignature(self._key(ref), getattr(s, algorithm), digest, None)
        if sig is None:
            code = int(error.code()) if error is not None else ERR_SEC_PARAM
            raise MacSecError(code, "SecKeyCreateSignature")
        return bytes(sig)

    def token_reader(self, token_id: str) -> str | None:
        """The Security framework names no reader for a token identity; CryptoTokenKit's slot manager
        lists the readers: with exactly one, the token is in it. Otherwise None (cannot tell)."""
        try:
            ctk: Any = importlib.import_module("CryptoTokenKit")
            names = list(ctk.TKSmartCardSlotManager.defaultManager().slotNames() or [])
        except (ImportError, AttributeError):
            return None
        return str(names[0]) if len(names) == 1 else None
