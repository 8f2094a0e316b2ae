"""How the agent follows the session: its state, its current client, its kept-alive transport.

Each call asks the session for its client at that moment (`TrustedSession.client`): the temporary
key's client while ACTIVE; in GRACE whatever the session can still do (the mTLS transport's kept
connections and tickets, or the plain transport of a trusted-environment session); nothing once the
session ends. After a key renewal the next call takes the new client; a call signed with the old key
that the API refused (HTTP 401) while the key was being replaced is sent once more with the new one
(the API did not run it). The calls in flight are bounded by the transport's connection pool, so the
connections are reused (no new handshake, no card signature per call) rather than opened and dropped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from app.session.agent.server import ForwardAnswer, UpstreamRefused
from app.session.agent.wire import SESSION_ENDED, AgentError, session_paused, unreachable
from app.session.errors import ConnectionTimeout, EndpointUnreachable, SessionEnded, SessionError
from app.session.model import SessionState
from app.session.ports import ApiClient
from app.tokens.errors import TokenError
from app.tokens.secret import SecretWiped

log = logging.getLogger(__name__)

Forward = Callable[[str, bytes], tuple[int, bytes, str]]  # OutscaleClient.forward


class SessionView(Protocol):
    """What the agent reads of the session (TrustedSession in the product)."""

    @property
    def state(self) -> SessionState:
        """The session's state."""
        ...

    @property
    def client(self) -> ApiClient:
        """The API client of the moment; raises SessionEnded once it ended."""
        ...


class SessionUpstream:
    """An Upstream that forwards through the session's own client and transport."""

    def __init__(self, session: SessionView, *, slots: int = 4) -> None:
        self._session = session
        self._slots = threading.BoundedSemaphore(max(1, slots))  # <= the mTLS pool size (MtlsAdapter: 6)

    def _client(self) -> tuple[object, Forward]:
        if self._session.state in (SessionState.ENDED, SessionState.LOGGED_OUT):
            raise UpstreamRefused(SESSION_ENDED)
        try:
            client = self._session.client
        except SessionEnded as e:
            raise UpstreamRefused(SESSION_ENDED) from e
        forward: Forward | None = getattr(client, "forward", None)
        if forward is None:
            raise UpstreamRefused(unreachable("the session's API client cannot forward calls."))
        return client, forward

    def forward(self, call: str, body: bytes) -> ForwardAnswer:
        """Forward one call; UpstreamRefused (with the reason) when the session cannot make it."""
        client, fwd = self._client()
        try:
            answer = self._send(fwd, call, body)
        except SecretWiped:
            # the key was renewed between taking the client and signing: its secret is gone, nothing was
            # sent; the new key's client signs it (or the session ended: then that is the answer)
            again, fwd2 = self._client()
            if again is client:
                raise UpstreamRefused(SESSION_ENDED) from None
            return self._send(fwd2, call, body)
        if answer.status == 401:
            again, fwd2 = self._client()
            if again is not client:  # the key was renewed meanwhile: the API refused the old one
                answer = self._send(fwd2, call, body)
        return answer

    def _send(self, fwd: Forward, call: str, body: bytes) -> ForwardAnswer:
        with self._slots:
            try:
                status, content, ctype = fwd(call, body)
            except TokenError as e:
                raise UpstreamRefused(self._paused_or_ended(e)) from e
            except ConnectionTimeout as e:
                raise UpstreamRefused(unreachable(f"the API endpoint did not answer in time ({e}).",
                                                  timeout=True)) from e
            except EndpointUnreachable as e:
                raise UpstreamRefused(unreachable(f"the API endpoint could not be reached ({e}).")) from e
            except SessionError as e:
                raise UpstreamRefused(self._paused_or_ended(e)) from e
        return ForwardAnswer(status, content, ctype)

    def _paused_or_ended(self, e: Exception) -> AgentError:
        state = self._session.state
        if state is SessionState.ENDED:
            return SESSION_ENDED
        if state is SessionState.GRACE:
            return session_paused("the card is out and this call needs it (a new connection to the API): "
                                  "the session is in its countdown; insert the card to go on.")
        log.info("agent: forwarding failed: %s", type(e).__name__)
        return unreachable(f"the call could not be sent over the session's connection ({type(e).__name__}: "
                           f"{e}).")
