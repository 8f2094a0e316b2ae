"""TLS resumption state kept per login, in memory: TLS 1.3 tickets and TLS 1.2 sessions by (host, port)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from app.session.tls.trust import ServerCertificate


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
