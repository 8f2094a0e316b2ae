"""Inventory on real modules: SoftHSM2 cards, the same card through p11-kit remoting, bad modules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from app.tokens.errors import ModuleLoadFailed
from app.tokens.flags import TokenFlags
from app.tokens.inventory import CertificateSource, Problem, rescan, scan, scan_module
from app.tokens.signer import KeyType
from app.tokens.uri import parse_uri
from tests.rigs.p11kit import P11KitCard
from tests.rigs.softhsm import CARD_LABEL, SECOND_LABEL, SoftHsmRig

ROOT = Path(__file__).resolve().parents[2]


def _by_label(inv):
    return {c.label: c for c in inv.certificates}


def test_tokens_are_listed_with_their_info(softhsm_rig: SoftHsmRig) -> None:
    inv = scan_module(softhsm_rig.module_path, module=softhsm_rig.module())
    assert inv.errors == ()
    tokens = {t.label: t for t in inv.tokens}
    assert set(tokens) == {CARD_LABEL, SECOND_LABEL}  # SoftHSM2's uninitialised free slot is left out
    t = tokens[CARD_LABEL]
    assert t.serial == softhsm_rig.card.serial
    assert t.manufacturer == "SoftHSM project" and t.model.startswith("SoftHSM")
    assert (TokenFlags.LOGIN_REQUIRED | TokenFlags.USER_PIN_INITIALIZED) in t.flags
    assert TokenFlags.PROTECTED_AUTHENTICATION_PATH not in t.flags
    assert TokenFlags.USER_PIN_LOCKED not in t.flags and t.tries_left is None
    assert t.to_json()["login_required"] and not t.to_json()["protected_authentication_path"]
    assert {"RSA_PKCS", "RSA_PKCS_PSS", "ECDSA"} <= t.mechanisms
    assert parse_uri(t.uri).serial == t.serial


def test_every_certificate_is_listed_with_its_problems(softhsm_rig: SoftHsmRig) -> None:
    inv = scan_module(softhsm_rig.module_path, module=softhsm_rig.module())
    certs = _by_label(inv)
    for name in ("rsa2048", "rsa3072", "p256", "p384", "always_auth", "visible"):
        c = certs[f"test {name}"]
        key = softhsm_rig.keys[name]
        assert c.usable, (name, c.problems)
        assert c.has_private_key
        assert c.fingerprint_sha256 == key.fingerprint_sha256
        assert c.cka_id == key.cka_id
        assert c.source is CertificateSource.PKCS11
        assert c.token is not None and c.token.label == CARD_LABEL
        assert "clientAuth" in c.extended_key_usage and "digital_signature" in c.key_usage
        assert c.subject == f"CN=test {name},O=OUTSCALE Trusted Login test"
        assert c.issuer.startswith("CN=OTL Test Root CA")
        assert c.not_before and c.not_after and c.not_before < c.not_after
        u = parse_uri(c.uri)
        assert (u.token, u.serial, u.id, u.type) == (CARD_LABEL, softhsm_rig.card.serial, key.cka_id, "cert")
    assert (certs["test rsa2048"].key_type, certs["test rsa2048"].key_size) == (KeyType.RSA, 2048)
    assert certs["test rsa3072"].key_size == 3072
    assert (certs["test p384"].key_type, certs["test p384"].key_size, certs["test p384"].curve) == (
        KeyType.EC,
        384,
        "P-384",
    )
    # a private key visible before login tells whether it is always-authenticate
    assert certs["test visible"].private_key_visible and certs["test visible"].always_authenticate is False
    assert certs["test p256"].always_authenticate is None  # hidden until login on SoftHSM2
    assert certs["test expired"].problems == (Problem.EXPIRED,)
    assert (
        certs["test no_key"].problems == (Problem.NO_PRIVATE_KEY,)
        and not certs["test no_key"].has_private_key
    )
    assert certs["test no_client_auth"].problems == (Problem.NOT_FOR_CLIENT_AUTH,)
    garbage = certs["garbage"]
    assert Problem.UNPARSABLE in garbage.problems and not garbage.usable
    assert garbage.cka_id == softhsm_rig.garbage_id
    assert certs["second p256"].token is not None and certs["second p256"].token.label == SECOND_LABEL


def test_a_failing_module_does_not_hide_the_others(softhsm_rig: SoftHsmRig, tmp_path: Path) -> None:
    bogus = tmp_path / "not-a-module.so"
    bogus.write_bytes(b"\x7fELF garbage")
    inv = scan([str(tmp_path / "missing.so"), str(bogus), softhsm_rig.module_path])
    assert len(inv.errors) == 2 and all(isinstance(e, ModuleLoadFailed) for e in inv.errors)
    assert {t.label for t in inv.tokens} == {CARD_LABEL, SECOND_LABEL}
    assert "missing.so" in str(inv.errors[0])


def test_the_same_card_through_p11kit_lists_identically(
    softhsm_rig: SoftHsmRig, p11kit_card: P11KitCard
) -> None:
    direct = scan_module(softhsm_rig.module_path, module=softhsm_rig.module())
    remote = scan_module(p11kit_card.client_module_path, module=p11kit_card.module())
    assert remote.errors == ()
    [rt] = remote.tokens
    [dt] = [t for t in direct.tokens if t.serial == rt.serial]
    assert (rt.label, rt.serial, rt.manufacturer, rt.model, rt.flags) == (
        dt.label,
        dt.serial,
        dt.manufacturer,
        dt.model,
        dt.flags,
    )

    def view(inv, serial):
        return sorted(
            (c.uri, c.fingerprint_sha256, c.problems, c.has_private_key, c.label, c.subject)
            for c in inv.certificates
            if c.token_serial == serial
        )

    assert view(remote, rt.serial) == view(direct, rt.serial)
    assert len(view(remote, rt.serial)) == 1


def test_removed_p11kit_card_is_an_error_not_a_crash(p11kit_card: P11KitCard) -> None:
    mod = p11kit_card.module()
    p11kit_card.remove()
    inv = scan_module(p11kit_card.client_module_path, module=mod)
    assert inv.certificates == ()


def test_certs_command_json(softhsm_rig: SoftHsmRig, tmp_path: Path) -> None:
    env = {**os.environ, **softhsm_rig.env, "PYTHONPATH": str(ROOT)}
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "app",
            "certs",
            "--module",
            softhsm_rig.module_path,
            "--module",
            str(tmp_path / "missing.so"),
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    certs = {c["label"]: c for c in data["certificates"]}
    required = {
        "source",
        "uri",
        "token_label",
        "token_serial",
        "label",
        "subject",
        "issuer",
        "not_before",
        "not_after",
        "key_type",
        "key_size",
        "fingerprint_sha256",
        "usable",
        "problems",
    }
    for c in certs.values():
        assert required <= set(c)
    assert certs["test p256"]["usable"] is True and certs["test p256"]["source"] == "pkcs11"
    assert certs["test expired"]["problems"] == ["expired"]
    assert certs["garbage"]["usable"] is False
    assert any("missing.so" in e["message"] for e in data["errors"])


def test_certs_command_table(softhsm_rig: SoftHsmRig) -> None:
    env = {**os.environ, **softhsm_rig.env, "PYTHONPATH": str(ROOT)}
    r = subprocess.run(
        [sys.executable, "-m", "app", "certs", "--module", softhsm_rig.module_path],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    assert f"Card '{CARD_LABEL}'" in r.stdout
    assert "the certificate has expired" in r.stdout
    assert softhsm_rig.card.user_pin not in r.stdout + r.stderr


def test_rescan_reads_a_loaded_module_again(softhsm_rig: SoftHsmRig, tmp_path: Path) -> None:
    assert rescan(str(tmp_path / "never-loaded.so")) is None  # nothing loaded: nothing to re-scan
    mod = softhsm_rig.module()
    before = mod.generation
    inv = rescan(softhsm_rig.module_path)
    assert inv is not None and inv.errors == ()
    assert mod.generation == before + 1  # it did C_Finalize + C_Initialize
    assert {t.label for t in inv.tokens} == {CARD_LABEL, SECOND_LABEL}
