"""The `ssl.SSLContext` look-alike mounted in urllib3: `wrap_socket` runs a verified handshake."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
from typing import Any

from tlslite.constants import CipherSuite, GroupName
from tlslite.errors import (
    TLSAbruptCloseError,
    TLSAlert,
    TLSError,
    TLSLocalAlert,
    TLSRemoteAlert,
)

from app.session.errors import (
    ConnectionTimeout,
    EndpointUnreachable,
    ServerNotTrusted,
    SessionError,
    TlsHandshakeError,
)
from app.session.tls.connection import ConnectionInfo, _Connection, _settings
from app.session.tls.deadline import BoundedSocket
from app.session.tls.keys import TlsIdentity
from app.session.tls.speedups import install_speedups
from app.session.tls.tickets import TicketStore
from app.session.tls.tlssocket import TlsSocket, TlsSocketError, _alert_error
from app.session.tls.trust import ServerCertificate, TrustConfig, verify_server
from app.tokens.errors import TokenError

ALPN = "http/1.1"


_VERSIONS = {(3, 4): "TLSv1.3", (3, 3): "TLSv1.2"}


class TlsContext:
    """The ssl.SSLContext look-alike mounted in urllib3: every connection goes through `wrap_socket`.

    Verification is not configurable here: verify_mode always reads CERT_REQUIRED and check_hostname
    True (urllib3 writes them; the writes are ignored), CA locations come only from the TrustConfig.
    """

    hostname_checks_common_name = False

    def __init__(self, identity: TlsIdentity | None, trust: TrustConfig, tickets: TicketStore) -> None:
        install_speedups()  # the one global change to tlslite, made before any handshake
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
        # Every read and write from here on (handshake, request, answer) obeys the operation's deadline
        # and Cancel (deadline.py).
        bounded: Any = BoundedSocket(sock)
        try:
            return self._handshake(bounded, host, port)
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
