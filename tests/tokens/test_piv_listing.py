"""The PIV rig as the product lists it: OpenSC over a private pcscd, an emulated PIV card (9A/9C/9D/9E)."""

from __future__ import annotations

import subprocess

from app.tokens.inventory import scan_module
from app.tokens.model import KeyType
from app.tokens.p11.registry import load_module
from tests.rigs.pcsc.rig import PcscRig, RigCard, wait_until


def _token_in(rig: PcscRig, serial: str) -> bool:
    return any(t.serial == serial for t in load_module(rig.module_path).tokens())


def test_the_card_lists_its_four_certificates(pcsc_rig: PcscRig, piv: RigCard) -> None:
    wait_until(lambda: _token_in(pcsc_rig, piv.serial), what="the card showing in OpenSC")
    inv = scan_module(pcsc_rig.module_path)
    mine = [c for c in inv.certificates if c.token_serial == piv.serial]
    assert sorted(c.fingerprint_sha256 for c in mine) == sorted(piv.fingerprints.values())
    by_fpr = {c.fingerprint_sha256: c for c in mine}
    assert by_fpr[piv.fingerprints["9A"]].key_type is KeyType.RSA
    assert by_fpr[piv.fingerprints["9A"]].key_size == 2048
    assert by_fpr[piv.fingerprints["9C"]].key_type is KeyType.EC
    assert by_fpr[piv.fingerprints["9D"]].curve and "384" in str(by_fpr[piv.fingerprints["9D"]].curve)
    assert all(c.has_private_key for c in mine)
    assert {c.token.manufacturer for c in mine if c.token} == {"piv_II"}


def test_the_rig_counts_apdus_and_another_process_reaches_the_same_pcscd(pcsc_rig: PcscRig,
                                                                        piv: RigCard) -> None:
    before = pcsc_rig.apdu_count(piv)
    out = subprocess.run(["pkcs11-tool", "--module", pcsc_rig.module_path, "-L"], capture_output=True,
                         text=True, timeout=60)
    assert piv.serial in out.stdout  # PCSCLITE_CSOCK_NAME is inherited: the child sees the rig's card
    assert pcsc_rig.apdu_count(piv) > before
