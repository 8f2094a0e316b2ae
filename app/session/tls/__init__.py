"""Mutual TLS for `requests` with a key that never leaves the card (the ONLY package importing tlslite-ng).

Python's `ssl` loads private keys from files only, so client authentication with a card key runs on
tlslite-ng (pure-Python TLS 1.2/1.3) with key classes whose signing calls a `Signer`. One file a concern:

- `keys`: the card key as a tlslite key (`TlsIdentity`, RSA/EC adapters calling the Signer);
- `verify`: the server's signatures checked by `cryptography`;
- `trust`: server chain + host name verified with `cryptography.x509.verification` as soon as the
  server's Certificate message arrives (before the card signs anything), required again after the
  handshake; resumption only uses tickets of verified connections;
- `speedups`: AEADs, ECDHE and certificate EC keys by `cryptography` instead of tlslite's pure Python
  (see docs/BENCHMARKS.md); `install_speedups()` is the one global change to tlslite, made where a
  context is built (importing this package changes nothing in tlslite);
- `connection`: the tlslite connection subclass, handshake settings, `ConnectionInfo`;
- `tickets`: TLS 1.3 tickets kept per login in memory (`TicketStore`);
- `tlssocket` / `context`: the `ssl.SSLSocket` / `ssl.SSLContext` look-alikes urllib3 talks to (the
  shape of urllib3's contrib/pyopenssl);
- `session`: the requests HTTPAdapter, `MtlsSession` and `make_session`.

Public API: `make_session(signer | None, TrustConfig(extra_ca_file=None), timeout=30.0) -> MtlsSession`
(a requests.Session: `.get/.post/...` raise app.session.errors types or the signer's TokenError;
`.connection_info` -> last ConnectionInfo; `.signatures` -> signatures made; `.drop_connections()`
keeps tickets; `.close()` drops connections and tickets). Errors: ServerNotTrusted, ClientCertRejected,
TlsHandshakeError, ConnectionTimeout, EndpointUnreachable.
"""

from __future__ import annotations

from app.session.tls.connection import ConnectionInfo
from app.session.tls.context import TlsContext
from app.session.tls.keys import TlsIdentity
from app.session.tls.session import MtlsAdapter, MtlsSession, make_session
from app.session.tls.speedups import install_speedups
from app.session.tls.tickets import TicketStore
from app.session.tls.tlssocket import TlsSocket, TlsSocketError
from app.session.tls.trust import ServerCertificate, TrustConfig

__all__ = [
    "ConnectionInfo",
    "MtlsAdapter",
    "MtlsSession",
    "ServerCertificate",
    "TicketStore",
    "TlsContext",
    "TlsIdentity",
    "TlsSocket",
    "TlsSocketError",
    "TrustConfig",
    "install_speedups",
    "make_session",
]
