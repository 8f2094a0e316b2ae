"""A Windows-store key on a card, watched on PC/SC reader state FOR REAL: the Windows thin class is the
fake (tests/stores/fakes.py: its provider names "the rig's reader" as the key's SmartCardReader and
reads the certificate of the card the test put in), the reader state comes from the issue-13 rig's
private pcscd (vpcd + emulated PIV cards) through app.tokens.p11.pcsc with libpcsclite.

Alice's and Bob's rig cards have the same ATR: only the certificate the card holds tells them apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.sandbox.server import Sandbox
from app.session.backend import RealBackend
from app.session.lifecycle import SessionSettings, TrustedSession
from app.session.model import (
    AuthMethod,
    CertificateChoice,
    Credentials,
    EventKind,
    LoginRequest,
    Secret,
    SessionState,
)
from app.tokens.errors import TokenNotPresent
from app.tokens.model import CertificateEntry, KeyFactor, Problem
from app.tokens.p11.pcsc import platform_abi
from app.tokens.stores.card_watch import READER_PREFIX
from app.tokens.stores.windows import WindowsStore
from app.tokens.stores.windows_api import SCARD_E_NO_SMARTCARD
from tests.rigs.events import SessionEvents
from tests.rigs.pcsc.rig import PcscRig, RigCard
from tests.rigs.sandbox import _shared_server_pki, make_sandbox  # noqa: F401 - fixture
from tests.stores.fakes import FakeCryptApi, FakeWinItem, der_of

FAST = SessionSettings(watch_interval=0.05, rescan_backoff=(0.05, 0.1, 0.2), tick_seconds=0.2)
CARD_KSP = "Microsoft Smart Card Key Storage Provider"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, _shared_server_pki: Path,  # noqa: F811
        pcsc_rig: PcscRig) -> Iterator[Sandbox]:
    """The sandbox requiring the rig's CA for every call (the session's key must sign)."""
    assert pcsc_rig.ca is not None
    sb = make_sandbox(tmp_path_factory.mktemp("store-card-sandbox"), _shared_server_pki,
                      client_ca_pem=pcsc_rig.ca.cert_pem())
    sb.start()
    yield sb
    sb.stop()


class StoreCard:
    """A fake Windows store whose card key is Alice's card in the rig's reader 0; the fake provider
    reads the certificate of whichever card the test put in (`card_in`), PC/SC is the rig's."""

    def __init__(self, rig: PcscRig) -> None:
        assert rig.ca is not None
        self.rig = rig
        self.reader = rig.reader_names()[0]
        self.issued = rig.ca.issue_client("alice via the Windows store", key_kind="p256")
        soft = rig.ca.issue_client("software key in the Windows store")
        self.api = FakeCryptApi([
            FakeWinItem(der_of(self.issued), self.issued.key, CARD_KSP, friendly_name="alice card",
                        reader=self.reader, card="alice"),
            FakeWinItem(der_of(soft), soft.key, friendly_name="soft"),
        ], card_in={self.reader: "alice"})
        self.store = WindowsStore(self.api, pcsc=platform_abi("linux"))  # libpcsclite, the rig's pcscd

    def entries(self) -> dict[str, CertificateEntry]:
        listed, errors = self.store.list_entries()
        assert errors == []
        return {e.label: e for e in listed}

    def insert(self, card: RigCard) -> None:
        self.api.card_in[self.reader] = card.name  # what the provider will read from the card
        self.rig.insert(card, 0)

    def remove(self) -> None:
        self.rig.remove(0, wait=True)
        self.api.card_in.pop(self.reader, None)


@pytest.fixture
def store_card(pcsc_rig: PcscRig, piv: RigCard) -> StoreCard:
    return StoreCard(pcsc_rig)


def _session(api: Sandbox, sc: StoreCard, label: str) -> tuple[TrustedSession, SessionEvents]:
    assert api.info is not None
    entry = sc.entries()[label]
    request = LoginRequest(
        credentials=Credentials(AuthMethod.PASSWORD, api.info.login, Secret(api.info.password)),
        region=api.info.region, endpoint=api.info.endpoint, ca_file=api.info.ca_file,
        certificate=CertificateChoice(entry.uri, entry=entry))
    events = SessionEvents(timeout=20.0)
    session = TrustedSession(request, pin_callback=lambda r: None, on_event=events, settings=FAST,
                             backend=RealBackend(stores=[sc.store]))
    return session, events


def test_a_card_key_of_the_store_goes_to_grace_when_its_card_leaves_and_back_when_it_returns(
        api: Sandbox, store_card: StoreCard) -> None:
    session, events = _session(api, store_card, "alice card")
    try:
        session.login()
        events.state(SessionState.ACTIVE)
        n = events.count()
        store_card.remove()
        removed = events.wait(lambda e: e.kind is EventKind.CARD_REMOVED, after=n)
        assert removed.state is SessionState.GRACE
        store_card.insert(store_card.rig.cards["alice"])
        back = events.wait(lambda e: e.kind is EventKind.CARD_INSERTED, after=n)
        assert back.data["same_card"] is True
        events.state(SessionState.ACTIVE, after=n)
        session.client.read_vms()  # the store's key signs again
    finally:
        session.logout()


def test_another_card_in_that_reader_does_not_resume_the_session(api: Sandbox, store_card: StoreCard) -> None:
    session, events = _session(api, store_card, "alice card")
    try:
        session.login()
        events.state(SessionState.ACTIVE)
        n = events.count()
        store_card.remove()
        events.state(SessionState.GRACE, after=n)
        store_card.insert(store_card.rig.cards["bob"])  # same ATR as Alice's: another certificate
        other = events.wait(lambda e: e.kind is EventKind.CARD_INSERTED, after=n)
        assert other.data["same_card"] is False
        assert session.state is SessionState.GRACE
    finally:
        session.logout()


def test_a_software_key_of_the_store_is_not_watched(api: Sandbox, store_card: StoreCard) -> None:
    entry = store_card.entries()["soft"]
    backend = RealBackend(stores=[store_card.store])
    opened = backend.open_certificate(LoginRequest(Credentials(AuthMethod.PASSWORD, "x", Secret("y")),
                                                   certificate=CertificateChoice(entry.uri, entry=entry)),
                                      lambda r: None)
    try:
        assert opened.card is None  # no card: the session starts no watch (knowledge factor)
    finally:
        backend.release_certificate(opened)
    card_entry = store_card.entries()["alice card"]
    opened = backend.open_certificate(LoginRequest(Credentials(AuthMethod.PASSWORD, "x", Secret("y")),
                                                   certificate=CertificateChoice(card_entry.uri,
                                                                                 entry=card_entry)),
                                      lambda r: None)
    try:
        assert opened.card is not None and opened.card.module_path == READER_PREFIX + store_card.reader
        assert opened.card.cert_fingerprint == card_entry.fingerprint_sha256
    finally:
        backend.release_certificate(opened)


def test_listed_is_not_present_a_card_certificate_whose_reader_is_empty_is_greyed_with_the_reason(
        store_card: StoreCard) -> None:
    entry = store_card.entries()["alice card"]
    assert entry.usable and entry.factor is KeyFactor.POSSESSION
    store_card.remove()
    out = store_card.entries()
    assert out["alice card"].problems == (Problem.CARD_NOT_PRESENT,)
    assert not out["alice card"].usable
    assert store_card.reader in " ".join(out["alice card"].problem_messages)
    assert out["soft"].usable  # a software key has no reader to be absent from
    store_card.api.fail_next["key_reader"] = SCARD_E_NO_SMARTCARD  # a provider that cannot even say
    assert "not in any reader" in " ".join(store_card.entries()["alice card"].problem_messages)
    with pytest.raises(TokenNotPresent, match="not in the reader"):
        store_card.store.open_signer(entry, lambda r: None)
    assert store_card.api.key_calls == 0  # refused before the provider would ask to insert the card


def test_the_opened_card_key_is_watched_as_its_reader_and_atr(store_card: StoreCard) -> None:
    entry = store_card.entries()["alice card"]
    signer = store_card.store.open_signer(entry, lambda r: None)
    try:
        place = signer.card_place
        assert place is not None and place.reader == store_card.reader
        assert place.atr and place.certificate_on_card() == entry.der
        store_card.api.card_in[store_card.reader] = "bob"
        assert place.certificate_on_card() == b""  # another card: definitely not ours
    finally:
        signer.close()


def test_a_keychain_token_key_is_placed_in_its_reader_and_greyed_when_the_reader_is_empty(
        store_card: StoreCard) -> None:
    from app.tokens.stores.macos import KeychainStore
    from tests.stores.fakes import FakeMacItem, FakeSecurityApi

    issued = store_card.issued
    token = FakeMacItem(der_of(issued), issued.key, "PIV", token_id="com.apple.pivtoken:A1",
                        reader=store_card.reader)
    store = KeychainStore(FakeSecurityApi([token]), pcsc=platform_abi("linux"))
    entry = store.list_entries()[0][0]
    assert entry.usable and entry.factor is KeyFactor.POSSESSION
    signer = store.open_signer(entry, lambda r: None)
    place = signer.card_place
    assert place is not None and place.reader == store_card.reader and place.atr
    assert place.certificate_on_card() == entry.der  # the token's identity is published: our card
    token.present = False
    assert place.certificate_on_card() is None  # no token published yet: cannot tell (looked at again)
    token.present = True
    store_card.remove()
    greyed = store.list_entries()[0][0]
    assert greyed.problems == (Problem.CARD_NOT_PRESENT,)


def test_the_pc_sc_library_and_its_layout_are_a_parameter() -> None:
    import ctypes

    win, mac, linux = platform_abi("win32"), platform_abi("darwin"), platform_abi("linux", "libx.so")
    assert (win.library, win.suffix, win.atr_size, win.dword) == ("winscard.dll", "A", 36, ctypes.c_uint32)
    assert mac.library.endswith("PCSC.framework/PCSC") and mac.pack == 1 and mac.dword is ctypes.c_uint32
    assert linux.library == "libx.so" and linux.dword is ctypes.c_ulong


def test_the_probe_sees_a_card_pulled_and_put_back_between_two_looks(store_card: StoreCard) -> None:
    from app.tokens.stores.card_watch import CardPlace, ReaderProbe

    st = store_card.rig.reader_names()
    place = CardPlace(st[0], "", platform_abi("linux"))
    probe = ReaderProbe(place)
    try:
        (atr,) = probe.present_serials()
        assert probe.is_present(atr) and probe.is_present(atr)
        assert not probe.is_present("3B00")  # another ATR is not our card
        assert probe.is_present(atr)
        store_card.remove()
        store_card.insert(store_card.rig.cards["alice"])  # out and in between two looks
        assert not probe.is_present(atr)  # pcscd's event counter moved by two: it left our hands
        assert probe.is_present(atr)  # from now on it is the card that is in
    finally:
        probe.close()
