"""TrustedSession state machine with fakes at its seams (backend, watch, clock).

The real token / TLS / API parts are exercised in tests/session and tests/e2e; here every transition and
every "removed during X" case is driven deterministically.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.session.errors import (
    ApiError,
    AuthenticationFailed,
    ConnectionTimeout,
    QuotaExceeded,
    SessionEnded,
    TlsHandshakeError,
    UserNotAllowed,
)
from app.session.lifecycle import (
    GRACE_DEFAULT,
    GRACE_TRUSTED_ENV,
    LoginCancelled,
    TrustedSession,
    card_was_removed,
)
from app.session.model import (
    AuthMethod,
    CertificateChoice,
    Credentials,
    EndReason,
    EventKind,
    LoginRequest,
    Secret,
    SessionEvent,
    SessionState,
)
from app.session.ports import AccessPolicy, AccountSummary, OpenedCertificate, SessionSettings, TemporaryKey
from app.tokens.errors import PinCancelled, PinIncorrect, TokenNotPresent, TokenRemoved
from app.tokens.pin import Pin, PinPurpose, PinRequest
from app.tokens.signer import SignatureScheme, SoftwareSigner
from app.tokens.watch import TokenIdentity, WatchEvent, WatchEventKind
from tests.rigs.events import SessionEvents

PASSWORD = "hunter2-password-value"
SECRET_KEY = "SK-super-secret-long-lived-value"
TEMP_SECRET = "temporary-secret-key-value"


# --- fakes ----------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.mono = 1000.0
        self.wall = 1_800_000_000.0
        self.lock = threading.Lock()

    def monotonic(self) -> float:
        with self.lock:
            return self.mono

    def time(self) -> float:
        with self.lock:
            return self.wall

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.mono += seconds
            self.wall += seconds


_KEY = ec.generate_private_key(ec.SECP256R1())


def _cert() -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "operator")])
    now = dt.datetime.now(dt.UTC)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(_KEY.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(_KEY, hashes.SHA256()))


CERT = _cert()
FPR = hashlib.sha256(CERT.public_bytes(serialization.Encoding.DER)).hexdigest()
IDENTITY = TokenIdentity("/fake/module.so", "SER1", FPR, label="Operator card")


class FakeServer:
    """The API's state: access keys, policy, and failures to inject."""

    def __init__(self) -> None:
        self.keys: dict[str, dict[str, Any]] = {}
        self.policy = AccessPolicy(require_trusted_env=False, max_key_seconds=None)
        self.create_error: Exception | None = None
        self.create_answer_lost: BaseException | None = None  # the key IS made, then this is raised
        self.find_error: Exception | None = None
        self.delete_error: Exception | None = None
        self.account_error: Exception | None = None
        self.calls: list[tuple[str, str]] = []  # (call, identity that signed it)
        self.during_call: dict[str, Callable[[], None]] = {}
        self.n = 0


class FakeApi:
    def __init__(self, server: FakeServer, creds: Credentials) -> None:
        self.server = server
        self.creds = creds
        self.client = self

    def _call(self, name: str) -> None:
        # the secret must still be usable while signing
        self.creds.secret.reveal()
        self.server.calls.append((name, self.creds.identity))
        hook = self.server.during_call.get(name)
        if hook is not None:
            hook()

    def read_policy(self) -> AccessPolicy:
        self._call("ReadApiAccessPolicy")
        return self.server.policy

    def create_temporary_key(self, expires_at: dt.datetime, tag: tuple[str, str]) -> TemporaryKey:
        self._call("CreateAccessKey")
        if self.server.create_error is not None:
            raise self.server.create_error
        self.server.n += 1
        ak = f"TEMPAK{self.server.n}"
        exp = expires_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        self.server.keys[ak] = {"expires": expires_at, "tag": tag}
        if self.server.create_answer_lost is not None:
            raise self.server.create_answer_lost
        return TemporaryKey(ak, Secret(TEMP_SECRET), exp)

    def find_keys(self, tag: tuple[str, str]) -> list[str]:
        self._call("ReadAccessKeys")
        if self.server.find_error is not None:
            raise self.server.find_error
        return [ak for ak, k in self.server.keys.items() if k["tag"] == tag]

    def delete_key(self, access_key_id: str) -> None:
        self._call("DeleteAccessKey")
        if self.server.delete_error is not None:
            raise self.server.delete_error
        del self.server.keys[access_key_id]

    def read_account(self) -> AccountSummary:
        self._call("ReadAccounts")
        if self.server.account_error is not None:
            raise self.server.account_error
        return AccountSummary("123456789012", "ops@example.com")

    def read_vms(self) -> list[str]:
        self._call("ReadVms")
        return ["i-1"]


class FakeConnection:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


class FakeWatch:
    def __init__(self, on_event: Callable[[WatchEvent], None]) -> None:
        self.on_event = on_event
        self.started = False
        self.stopped = False
        self.pokes = 0

    def start(self) -> None:
        self.started = True

    def poke(self) -> None:
        self.pokes += 1

    def stop(self, timeout: float = 5.0) -> None:
        self.stopped = True

    def fire(self, kind: WatchEventKind, at: float, other: str | None = None) -> None:
        self.on_event(WatchEvent(kind, IDENTITY, at, "test", other))


class FakeBackend:
    def __init__(self, server: FakeServer, *, card: bool = True) -> None:
        self.server = server
        self.card = card
        self.open_error: Exception | None = None
        self.connect_error: Exception | None = None
        self.relogin_error: Exception | None = None
        self.on_relogin: Callable[[], None] | None = None
        self.connection = FakeConnection()
        self.watch_obj: FakeWatch | None = None
        self.released = False
        self.opens = 0
        self.relogins = 0
        self.signer_seen: Any = None

    def open_certificate(self, request: LoginRequest, pin_callback: Any) -> OpenedCertificate:
        self.opens += 1
        if self.card:
            pin = pin_callback(PinRequest("Operator card", PinPurpose.LOGIN))
            if pin is None:
                raise PinCancelled("cancelled")
            pin.wipe()
        if self.open_error is not None:
            raise self.open_error
        signer = SoftwareSigner(_KEY, CERT, description="Operator card")
        return OpenedCertificate(signer, "CN=operator", FPR, IDENTITY if self.card else None,
                                 "Operator card" if self.card else None)

    def card_login(self, opened: OpenedCertificate, pin_callback: Any) -> None:
        self.relogins += 1
        pin = pin_callback(PinRequest("Operator card", PinPurpose.RELOGIN))
        if self.on_relogin is not None:
            self.on_relogin()
        if pin is None:
            raise PinCancelled("cancelled")
        if self.relogin_error is not None:
            raise self.relogin_error

    def release_certificate(self, opened: OpenedCertificate) -> None:
        self.released = True

    def connect(self, request: LoginRequest, signer: Any) -> FakeConnection:
        self.signer_seen = signer
        if self.connect_error is not None:
            raise self.connect_error
        return self.connection

    def tls_summary(self, connection: Any) -> str | None:
        return "TLS 1.3, TLS_AES_128_GCM_SHA256, ecdsa_secp256r1_sha256"

    def api(self, connection: Any, request: LoginRequest, credentials: Credentials) -> FakeApi:
        return FakeApi(self.server, credentials)

    def watch(self, opened: OpenedCertificate, on_event: Callable[[WatchEvent], None],
              settings: SessionSettings) -> FakeWatch:
        self.watch_obj = FakeWatch(on_event)
        return self.watch_obj


class Rig:
    def __init__(self, *, method: AuthMethod = AuthMethod.PASSWORD, card: bool = True,
                 override: float | None = None, pin: str | None = "975318") -> None:
        self.server = FakeServer()
        self.backend = FakeBackend(self.server, card=card)
        self.clock = FakeClock()
        self.events = SessionEvents()
        self.secret = Secret(PASSWORD if method is AuthMethod.PASSWORD else SECRET_KEY)
        self.file_password = None if card else Secret("p12-password")
        ident = "operator" if method is AuthMethod.PASSWORD else "LONGLIVEDAK"
        self.request = LoginRequest(
            credentials=Credentials(method, ident, self.secret), endpoint="https://api.test/api/v1",
            certificate=CertificateChoice("pkcs11:token=Operator%20card" if card else "/tmp/op.p12",
                                          file_password=self.file_password),
            grace_override_seconds=override)
        self.pin_requests: list[PinRequest] = []
        self.pin_answer = pin
        self.session = TrustedSession(self.request, pin_callback=self.pin, on_event=self.events,
                                      settings=SessionSettings(tick_seconds=0.01), backend=self.backend,
                                      clock=self.clock)

    def pin(self, req: PinRequest) -> Pin | None:
        self.pin_requests.append(req)
        return Pin(self.pin_answer) if self.pin_answer is not None else None

    @property
    def watch(self) -> FakeWatch:
        assert self.backend.watch_obj is not None
        return self.backend.watch_obj

    def remove(self) -> None:
        self.watch.fire(WatchEventKind.REMOVED, self.clock.monotonic())

    def insert(self, kind: WatchEventKind = WatchEventKind.INSERTED) -> None:
        other = "OTHER" if kind is WatchEventKind.OTHER_INSERTED else None
        self.watch.fire(kind, self.clock.monotonic(), other)


@pytest.fixture
def rig():
    r = Rig()
    yield r
    r.session.logout()


# --- login ---------------------------------------------------------------------------------------


def test_login_creates_a_temporary_key_and_wipes_the_password(rig: Rig) -> None:
    info = rig.session.login()
    assert rig.session.state is SessionState.ACTIVE
    assert info.temporary_key_id == "TEMPAK1" and info.temporary_key_id in rig.server.keys
    assert info.account_id == "123456789012"
    assert info.card_label == "Operator card"
    assert info.certificate_fingerprint == FPR
    assert info.grace_seconds == GRACE_DEFAULT and not info.trusted_env
    assert rig.secret.wiped
    # policy read and key created with the password; the account read with the temporary key
    assert rig.server.calls == [("ReadApiAccessPolicy", "operator"), ("CreateAccessKey", "operator"),
                                ("ReadAccounts", "TEMPAK1")]
    assert rig.server.keys["TEMPAK1"]["tag"][0] == "osc-trusted-login"
    assert rig.watch.started
    assert [r.purpose for r in rig.pin_requests] == [PinPurpose.LOGIN]
    rig.events.state(SessionState.ACTIVE)
    kinds = rig.events.kinds()
    assert kinds[0] == ("state", "authenticating")
    assert ("key_created", "authenticating") in kinds
    assert rig.session.client.read_vms() == ["i-1"]
    assert rig.server.calls[-1] == ("ReadVms", "TEMPAK1")


def test_the_transport_signs_through_a_watched_signer(rig: Rig) -> None:
    rig.session.login()
    signer = rig.backend.signer_seen
    digest = hashlib.sha256(b"x").digest()
    assert signer.sign_digest(digest, SignatureScheme.ECDSA_SECP256R1_SHA256)
    assert signer.certificate == CERT

    def gone(*a: Any) -> bytes:
        raise TokenRemoved("CKR_DEVICE_REMOVED")

    signer._inner.sign_digest = gone
    with pytest.raises(TokenRemoved):
        signer.sign_digest(digest, SignatureScheme.ECDSA_SECP256R1_SHA256)
    assert rig.watch.pokes == 1  # a failed signature wakes the watch at once


def test_key_expiry_is_capped_by_the_policy_maximum(rig: Rig) -> None:
    rig.server.policy = AccessPolicy(require_trusted_env=True, max_key_seconds=900)
    rig.session.login()
    expires = rig.server.keys["TEMPAK1"]["expires"]
    assert expires.timestamp() == pytest.approx(rig.clock.time() + 900, abs=1)


@pytest.mark.parametrize(("trusted", "override", "grace"), [
    (True, None, GRACE_TRUSTED_ENV),
    (False, None, GRACE_DEFAULT),
    (True, 30.0, 30.0),
    (False, 7200.0, GRACE_DEFAULT),  # an override never lengthens
    (False, 0.0, 0.0),
])
def test_grace_comes_from_the_policy_and_an_override_only_shortens(trusted: bool, override: float | None,
                                                                   grace: float) -> None:
    r = Rig(override=override)
    r.server.policy = AccessPolicy(require_trusted_env=trusted, max_key_seconds=None)
    try:
        assert r.session.login().grace_seconds == grace
        r.clock.advance(1)
        r.remove()
        ev = r.events.wait(lambda e: e.kind is EventKind.CARD_REMOVED)
        assert ev.deadline_monotonic == pytest.approx(r.clock.monotonic() + grace)
    finally:
        r.session.logout()


def test_a_negative_override_is_refused() -> None:
    with pytest.raises(ValueError):
        Rig(override=-1)


def test_file_certificate_has_no_watch_and_no_countdown() -> None:
    r = Rig(card=False)
    info = r.session.login()
    assert info.card_label is None
    assert r.backend.watch_obj is None
    assert r.pin_requests == []
    assert r.session.seconds_left() is None
    assert r.file_password is not None and r.file_password.wiped
    r.session.logout()


def test_login_twice_is_refused(rig: Rig) -> None:
    rig.session.login()
    with pytest.raises(Exception, match="only once"):
        rig.session.login()


# --- refused key / credentials -----------------------------------------------------------------


def test_quota_on_a_password_login_fails_plainly_and_leaves_nothing() -> None:
    r = Rig()
    r.server.create_error = QuotaExceeded("limit reached", code="10029")
    with pytest.raises(QuotaExceeded, match="quota is full"):
        r.session.login()
    assert r.session.state is SessionState.ENDED
    assert r.session.end_reason is EndReason.LOGIN_FAILED
    assert r.backend.connection.closed and r.backend.released
    assert r.secret.wiped
    ended = r.events.state(SessionState.ENDED)
    assert ended.reason is EndReason.LOGIN_FAILED and "quota" in (ended.message or "")


def test_refused_key_on_an_access_key_login_falls_back_with_a_warning() -> None:
    r = Rig(method=AuthMethod.ACCESS_KEY)
    r.server.create_error = UserNotAllowed("not allowed", code="7")
    info = r.session.login()
    assert info.temporary_key_id is None
    assert info.warnings and "access key you gave" in info.warnings[0]
    warn = r.events.wait(lambda e: e.kind is EventKind.WARNING)
    assert "refused" in (warn.message or "")
    assert warn.data["warning"] == "no_temporary_key" and warn.data["quota"] is False  # (a face words it)
    assert getattr(info.warnings[0], "code", None) == "no_temporary_key"
    assert not r.secret.wiped  # still signing with it
    assert r.session.client.read_vms() == ["i-1"]
    assert r.server.calls[-1] == ("ReadVms", "LONGLIVEDAK")
    result = r.session.logout()
    assert result.key_id is None and not result.revoked
    assert r.secret.wiped  # forgotten at the end
    assert r.server.calls[-1] == ("ReadVms", "LONGLIVEDAK")  # the given key is never deleted


def test_wrong_credentials_are_never_fallen_back_from() -> None:
    r = Rig(method=AuthMethod.ACCESS_KEY)
    r.server.create_error = AuthenticationFailed("bad signature", code="1")
    with pytest.raises(AuthenticationFailed):
        r.session.login()
    assert r.session.end_reason is EndReason.LOGIN_FAILED
    assert r.server.calls.count(("CreateAccessKey", "LONGLIVEDAK")) == 1


def test_a_wrong_pin_is_not_retried() -> None:
    r = Rig()
    r.backend.open_error = PinIncorrect("The PIN is incorrect.", tries_left=2)
    with pytest.raises(PinIncorrect):
        r.session.login()
    assert r.backend.opens == 1 and len(r.pin_requests) == 1
    assert r.session.state is SessionState.ENDED


def test_an_unreadable_account_is_a_warning_not_a_failure(rig: Rig) -> None:
    rig.server.account_error = UserNotAllowed("EIM user", code="7")
    info = rig.session.login()
    assert info.account_id is None and any("account" in w for w in info.warnings)


# --- removal and re-insertion -------------------------------------------------------------------


def test_removal_starts_the_countdown_and_the_deadline_ends_it(rig: Rig) -> None:
    rig.session.login()
    rig.remove()
    removed = rig.events.wait(lambda e: e.kind is EventKind.CARD_REMOVED)
    assert removed.state is SessionState.GRACE and removed.seconds_left == pytest.approx(GRACE_DEFAULT)
    rig.events.state(SessionState.GRACE)
    assert rig.session.state is SessionState.GRACE
    assert rig.session.seconds_left() == pytest.approx(GRACE_DEFAULT)
    assert rig.session.client.read_vms() == ["i-1"]  # still usable during the countdown
    rig.clock.advance(GRACE_DEFAULT - 1)
    rig.events.wait(lambda e: e.kind is EventKind.TICK and (e.seconds_left or 99) <= 1.0)
    assert rig.session.state is SessionState.GRACE
    rig.clock.advance(1.5)
    ended = rig.events.state(SessionState.ENDED)
    assert ended.reason is EndReason.CARD_REMOVED
    assert rig.server.keys == {}  # the temporary key is gone
    assert rig.backend.connection.closed and rig.backend.released and rig.watch.stopped
    assert rig.session.revocation is not None and rig.session.revocation.revoked
    kinds = [k for k, _ in rig.events.kinds()]
    assert kinds.index("key_revoked") < len(kinds) - 1 and kinds[-1] == "state"
    with pytest.raises(SessionEnded):
        rig.session.client  # noqa: B018


def test_same_card_back_logs_in_again_and_returns_to_active(rig: Rig) -> None:
    rig.session.login()
    rig.remove()
    rig.events.state(SessionState.GRACE)
    rig.clock.advance(100)
    rig.insert()
    rig.events.wait(lambda e: e.kind is EventKind.STATE and e.state is SessionState.ACTIVE
                    and e.message is not None)
    assert rig.session.state is SessionState.ACTIVE and rig.session.seconds_left() is None
    assert [r.purpose for r in rig.pin_requests] == [PinPurpose.LOGIN, PinPurpose.RELOGIN]
    inserted = rig.events.wait(lambda e: e.kind is EventKind.CARD_INSERTED)
    assert inserted.data["same_card"] is True
    # a second removal starts a full new countdown
    rig.clock.advance(1000)
    rig.remove()
    ev = rig.events.wait(lambda e: e.kind is EventKind.CARD_REMOVED and e.at > rig.clock.wall - 1)
    assert ev.seconds_left == pytest.approx(GRACE_DEFAULT)


def test_another_card_keeps_the_countdown(rig: Rig) -> None:
    rig.session.login()
    rig.remove()
    rig.events.state(SessionState.GRACE)
    rig.insert(WatchEventKind.OTHER_INSERTED)
    ev = rig.events.wait(lambda e: e.kind is EventKind.CARD_INSERTED)
    assert ev.data["same_card"] is False and ev.state is SessionState.GRACE
    assert rig.session.state is SessionState.GRACE and rig.backend.relogins == 0
    rig.clock.advance(GRACE_DEFAULT + 1)
    assert rig.events.state(SessionState.ENDED).reason is EndReason.CARD_REMOVED


def test_a_cancelled_relogin_keeps_the_countdown_until_the_user_retries(rig: Rig) -> None:
    rig.session.login()
    rig.remove()
    rig.events.state(SessionState.GRACE)
    rig.pin_answer = None
    rig.insert()
    warn = rig.events.wait(lambda e: e.kind is EventKind.WARNING)
    assert warn.data["warning"] == "pin_not_given"
    assert rig.session.state is SessionState.GRACE
    rig.pin_answer = "975318"
    rig.session.retry_card_login()
    rig.events.wait(lambda e: e.kind is EventKind.STATE and e.state is SessionState.ACTIVE
                    and e.message is not None)
    assert rig.backend.relogins == 2


def test_a_wrong_relogin_pin_is_reported_with_tries_left(rig: Rig) -> None:
    rig.session.login()
    rig.remove()
    rig.events.state(SessionState.GRACE)
    rig.backend.relogin_error = PinIncorrect("The PIN is incorrect.", tries_left=1, final_try=True)
    rig.insert()
    w = rig.events.wait(lambda e: e.kind is EventKind.WARNING)
    assert w.data["tries_left"] == 1 and w.data["final_try"] is True and "deadline" in w.data
    assert w.data["warning"] == "pin_refused"
    assert rig.session.state is SessionState.GRACE and rig.backend.relogins == 1


def test_removal_again_during_the_relogin_prompt_stays_in_grace(rig: Rig) -> None:
    rig.session.login()
    rig.remove()
    rig.events.state(SessionState.GRACE)

    def pulled() -> None:
        rig.remove()
        rig.backend.relogin_error = TokenRemoved("gone during the prompt")

    rig.backend.on_relogin = pulled
    rig.insert()
    rig.events.wait(lambda e: e.kind is EventKind.CARD_REMOVED and e is not rig.events.items[0]
                    and sum(x.kind is EventKind.CARD_REMOVED for x in rig.events.items) >= 1)
    with rig.events.cond:
        rig.events.cond.wait_for(lambda: not rig.session._relogin_busy, 5.0)
    assert rig.session.state is SessionState.GRACE


def test_a_second_removal_report_does_not_restart_the_countdown(rig: Rig) -> None:
    rig.session.login()
    rig.remove()
    first = rig.events.wait(lambda e: e.kind is EventKind.CARD_REMOVED)
    rig.clock.advance(10)
    rig.remove()
    assert rig.session.deadline_monotonic == first.deadline_monotonic


# --- removal during login -----------------------------------------------------------------------


def test_removal_during_the_pin_prompt_fails_the_login_cleanly() -> None:
    r = Rig()
    r.backend.open_error = TokenRemoved("card removed during C_Login")
    with pytest.raises(TokenRemoved):
        r.session.login()
    ended = r.events.state(SessionState.ENDED)
    assert ended.reason is EndReason.LOGIN_FAILED and "removed" in (ended.message or "")
    assert r.server.keys == {} and r.server.calls == []


def test_removal_during_the_handshake_fails_the_login_cleanly() -> None:
    r = Rig()
    try:
        raise TokenRemoved("CKR_DEVICE_ERROR during C_Sign")
    except TokenRemoved as cause:
        err = TlsHandshakeError("the handshake failed")
        err.__cause__ = cause
    r.backend.connect_error = err
    with pytest.raises(TlsHandshakeError) as info:
        r.session.login()
    assert card_was_removed(info.value)
    assert r.session.end_reason is EndReason.LOGIN_FAILED
    assert r.backend.watch_obj is not None and r.backend.watch_obj.stopped
    assert r.backend.released and r.server.keys == {}


def test_removal_during_a_login_api_call_revokes_the_key_already_made() -> None:
    r = Rig()
    r.server.during_call["ReadAccounts"] = r.remove
    with pytest.raises(TokenNotPresent):
        r.session.login()
    assert r.server.keys == {}  # the key created a moment before is deleted
    assert ("DeleteAccessKey", "TEMPAK1") in r.server.calls
    assert r.session.end_reason is EndReason.LOGIN_FAILED and r.session.state is SessionState.ENDED
    assert r.secret.wiped


def test_logout_during_the_pin_prompt_cancels_the_login() -> None:
    r = Rig()
    in_prompt = threading.Event()
    release = threading.Event()

    def slow_pin(req: PinRequest) -> Pin | None:
        in_prompt.set()
        release.wait(5)
        return Pin("1234")

    r.session._pin_callback = slow_pin
    errors: list[BaseException] = []

    def run() -> None:
        try:
            r.session.login()
        except BaseException as e:
            errors.append(e)

    t = threading.Thread(target=run)
    t.start()
    assert in_prompt.wait(5)
    res = r.session.logout(EndReason.QUIT)
    assert not res.revoked
    release.set()
    t.join(5)
    assert errors and isinstance(errors[0], LoginCancelled)
    ended = r.events.state(SessionState.ENDED)
    assert ended.reason is EndReason.QUIT
    assert r.server.calls == []


# --- logout ---------------------------------------------------------------------------------------


def test_logout_revokes_the_key_and_forgets_secrets(rig: Rig) -> None:
    rig.session.login()
    result = rig.session.logout()
    assert result.revoked and result.key_id == "TEMPAK1"
    assert rig.server.keys == {}
    assert ("DeleteAccessKey", "TEMPAK1") in rig.server.calls  # signed with the temporary key itself
    ended = rig.events.state(SessionState.ENDED)
    assert ended.reason is EndReason.LOGOUT and ended.data["key_revoked"] is True
    assert rig.session._key is not None and rig.session._key.secret_key.wiped
    assert rig.backend.connection.closed and rig.backend.released and rig.watch.stopped
    assert rig.session.logout() == result  # idempotent


def test_a_revocation_error_is_reported_not_swallowed(rig: Rig) -> None:
    rig.session.login()
    rig.server.delete_error = ApiError("internal error", code="2000")
    result = rig.session.logout(EndReason.QUIT)
    assert not result.revoked and result.expires
    failed = rig.events.wait(lambda e: e.kind is EventKind.KEY_REVOKE_FAILED)
    assert result.expires in (failed.message or "") and failed.data["access_key_id"] == "TEMPAK1"
    ended = rig.events.state(SessionState.ENDED)
    assert ended.reason is EndReason.QUIT and ended.data["key_revoked"] is False


def test_removal_during_logout_still_ends_in_the_right_state(rig: Rig) -> None:
    rig.session.login()

    def removed_mid_call() -> None:
        rig.remove()  # the watch reports it while DeleteAccessKey is in flight
        try:
            raise TokenRemoved("gone")
        except TokenRemoved as e:
            raise TlsHandshakeError("handshake failed") from e

    rig.server.during_call["DeleteAccessKey"] = removed_mid_call
    result = rig.session.logout()
    assert not result.revoked
    ended = rig.events.state(SessionState.ENDED)
    assert ended.reason is EndReason.LOGOUT
    assert not any(e.state is SessionState.GRACE for e in rig.events.items)


def test_concurrent_logouts_revoke_once(rig: Rig) -> None:
    rig.session.login()
    results = []
    threads = [threading.Thread(target=lambda: results.append(rig.session.logout())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert rig.server.calls.count(("DeleteAccessKey", "TEMPAK1")) == 1
    assert len(results) == 4 and all(r.key_id == "TEMPAK1" for r in results)


def test_logout_from_inside_the_event_receiver(rig: Rig) -> None:
    rig.events.hook = lambda e: rig.session.logout() if e.kind is EventKind.CARD_REMOVED else None
    rig.session.login()
    rig.remove()
    assert rig.events.state(SessionState.ENDED).reason is EndReason.LOGOUT
    assert rig.server.keys == {}


def test_a_failing_event_receiver_does_not_break_the_session(rig: Rig) -> None:
    calls: list[SessionEvent] = []

    def bad(e: SessionEvent) -> None:
        calls.append(e)
        rig.events(e)
        raise RuntimeError("receiver bug")

    rig.session._on_event = bad
    rig.session.login()
    rig.session.logout()
    rig.events.state(SessionState.ENDED)


def test_the_temporary_key_expiring_ends_the_session(rig: Rig) -> None:
    rig.server.policy = AccessPolicy(require_trusted_env=False, max_key_seconds=600)
    rig.session.login()
    rig.clock.advance(601)
    assert rig.events.state(SessionState.ENDED).reason is EndReason.KEY_EXPIRED


def test_logout_before_login(rig: Rig) -> None:
    res = rig.session.logout()
    assert rig.session.state is SessionState.ENDED and not res.revoked
    assert rig.session.wait_ended(0)


def test_no_event_carries_a_secret(rig: Rig) -> None:
    rig.session.login()
    rig.remove()
    rig.insert()
    rig.events.wait(lambda e: e.kind is EventKind.STATE and e.state is SessionState.ACTIVE
                    and e.message is not None)
    rig.session.logout()
    rig.events.state(SessionState.ENDED)
    dump = json.dumps([e.to_json() for e in rig.events.items]) + repr(rig.events.items)
    dump += repr(rig.session.info) + repr(rig.session.revocation)
    for secret in (PASSWORD, TEMP_SECRET, "975318"):
        assert secret not in dump


def test_ctrl_c_during_login_ends_as_a_logout_not_a_failure() -> None:
    r = Rig()

    def interrupted(req: PinRequest) -> Pin | None:
        raise KeyboardInterrupt

    r.session._pin_callback = interrupted
    with pytest.raises(KeyboardInterrupt):
        r.session.login()
    ended = r.events.state(SessionState.ENDED)
    assert ended.reason is EndReason.LOGOUT and r.secret.wiped


def test_trusted_env_countdown_uses_a_connection_without_certificate(rig: Rig) -> None:
    rig.server.policy = AccessPolicy(require_trusted_env=True, max_key_seconds=None)
    rig.session.login()
    signers: list[Any] = []
    connect = rig.backend.connect

    def recording(request: LoginRequest, signer: Any) -> FakeConnection:
        signers.append(signer)
        return connect(request, signer)

    rig.backend.connect = recording  # type: ignore[method-assign]
    active_client = rig.session.client
    rig.remove()
    rig.events.state(SessionState.GRACE)
    grace_client = rig.session.client
    assert grace_client is not active_client and signers == [None]
    assert grace_client.read_vms() == ["i-1"] and rig.server.calls[-1] == ("ReadVms", "TEMPAK1")
    assert rig.session.client is grace_client  # built once
    rig.insert()
    rig.events.wait(lambda e: e.kind is EventKind.STATE and e.state is SessionState.ACTIVE
                    and e.message is not None)
    assert rig.session.client is active_client


def test_without_trusted_env_the_countdown_keeps_the_mtls_client(rig: Rig) -> None:
    rig.session.login()
    active_client = rig.session.client
    rig.remove()
    rig.events.state(SessionState.GRACE)
    assert rig.session.client is active_client


def test_a_second_ctrl_c_during_the_login_cleanup_still_ends_and_reports_the_key() -> None:
    # Ctrl-C after the key was made (during ReadAccounts), then again while DeleteAccessKey runs: the
    # session must still end (not hang in ENDING), tear down, and say the key could not be deleted.
    r = Rig()

    def first() -> None:
        raise KeyboardInterrupt

    def second() -> None:
        raise KeyboardInterrupt

    r.server.during_call["ReadAccounts"] = first
    r.server.during_call["DeleteAccessKey"] = second
    with pytest.raises(KeyboardInterrupt):
        r.session.login()
    assert r.session.wait_ended(5)
    failed = r.events.wait(lambda e: e.kind is EventKind.KEY_REVOKE_FAILED)
    assert failed.data["access_key_id"] == "TEMPAK1"
    ended = r.events.state(SessionState.ENDED)
    assert ended.data["key_revoked"] is False
    assert r.session.revocation is not None and not r.session.revocation.revoked
    assert r.secret.wiped and r.backend.connection.closed and r.backend.released


def test_a_ctrl_c_during_logout_revocation_still_tears_down(rig: Rig) -> None:
    rig.session.login()

    def interrupted() -> None:
        raise KeyboardInterrupt

    rig.server.during_call["DeleteAccessKey"] = interrupted
    with pytest.raises(KeyboardInterrupt):
        rig.session.logout()
    assert rig.session.wait_ended(5)
    rig.events.wait(lambda e: e.kind is EventKind.KEY_REVOKE_FAILED)
    assert rig.session._key is not None and rig.session._key.secret_key.wiped
    assert rig.backend.connection.closed and rig.backend.released


def test_a_failure_right_after_the_key_was_made_still_deletes_it() -> None:
    # The client for the new key cannot be built (e.g. the API answered a key without an id): the
    # login fails, and the key the API did create must not be left behind unmentioned.
    r = Rig()
    real_api = r.backend.api

    def api(connection: Any, request: LoginRequest, credentials: Credentials) -> FakeApi:
        if credentials.identity.startswith("TEMPAK"):
            raise ValueError("an access key id is required")
        return real_api(connection, request, credentials)

    r.backend.api = api  # type: ignore[method-assign]
    with pytest.raises(ValueError):
        r.session.login()
    assert r.server.keys == {}
    assert r.session.revocation is not None and r.session.revocation.revoked


def test_a_failing_watch_stop_does_not_skip_the_revocation(rig: Rig) -> None:
    rig.session.login()

    def broken(timeout: float = 5.0) -> None:
        raise RuntimeError("watch thread in a bad state")

    rig.watch.stop = broken  # type: ignore[method-assign]
    result = rig.session.logout()
    assert result.revoked and rig.server.keys == {}


def test_a_key_whose_creation_answer_was_lost_is_found_by_its_tag_and_deleted() -> None:
    r = Rig()
    r.server.keys["OTHERKEY"] = {"expires": None, "tag": ("osc-trusted-login", "trusted-session-other")}
    r.server.create_answer_lost = ConnectionTimeout("the API did not answer in time", host="api")
    with pytest.raises(ConnectionTimeout):
        r.session.login()
    assert r.session.state is SessionState.ENDED
    # the key made by this session is gone; another session's key (other tag) is left alone
    assert list(r.server.keys) == ["OTHERKEY"]
    revoked = r.events.wait(lambda e: e.kind is EventKind.KEY_REVOKED)
    assert revoked.data["access_key_id"] == "TEMPAK1" and "interrupted" in (revoked.message or "")
    assert r.session.revocation is not None and r.session.revocation.revoked


def test_a_lost_key_that_cannot_be_looked_up_is_reported_with_its_tag() -> None:
    r = Rig()
    r.server.create_answer_lost = ConnectionTimeout("the API did not answer in time", host="api")
    r.server.find_error = ConnectionTimeout("still no answer", host="api")
    with pytest.raises(ConnectionTimeout):
        r.session.login()
    failed = r.events.wait(lambda e: e.kind is EventKind.KEY_REVOKE_FAILED)
    tag = r.server.keys["TEMPAK1"]["tag"]
    assert failed.data["tag"] == f"{tag[0]}={tag[1]}" and tag[1] in (failed.message or "")
    assert r.session.revocation is not None and not r.session.revocation.revoked


def test_each_session_tags_its_key_uniquely() -> None:
    tags = []
    for _ in range(2):
        r = Rig()
        r.session.login()
        tags.append(next(iter(r.server.keys.values()))["tag"])
        r.session.logout()
    assert tags[0][0] == tags[1][0] == "osc-trusted-login" and tags[0][1] != tags[1][1]
