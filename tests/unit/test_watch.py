"""TokenWatch against a fake probe at the token-layer seam (the real module is in tests/tokens)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from app.tokens.errors import TokenNotPresent, TokenOperationFailed, TokenRemoved
from app.tokens.watch import TokenIdentity, TokenWatch, WatchEvent, WatchEventKind
from tests.rigs.events import WatchEvents

ID = TokenIdentity("/mod.so", "SERIAL1", "AB" * 32, label="card")


class FakeProbe:
    """A module whose slots the test changes. `fail` makes present_serials raise until cleared."""

    def __init__(self) -> None:
        self.serials: frozenset[str] = frozenset({"SERIAL1"})
        self.certs: dict[str, str] = {"SERIAL1": "ab" * 32}
        self.fail: Exception | None = None
        self.needs_rescan = False  # like p11-kit: a re-inserted card shows only after a re-scan
        self.visible = True
        self.rescans = 0
        self.lock = threading.Lock()

    def is_present(self, serial: str) -> bool:
        return serial in self.present_serials()

    def present_serials(self) -> frozenset[str]:
        with self.lock:
            if self.fail is not None:
                raise self.fail
            return self.serials if self.visible else frozenset()

    def rescan(self) -> None:
        with self.lock:
            self.rescans += 1
            self.visible = True

    def holds_certificate(self, serial: str, fingerprint: str) -> bool:
        return self.certs.get(serial, "").lower() == fingerprint.lower()

    def remove(self, how: Exception | None = None) -> None:
        with self.lock:
            if how is not None:
                self.fail = how
            else:
                self.serials = frozenset()

    def insert(self, serial: str = "SERIAL1", fingerprint: str | None = None) -> None:
        with self.lock:
            self.fail = None
            self.serials = self.serials | {serial}
            if fingerprint is not None:
                self.certs[serial] = fingerprint
            self.visible = not self.needs_rescan




def until(pred: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait for a condition on counters that nothing notifies (polls)."""
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.005)


@pytest.fixture
def rig():
    probe = FakeProbe()
    rec = WatchEvents(timeout=5.0)
    watch = TokenWatch(ID, probe, rec, interval=0.01, rescan_backoff=(0.01, 0.02))
    watch.start()
    yield probe, rec, watch
    watch.stop()


def test_serial_leaving_the_slots_is_a_removal(rig) -> None:
    probe, rec, watch = rig
    probe.remove()
    rec.wait_all(lambda ev: len(ev) >= 1)
    assert rec.kinds() == [WatchEventKind.REMOVED]
    assert not watch.present
    assert rec.events[0].identity == ID


@pytest.mark.parametrize("error", [
    TokenRemoved("CKR_DEVICE_REMOVED"),
    TokenNotPresent("CKR_TOKEN_NOT_PRESENT"),
    TokenRemoved("CKR_SESSION_HANDLE_INVALID"),
    TokenRemoved("CKR_DEVICE_ERROR"),
    TokenOperationFailed("general error", ckr="CKR_GENERAL_ERROR"),
])
def test_probe_errors_count_as_removal(rig, error: Exception) -> None:
    probe, rec, _ = rig
    probe.remove(error)
    rec.wait_all(lambda ev: len(ev) >= 1)
    assert rec.kinds() == [WatchEventKind.REMOVED]
    assert rec.events[0].detail


def test_same_card_back_after_a_rescan_is_inserted(rig) -> None:
    probe, rec, watch = rig
    probe.needs_rescan = True
    probe.remove(TokenRemoved("gone"))
    rec.wait_all(lambda ev: len(ev) >= 1)
    probe.visible = False
    probe.insert()
    rec.wait_all(lambda ev: WatchEventKind.INSERTED in [e.kind for e in ev])
    assert rec.kinds() == [WatchEventKind.REMOVED, WatchEventKind.INSERTED]
    assert probe.rescans >= 1
    assert watch.present


def test_same_serial_with_another_certificate_is_not_our_card(rig) -> None:
    probe, rec, watch = rig
    probe.remove()
    rec.wait_all(lambda ev: len(ev) >= 1)
    probe.insert("SERIAL1", fingerprint="cd" * 32)
    rec.wait_all(lambda ev: len(ev) >= 2)
    assert rec.kinds()[:2] == [WatchEventKind.REMOVED, WatchEventKind.OTHER_INSERTED]
    assert not watch.present


def test_another_card_is_reported_once_and_ours_still_counts(rig) -> None:
    probe, rec, _ = rig
    probe.remove()
    rec.wait_all(lambda ev: len(ev) >= 1)
    probe.insert("OTHER")
    rec.wait_all(lambda ev: len(ev) >= 2)
    n = probe.rescans
    until(lambda: probe.rescans >= n + 3)
    assert rec.kinds() == [WatchEventKind.REMOVED, WatchEventKind.OTHER_INSERTED]
    assert rec.events[1].other_serial == "OTHER"
    probe.insert("SERIAL1")
    rec.wait_all(lambda ev: len(ev) >= 3)
    assert rec.kinds()[2] == WatchEventKind.INSERTED


def test_poke_polls_without_waiting_for_the_interval() -> None:
    probe = FakeProbe()
    rec = WatchEvents(timeout=5.0)
    watch = TokenWatch(ID, probe, rec, interval=3600, rescan_backoff=(3600,))
    watch.start()
    try:
        probe.remove()
        watch.poke()
        rec.wait_all(lambda ev: len(ev) >= 1)
        assert rec.kinds() == [WatchEventKind.REMOVED]
    finally:
        watch.stop()


def test_a_failing_receiver_does_not_stop_the_watch() -> None:
    probe = FakeProbe()
    seen: list[WatchEvent] = []
    first = threading.Event()
    done = threading.Event()

    def bad(e: WatchEvent) -> None:
        seen.append(e)
        (done if len(seen) >= 2 else first).set()
        raise RuntimeError("receiver bug")

    watch = TokenWatch(ID, probe, bad, interval=0.01, rescan_backoff=(0.01,))
    watch.start()
    try:
        probe.remove()
        assert first.wait(5.0)
        probe.insert()
        assert done.wait(5.0)
        assert [e.kind for e in seen] == [WatchEventKind.REMOVED, WatchEventKind.INSERTED]
    finally:
        watch.stop()


def test_a_card_already_present_at_removal_is_not_another_card() -> None:
    probe = FakeProbe()
    probe.serials = frozenset({"SERIAL1", "NEIGHBOUR"})
    rec = WatchEvents(timeout=5.0)
    watch = TokenWatch(ID, probe, rec, interval=0.01, rescan_backoff=(0.01,))
    watch.start()
    try:
        with probe.lock:
            probe.serials = frozenset({"NEIGHBOUR"})
        rec.wait_all(lambda ev: len(ev) >= 1)
        n = probe.rescans
        until(lambda: probe.rescans >= n + 3)
        assert rec.kinds() == [WatchEventKind.REMOVED]
    finally:
        watch.stop()


class _Presence:
    def __init__(self, present: bool, logged_in: bool) -> None:
        self.present = present
        self.value = "present_logged_in" if logged_in else ("present_logged_out" if present else "removed")


class LoginAwareProbe(FakeProbe):
    """Also reports whether our login holds (like app.tokens.p11.module.Pkcs11Module.probe)."""

    def __init__(self) -> None:
        super().__init__()
        self.logged_in = False

    def probe(self, serial: str) -> _Presence:
        present = self.is_present(serial)
        return _Presence(present, present and self.logged_in)

    def rescan(self) -> None:
        super().rescan()
        self.logged_in = False  # C_Finalize drops every login


def test_a_lost_login_means_the_card_was_pulled_and_put_back() -> None:
    probe = LoginAwareProbe()
    rec = WatchEvents(timeout=5.0)
    watch = TokenWatch(ID, probe, rec, interval=0.01, rescan_backoff=(0.01,))
    watch.start()
    try:
        n = watch.polls
        until(lambda: watch.polls > n + 3)
        assert rec.kinds() == []  # logged out from the start (before the session's login): nothing
        probe.logged_in = True
        n = watch.polls
        until(lambda: watch.polls > n + 3)
        probe.logged_in = False  # swapped out and in between two polls
        rec.wait_all(lambda ev: len(ev) >= 2)
        assert rec.kinds()[:2] == [WatchEventKind.REMOVED, WatchEventKind.INSERTED]
        assert "login" in (rec.events[0].detail or "")
        n = watch.polls
        until(lambda: watch.polls > n + 3)
        assert len(rec.events) == 2  # not again until a login is seen again
    finally:
        watch.stop()


class WorkerProbe(FakeProbe):
    """A probe with its own serial worker, like the token layer's modules."""

    def __init__(self) -> None:
        super().__init__()
        import concurrent.futures

        self.executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="fake-module")
        self.threads: set[str] = set()

    def is_present(self, serial: str) -> bool:
        self.threads.add(threading.current_thread().name)
        return super().is_present(serial)


def test_polls_run_on_the_module_worker_when_it_has_one() -> None:
    probe = WorkerProbe()
    rec = WatchEvents(timeout=5.0)
    watch = TokenWatch(ID, probe, rec, interval=0.01, rescan_backoff=(0.01,))
    watch.start()
    try:
        probe.remove()
        rec.wait_all(lambda ev: len(ev) >= 1)
        probe.insert()
        rec.wait_all(lambda ev: len(ev) >= 2)
        assert rec.kinds()[:2] == [WatchEventKind.REMOVED, WatchEventKind.INSERTED]
        assert probe.threads and all(t.startswith("fake-module") for t in probe.threads)
    finally:
        watch.stop()
        probe.executor.shutdown()


class CheapProbe(LoginAwareProbe):
    """Also has the one-call check; counts which check each poll used."""

    def __init__(self) -> None:
        super().__init__()
        self.cheap = 0
        self.full = 0

    def still_present(self, serial: str) -> bool:
        self.cheap += 1
        return self.is_present(serial)

    def probe(self, serial: str) -> _Presence:
        self.full += 1
        return super().probe(serial)


def test_most_polls_use_the_cheap_check_and_every_fourth_checks_the_login() -> None:
    probe = CheapProbe()
    probe.logged_in = True
    rec = WatchEvents(timeout=5.0)
    watch = TokenWatch(ID, probe, rec, interval=0.01, rescan_backoff=(0.01,), login_check_every=4)
    watch.start()
    try:
        until(lambda: probe.full >= 3)
    finally:
        watch.stop()
    assert probe.full == watch.polls // 4 and probe.cheap == watch.polls - probe.full
    assert rec.kinds() == []


def test_the_cheap_check_sees_a_removal() -> None:
    probe = CheapProbe()
    rec = WatchEvents(timeout=5.0)
    watch = TokenWatch(ID, probe, rec, interval=0.01, rescan_backoff=(0.01,), login_check_every=1000)
    watch.start()
    try:
        until(lambda: probe.cheap >= 2)
        probe.remove()
        rec.wait_all(lambda ev: len(ev) >= 1)
        assert rec.kinds() == [WatchEventKind.REMOVED] and probe.full == 0
    finally:
        watch.stop()


def test_stop_ends_the_thread(rig) -> None:
    _, _, watch = rig
    watch.stop()
    assert watch._thread is not None and not watch._thread.is_alive()


def test_identity_compares_module_serial_and_fingerprint_only() -> None:
    assert TokenIdentity("/m", "1", "AB") == TokenIdentity("/m", "1", "ab", label="other label")
    assert TokenIdentity("/m", "1", "AB") != TokenIdentity("/m", "2", "AB")
    assert TokenIdentity("/m", "1", "AB") != TokenIdentity("/n", "1", "AB")
    assert TokenIdentity("/m", "1", "AB") != TokenIdentity("/m", "1", "AC")


def test_bad_intervals_are_refused() -> None:
    with pytest.raises(ValueError):
        TokenWatch(ID, FakeProbe(), lambda e: None, interval=0)
    with pytest.raises(ValueError):
        TokenWatch(ID, FakeProbe(), lambda e: None, rescan_backoff=())
