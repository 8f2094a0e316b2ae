"""Opening API clients for the set-up: with the chosen certificate (mutual TLS) or without any.

Every proof and verification opens a *new* connection (a new TLS session, no ticket): a connection
or ticket from before the change could carry the answer of the old rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from app.session.api import OutscaleClient
from app.session.model import AuthMethod, Credentials
from app.session.regions import Endpoint
from app.tokens.signer import Signer


class Opened(Protocol):
    """An API client and the connection under it."""

    @property
    def client(self) -> OutscaleClient:
        """The client, signed with the operator's credentials."""
        ...

    def close(self) -> None:
        """Close the connection."""
        ...


class Connector(Protocol):
    """Opens a new connection to the account's API, with or without the certificate."""

    def open(self, *, certificate: bool) -> Opened:
        """A client over a new TLS connection (mutual TLS with the chosen certificate when asked)."""
        ...


@dataclass
class _Opened:
    client: OutscaleClient
    session: object

    def close(self) -> None:
        close = getattr(self.session, "close", None)
        if callable(close):
            close()


class MtlsConnector:
    """The product's connector: app.session.tls sessions, the signer of the chosen certificate."""

    def __init__(self, signer: Signer, endpoint: Endpoint, credentials: Credentials, *,
                 ca_file: str | None = None, timeout: float = 30.0) -> None:
        self._signer, self._endpoint, self._credentials = signer, endpoint, credentials
        self._ca_file, self._timeout = ca_file, timeout

    @property
    def signer(self) -> Signer:
        """The chosen certificate's signer."""
        return self._signer

    def open(self, *, certificate: bool) -> Opened:
        """A client over a new TLS connection (mutual TLS with the chosen certificate when asked)."""
        from app.session.policy_gate import trust_for
        from app.session.tls import make_session

        trust = trust_for(self._ca_file)  # the managed policy's CA file too
        session = make_session(self._signer if certificate else None, trust, timeout=self._timeout)
        base = OutscaleClient(session, self._endpoint, timeout=self._timeout)
        c = self._credentials
        if c.method is AuthMethod.PASSWORD:
            return _Opened(base.with_password(c.identity, c.secret), session)
        return _Opened(base.with_access_key(c.identity, c.secret), session)
