"""The PIN asked in place: the card opens only once the server has proved who it is, and a wrong PIN is
asked again in the same prompt.

TLS 1.3 sends the client's Certificate and CertificateVerify after the server's whole flight (its
chain, checked by app.session.tls.trust as soon as it arrives, its CertificateVerify and Finished).
A `DeferredCardSigner` knows the card's certificate and schemes without a PIN (public objects and the
mechanism list need no login) and opens the card at its first signature: so the PIN is asked inside
the first handshake, after the server is reached and verified, and the handshake goes on with the
client's flight. An unreachable, wrong or untrusted server costs no PIN, no extra round trip is made
and the card signs once.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar, runtime_checkable

from cryptography import x509

from app.session.model import LoginRequest
from app.tokens.errors import PinIncorrect
from app.tokens.pin import Pin, PinCallback, PinPurpose, PinRequest
from app.tokens.signer import KeyType, SignatureScheme, Signer, SignerBase

T = TypeVar("T")


@dataclass(frozen=True)
class CertificatePreview:
    """What the handshake needs before the card is opened (read without a PIN)."""

    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    key_type: KeyType
    key_size: int
    schemes: tuple[SignatureScheme, ...]
    description: str


@runtime_checkable
class CertificatePreviewer(Protocol):
    """A backend that can describe a card certificate before its PIN is given."""

    def preview_certificate(self, request: LoginRequest) -> CertificatePreview | None:
        """The chosen card certificate without logging in; None when the card must open first."""
        ...


class DeferredCardSigner(SignerBase):
    """A Signer that opens its card (asks the PIN) at its first signature, then signs with it."""

    def __init__(self, preview: CertificatePreview, opener: Callable[[], Signer]) -> None:
        super().__init__(preview.certificate, preview.chain, preview.key_type, preview.key_size,
                         preview.description)
        self._schemes = preview.schemes
        self._opener = opener
        self._lock = threading.Lock()
        self._inner: Signer | None = None

    @property
    def opened(self) -> bool:
        """Whether the card was opened (the PIN given)."""
        return self._inner is not None

    def open(self) -> Signer:
        """Open the card now if it is not yet (a server that never asked for the certificate)."""
        with self._lock:
            if self._inner is None:
                self._inner = self._opener()
            return self._inner

    def supported_schemes(self) -> tuple[SignatureScheme, ...]:
        """The schemes read from the card's mechanisms before the login."""
        return self._schemes

    def sign_digest(self, digest: bytes, scheme: SignatureScheme) -> bytes:
        """Open the card on the first call (the server has proved itself by now), then sign."""
        return self.open().sign_digest(digest, scheme)

    def __repr__(self) -> str:
        return f"DeferredCardSigner({self.description!r}, opened={self.opened})"


class PinRetry:
    """A PinCallback that shows the previous attempt's error on the next LOGIN/RELOGIN prompt only."""

    def __init__(self, inner: PinCallback) -> None:
        self._inner = inner
        self.last_error: str | None = None

    def __call__(self, request: PinRequest) -> Pin | None:
        """Ask through the UI's callback, with the last error added to a login prompt."""
        error, self.last_error = self.last_error, None
        if error is not None and request.purpose is not PinPurpose.SIGNATURE and not request.last_error:
            request = dataclasses.replace(request, last_error=error)
        if request.purpose is PinPurpose.SIGNATURE:
            return self._inner(request)  # a key's own PIN, asked at each signature: not re-asked here
        ask: PinCallback = getattr(self._inner, "ask_in_place", self._inner)  # the UI keeps its dialog open
        return ask(request)


def with_pin_retries(attempt: Callable[[PinCallback], T], callback: PinCallback,
                     check: Callable[[], None], describe: Callable[[BaseException], str]) -> T:
    """Run `attempt` (a card login) until it succeeds; a wrong PIN asks again with its error shown.

    The same PIN is never re-sent: each new try is one the user typed. Only a callback that says it
    asks a person each time (`asks_the_user = True`, the UI's dialog) is asked again: a PIN given once
    (a script, a test) would be sent again and again until the card locks. Any other error (cancel,
    lock, removal) ends the loop; `check` raises when the login was cancelled meanwhile.
    """
    if not getattr(callback, "asks_the_user", False):
        return attempt(callback)
    prompt = PinRetry(callback)
    settled: Callable[[], None] = getattr(callback, "pin_settled", lambda: None)
    try:
        while True:
            try:
                return attempt(prompt)
            except PinIncorrect as e:
                if e.tries_left == 0:
                    raise  # the card is locked now: a new prompt could not help
                check()
                prompt.last_error = describe(e)
    finally:
        settled()  # the card answered: the prompt kept open for its answer may close


def through_first_handshake(call: Callable[[], T], deferred: DeferredCardSigner | None) -> T:
    """The login's first call, whose handshake opens the card; once more if the server gave up meanwhile.

    While the PIN is typed the handshake waits, and a server may drop a handshake idle for long (the
    sandbox after 15 s). When the card was opened during this call and the connection then failed, the
    call is made again on a new connection: the card is logged in by now, so no PIN is asked (its key
    signs once more). A second failure is the answer. A server that asked for no certificate at all
    leaves the card to be opened afterwards.
    """
    from app.session.errors import RequestCancelled, ServerNotTrusted, SignatureBudgetSpent, TlsError

    opened_before = deferred is None or deferred.opened
    try:
        result = call()
    except TlsError as e:
        if opened_before or deferred is None or not deferred.opened:
            raise
        if isinstance(e, ServerNotTrusted | SignatureBudgetSpent | RequestCancelled):
            raise
        result = call()
    if deferred is not None:
        deferred.open()  # no certificate asked: the session is bound to the card all the same
    return result
