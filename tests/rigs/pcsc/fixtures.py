"""Pytest fixtures of the PC/SC rig: one private pcscd per test session (the PC/SC client library reads
PCSCLITE_CSOCK_NAME once per process), and the cards tests share. Tests leave the rig as they found it:
`piv` puts the standard card back in reader 0 with its tries reset, and removes every other card."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.sandbox.pki import CertificateAuthority
from tests.rigs.pcsc.rig import PcscRig, RigCard, claim_socket_name, unavailable_reason

claim_socket_name()  # now, before any test loads libpcsclite (OpenSC in a default module scan)


@pytest.fixture(scope="session")
def pcsc_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PcscRig]:
    """The running rig (skips with the reason when the machine cannot run it)."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    rig = PcscRig(Path(tmp_path_factory.mktemp("pcsc")))
    rig.start()
    rig.ca = CertificateAuthority("PIV Test CA")
    rig.new_card("alice", rig.ca)
    rig.new_card("bob", rig.ca)
    try:
        yield rig
    finally:
        from app.tokens.p11.registry import unload_module

        unload_module(rig.module_path)
        rig.stop()


@pytest.fixture
def piv(pcsc_rig: PcscRig) -> Iterator[RigCard]:
    """Alice's card in reader 0 (the only card in), 3 tries left; put back that way afterwards."""
    _standard(pcsc_rig)
    yield pcsc_rig.cards["alice"]
    _standard(pcsc_rig)


def _standard(rig: PcscRig) -> None:
    rig.set_readers_if(1)
    for r in range(1, 4):
        rig.remove(r)
    alice = rig.cards["alice"]
    for card in rig.cards.values():
        rig.set_tries(card, 3)
    rig.insert(alice, 0)
