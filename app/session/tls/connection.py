"""The tlslite client connection: our record layer, key exchange, scheme choice and early server check.

Also `ConnectionInfo` (what a connection negotiated) and the handshake settings we offer.
"""

from __future__ import annotations

import datetime as _dt
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from tlslite.bufferedsocket import BufferedSocket
from tlslite.constants import AlertDescription, AlertLevel, ContentType, GroupName
from tlslite.constants import SignatureScheme as TlsScheme
from tlslite.errors import TLSError
from tlslite.handshakesettings import HandshakeSettings
from tlslite.messages import Alert, CertificateRequest
from tlslite.tlsconnection import TLSConnection

from app.session.errors import ServerNotTrusted
from app.session.tls.keys import TlsIdentity, _SignerECKey, _SignerRSAKey
from app.session.tls.speedups import _CryptographyECDH, _FastRecordLayer
from app.session.tls.trust import ServerCertificate
from app.session.tls.verify import _ServerKey


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
        self.otl_refused: str | None = None  # a request to sign again that we refused

    def _getMsg(self, expectedType: Any, secondaryType: Any = None,
                constructorType: Any = None) -> Iterator[Any]:
        for result in super()._getMsg(expectedType, secondaryType, constructorType):
            if isinstance(result, CertificateRequest):
                self.otl_cert_request = result  # to explain a failed scheme negotiation
            yield result

    def _clientSendClientHello(self, settings: Any, session: Any, srpUsername: Any, srpParams: Any,
                               certParams: Any, anonParams: Any, serverName: Any, nextProtos: Any,
                               reqTack: Any, alpn: Any) -> Iterator[Any]:
        # tlslite offers TLS 1.3 post-handshake authentication whenever it has a client key (it looks
        # at certParams[1] for that only): hide the key there, so the server may ask for the card's
        # signature in the handshake and never again on the same connection (issue 18, class 6).
        if certParams and certParams[1] is not None:
            certParams = (certParams[0], None)
        yield from super()._clientSendClientHello(settings, session, srpUsername, srpParams, certParams,
                                                  anonParams, serverName, nextProtos, reqTack, alpn)

    def _handle_pha(self, cert_request: Any) -> Iterator[Any]:
        # A CertificateRequest after the handshake, which we never offered to answer: refuse it (RFC 8446
        # 4.6.2: unexpected_message); the card signs once per connection.
        self.otl_refused = "post-handshake authentication"
        yield from self._sendError(AlertDescription.unexpected_message,
                                   "post-handshake authentication was not offered")

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
