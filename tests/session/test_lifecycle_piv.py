"""The trusted session on the operators' stack: OpenSC over a private pcscd with emulated PIV cards
(tests/rigs/pcsc), the mTLS transport and the sandbox API requiring the cards' CA."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from app.sandbox.server import Sandbox
from app.session.lifecycle import SessionSettings, TrustedSession
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
from app.tokens.errors import PinIncorrect, PinLocked
from app.tokens.inventory import Inventory, rescan
from app.tokens.p11.registry import load_module
from app.tokens.pin import Pin, PinPurpose, PinRequest
from tests.rigs.events import SessionEvents
from tests.rigs.pcsc.rig import PcscRig, RigCard, idle_apdus, wait_until
from tests.rigs.sandbox import _shared_server_pki, make_sandbox  # noqa: F401 - fixture

FAST = SessionSettings(watch_interval=0.05, rescan_backoff=(0.05, 0.1, 0.2), tick_seconds=0.2)
LABELS = {"9A": "Certificate for PIV Authentication", "9C": "Certificate for Digital Signature"}


class Pins:
    """The PIN prompt: answers `pin` and remembers every request."""

    def __init__(self, pin: str) -> None:
        self.pin = pin
        self.requests: list[PinRequest] = []

    def __call__(self, req: PinRequest) -> Pin | None:
        self.requests.append(req)
        return Pin(self.pin)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, _shared_server_pki: Path,  # noqa: F811
        pcsc_rig: PcscRig) -> Iterator[Sandbox]:
    """The sandbox, with an API access rule requiring the PIV cards' CA (every call needs the card)."""
    assert pcsc_rig.ca is not None
    sb = make_sandbox(tmp_path_factory.mktemp("piv-sandbox"), _shared_server_pki,
                      client_ca_pem=pcsc_rig.ca.cert_pem())
    sb.start()
    yield sb
    sb.stop()


def uri(card: RigCard, slot: str = "9A") -> str:
    return f"pkcs11:serial={card.serial};object={quote(LABELS[slot])};type=cert"


class Flow:
    """One session on the PIV rig."""

    def __init__(self, api: Sandbox, rig: PcscRig, card: RigCard, *, slot: str = "9A", pin: str | None = None,
                 grace: float | None = None) -> None:
        assert api.info is not None
        self.api, self.rig, self.card = api, rig, card
        self.request = LoginRequest(
            credentials=Credentials(AuthMethod.PASSWORD, api.info.login, Secret(api.info.password)),
            region=api.info.region, endpoint=api.info.endpoint, ca_file=api.info.ca_file,
            certificate=CertificateChoice(uri(card, slot), module_path=rig.module_path),
            grace_override_seconds=grace)
        self.events = SessionEvents(timeout=20.0)
        self.pins = Pins(pin or card.pin)
        self.session = TrustedSession(self.request, pin_callback=self.pins, on_event=self.events,
                                      settings=FAST)

    def login(self) -> Any:
        info = self.session.login()
        self.events.state(SessionState.ACTIVE)
        return info

    def temp_keys(self) -> list[str]:
        return [k.access_key_id for k in self.api.access_keys() if k.tag and "osc-trusted-login" in k.tag]


@pytest.fixture
def flow(api: Sandbox, pcsc_rig: PcscRig, piv: RigCard) -> Iterator[Flow]:
    f = Flow(api, pcsc_rig, piv)
    yield f
    f.session.logout()


def _idle_apdus(rig: PcscRig, card: RigCard, seconds: float) -> int:
    return idle_apdus(rig, card, seconds)


def test_login_with_the_9a_key_and_an_idle_session_costs_no_apdu(flow: Flow) -> None:
    info = flow.login()
    assert info.temporary_key_id in flow.temp_keys()
    flow.session.client.read_vms()
    assert [r.purpose for r in flow.pins.requests] == [PinPurpose.LOGIN]
    assert _idle_apdus(flow.rig, flow.card, 2.0) == 0
    assert flow.session.state is SessionState.ACTIVE
    result = flow.session.logout()
    assert result.revoked and flow.temp_keys() == []


def test_login_with_the_pin_always_9c_key(api: Sandbox, pcsc_rig: PcscRig, piv: RigCard) -> None:
    f = Flow(api, pcsc_rig, piv, slot="9C")
    try:
        info = f.login()
        assert info.temporary_key_id in f.temp_keys()
        f.session.client.http.drop_connections()
        f.session.client.http.tickets.clear()
        f.session.client.read_vms()  # a new full handshake: the PIN-always key signs again
    finally:
        f.session.logout()
    assert pcsc_rig.tries(piv) == 3


def test_a_wrong_pin_spends_one_try_and_is_never_retried(api: Sandbox, pcsc_rig: PcscRig,
                                                         piv: RigCard) -> None:
    f = Flow(api, pcsc_rig, piv, pin="999999")
    with pytest.raises(PinIncorrect) as err:
        f.session.login()
    assert len(f.pins.requests) == 1
    assert pcsc_rig.tries(piv) == 2
    assert err.value.tries_left in (None, 2)  # OpenSC's PIV driver never reports "count low"
    assert f.temp_keys() == []


def test_the_final_try_is_announced_and_a_blocked_card_is_explained(
        api: Sandbox, pcsc_rig: PcscRig, piv: RigCard) -> None:
    pcsc_rig.set_tries(piv, 1)
    f = Flow(api, pcsc_rig, piv, pin="999999")
    with pytest.raises((PinIncorrect, PinLocked)):
        f.session.login()
    assert len(f.pins.requests) == 1 and f.pins.requests[0].final_try  # OpenSC reports "final try"
    assert not f.pins.requests[0].count_low  # and never "count low": the dialog does not invent it
    assert pcsc_rig.tries(piv) == 0
    blocked = Flow(api, pcsc_rig, piv)
    with pytest.raises(PinLocked) as err:
        blocked.session.login()
    assert blocked.pins.requests == []  # never asked for a PIN the card would refuse
    assert "lock" in str(err.value).lower()


def test_removal_grace_and_the_same_card_back(flow: Flow) -> None:
    flow.login()
    n = flow.events.count()
    flow.rig.remove(0)
    removed = flow.events.wait(lambda e: e.kind is EventKind.CARD_REMOVED)
    assert removed.state is SessionState.GRACE
    flow.rig.insert(flow.card, 0)
    flow.events.state(SessionState.ACTIVE, after=n + 1)
    assert flow.events.wait(lambda e: e.kind is EventKind.CARD_INSERTED).data["same_card"] is True
    assert [r.purpose for r in flow.pins.requests] == [PinPurpose.LOGIN, PinPurpose.RELOGIN]
    assert flow.rig.tries(flow.card) == 3  # the stale login OpenSC kept cost no try
    flow.session.client.http.drop_connections()
    flow.session.client.http.tickets.clear()
    flow.session.client.read_vms()  # the card signs again


def test_another_card_does_not_resume(flow: Flow) -> None:
    bob = flow.rig.cards["bob"]
    flow.login()
    flow.rig.remove(0)
    flow.events.state(SessionState.GRACE)
    flow.rig.insert(bob, 0)
    ev = flow.events.wait(lambda e: e.kind is EventKind.CARD_INSERTED)
    assert ev.data["same_card"] is False
    assert flow.session.state is SessionState.GRACE
    assert len(flow.pins.requests) == 1
    flow.rig.remove(0)


def test_grace_expiry_revokes_the_key(api: Sandbox, pcsc_rig: PcscRig, piv: RigCard) -> None:
    f = Flow(api, pcsc_rig, piv, grace=0.5)
    info = f.login()
    pcsc_rig.remove(0)
    ended = f.events.state(SessionState.ENDED)
    assert ended.reason is EndReason.CARD_REMOVED
    revoked = f.events.wait(lambda e: e.kind is EventKind.KEY_REVOKED)
    assert revoked.data["access_key_id"] == info.temporary_key_id
    assert f.temp_keys() == []


def test_two_readers_are_told_apart_and_an_unplugged_reader_is_a_removal(
        api: Sandbox, pcsc_rig: PcscRig, piv: RigCard) -> None:
    bob = pcsc_rig.cards["bob"]
    pcsc_rig.set_readers(2)  # a second reader.conf entry: readers 2 and 3 appear
    pcsc_rig.remove(0)
    pcsc_rig.insert(bob, 0)
    pcsc_rig.insert(piv, 2)
    # what the picker's refresh does (inventory.rescan): the new readers and both cards show
    load_module(pcsc_rig.module_path)
    wait_until(lambda: {piv.serial, bob.serial} <= _serials(rescan(pcsc_rig.module_path)),
               what="both cards listed after a refresh")
    f = Flow(api, pcsc_rig, piv)
    try:
        f.login()
        pcsc_rig.remove(0)  # the other card leaves: nothing happens to our session
        pcsc_rig.insert(bob, 1)
        assert _idle_apdus(pcsc_rig, piv, 1.0) == 0
        assert f.session.state is SessionState.ACTIVE
        pcsc_rig.set_readers(1)  # our reader is unplugged
        removed = f.events.wait(lambda e: e.kind is EventKind.CARD_REMOVED)
        assert removed.state is SessionState.GRACE
    finally:
        f.session.logout()


def _serials(inv: Inventory | None) -> set[str]:
    return {t.serial for t in inv.tokens} if inv is not None else set()


def test_a_login_tried_without_the_card_works_once_it_is_inserted(
        api: Sandbox, pcsc_rig: PcscRig, piv: RigCard) -> None:
    load_module(pcsc_rig.module_path)
    pcsc_rig.remove(0, wait=True)
    f = Flow(api, pcsc_rig, piv)
    with pytest.raises(Exception):  # noqa: B017 - whichever "no card" error the session reports
        f.session.login()
    pcsc_rig.insert(piv, 0)
    again = Flow(api, pcsc_rig, piv)
    try:
        again.login()  # at once: the module is re-scanned, no restart
    finally:
        again.session.logout()


def test_another_process_signing_with_the_card_does_not_break_the_session(flow: Flow, tmp_path: Path) -> None:
    flow.login()
    data = tmp_path / "data"
    data.write_bytes(b"signed by another program")
    out = subprocess.run(
        ["pkcs11-tool", "--module", flow.rig.module_path, "--login", "--pin", flow.card.pin, "--sign",
         "--id", "01", "-m", "SHA256-RSA-PKCS", "-i", str(data), "-o", str(tmp_path / "sig")],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "sig").stat().st_size == 256
    assert flow.session.state is SessionState.ACTIVE
    flow.session.client.http.drop_connections()
    flow.session.client.http.tickets.clear()
    flow.session.client.read_vms()  # our login on the card still works
    kinds = [e.kind for e in flow.events.events]
    assert EventKind.CARD_REMOVED not in kinds
