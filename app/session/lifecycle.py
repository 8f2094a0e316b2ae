"""The trusted session: login -> ACTIVE <-> GRACE(countdown) -> ENDED, bound to the card that holds the key.

`TrustedSession` is a Qt-free state machine. Its collaborators come through a `SessionBackend` (open the
certificate, open the mTLS transport, build API clients, watch the card) and a `Clock`, so that unit
tests drive it with small fakes and the product wires the real token, TLS and API layers
(`RealBackend`, backend.py). The values and Protocols it exchanges are in ports.py.

Threads: `login()` and `logout()` block and are called on a worker thread (never a UI thread). The
session owns three daemon threads: the card watch (polling), a timer (countdown ticks, deadline, key
expiry) and an event dispatcher that calls `on_event` with every `SessionEvent` in order. A receiver may
call `logout()` from inside `on_event`.
"""

from __future__ import annotations

import datetime as _dt
import enum
import logging
import queue
import secrets
import threading
from collections.abc import Callable
from typing import Any

from app.session import deferred
from app.session.backend import RealBackend
from app.session.deferred import CertificatePreviewer, DeferredCardSigner, with_pin_retries
from app.session.errors import (
    ApiError,
    AuthenticationFailed,
    AuthLocked,
    LoginCancelled,
    PasswordExpired,
    QuotaExceeded,
    SessionEnded,
    SessionError,
)
from app.session.helpers import (
    WatchedSigner,
    cancel_requests,
    card_removed_error,
    card_was_removed,
    duration_text,
    end_message,
    endpoint_url,
    parse_iso,
    pin_error_data,
    plain_text,
    read_account,
    session_info,
)
from app.session.model import (
    AuthMethod,
    Credentials,
    EndReason,
    EventKind,
    LoginRequest,
    Notice,
    SessionEvent,
    SessionInfo,
    SessionState,
)
from app.session.policy_gate import capped_grace
from app.session.ports import (
    AccessPolicy,
    ApiClient,
    Clock,
    Connection,
    OpenedCertificate,
    RevocationResult,
    SessionApi,
    SessionBackend,
    SessionSettings,
    SystemClock,
    TemporaryKey,
    Watch,
)
from app.session.renewal import KeyRenewal
from app.session.revocation import KeyRevocation
from app.tokens.errors import PinCancelled, PinIncorrect, PinLocked, TokenNotPresent
from app.tokens.pin import PinCallback
from app.tokens.signer import Signer
from app.tokens.watch import WatchEvent, WatchEventKind

__all__ = ["GRACE_DEFAULT", "GRACE_TRUSTED_ENV", "KEY_TAG_KEY", "LoginCancelled", "RevocationResult",
           "SessionSettings", "TrustedSession", "card_was_removed"]

log = logging.getLogger(__name__)

GRACE_TRUSTED_ENV = 3600.0  # RequireTrustedEnv true: a trusted session activated through the API
GRACE_DEFAULT = 300.0  # otherwise (Cockpit v2's 5 minutes)
KEY_TAG_KEY = "osc-trusted-login"  # tag put on every temporary key so that it is recognisable


class _Phase(enum.Enum):
    """Internal refinement of SessionState (ENDING is still shown as the state before it)."""

    NEW = 0
    LOGGING_IN = 1
    LIVE = 2
    ENDING = 3
    ENDED = 4


class TrustedSession(KeyRenewal, KeyRevocation):
    """One trusted session: log in once, then ACTIVE/GRACE until it ends. Not reusable after the end."""

    def __init__(
        self,
        request: LoginRequest,
        *,
        pin_callback: PinCallback,
        on_event: Callable[[SessionEvent], None],
        settings: SessionSettings | None = None,
        backend: SessionBackend | None = None,
        clock: Clock | None = None,
    ) -> None:
        if request.grace_override_seconds is not None and request.grace_override_seconds < 0:
            raise ValueError("the grace override must be zero or more seconds")
        self._request = request
        self._pin_callback = pin_callback
        self._on_event = on_event
        self._settings = settings or SessionSettings()
        self._backend: SessionBackend = backend if backend is not None else RealBackend()
        self._clock: Clock = clock or SystemClock()

        self._lock = threading.RLock()
        self._phase = _Phase.NEW
        self._state = SessionState.LOGGED_OUT
        self._reason: EndReason | None = None
        self._deadline: float | None = None
        self._card_present = True
        self._removed_during_login: str | None = None
        self._cancel = threading.Event()
        self._cancel_reason: EndReason | None = None
        self._ended = threading.Event()
        self._end_done = threading.Event()
        self._revocation: RevocationResult | None = None
        self._relogin_busy = False

        self._opened: OpenedCertificate | None = None
        self._deferred: DeferredCardSigner | None = None  # a card opened by the first handshake
        self._connection: Connection | None = None
        self._temp_credentials: Credentials | None = None
        self._plain_connection: Connection | None = None  # trusted env, GRACE: no client certificate
        self._plain_api: SessionApi | None = None
        self._api: SessionApi | None = None
        self._key: TemporaryKey | None = None
        # (client, tag) while CreateAccessKey is in flight: a lost answer may still have made a key
        self._key_in_flight: tuple[SessionApi, tuple[str, str]] | None = None
        self._key_expiry_wall: float | None = None
        self._info: SessionInfo | None = None
        self._watch: Watch | None = None

        self._events: queue.SimpleQueue[SessionEvent | None] = queue.SimpleQueue()
        self._dispatcher: threading.Thread | None = None
        self._timer: threading.Thread | None = None
        self._timer_wake = threading.Event()

    # -- public read-only view --------------------------------------------------------------------

    @property
    def state(self) -> SessionState:
        """The current state."""
        return self._state

    @property
    def end_reason(self) -> EndReason | None:
        """Why the session ended (None until ENDED)."""
        return self._reason

    @property
    def info(self) -> SessionInfo | None:
        """What the session window shows; None before login succeeded."""
        return self._info

    @property
    def card_present(self) -> bool:
        """Whether the session's card is in the reader (True for file certificates)."""
        return self._card_present

    @property
    def deadline_monotonic(self) -> float | None:
        """time.monotonic() value at which a GRACE session ends; None otherwise."""
        return self._deadline

    @property
    def revocation(self) -> RevocationResult | None:
        """What happened to the temporary key (None until the session ended)."""
        return self._revocation

    @property
    def client(self) -> ApiClient:
        """The API client signed with the temporary key (OutscaleClient in the product)."""
        with self._lock:
            api = self._api
            if api is None or self._phase in (_Phase.ENDING, _Phase.ENDED):
                raise SessionEnded("the session is not active")
            if (self._state is SessionState.GRACE and self._info is not None and self._info.trusted_env
                    and self._temp_credentials is not None):
                # A trusted session activated through the API: calls signed with the temporary key pass
                # without the certificate, so during the countdown new connections need no card (the
                # mTLS transport could only resume, and its tickets expire). Revocation still goes
                # over the mTLS transport: DeleteAccessKey always needs the certificate.
                if self._plain_api is None:
                    self._plain_connection = self._backend.connect(self._request, None)
                    self._plain_api = self._backend.api(self._plain_connection, self._request,
                                                        self._temp_credentials)
                api = self._plain_api
        return api.client

    def seconds_left(self) -> float | None:
        """Seconds until a GRACE session ends; None when no countdown runs."""
        d = self._deadline
        if d is None or self._state is not SessionState.GRACE:
            return None
        return max(0.0, d - self._clock.monotonic())

    def wait_ended(self, timeout: float | None = None) -> bool:
        """Block until the session has ended (its final event queued); True if it has."""
        return self._ended.wait(timeout)

    # -- login --------------------------------------------------------------------------------------

    def login(self) -> SessionInfo:
        """Log in (blocking, never on a UI thread); raises typed token/session errors, never retries."""
        with self._lock:
            if self._phase is not _Phase.NEW:
                raise SessionError("a session object logs in only once")
            self._phase = _Phase.LOGGING_IN
        self._start_dispatcher()
        self._set_state(SessionState.AUTHENTICATING)
        req = self._request
        warnings: list[Notice] = []
        try:
            self._connection = self._backend.connect(req, self._login_signer(req))
            self._check_login_continues()

            self._emit(EventKind.PROGRESS, message="Contacting the server...", data={"step": "server"})
            login_api = self._backend.api(self._connection, req, req.credentials)
            policy = deferred.through_first_handshake(login_api.read_policy, self._deferred)  # opens the card
            opened = self._opened
            self._check_login_continues()

            key, used_api = self._create_key(login_api, policy, warnings)
            self._check_login_continues()

            account = read_account(used_api, warnings)
            self._check_login_continues()

            grace = self._grace_for(policy)
            assert self._connection is not None
            self._info = session_info(req, endpoint_url(login_api, req), opened, key, policy, grace, account,
                                      warnings, self._backend.tls_summary(self._connection))
            if key is not None:
                # The long-lived secret is no longer needed: everything is signed with the temporary key.
                req.credentials.secret.wipe()
            if req.certificate is not None and req.certificate.file_password is not None:
                req.certificate.file_password.wipe()
        except BaseException as e:
            self._abort_login(e)
            raise

        late = self._go_live(key, warnings, grace, policy)
        if late is not None:
            self._abort_login(late)
            raise late
        self._start_timer()
        return self._info

    def _login_signer(self, req: LoginRequest) -> Signer | None:
        """The certificate's signer: a card the first handshake opens once the server proved itself, or
        one opened now (a file; a bare URI, whose card is found by opening it)."""
        if req.certificate is None:
            return None
        backend = self._backend
        preview = backend.preview_certificate(req) if isinstance(backend, CertificatePreviewer) else None
        if preview is not None:
            self._deferred = DeferredCardSigner(preview, lambda: self._open_certificate(req).signer)
            return WatchedSigner(self._deferred, self._poke_watch)
        return WatchedSigner(self._open_certificate(req).signer, self._poke_watch)

    def _open_certificate(self, req: LoginRequest) -> OpenedCertificate:
        """Open the chosen certificate (a wrong PIN is asked again in place) and watch its card."""
        self._emit(EventKind.PROGRESS, message="Opening the certificate...", data={"step": "card"})
        opened = with_pin_retries(lambda cb: self._backend.open_certificate(req, cb), self._pin_callback,
                                  self._check_login_continues, plain_text)
        self._opened = opened
        self._check_login_continues()
        if opened.card is not None:
            self._watch = self._backend.watch(opened, self._on_watch_event, self._settings)
            self._watch.start()
        self._emit(EventKind.PROGRESS, message="Checking the account...", data={"step": "account"})
        return opened

    def _go_live(self, key: TemporaryKey | None, warnings: list[Notice], grace: float,
                 policy: AccessPolicy) -> BaseException | None:
        """Become ACTIVE unless the login was cancelled meanwhile (then return why)."""
        assert self._info is not None
        with self._lock:
            # Decided under the lock so that a logout or a removal is ordered either before (the login
            # fails and cleans up) or after (the live session handles it) this point.
            try:
                self._check_login_continues()
            except BaseException as e:
                return e
            self._phase = _Phase.LIVE
            if key is not None:
                self._emit(EventKind.KEY_CREATED,
                           message=f"Temporary access key {key.access_key_id} created.",
                           data={"access_key_id": key.access_key_id,
                                 "expiration_date": key.expiration_date})
            for w in warnings:
                self._emit(EventKind.WARNING, message=w, data=w.event_data())
            self._set_state(SessionState.ACTIVE,
                            data={"grace_seconds": grace, "trusted_env": policy.require_trusted_env,
                                  "card": self._info.card_label})
        return None

    def _create_key(self, login_api: SessionApi, policy: AccessPolicy,
                    warnings: list[Notice]) -> tuple[TemporaryKey | None, SessionApi]:
        req = self._request
        lifetime = self._settings.key_lifetime_seconds
        if policy.max_key_seconds:
            lifetime = min(lifetime, policy.max_key_seconds)
        expires_at = _dt.datetime.fromtimestamp(self._clock.time() + lifetime, _dt.UTC).replace(microsecond=0)
        # A tag unique to this session: if the answer to CreateAccessKey is lost (network cut, Ctrl-C),
        # the key may exist without our knowing its id; the tag lets the clean-up find and delete it.
        tag = (KEY_TAG_KEY, f"{self._settings.key_tag_value}-{secrets.token_hex(6)}")
        self._key_in_flight = (login_api, tag)
        try:
            key = login_api.create_temporary_key(expires_at, tag)
        except (AuthenticationFailed, AuthLocked, PasswordExpired):
            self._key_in_flight = None
            raise  # a credentials problem is never "fallen back" from
        except ApiError as e:
            self._key_in_flight = None  # the API answered: no key was made
            why = ("the access key quota is full (at most 10 keys per user)" if isinstance(e, QuotaExceeded)
                   else f"the API refused it: {e}")
            if req.credentials.method is not AuthMethod.ACCESS_KEY:
                raise type(e)(f"No temporary access key could be created: {why}.", code=e.code, type=e.type,
                              details=e.details, request_id=e.request_id, http_status=e.http_status,
                              call=e.call) from e
            warnings.append(Notice(f"No temporary access key could be created ({why}); this session signs "
                                   "its calls with the access key you gave, which stays valid after the "
                                   "session.", "no_temporary_key", why, quota=isinstance(e, QuotaExceeded)))
            self._api = login_api
            return None, login_api
        self._key_in_flight = None
        self._key = key
        self._api = login_api  # until the key's own client exists, a failed login revokes through this one
        wall = parse_iso(key.expiration_date)
        self._key_expiry_wall = wall if wall is not None else self._clock.time() + lifetime
        temp = Credentials(AuthMethod.ACCESS_KEY, key.access_key_id, key.secret_key)
        self._temp_credentials = temp
        assert self._connection is not None
        api = self._backend.api(self._connection, req, temp)
        self._api = api
        return key, api

    def _grace_for(self, policy: AccessPolicy) -> float:
        grace = GRACE_TRUSTED_ENV if policy.require_trusted_env else GRACE_DEFAULT
        override = self._request.grace_override_seconds
        if override is not None and override < grace:
            grace = float(override)  # the override may only shorten the policy's grace
        return capped_grace(grace)  # the organisation's max_grace_seconds / end_on_removal shorten it too

    def _check_login_continues(self) -> None:
        if self._cancel.is_set():
            raise LoginCancelled("The login was cancelled.")
        if self._removed_during_login is not None:
            raise card_removed_error(self._removed_during_login)

    def _abort_login(self, error: BaseException) -> None:
        """Undo a failed login: revoke a key already created, close everything, end with LOGIN_FAILED."""
        with self._lock:
            if self._phase in (_Phase.ENDING, _Phase.ENDED):
                return
            self._phase = _Phase.ENDING
        if not isinstance(error, Exception):
            # Ctrl-C, SIGTERM or interpreter exit while logging in: the user stopped it, it did not fail
            asked = getattr(error, "reason", None)
            reason: EndReason | None = asked if isinstance(asked, EndReason) else EndReason.LOGOUT
            message = "The login was interrupted."
        elif isinstance(error, LoginCancelled):
            reason, message = self._cancel_reason, plain_text(error)
        else:
            reason, message = EndReason.LOGIN_FAILED, plain_text(error)
        # A second Ctrl-C during the revocation must not leave the session hanging in ENDING with its
        # secrets and card login still held: tear down and finish whatever happens.
        try:
            if self._key is not None and self._api is not None:
                self._revocation = self._revoke()
            elif self._key_in_flight is not None:
                self._revocation = self._revoke_lost_key()
        finally:
            try:
                self._teardown()
            finally:
                self._finish(reason or EndReason.LOGIN_FAILED, message)

    # -- logout / end -------------------------------------------------------------------------------

    def logout(self, reason: EndReason = EndReason.LOGOUT) -> RevocationResult:
        """End the session (revoke the key, close the transport, forget secrets); safe from any thread."""
        with self._lock:
            phase = self._phase
            if phase is _Phase.NEW:
                self._phase = _Phase.ENDED
                self._state = SessionState.ENDED
                self._reason = reason
                self._revocation = RevocationResult(None, False, message="never logged in")
                self._ended.set()
                self._end_done.set()
                return self._revocation
            if phase is _Phase.LOGGING_IN:
                # The login thread notices at its next step and cleans up; a PIN prompt in progress is
                # the UI's to close.
                self._cancel_reason = reason
                self._cancel.set()
                cancel_requests(self._connection)  # a request in flight stops now (clean-up ones run after)
                return RevocationResult(None, False, message="the login was cancelled")
        return self._end(reason)

    def _end(self, reason: EndReason, message: str | None = None) -> RevocationResult:
        with self._lock:
            if self._phase in (_Phase.ENDING, _Phase.ENDED):
                first = False
            else:
                self._phase = _Phase.ENDING
                first = True
        if not first:
            if threading.current_thread() is not self._dispatcher:
                self._end_done.wait(60.0)
            return self._revocation or RevocationResult(None, False, message="the session is ending")
        try:
            try:
                if self._watch is not None:
                    try:
                        self._watch.stop()
                    except Exception:  # never a reason to leave the key valid
                        log.exception("stopping the card watch failed")
                self._revocation = self._revoke()
            finally:
                self._teardown()
        finally:
            self._finish(reason, message)
        return self._revocation

    def _teardown(self) -> None:
        """Stop the watch, close the transport, release the card, forget every secret."""
        if self._watch is not None:
            try:
                self._watch.stop()
            except Exception:
                log.exception("stopping the card watch failed")
        for conn in (self._connection, self._plain_connection):
            if conn is None:
                continue
            try:
                conn.close()
            except Exception:
                log.exception("closing the transport failed")
        if self._opened is not None:
            try:
                self._backend.release_certificate(self._opened)
            except Exception:
                log.exception("releasing the card failed")
        if self._key is not None:
            self._key.secret_key.wipe()
        self._request.credentials.secret.wipe()
        if self._request.certificate is not None and self._request.certificate.file_password is not None:
            self._request.certificate.file_password.wipe()
        self._api = None
        self._plain_api = None

    def _finish(self, reason: EndReason, message: str | None) -> None:
        with self._lock:
            self._phase = _Phase.ENDED
            self._reason = reason
            self._deadline = None
        self._set_state(SessionState.ENDED, reason=reason, message=message or end_message(reason))
        self._events.put(None)  # stops the dispatcher after the final event
        self._timer_wake.set()
        self._end_done.set()
        self._ended.set()

    # -- card watch ---------------------------------------------------------------------------------

    def _poke_watch(self) -> None:
        w = self._watch
        if w is not None:
            w.poke()

    def _on_watch_event(self, event: WatchEvent) -> None:
        """Called on the watch thread."""
        with self._lock:
            phase = self._phase
            if phase in (_Phase.ENDING, _Phase.ENDED):
                return
            if phase is _Phase.LOGGING_IN:
                if event.kind is WatchEventKind.REMOVED:
                    self._card_present = False
                    self._removed_during_login = event.detail or "the card was removed"
                return
            if event.kind is WatchEventKind.REMOVED:
                self._card_present = False
                if self._state is SessionState.GRACE:
                    return
                grace = self._info.grace_seconds if self._info else GRACE_DEFAULT
                self._deadline = event.at_monotonic + grace
                self._set_state(SessionState.GRACE, kind=EventKind.CARD_REMOVED,
                                message=f"The card was removed: the session ends in {duration_text(grace)} "
                                        "unless it is inserted again.",
                                data={"detail": event.detail, "grace_seconds": grace})
                self._set_state(SessionState.GRACE)
                self._timer_wake.set()
                return
            if event.kind is WatchEventKind.OTHER_INSERTED:
                self._emit(EventKind.CARD_INSERTED, message="Another card was inserted; the session still "
                           "needs the card it was opened with.", data={"same_card": False})
                return
            # our card is back
            self._card_present = True
            self._emit(EventKind.CARD_INSERTED, message="The card is back.", data={"same_card": True})
            self._start_relogin()

    def retry_card_login(self) -> None:
        """Ask for the card's PIN again (the user asked to, after a cancelled or refused re-login)."""
        with self._lock:
            if not (self._phase is _Phase.LIVE and self._state is SessionState.GRACE and self._card_present):
                return
            self._start_relogin()

    def _check_relogin(self) -> None:
        if self._phase is not _Phase.LIVE or not self._card_present:
            raise TokenNotPresent("the session ended or the card left during the PIN prompt")

    def _start_relogin(self) -> None:
        with self._lock:
            if self._relogin_busy:
                return
            self._relogin_busy = True
        threading.Thread(target=self._relogin, name="session-relogin", daemon=True).start()

    def _relogin(self) -> None:
        """Log in to the re-inserted card (if needed), then return to ACTIVE. Never retries the PIN."""
        opened = self._opened
        try:
            if opened is None:
                return
            try:
                with_pin_retries(lambda cb: self._backend.card_login(opened, cb), self._pin_callback,
                                 self._check_relogin, plain_text)
            except PinCancelled:
                self._emit(EventKind.WARNING, message="The card's PIN was not given: the countdown goes on. "
                           "Remove and insert the card, or unlock it, to continue the session.",
                           data={"warning": "pin_not_given"})
                return
            except (PinIncorrect, PinLocked) as e:
                self._emit(EventKind.WARNING, message=f"{plain_text(e)} The countdown goes on.",
                           data={"warning": "pin_refused", **pin_error_data(e)})
                return
            except TokenNotPresent:
                return  # removed again during the prompt: the watch reports it
            except Exception as e:  # KeyNotFound (not the same certificate), a module error...
                log.warning("re-login to the card failed: %s", type(e).__name__)
                self._emit(EventKind.WARNING, message=f"The card could not be unlocked ({plain_text(e)}); "
                           "the countdown goes on.",
                           data={"warning": "unlock_failed", "detail": plain_text(e)})
                return
            with self._lock:
                if self._phase is not _Phase.LIVE or not self._card_present:
                    return
                if self._state is SessionState.GRACE:
                    self._deadline = None
                    self._set_state(SessionState.ACTIVE, message="The card is back: the countdown stopped.")
        finally:
            with self._lock:
                self._relogin_busy = False

    # -- timer --------------------------------------------------------------------------------------

    def _start_timer(self) -> None:
        self._timer = threading.Thread(target=self._run_timer, name="session-timer", daemon=True)
        self._timer.start()

    def _run_timer(self) -> None:
        while not self._ended.is_set():
            self._timer_wake.wait(self._settings.tick_seconds)
            self._timer_wake.clear()
            with self._lock:
                if self._phase is not _Phase.LIVE:
                    if self._phase is _Phase.ENDED:
                        return
                    continue
                state, deadline = self._state, self._deadline
            now = self._clock.monotonic()
            if state is SessionState.GRACE and deadline is not None:
                if now >= deadline:
                    self._end(EndReason.CARD_REMOVED,
                              "The card was not inserted again in time: the session ended.")
                    return
                self._emit(EventKind.TICK)
            expiry = self._key_expiry_wall
            if expiry is not None and self._clock.time() >= expiry:
                self._end(EndReason.KEY_EXPIRED, "The temporary access key expired: the session ended.")
                return

    # -- events -------------------------------------------------------------------------------------

    def _start_dispatcher(self) -> None:
        self._dispatcher = threading.Thread(target=self._dispatch, name="session-events", daemon=True)
        self._dispatcher.start()

    def _dispatch(self) -> None:
        while True:
            event = self._events.get()
            if event is None:
                return
            try:
                self._on_event(event)
            except Exception:  # a receiver's bug must not stop the session's events
                log.exception("session event receiver failed")

    def _set_state(self, state: SessionState, *, kind: EventKind = EventKind.STATE,
                   reason: EndReason | None = None, message: str | None = None,
                   data: dict[str, Any] | None = None) -> None:
        with self._lock:
            self._state = state
            self._emit(kind, reason=reason, message=message, data=data)

    def _emit(self, kind: EventKind, *, reason: EndReason | None = None, message: str | None = None,
              data: dict[str, Any] | None = None) -> None:
        with self._lock:
            state = self._state
            grace = state is SessionState.GRACE and self._deadline is not None
            deadline = self._deadline if grace else None
            left = max(0.0, self._deadline - self._clock.monotonic()) if grace and self._deadline else None
            if grace and left is None:
                left = 0.0
            extra = dict(data or {})
            if grace and left is not None:
                # the wall-clock end, for logs and the headless --json line (monotonic values mean
                # nothing outside this process)
                end = _dt.datetime.fromtimestamp(self._clock.time() + left, _dt.UTC)
                extra.setdefault("deadline", end.isoformat(timespec="seconds").replace("+00:00", "Z"))
            if kind is EventKind.STATE and state is SessionState.ENDED and self._revocation is not None:
                extra.setdefault("key_revoked", self._revocation.revoked)
            self._events.put(SessionEvent(kind=kind, state=state, at=self._clock.time(),
                                          deadline_monotonic=deadline, seconds_left=left, reason=reason,
                                          message=message, data=extra))


