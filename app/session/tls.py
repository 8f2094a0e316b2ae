"""Mutual TLS for `requests` with a key that never leaves the card (the ONLY module importing tlslite-ng).

Python's `ssl` loads private keys from files only, so client authentication with a card key runs on
tlslite-ng (pure-Python TLS 1.2/1.3) with key classes whose signing calls a `Signer`. Around it:

- server chain + host name verified with `cryptography.x509.verification` as soon as the server's
  Certificate message arrives (before the card signs anything, before any application data), and
  required again after the handshake; resumption only uses tickets of verified connections;
- AEADs (AES-GCM, ChaCha20-Poly1305), ECDHE (X25519, P-256, P-384) and the server's signature check
  done by `cryptography` instead of tlslite's pure-Python code (see docs/BENCHMARKS.md);
- TLS 1.3 tickets kept per login in memory, so later connections resume without calling the signer;
- an `ssl.SSLContext`/`ssl.SSLSocket` look-alike for urllib3 (the shape of urllib3's contrib/pyopenssl),
  mounted on a `requests.Session` through an HTTPAdapter.

Public API: `make_session(signer | None, TrustConfig(extra_ca_file=None), timeout=30.0) -> MtlsSession`
(a requests.Session: `.get/.post/...` raise app.session.errors types or the signer's TokenError;
`.connection_info` -> last ConnectionInfo; `.signatures` -> signatures made; `.drop_connections()`
keeps tickets; `.close()` drops connections and tickets). Errors: ServerNotTrusted, ClientCertRejected,
TlsHandshakeError, ConnectionTimeout, EndpointUnreachable.
"""

from __future__ import annotations

import datetime as _dt
import errno
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, x25519
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from requests.adapters import HTTPAdapter
from tlslite import messages as tlslite_messages
from tlslite.bufferedsocket import BufferedSocket
from tlslite.constants import AlertDescription, AlertLevel, CipherSuite, ContentType, GroupName
from tlslite.constants import SignatureScheme as TlsScheme
from tlslite.errors import (
    TLSAbruptCloseError,
    TLSAlert,
    TLSError,
    TLSIllegalParameterException,
    TLSLocalAlert,
    TLSRemoteAlert,
)
from tlslite.handshakesettings import HandshakeSettings
from tlslite.messages import Alert, CertificateRequest
from tlslite.recordlayer import RecordLayer
from tlslite.tlsconnection import TLSConnection
from tlslite.utils import cipherfactory
from tlslite.utils.ecdsakey import ECDSAKey
from tlslite.utils.rsakey import RSAKey
from tlslite.x509 import X509
from tlslite.x509certchain import X509CertChain

from app.session._tls_trust import ServerCertificate, TrustConfig, verify_server
from app.session.errors import (
    ClientCertRejected,
    ConnectionTimeout,
    EndpointUnreachable,
    ServerNotTrusted,
    SessionError,
    TlsError,
    TlsHandshakeError,
)
from app.tokens.errors import MechanismUnsupported, TokenError
from app.tokens.signer import KeyType, SignatureScheme, Signer

__all__ = [
    "ConnectionInfo",
    "MtlsSession",
    "ServerCertificate",
    "TlsIdentity",
    "TrustConfig",
    "make_session",
]

ALPN = "http/1.1"
_VERSIONS = {(3, 4): "TLSv1.3", (3, 3): "TLSv1.2"}
# Alerts a server sends when it does not accept our certificate (or wanted one and got none).
_CERT_ALERTS = {
    AlertDescription.bad_certificate, AlertDescription.unsupported_certificate,
    AlertDescription.certificate_revoked, AlertDescription.certificate_expired,
    AlertDescription.certificate_unknown, AlertDescription.unknown_ca, AlertDescription.access_denied,
    AlertDescription.certificate_required,
}


# --- public values --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionInfo:
    """What one TLS connection negotiated, for the UI, the CLI and the logs (no secret in it)."""

    host: str
    port: int
    tls_version: str  # "TLSv1.3" / "TLSv1.2"
    cipher: str  # IETF name, e.g. "TLS_AES_128_GCM_SHA256"
    signature_scheme: str | None  # our CertificateVerify scheme; None when resumed or no client cert
    resumed: bool
    client_cert_subject: str | None
    server_cert_subject: str
    server_cert_issuer: str
    server_cert_not_after: _dt.datetime
    alpn: str | None = None
    key_exchange: str | None = None  # "x25519", "secp256r1", ...
    cipher_implementation: str | None = None  # "cryptography" when the fast record layer is in use
    note: str | None = None  # e.g. why TLS 1.2 was used

    def summary(self) -> str:
        """One line, e.g. 'TLSv1.3, TLS_AES_128_GCM_SHA256, rsa_pss_rsae_sha256'."""
        parts = [self.tls_version, self.cipher]
        if self.signature_scheme:
            parts.append(self.signature_scheme)
        if self.resumed:
            parts.append("resumed")
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "host": self.host, "port": self.port, "tls_version": self.tls_version, "cipher": self.cipher,
            "signature_scheme": self.signature_scheme, "resumed": self.resumed,
            "client_cert_subject": self.client_cert_subject, "server_cert_subject": self.server_cert_subject,
            "server_cert_issuer": self.server_cert_issuer,
            "server_cert_not_after": self.server_cert_not_after.isoformat(), "alpn": self.alpn,
            "key_exchange": self.key_exchange, "cipher_implementation": self.cipher_implementation,
            "note": self.note,
        }


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


class _CurveInfo:
    """The one python-ecdsa attribute tlslite reads from EC keys: `.curve.baselen`."""

    def __init__(self, bits: int) -> None:
        self.curve = self
        self.baselen = (bits + 7) // 8


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


# The one global change to tlslite: the Certificate messages it parses use _FastX509 (tlslite-ng
# 0.8.2 looks the class up in tlslite.messages at parse time; nothing else in the process uses
# tlslite). Covered by test_tls.py::test_certificates_are_parsed_by_cryptography.
tlslite_messages.X509 = _FastX509


def _parse_x509(der: bytes) -> X509:
    cert = _FastX509()
    cert.parseBinary(bytearray(der))
    return cert


# --- key classes: tlslite asks, the Signer signs ---------------------------------------------------

_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha1": hashes.SHA1(), "sha224": hashes.SHA224(), "sha256": hashes.SHA256(),  # noqa: S303
    "sha384": hashes.SHA384(), "sha512": hashes.SHA512(),
}
_BY_DIGEST_LEN = {20: "sha1", 28: "sha224", 32: "sha256", 48: "sha384", 64: "sha512"}
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
        sig = self._identity.signer.sign_digest(raw, scheme)
        self._identity._count()
        self.used_scheme = scheme
        return bytearray(sig)

    def verify(self, sigBytes: bytearray, data: bytearray, padding: Any = None,
               hashAlg: str | None = None, saltLen: Any = None) -> bool:
        return _verify_ec(self._public, bytes(sigBytes), bytes(data))

    def acceptsPassword(self) -> bool:
        return False


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


# --- fast primitives: AEADs and ECDHE by cryptography ---------------------------------------------


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


class _FlightSocket(BufferedSocket):  # type: ignore[misc]
    """Holds our handshake messages until we wait for an answer, so each flight is one TCP write.

    tlslite writes Certificate and CertificateVerify separately: a server that refuses the
    certificate closes before the rest arrives, and the next write fails (EPIPE) before we could
    read its alert. One write per flight lets the alert arrive where we read.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.hold = True
        self._buffer_writes = False
        super().__init__(sock)

    @property
    def buffer_writes(self) -> bool:
        return self._buffer_writes or self.hold

    @buffer_writes.setter
    def buffer_writes(self, value: bool) -> None:
        self._buffer_writes = value

    def recv(self, bufsize: int) -> bytearray:
        if self._write_queue:
            self.flush()
        return super().recv(bufsize)  # type: ignore[no-any-return]

    def release(self) -> None:
        """End of the handshake: write through from now on."""
        self.hold = False
        self.flush()


class _Connection(TLSConnection):  # type: ignore[misc]
    """tlslite client connection with our record layer, key exchange, scheme choice and server check."""

    def __init__(self, sock: socket.socket, verify: Callable[[list[bytes]], ServerCertificate],
                 identity: TlsIdentity | None) -> None:
        super().__init__(sock)
        self.sock = _FlightSocket(sock)
        self._recordLayer = _FastRecordLayer(self.sock)
        self._otl_verify = verify
        self._otl_identity = identity
        self.otl_server: ServerCertificate | None = None
        self._otl_saved: tuple[Any, Any] | None = None
        self.otl_cert_request: Any = None

    def _getMsg(self, expectedType: Any, secondaryType: Any = None,
                constructorType: Any = None) -> Iterator[Any]:
        for result in super()._getMsg(expectedType, secondaryType, constructorType):
            if isinstance(result, CertificateRequest):
                self.otl_cert_request = result  # to explain a failed scheme negotiation
            yield result

    def no_common_scheme(self) -> str | None:
        """Why client authentication cannot work: the server accepts none of our schemes (or None)."""
        request, identity = self.otl_cert_request, self._otl_identity
        if request is None or identity is None:
            return None
        version = self.version if self.version in ((3, 3), (3, 4)) else (3, 4)
        ours = identity._tls_schemes(version)
        theirs = list(request.supported_signature_algs or [])
        if set(map(tuple, theirs)) & set(map(tuple, ours)):
            return None
        names = [TlsScheme.toRepr(tuple(t)) or str(tuple(t)) for t in theirs]
        return (f"the server accepts only {', '.join(names) or 'no'} signatures, and the key on "
                f"{identity.signer.description} can make {', '.join(s.value for s in identity.schemes)}")

    def _shutdown(self, resumable: bool) -> None:
        # Keep the read keys: a failed write may have a fatal alert waiting behind it (late_alert).
        self._otl_saved = (self._recordLayer._readState, self._recordLayer.version)
        super()._shutdown(resumable)

    def late_alert(self) -> int | None:
        """The description of an alert already received after a failed write (None if there is none)."""
        if self._otl_saved is None:
            return None
        self._recordLayer._readState, self._recordLayer.version = self._otl_saved
        try:
            self.sock.socket.settimeout(0.2)
            for _ in range(8):  # skip tickets or other records queued before the alert
                result: Any = None
                for result in self._recordLayer.recvRecord():
                    if result in (0, 1):
                        return None
                header, parser = result
                if header.type == ContentType.alert:
                    parser.get(1)
                    return int(parser.get(1))
        except (OSError, TLSError, AssertionError, ValueError):
            return None
        return None

    @staticmethod
    def _getKEX(group: int, version: tuple[int, int]) -> Any:
        if group == GroupName.x25519 or group in _CryptographyECDH._CURVES:
            return _CryptographyECDH(group, version)
        return TLSConnection._getKEX(group, version)

    def _sigHashesToList(self, settings: Any, privateKey: Any = None, certList: Any = None,
                         version: tuple[int, int] = (3, 3)) -> list[Any]:
        # Offer only the schemes the Signer can make (for our CertificateVerify); the ClientHello's
        # list for the server's signature is tlslite's own.
        if isinstance(privateKey, _SignerRSAKey | _SignerECKey) and self._otl_identity is not None:
            return self._otl_identity._tls_schemes(version)
        out: list[Any] = TLSConnection._sigHashesToList(settings, privateKey, certList, version)
        return out

    def _clientGetKeyFromChain(self, certificate: Any, settings: Any,
                               tack_ext: Any = None) -> Iterator[Any]:
        # The server's chain and host name are checked here, as soon as its Certificate arrives:
        # before our Certificate is sent and before the card is asked to sign.
        ders = [bytes(c.bytes) for c in certificate.cert_chain.x509List] if certificate.cert_chain else []
        try:
            facts = self._otl_verify(ders)
        except ServerNotTrusted:
            alert = Alert().create(AlertDescription.bad_certificate, AlertLevel.fatal)
            try:
                yield from self._sendMsg(alert)
            finally:
                self._shutdown(False)
            raise
        self.otl_server = facts
        for result in super()._clientGetKeyFromChain(certificate, settings, tack_ext):
            if result in (0, 1):
                yield result
            else:
                public_key, chain, tack = result
                crypto_pub = x509.load_der_x509_certificate(ders[0]).public_key()
                yield _ServerKey(public_key, crypto_pub), chain, tack
                return


def _settings(identity: TlsIdentity | None) -> HandshakeSettings:
    s = HandshakeSettings()
    s.minVersion = (3, 3)
    s.maxVersion = identity.max_version if identity else (3, 4)
    s.versions = [v for v in ((3, 4), (3, 3)) if v <= s.maxVersion]
    s.cipherNames = ["aes128gcm", "aes256gcm", "chacha20-poly1305"]  # AEADs only
    s.macNames = ["aead"]
    s.keyExchangeNames = ["ecdhe_ecdsa", "ecdhe_rsa"]  # forward secrecy only
    s.eccCurves = ["x25519", "secp256r1", "secp384r1"]
    s.keyShares = ["x25519"]  # one share (tlslite's default computes two)
    s.dhGroups = []
    s.more_sig_schemes = []
    s.rsaSigHashes = ["sha256", "sha384", "sha512"]
    s.ecdsaSigHashes = ["sha256", "sha384", "sha512"]
    s.psk_modes = ["psk_dhe_ke"]  # resumption keeps forward secrecy
    s.use_heartbeat_extension = False
    s.usePaddingExtension = False  # a work-around for old F5 boxes; 0.3 ms of Python per handshake
    # tlslite-ng 0.8.2 sends CompressedCertificate wrongly in TLS 1.3 client auth (OpenSSL 3 aborts
    # with "bad certificate"); never compress ours. Covered by an openssl s_server interop test.
    s.certificate_compression_send = []
    return s.validate()


# --- ticket store ---------------------------------------------------------------------------------


@dataclass
class _Resumable:
    session: Any  # tlslite Session: its `tickets` list fills in as NewSessionTicket messages arrive
    server: ServerCertificate
    tls13: bool
    client_cert_sent: bool  # the resumed connection carries the identity of the full one
    anchors: Any = None  # TrustConfig.anchors_key() the server was verified under


class TicketStore:
    """Per-login, in-memory resumption state (TLS 1.3 tickets, TLS 1.2 sessions) by (host, port)."""

    def __init__(self, per_host: int = 4) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, int], list[_Resumable]] = {}
        self._used: set[int] = set()
        self._per_host = per_host

    def add(self, key: tuple[str, int], session: Any, server: ServerCertificate, tls13: bool,
            client_cert_sent: bool, anchors: Any = None) -> None:
        with self._lock:
            entries = self._entries.setdefault(key, [])
            entries.append(_Resumable(session, server, tls13, client_cert_sent, anchors))
            del entries[:-self._per_host]

    def take(self, key: tuple[str, int], anchors: Any = None) -> tuple[Any, _Resumable] | None:
        """A session to offer: an unused fresh ticket if there is one, else the newest one.

        Only entries verified under the same trust anchors are offered: a resumed connection skips
        the server's certificate, so a trust change must force a full (verified) handshake.
        """
        now = time.time()
        with self._lock:
            fallback = None
            for entry in reversed(self._entries.get(key, [])):
                if entry.anchors != anchors:
                    continue
                if not entry.tls13:
                    if entry.session.valid():
                        return entry.session, entry
                    continue
                tickets = [t for t in list(entry.session.tickets or [])
                           if t.time + t.ticket_lifetime > now and t.time + 7 * 86400 > now]
                for t in reversed(tickets):
                    if id(t) not in self._used:
                        self._used.add(id(t))
                        return self._offer(entry, t), entry
                    if fallback is None:
                        fallback = (entry, t)
            if fallback is not None:
                return self._offer(*fallback), fallback[0]
        return None

    @staticmethod
    def _offer(entry: _Resumable, ticket: Any) -> Any:
        clone = entry.session._clone()
        clone.tickets = [ticket]
        clone.resumable = True  # tlslite clears it on any read error; a TLS 1.3 ticket stays good
        return clone

    def ticket_count(self) -> int:
        """Unexpired TLS 1.3 tickets held (for tests and diagnostics)."""
        now = time.time()
        with self._lock:
            return sum(1 for es in self._entries.values() for e in es if e.tls13
                       for t in (e.session.tickets or []) if t.time + t.ticket_lifetime > now)

    def clear(self) -> None:
        """Forget everything (logout, session end)."""
        with self._lock:
            self._entries.clear()
            self._used.clear()


# --- the ssl look-alikes urllib3 talks to ---------------------------------------------------------


class TlsSocketError(ssl.SSLError):
    """An ssl.SSLError carrying our typed error (`.error`) through urllib3 and requests."""

    def __init__(self, error: SessionError | TokenError) -> None:
        super().__init__(str(error))
        self.error = error


def _alert_error(alert: TLSRemoteAlert | int, host: str, identity: TlsIdentity | None) -> TlsError:
    description = alert if isinstance(alert, int) else alert.description
    name = AlertDescription.toStr(description)
    subject = identity.subject if identity else None
    if description in _CERT_ALERTS:
        if identity is None or description == AlertDescription.certificate_required:
            msg = f"The server {host} requires a client certificate"
            msg += "." if identity is None else f" and did not accept {subject} ({name})."
        else:
            msg = f"The server {host} refused the client certificate {subject} ({name})."
        return ClientCertRejected(msg, host=host, alert=name, certificate_subject=subject)
    return TlsHandshakeError(f"The server {host} ended the TLS connection ({name}).", host=host)


class TlsSocket:
    """What urllib3/http.client need from an ssl.SSLSocket, over a tlslite connection."""

    def __init__(self, conn: _Connection, sock: socket.socket, info: ConnectionInfo,
                 identity: TlsIdentity | None, server_der: bytes | None) -> None:
        self._conn = conn
        self._sock = sock
        self.connection_info = info
        self._identity = identity
        self._server_der = server_der
        self._io_refs = 0
        self._closed = False
        self._received = False

    def _closed_right_after_handshake(self) -> TlsSocketError | None:
        """The error for a TLS 1.3 server that dropped us before sending anything.

        In TLS 1.3 the server checks our certificate after our last handshake message; when it
        refuses it, its alert often loses the race with the TCP reset (the kernel drops queued
        data on RST), so a connection closed before any byte came back means exactly that.
        """
        info = self.connection_info
        if self._received or info.resumed or info.tls_version != "TLSv1.3":
            return None
        subject = self._identity.subject if self._identity else None
        if subject:
            msg = (f"The server {info.host} closed the connection right after the handshake: it most "
                   f"likely refused the client certificate {subject}.")
        else:
            msg = (f"The server {info.host} closed the connection right after the handshake: it most "
                   f"likely requires a client certificate.")
        return TlsSocketError(ClientCertRejected(msg, host=info.host, alert="connection closed",
                                                 certificate_subject=subject))

    # reading / writing
    def _next_app_record(self) -> bytes | None:
        """Fast path for TLS 1.3 application data: one record read and decrypted here.

        tlslite's generic record pipeline costs tens of microseconds of Python per record; for bulk
        data we parse the header, decrypt with the connection's own read state and bump its sequence
        number. Anything else (tickets, key updates, alerts, EOF, a bad record) is pushed back untouched
        for tlslite to handle, with the sequence number unchanged. Returns None in that case.
        """
        conn = self._conn
        layer = conn._recordLayer
        state = layer._readState
        if not isinstance(state.encContext, _CryptographyAead) or not layer._is_tls13_plus():
            return None
        buffered: bytearray = conn.sock._read_buffer
        raw = conn.sock.socket
        while len(buffered) < 5:
            chunk = raw.recv(65536)
            if not chunk:
                return None
            buffered += chunk
        length = int.from_bytes(buffered[3:5], "big")
        if buffered[0] != ContentType.application_data or length > 2**14 + 256:
            return None
        while len(buffered) < 5 + length:
            chunk = raw.recv(max(65536, 5 + length - len(buffered)))
            if not chunk:
                return None
            buffered += chunk
        header = bytes(buffered[:5])
        seq = state.seqnum.to_bytes(12, "big")
        nonce = bytes(a ^ b for a, b in zip(state.fixedNonce, seq, strict=True))
        try:
            plain = state.encContext._aead.decrypt(nonce, bytes(buffered[5:5 + length]), header)
        except InvalidTag:
            return None  # tlslite will fail the same way and send the right alert
        end = len(plain.rstrip(b"\x00"))
        if end == 0 or plain[end - 1] != ContentType.application_data:
            return None
        del buffered[:5 + length]
        state.seqnum += 1
        return plain[:end - 1]

    def recv(self, bufsize: int = 16384, flags: int = 0) -> bytes:
        conn = self._conn
        if conn._readBuffer:
            data = bytes(conn._readBuffer[:bufsize])
            conn._readBuffer = conn._readBuffer[bufsize:]
            return data
        if not conn.closed:
            fast = self._next_app_record()
            if fast:
                self._received = True
                if len(fast) > bufsize:
                    conn._readBuffer = fast[bufsize:]
                    fast = fast[:bufsize]
                return fast
        try:
            data = bytes(self._conn.read(max=bufsize, min=1))
        except TLSRemoteAlert as e:
            if e.description == AlertDescription.close_notify:
                return b""
            raise TlsSocketError(_alert_error(e, self.connection_info.host, self._identity)) from e
        except (TLSAbruptCloseError, ConnectionResetError) as e:
            early = self._closed_right_after_handshake()
            if early is not None:
                raise early from e
            return b""  # a ragged EOF, as ssl's suppress_ragged_eofs=True
        except TLSError as e:
            raise TlsSocketError(TlsHandshakeError(
                f"TLS error with {self.connection_info.host}: {e}", host=self.connection_info.host)) from e
        self._received = True
        return data

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        view = memoryview(buffer).cast("B")
        data = self.recv(nbytes or len(view))
        view[:len(data)] = data
        return len(data)

    def send(self, data: Any, flags: int = 0) -> int:
        self.sendall(data)
        return len(data)

    def sendall(self, data: Any, flags: int = 0) -> None:
        try:
            self._conn.write(bytearray(data))
        except TLSRemoteAlert as e:
            raise TlsSocketError(_alert_error(e, self.connection_info.host, self._identity)) from e
        except (TLSAbruptCloseError, TLSError, OSError) as e:
            description = self._conn.late_alert()
            if description is not None:
                raise TlsSocketError(_alert_error(description, self.connection_info.host,
                                                  self._identity)) from e
            early = self._closed_right_after_handshake()
            if early is not None:
                raise early from e
            if isinstance(e, OSError):
                raise
            raise OSError(errno.EPIPE, f"TLS connection closed: {e}") from e

    def pending(self) -> int:
        return len(self._conn._readBuffer)

    # socket plumbing
    def fileno(self) -> int:
        return self._sock.fileno()

    def settimeout(self, timeout: float | None) -> None:
        self._sock.settimeout(timeout)

    def gettimeout(self) -> float | None:
        return self._sock.gettimeout()

    def setblocking(self, flag: bool) -> None:
        self._sock.setblocking(flag)

    def setsockopt(self, *args: Any) -> None:
        self._sock.setsockopt(*args)

    def getpeername(self) -> Any:
        return self._sock.getpeername()

    def getsockname(self) -> Any:
        return self._sock.getsockname()

    def shutdown(self, how: int) -> None:
        self._sock.shutdown(how)

    def _decref_socketios(self) -> None:
        if self._io_refs > 0:
            self._io_refs -= 1
        if self._closed:
            self.close()

    def close(self) -> None:
        self._closed = True
        if self._io_refs <= 0:
            # Like ssl.SSLSocket.close(): no close_notify exchange (tlslite's close() would block on it).
            self._conn.closed = True
            self._sock.close()

    makefile = socket.socket.makefile

    # TLS facts
    def getpeercert(self, binary_form: bool = False) -> Any:
        if binary_form:
            return self._server_der
        info = self.connection_info
        return {"subject": ((("commonName", info.server_cert_subject),),), "subjectAltName": (),
                "notAfter": info.server_cert_not_after.strftime("%b %d %H:%M:%S %Y GMT")}

    def selected_alpn_protocol(self) -> str | None:
        return self.connection_info.alpn

    def version(self) -> str:
        return self.connection_info.tls_version

    def cipher(self) -> tuple[str, str, int]:
        return (self.connection_info.cipher, self.connection_info.tls_version,
                128 if "128" in self.connection_info.cipher else 256)

    def cipher_implementation(self) -> str | None:
        """'cryptography' when the accelerated AEAD does the record layer."""
        return self._conn.getCipherImplementation()  # type: ignore[no-any-return]


class TlsContext:
    """The ssl.SSLContext look-alike mounted in urllib3: every connection goes through `wrap_socket`.

    Verification is not configurable here: verify_mode always reads CERT_REQUIRED and check_hostname
    True (urllib3 writes them; the writes are ignored), CA locations come only from the TrustConfig.
    """

    hostname_checks_common_name = False

    def __init__(self, identity: TlsIdentity | None, trust: TrustConfig, tickets: TicketStore) -> None:
        self.identity = identity
        self.trust = trust
        self.tickets = tickets
        self._settings = _settings(identity)
        self._lock = threading.Lock()
        self.last_info: ConnectionInfo | None = None
        self.handshakes = 0

    @property
    def verify_mode(self) -> ssl.VerifyMode:
        return ssl.CERT_REQUIRED

    @verify_mode.setter
    def verify_mode(self, value: Any) -> None:
        pass  # requests' `verify` switch ends up here: server verification cannot be turned off

    @property
    def check_hostname(self) -> bool:
        return True

    @check_hostname.setter
    def check_hostname(self, value: Any) -> None:
        pass

    def load_verify_locations(self, *args: Any, **kwargs: Any) -> None:
        pass  # trust anchors come from the TrustConfig

    def load_default_certs(self, *args: Any, **kwargs: Any) -> None:
        pass

    def set_default_verify_paths(self) -> None:
        pass

    def load_cert_chain(self, *args: Any, **kwargs: Any) -> None:
        raise ssl.SSLError("client certificates come from the session's signer, not from files")

    def set_ciphers(self, ciphers: str) -> None:
        pass

    def set_alpn_protocols(self, protocols: list[str]) -> None:
        pass  # we always offer http/1.1 only

    def wrap_socket(self, sock: socket.socket, server_side: bool = False,
                    do_handshake_on_connect: bool = True,
                    suppress_ragged_eofs: bool = True, server_hostname: str | None = None) -> TlsSocket:
        """Run the handshake on a connected socket; raise TlsSocketError (an ssl.SSLError) on failure."""
        try:
            peer = sock.getpeername()
        except OSError as e:
            raise TlsSocketError(EndpointUnreachable(f"Not connected: {e}")) from e
        host = (server_hostname or peer[0]).strip("[]")
        port = int(peer[1])
        try:
            return self._handshake(sock, host, port)
        except TlsSocketError:
            raise
        except (SessionError, TokenError) as e:
            sock.close()
            raise TlsSocketError(e) from e

    def _handshake(self, sock: socket.socket, host: str, port: int) -> TlsSocket:
        identity = self.identity
        trust = self.trust

        def verify(ders: list[bytes]) -> ServerCertificate:
            return verify_server(ders, host, trust)[0]

        conn = _Connection(sock, verify, identity)
        conn.closeSocket = False  # we close it ourselves, after looking for a late alert
        key = identity._key() if identity else None
        anchors = trust.anchors_key()
        resumable = self.tickets.take((host, port), anchors)
        sni = None if _is_ip(host) else host
        try:
            conn.handshakeClientCert(
                identity._chain if identity else None, key,
                session=resumable[0] if resumable else None,
                settings=self._settings, serverName=sni, alpn=[bytearray(ALPN.encode())])
        except (SessionError, TokenError):
            raise
        except TLSRemoteAlert as e:
            raise _alert_error(e, host, identity) from e
        except TimeoutError as e:
            raise ConnectionTimeout(f"The server {host} did not complete the TLS handshake in time.",
                                    host=host) from e
        except TLSAbruptCloseError as e:
            if identity is None:
                raise TlsHandshakeError(f"The server {host} closed the connection during the TLS handshake"
                                        " (it may require a client certificate).", host=host) from e
            raise TlsHandshakeError(f"The server {host} closed the connection during the TLS handshake.",
                                    host=host) from e
        except (TLSLocalAlert, TLSAlert, TLSError, ValueError, TypeError) as e:
            why = conn.no_common_scheme()
            if why:
                raise TlsHandshakeError(f"Cannot authenticate to {host}: {why}.", host=host) from e
            raise TlsHandshakeError(f"The TLS handshake with {host} failed: {e}", host=host) from e
        except OSError as e:
            # A server that refused our certificate may have sent its alert and closed while we
            # were still writing: the alert is waiting in our receive buffer.
            description = conn.late_alert()
            if description is not None:
                raise _alert_error(description, host, identity) from e
            raise EndpointUnreachable(f"The connection to {host} failed during the TLS handshake: "
                                      f"{e.strerror or e}", host=host) from e
        finally:
            if conn.closed:
                sock.close()

        conn.sock.release()
        scheme = key.used_scheme.value if key is not None and key.used_scheme else None
        if conn.resumed:
            assert resumable is not None
            server, cert_sent = resumable[1].server, resumable[1].client_cert_sent
        elif conn.otl_server is not None:
            server, cert_sent = conn.otl_server, scheme is not None
        else:  # unreachable by construction; never hand out an unverified connection
            sock.close()
            raise ServerNotTrusted(f"The server {host} was not verified.", host=host, reason="not verified")
        session = conn.session
        tls13 = conn.version > (3, 3)
        self.tickets.add((host, port), session, server, tls13, cert_sent, anchors)
        info = ConnectionInfo(
            host=host, port=port, tls_version=_VERSIONS.get(conn.version, str(conn.version)),
            cipher=CipherSuite.ietfNames.get(session.cipherSuite, str(session.cipherSuite)),
            signature_scheme=scheme, resumed=bool(conn.resumed),
            client_cert_subject=identity.subject if identity and cert_sent else None,
            server_cert_subject=server.subject, server_cert_issuer=server.issuer,
            server_cert_not_after=server.not_after,
            alpn=session.appProto.decode() if session.appProto else None,
            key_exchange=GroupName.toStr(conn.ecdhCurve) if conn.ecdhCurve else None,
            cipher_implementation=conn.getCipherImplementation(),
            note=identity.note if identity else None,
        )
        with self._lock:
            self.last_info = info
            self.handshakes += 1
        server_der = None
        if session.serverCertChain is not None and session.serverCertChain.x509List:
            server_der = bytes(session.serverCertChain.x509List[0].bytes)
        return TlsSocket(conn, sock, info, identity, server_der)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


# --- requests integration -------------------------------------------------------------------------


class MtlsAdapter(HTTPAdapter):
    """An HTTPAdapter whose HTTPS connections use TlsContext (pooled, keep-alive, http/1.1)."""

    def __init__(self, context: TlsContext, pool_maxsize: int = 4) -> None:
        self.tls_context = context
        super().__init__(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=0)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False,
                         **pool_kwargs: Any) -> None:
        pool_kwargs["ssl_context"] = self.tls_context
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        proxy_kwargs["ssl_context"] = self.tls_context
        return super().proxy_manager_for(proxy, **proxy_kwargs)

    def build_connection_pool_key_attributes(self, request: Any, verify: Any,
                                             cert: Any = None) -> Any:
        if cert:
            raise ValueError("client certificates come from the session's signer")
        host_params, _ = super().build_connection_pool_key_attributes(request, True, None)
        return host_params, {"cert_reqs": "CERT_REQUIRED"}

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        if cert:
            raise ValueError("client certificates come from the session's signer")
        conn.cert_reqs = "CERT_REQUIRED"  # requests' `verify` is ignored on purpose
        conn.ca_certs = None
        conn.ca_cert_dir = None


def _find_typed(exc: BaseException) -> SessionError | TokenError | None:
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        e = todo.pop(0)
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, SessionError | TokenError):
            return e
        if isinstance(e, TlsSocketError):
            return e.error
        todo += [*e.args, getattr(e, "reason", None), e.__cause__, e.__context__]
    return None


class MtlsSession(requests.Session):
    """A requests.Session whose https:// traffic is mutual TLS through a Signer; errors come out typed.

    Raises ServerNotTrusted, ClientCertRejected, TlsHandshakeError, ConnectionTimeout,
    EndpointUnreachable (app.session.errors) or the signer's TokenError (e.g. TokenRemoved).
    """

    def __init__(self, signer: Signer | None, trust: TrustConfig | None = None,
                 timeout: float = 30.0) -> None:
        super().__init__()
        self.identity = TlsIdentity(signer) if signer is not None else None
        self.trust = trust or TrustConfig()
        self.trust.store()  # fail early (ConfigError) on an unreadable CA file
        self.timeout = timeout
        self.tickets = TicketStore()
        self.tls_context = TlsContext(self.identity, self.trust, self.tickets)
        self.mount("https://", MtlsAdapter(self.tls_context))
        # No REQUESTS_CA_BUNDLE and no .netrc (which would replace our Authorization headers); the
        # proxy variables (HTTPS_PROXY, NO_PROXY) are still honoured, in request().
        self.trust_env = False

    @property
    def connection_info(self) -> ConnectionInfo | None:
        """The last completed handshake (full or resumed) of this session."""
        return self.tls_context.last_info

    @property
    def signatures(self) -> int:
        """Signatures the card/file key made for this session's handshakes."""
        return self.identity.signatures if self.identity else 0

    @property
    def handshakes(self) -> int:
        """Completed TLS handshakes (full or resumed)."""
        return self.tls_context.handshakes

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        if kwargs.get("proxies") is None and not self.proxies:
            proxies = requests.utils.get_environ_proxies(url if isinstance(url, str) else url.decode())
            if proxies:
                kwargs["proxies"] = proxies
        return super().request(method, url, *args, **kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        kwargs["verify"] = True
        kwargs["cert"] = None
        try:
            return super().send(request, **kwargs)
        except (SessionError, TokenError):
            raise
        except (requests.RequestException, OSError) as e:
            raise _translate(e, request.url or "", kwargs["timeout"]) from e

    def drop_connections(self) -> None:
        """Close pooled connections (tickets are kept: the next connection resumes)."""
        for adapter in self.adapters.values():
            adapter.close()

    def close(self) -> None:
        """Drop pooled connections and forget every TLS ticket (logout)."""
        super().close()
        self.tickets.clear()


def _translate(e: BaseException, url: str, timeout: Any) -> SessionError | TokenError:
    typed = _find_typed(e)
    if typed is not None:
        return typed
    host = urlsplit(url).hostname or url
    if isinstance(e, requests.Timeout) or isinstance(_root(e), TimeoutError):
        return ConnectionTimeout(f"The server {host} did not answer within {timeout} s.", host=host)
    if isinstance(e, requests.exceptions.SSLError):
        return TlsHandshakeError(f"TLS error with {host}: {_root(e)}", host=host)
    if isinstance(e, requests.ConnectionError | OSError):
        parts = urlsplit(url)
        where = f"{host}:{parts.port}" if parts.port else host
        return EndpointUnreachable(f"Cannot reach {where}: {_os_reason(e) or _root(e)}", host=host)
    return TlsError(f"Request to {host} failed: {e}", host=host)


def _os_reason(e: BaseException) -> str | None:
    """The operating system's words ("Connection refused", "Name or service not known") under the
    urllib3/requests wrappers (which keep it in args, `reason` or the cause), if there are any."""
    seen: set[int] = set()
    todo: list[Any] = [e]
    while todo:
        cur = todo.pop(0)
        if not isinstance(cur, BaseException) or id(cur) in seen:
            continue
        seen.add(id(cur))
        if isinstance(cur, OSError) and isinstance(cur.strerror, str) and cur.strerror:
            return cur.strerror
        todo += [*cur.args, getattr(cur, "reason", None), cur.__cause__, cur.__context__]
    return None


def _root(e: BaseException) -> BaseException:
    seen = set()
    while id(e) not in seen:
        seen.add(id(e))
        nxt = getattr(e, "reason", None) or e.__cause__
        if not isinstance(nxt, BaseException):
            break
        e = nxt
    return e


def make_session(signer: Signer | None, trust: TrustConfig | None = None,
                 timeout: float = 30.0) -> MtlsSession:
    """A requests.Session doing mutual TLS with `signer` (None: no client certificate)."""
    return MtlsSession(signer, trust, timeout)


# Imported for tests: proves which AEAD class the record layer uses.
FAST_AEAD_CLASS = _CryptographyAead
