"""The `ssl.SSLSocket` look-alike urllib3 reads and writes through, and the alert-to-error mapping."""

from __future__ import annotations

import errno
import socket
import ssl
from typing import Any

from cryptography.exceptions import InvalidTag
from tlslite.constants import AlertDescription, ContentType
from tlslite.errors import (
    TLSAbruptCloseError,
    TLSError,
    TLSRemoteAlert,
)

from app.session.errors import (
    ClientCertRejected,
    SessionError,
    TlsError,
    TlsHandshakeError,
)
from app.session.tls.connection import ConnectionInfo, _Connection
from app.session.tls.keys import TlsIdentity
from app.session.tls.speedups import _CryptographyAead
from app.tokens.errors import TokenError

# Alerts a server sends when it does not accept our certificate (or wanted one and got none).
_CERT_ALERTS = {
    AlertDescription.bad_certificate, AlertDescription.unsupported_certificate,
    AlertDescription.certificate_revoked, AlertDescription.certificate_expired,
    AlertDescription.certificate_unknown, AlertDescription.unknown_ca, AlertDescription.access_denied,
    AlertDescription.certificate_required,
}


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
        if (not isinstance(state.encContext, _CryptographyAead) or not layer._is_tls13_plus()
                or len(state.fixedNonce) != 12):
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
        nonce = (int.from_bytes(state.fixedNonce, "big") ^ state.seqnum).to_bytes(12, "big")
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
            host = self.connection_info.host
            # tlslite itself refuses a CertificateRequest we never offered to answer (its words name it)
            refused = conn.otl_refused or ("post-handshake authentication"
                                           if "certificate_request" in str(e) else None)
            if refused:
                raise TlsSocketError(TlsHandshakeError(
                    f"The server {host} asked the card to sign again on the same connection ({refused}); "
                    "refused: the card signs once per connection.", host=host)) from e
            raise TlsSocketError(TlsHandshakeError(f"TLS error with {host}: {e}", host=host)) from e
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

    def _send_app_records(self, data: bytes) -> bool:
        """Fast path for TLS 1.3 application data: sealed here and sent in one write.

        tlslite's write path (generators, Message objects, bytearray copies) costs about twice the
        encryption itself per record. Only when nothing else is in flight (no queued handshake bytes,
        an AEAD from cryptography, TLS 1.3, no padding callback); otherwise tlslite does it.
        """
        conn = self._conn
        layer = conn._recordLayer
        state = layer._writeState
        if (conn.closed or not data or not isinstance(state.encContext, _CryptographyAead)
                or not layer._is_tls13_plus() or len(state.fixedNonce) != 12 or layer.padding_cb is not None
                or conn.sock._write_queue):
            return False
        size = conn.recordSize
        aead = state.encContext._aead
        tag = state.encContext.tagLength
        fixed = int.from_bytes(state.fixedNonce, "big")
        out = []
        for start in range(0, len(data), size):
            inner = data[start:start + size] + b"\x17"  # the real content type, inside the encryption
            n = len(inner) + tag
            header = bytes((ContentType.application_data, 3, 3, n >> 8, n & 0xFF))
            nonce = (fixed ^ state.seqnum).to_bytes(12, "big")
            out.append(header + aead.encrypt(nonce, inner, header))
            state.seqnum += 1
        try:
            conn.sock.socket.sendall(b"".join(out))
        except BaseException:
            # the sequence numbers moved on and part of a record may be out: this connection is done, as
            # tlslite's own writer does on a socket error (closed, its session not resumable)
            conn._shutdown(False)
            raise
        return True

    def buffered(self) -> bool:
        """Whether bytes beyond what was read wait in the TLS layer (decrypted, or records not yet read)."""
        return bool(self._conn._readBuffer) or bool(self._conn.sock._read_buffer)

    def sendall(self, data: Any, flags: int = 0) -> None:
        try:
            if self._send_app_records(bytes(data)):
                return
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
