"""The check of a local request's OSC4-HMAC-SHA256 signature, with a bounded date skew and a replay cache.

The canonical request is app.session.signing's (the verifier side: any SignedHeaders list that covers
``host`` and ``x-osc-date``), compared in constant time. osc-sdk-python signs the host without its
port while strict SigV4 clients (osc-cli) sign the Host header as sent, so both forms are tried; both
are the agent's own loopback address (the server checks Host before this).

Replays: the valid signature of a call that changes something is remembered until its date leaves
the skew window; the same signature again is refused (a second CreateVms must not happen). SigV4 dates
have one-second resolution, so the same request sent twice within one second cannot be told from a
replay. Read calls (``Read*``) are therefore not remembered: tools repeat them within a second all the
time (a wait loop, osc-sdk-python scripts), and a replayed read changes nothing and tells nothing to
whoever could capture it on the loopback (they could read the answer too). docs/DECISIONS.md.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from app.session import signing
from app.session.agent.pair import LocalPair
from app.session.agent.wire import BASIC_REFUSED, AgentError, auth_refused

MAX_SKEW_SECONDS = 120.0  # same machine: the tools' clock is ours; two minutes absorb a slow start
_MAX_REMEMBERED = 200_000  # signatures kept at most (a burst beyond this refuses rather than forgets)


def is_repeatable(call: str) -> bool:
    """Whether `call` may arrive twice with the same signature (reads change nothing)."""
    return call.startswith("Read")


class Refused(Exception):
    """A request the agent refuses without forwarding; `error` is what it answers."""

    def __init__(self, error: AgentError) -> None:
        super().__init__(error.details)
        self.error = error


@dataclass(frozen=True)
class LocalRequest:
    """One request as the agent received it (header names lower-case)."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes


class RequestVerifier:
    """Checks requests against one local pair; thread-safe."""

    def __init__(self, pair: LocalPair, region: str, *, skew: float = MAX_SKEW_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        self._pair = pair
        self._region = region
        self._skew = skew
        self._clock = clock
        self._seen: dict[str, float] = {}  # signature -> wall time after which it can be forgotten
        self._prune_at = 4096
        self._keys = signing.SigningKeys(pair.secret_key)  # the local secret's derived key, kept for the day
        self._lock = threading.Lock()

    def check(self, req: LocalRequest, call: str) -> None:
        """Return when `req` is signed by the local pair, fresh and (unless a read) new; else Refused."""
        header = req.headers.get("authorization", "").strip()
        if not header:
            raise Refused(auth_refused("the request is not signed (no Authorization header)."))
        if header.split(" ", 1)[0].lower() == "basic":
            raise Refused(BASIC_REFUSED)
        parsed = signing.parse_osc4_authorization(header)
        signed = set(parsed.signed_headers.split(";")) if parsed else set()
        if parsed is None or parsed.service != signing.SERVICE or not {"host", "x-osc-date"} <= signed:
            raise Refused(auth_refused("the Authorization header is not an OSC4-HMAC-SHA256 signature."))
        if not hmac.compare_digest(parsed.access_key.encode(), self._pair.access_key.encode()):
            raise Refused(auth_refused("unknown access key (only this session's local key is accepted)."))
        when = self._date(req)
        if parsed.date_stamp != req.headers["x-osc-date"][:8] or parsed.region != self._region:
            raise Refused(auth_refused(f"the credential scope does not match (Region {self._region})."))
        if not self._signature_matches(req, parsed):
            raise Refused(auth_refused("the signature does not match (wrong secret key?)."))
        if not is_repeatable(call):
            self._remember(parsed.signature, when)

    def _date(self, req: LocalRequest) -> float:
        try:
            when = signing.parse_osc_date(req.headers.get("x-osc-date", "")).timestamp()
        except ValueError as e:
            raise Refused(auth_refused("X-Osc-Date is missing or malformed.")) from e
        if abs(when - self._clock()) > self._skew:
            raise Refused(auth_refused(f"X-Osc-Date is more than {self._skew:g} s away from this "
                                       "computer's clock."))
        return when

    def _signature_matches(self, req: LocalRequest, parsed: signing.Osc4Authorization) -> bool:
        host = req.headers.get("host", "")
        bare = host.rsplit(":", 1)[0]
        date_iso = req.headers["x-osc-date"]
        key = self._keys.key(date_iso[:8], parsed.region)
        scope = signing.credential_scope(date_iso[:8], parsed.region)
        # the port-less form first (osc-sdk-python, the most common tool); each comparison is constant-time
        for h in (bare, host) if bare != host else (host,):
            canonical = signing.canonical_request_from_headers(
                method=req.method, path=req.path, headers={**req.headers, "host": h},
                signed_headers=parsed.signed_headers, body=req.body, query=req.query)
            to_sign = signing.string_to_sign(date_iso, scope, canonical).encode("utf-8")
            expected = hmac.new(key, to_sign, hashlib.sha256).hexdigest()
            if hmac.compare_digest(parsed.signature, expected):
                return True
        return False

    def _remember(self, signature: str, when: float) -> None:
        now = self._clock()
        with self._lock:
            if signature in self._seen:
                raise Refused(auth_refused("this request was already received (a replay); "
                                           "sign it again to send it again."))
            if len(self._seen) >= self._prune_at:
                self._seen = {s: t for s, t in self._seen.items() if t > now}
                self._prune_at = max(4096, 2 * len(self._seen))
                if len(self._seen) >= _MAX_REMEMBERED:
                    raise Refused(auth_refused("too many requests within the date skew."))
            self._seen[signature] = when + self._skew + 1.0

    def forget_all(self) -> None:
        """Drop the replay cache and the derived key (the session ended: the pair is dead anyway)."""
        with self._lock:
            self._seen.clear()
            self._keys.forget()
