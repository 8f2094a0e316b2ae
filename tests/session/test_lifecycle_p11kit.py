"""The trusted session end to end on real parts: a SoftHSM2 card behind p11-kit (pulled out and put
back), the mTLS transport, the API client, and the sandbox API requiring the card's CA."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from app.sandbox.server import Sandbox
from app.session.backend import RealBackend
from app.session.errors import ConnectionTimeout, SessionError
from app.session.lifecycle import (
    GRACE_DEFAULT,
    GRACE_TRUSTED_ENV,
    SessionSettings,
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
    SessionState,
)
from app.tokens.errors import TokenError, TokenNotPresent
from app.tokens.pin import Pin, PinPurpose, PinRequest
from tests.rigs.events import SessionEvents
from tests.rigs.p11kit import P11KitCard
from tests.rigs.sandbox import _shared_server_pki, make_sandbox  # noqa: F401 - fixture
from tests.rigs.softhsm import SoftHsmRig

FAST = SessionSettings(watch_interval=0.05, rescan_backoff=(0.05, 0.1, 0.2), tick_seconds=0.2)


class Pins:
    def __init__(self, pin: str) -> None:
        self.pin = pin
        self.requests: list[PinRequest] = []
        self.hook: Callable[[PinRequest], None] | None = None

    def __call__(self, req: PinRequest) -> Pin | None:
        self.requests.append(req)
        if self.hook is not None:
            self.hook(req)
        return Pin(self.pin)


def card_uri(card: P11KitCard, label: str) -> str:
    return f"pkcs11:token={quote(card.token.label)};object={quote(label)};type=cert"


@pytest.fixture(params=[False], ids=["no-trusted-env"])
def trusted_env(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def api(tmp_path: Path, _shared_server_pki: Path, softhsm_rig: SoftHsmRig,  # noqa: F811
        trusted_env: bool) -> Iterator[Sandbox]:
    """The sandbox, with an API access rule requiring the rig's CA (so every call needs the card)."""
    sb = make_sandbox(tmp_path / "sandbox", _shared_server_pki, client_ca_pem=softhsm_rig.ca.cert_pem(),
                      trusted_env=trusted_env)
    sb.start()
    yield sb
    sb.stop()


class Rig:
    def __init__(self, api: Sandbox, card: P11KitCard, rig: SoftHsmRig, *, grace: float | None = None,
                 backend: Any = None) -> None:
        assert api.info is not None
        card.module()  # loaded with this card's P11_KIT_SERVER_ADDRESS
        self.api, self.card = api, card
        self.password = Secret(api.info.password)
        self.request = LoginRequest(
            credentials=Credentials(AuthMethod.PASSWORD, api.info.login, self.password),
            region=api.info.region, endpoint=api.info.endpoint, ca_file=api.info.ca_file,
            certificate=CertificateChoice(card_uri(card, "second p256"), module_path=card.client_module_path),
            grace_override_seconds=grace)
        self.events = SessionEvents(timeout=20.0)
        self.pins = Pins(card.token.user_pin)
        self.session = TrustedSession(self.request, pin_callback=self.pins, on_event=self.events,
                                      settings=FAST, backend=backend)

    def login(self) -> Any:
        info = self.session.login()
        self.events.state(SessionState.ACTIVE)  # delivered: later waits can count from here
        return info

    def temp_keys(self) -> list[str]:
        return [k.access_key_id for k in self.api.access_keys() if k.tag and "osc-trusted-login" in k.tag]


@pytest.fixture
def rig(api: Sandbox, p11kit_card: P11KitCard, softhsm_rig: SoftHsmRig) -> Iterator[Rig]:
    r = Rig(api, p11kit_card, softhsm_rig)
    yield r
    r.session.logout()
    if not p11kit_card.inserted:
        p11kit_card.insert()


def test_login_with_the_card_creates_a_tagged_temporary_key(rig: Rig) -> None:
    info = rig.login()
    assert rig.session.state is SessionState.ACTIVE
    assert info.temporary_key_id in rig.temp_keys()
    assert info.card_label == rig.card.token.label
    assert info.grace_seconds == GRACE_DEFAULT and not info.trusted_env
    assert info.account_id == rig.api.account_id
    assert info.tls_summary and "TLS" in info.tls_summary
    assert rig.api.info is not None and info.endpoint == rig.api.info.endpoint
    assert rig.password.wiped
    assert [r.purpose for r in rig.pins.requests] == [PinPurpose.LOGIN]
    vms = rig.session.client.read_vms()
    assert isinstance(vms, tuple)
    result = rig.session.logout()
    assert result.revoked and rig.temp_keys() == []
    assert rig.events.state(SessionState.ENDED).reason is EndReason.LOGOUT


def test_removal_grace_reinsertion_and_removal_again(rig: Rig) -> None:
    rig.login()
    n = rig.events.count()
    rig.card.remove()
    removed = rig.events.wait(lambda e: e.kind is EventKind.CARD_REMOVED)
    assert removed.state is SessionState.GRACE
    assert removed.seconds_left == pytest.approx(GRACE_DEFAULT, abs=5)
    assert rig.session.state is SessionState.GRACE
    # still usable without the card: the temporary key over a resumed TLS connection
    rig.session.client.read_vms()
    rig.card.insert()
    back = rig.events.state(SessionState.ACTIVE, after=n + 1)
    assert back.message and rig.session.seconds_left() is None
    assert [r.purpose for r in rig.pins.requests] == [PinPurpose.LOGIN, PinPurpose.RELOGIN]
    assert rig.events.wait(lambda e: e.kind is EventKind.CARD_INSERTED).data["same_card"] is True
    # the card works again for new full handshakes
    rig.session.client.http.drop_connections()
    rig.session.client.http.tickets.clear()
    rig.session.client.read_vms()
    n = rig.events.count()
    rig.card.remove()
    rig.events.state(SessionState.GRACE, after=n)


def test_another_card_does_not_stop_the_countdown(rig: Rig, softhsm_rig: SoftHsmRig) -> None:
    rig.login()
    rig.card.remove()
    rig.events.state(SessionState.GRACE)
    # another token served on the same "reader" (same socket and client module)
    other = P11KitCard(softhsm_rig.hsm, softhsm_rig.card, rig.card.workdir)
    other.insert()
    try:
        ev = rig.events.wait(lambda e: e.kind is EventKind.CARD_INSERTED)
        assert ev.data["same_card"] is False
        assert rig.session.state is SessionState.GRACE
        assert len(rig.pins.requests) == 1
    finally:
        other.remove()


def test_short_override_ends_the_session_and_deletes_the_key(api: Sandbox, p11kit_card: P11KitCard,
                                                             softhsm_rig: SoftHsmRig) -> None:
    r = Rig(api, p11kit_card, softhsm_rig, grace=0.5)
    info = r.login()
    assert info.grace_seconds == 0.5
    assert r.temp_keys() == [info.temporary_key_id]
    p11kit_card.remove()
    ended = r.events.state(SessionState.ENDED)
    assert ended.reason is EndReason.CARD_REMOVED
    revoked = r.events.wait(lambda e: e.kind is EventKind.KEY_REVOKED)
    assert revoked.data["access_key_id"] == info.temporary_key_id
    assert r.temp_keys() == []  # deleted over a resumed connection, without the card
    assert r.session.revocation is not None and r.session.revocation.revoked


@pytest.mark.parametrize("trusted_env", [True], indirect=True, ids=["trusted-env"])
def test_trusted_env_gives_one_hour(rig: Rig) -> None:
    info = rig.login()
    assert info.trusted_env and info.grace_seconds == GRACE_TRUSTED_ENV
    rig.card.remove()
    ev = rig.events.wait(lambda e: e.kind is EventKind.CARD_REMOVED)
    assert ev.seconds_left == pytest.approx(GRACE_TRUSTED_ENV, abs=5)
    assert rig.session.seconds_left() == pytest.approx(GRACE_TRUSTED_ENV, abs=5)


def _forget_connections(rig: Rig) -> None:
    """What an hour does to the mTLS transport: pooled connections closed, tickets expired."""
    http = rig.session._connection
    http.drop_connections()
    http.tickets.clear()


@pytest.mark.parametrize("trusted_env", [True], indirect=True, ids=["trusted-env"])
def test_trusted_env_calls_need_no_card_during_the_countdown(rig: Rig) -> None:
    rig.login()
    rig.card.remove()
    rig.events.state(SessionState.GRACE)
    _forget_connections(rig)
    rig.session.client.read_vms()  # a new connection, no client certificate, temporary key
    assert rig.api.tls_log[-1].client_certificate is False
    # DeleteAccessKey always needs the certificate: with the card out and no ticket left to resume,
    # the key cannot be revoked, and the session says so (it expires at its ExpirationDate)
    result = rig.session.logout()
    assert not result.revoked and result.expires
    failed = rig.events.wait(lambda e: e.kind is EventKind.KEY_REVOKE_FAILED)
    assert result.expires in (failed.message or "")
    assert rig.events.state(SessionState.ENDED).reason is EndReason.LOGOUT


def test_without_trusted_env_the_countdown_relies_on_resumption(rig: Rig) -> None:
    rig.login()
    rig.card.remove()
    rig.events.state(SessionState.GRACE)
    _forget_connections(rig)
    with pytest.raises((SessionError, TokenError)) as err:
        rig.session.client.read_vms()  # a full handshake needs the card: refused in plain words
    assert card_was_removed(err.value), repr(err.value)
    assert rig.session.state is SessionState.GRACE


def test_quit_revokes_and_a_revocation_failure_is_reported(rig: Rig) -> None:
    info = rig.login()
    rig.api.stop()  # the API is unreachable at logout
    result = rig.session.logout(EndReason.QUIT)
    assert not result.revoked
    failed = rig.events.wait(lambda e: e.kind is EventKind.KEY_REVOKE_FAILED)
    assert info.temporary_key_expires and result.expires == info.temporary_key_expires
    assert "expires" in (failed.message or "")
    assert rig.events.state(SessionState.ENDED).reason is EndReason.QUIT


# --- removal during each step -------------------------------------------------------------------


def test_removal_during_the_pin_prompt(rig: Rig) -> None:
    rig.pins.hook = lambda req: rig.card.remove()
    with pytest.raises(TokenError) as err:
        rig.login()
    assert card_was_removed(err.value) or isinstance(err.value, TokenNotPresent)
    ended = rig.events.state(SessionState.ENDED)
    assert ended.reason is EndReason.LOGIN_FAILED
    assert rig.temp_keys() == []


class _PullBeforeHandshake(RealBackend):
    def __init__(self, card: P11KitCard) -> None:
        super().__init__()
        self.card = card

    def connect(self, request: LoginRequest, signer: Any) -> Any:
        conn = super().connect(request, signer)
        self.card.remove()  # the first request's handshake needs a signature from a card that is gone
        return conn


def test_removal_during_the_handshake(api: Sandbox, p11kit_card: P11KitCard, softhsm_rig: SoftHsmRig) -> None:
    r = Rig(api, p11kit_card, softhsm_rig, backend=_PullBeforeHandshake(p11kit_card))
    with pytest.raises((TokenError, SessionError)) as err:
        r.session.login()
    assert card_was_removed(err.value), repr(err.value)
    assert r.events.state(SessionState.ENDED).reason is EndReason.LOGIN_FAILED
    assert r.temp_keys() == []


class _AnswerLost:
    """The real API client, except that the answer to CreateAccessKey is lost after the key is made."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def create_temporary_key(self, expires_at: Any, tag: tuple[str, str]) -> Any:
        self._real.create_temporary_key(expires_at, tag)
        raise ConnectionTimeout("The API did not answer in time.", host="sandbox")


class _LoseCreateAnswer(RealBackend):
    def api(self, connection: Any, request: LoginRequest, credentials: Any) -> Any:
        return _AnswerLost(super().api(connection, request, credentials))


def test_a_key_whose_creation_answer_was_lost_is_deleted(api: Sandbox, p11kit_card: P11KitCard,
                                                          softhsm_rig: SoftHsmRig) -> None:
    r = Rig(api, p11kit_card, softhsm_rig, backend=_LoseCreateAnswer())
    with pytest.raises(ConnectionTimeout):
        r.session.login()
    assert r.events.state(SessionState.ENDED).reason is EndReason.LOGIN_FAILED
    # the key the sandbox made (found by this session's tag through ReadAccessKeys) was deleted
    assert r.temp_keys() == []
    assert r.session.revocation is not None and r.session.revocation.revoked


def test_removal_during_api_calls(rig: Rig) -> None:
    rig.login()
    outcomes: list[str] = []
    stop = threading.Event()
    first = threading.Event()

    def caller() -> None:
        while not stop.is_set():
            try:
                rig.session.client.read_vms()
                outcomes.append("ok")
            except (SessionError, TokenError) as e:
                outcomes.append(type(e).__name__)
            first.set()

    t = threading.Thread(target=caller)
    t.start()
    try:
        assert first.wait(20)
        rig.card.remove()
        rig.events.state(SessionState.GRACE)
        n = len(outcomes)
        with rig.events.cond:
            rig.events.cond.wait_for(lambda: len(outcomes) > n + 2, 20)
    finally:
        stop.set()
        t.join(30)
    assert outcomes and outcomes[-1] == "ok"  # calls keep working during the countdown
    assert rig.session.state is SessionState.GRACE


def test_removal_during_the_countdown_then_logout(rig: Rig) -> None:
    rig.login()
    rig.card.remove()
    rig.events.state(SessionState.GRACE)
    result = rig.session.logout()
    assert result.revoked and rig.temp_keys() == []
    assert rig.events.state(SessionState.ENDED).reason is EndReason.LOGOUT


def test_removal_during_logout(rig: Rig) -> None:
    rig.login()
    done: list[Any] = []
    t = threading.Thread(target=lambda: done.append(rig.session.logout()))
    rig.card.remove()
    t.start()
    t.join(30)
    assert done and done[0].key_id is not None
    ended = rig.events.state(SessionState.ENDED)
    assert ended.reason is EndReason.LOGOUT
    assert rig.session.state is SessionState.ENDED
    assert done[0].revoked == (rig.temp_keys() == [])
