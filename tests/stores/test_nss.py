"""NSS databases, real: made with certutil/pk12util under a temporary HOME, read through softokn."""
# ruff: noqa: F811 - the rig's fixtures reappear as arguments

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding

from app.tokens.errors import PinCancelled, PinIncorrect
from app.tokens.model import CertificateSource, KeyFactor, Problem
from app.tokens.pin import Pin, PinRequest
from app.tokens.signer import SignatureScheme
from app.tokens.stores.base import StoreUnavailable
from app.tokens.stores.nss import open_nss_signer, scan_databases
from app.tokens.stores.nss_paths import NssDatabase, browser_modules, nss_databases
from tests.rigs.nss import (  # noqa: F401 - fixtures
    NssHome,
    fingerprint,
    make_db,
    nss_ca,
    nss_home,
    write_profiles_ini,
)

ROOT = Path(__file__).resolve().parents[2]


def _dbs(h: NssHome) -> list[NssDatabase]:
    return nss_databases(h.home)


def test_chrome_and_every_firefox_profile_are_found_classic_snap_and_flatpak(tmp_path: Path) -> None:
    (tmp_path / ".pki" / "nssdb").mkdir(parents=True)
    write_profiles_ini(tmp_path / ".mozilla/firefox", {"default-release": "x.default-release", "work": "y.w"})
    write_profiles_ini(tmp_path / "snap/firefox/common/.mozilla/firefox", {"snappy": "s.snappy"})
    write_profiles_ini(tmp_path / ".var/app/org.mozilla.firefox/.mozilla/firefox", {"flat": "f.flat"})
    names = [(d.name, d.path.relative_to(tmp_path).as_posix()) for d in nss_databases(tmp_path)]
    assert names == [
        ("Chrome", ".pki/nssdb"),
        ("Firefox profile default-release", ".mozilla/firefox/x.default-release"),
        ("Firefox profile work", ".mozilla/firefox/y.w"),
        ("Firefox profile snappy (snap)", "snap/firefox/common/.mozilla/firefox/s.snappy"),
        ("Firefox profile flat (flatpak)", ".var/app/org.mozilla.firefox/.mozilla/firefox/f.flat"),
    ]
    assert nss_databases(tmp_path / "nobody") == []


def test_the_card_modules_a_browser_loaded_are_offered_but_not_nss_own(tmp_path: Path) -> None:
    db = tmp_path / ".pki" / "nssdb"
    db.mkdir(parents=True)
    (db / "pkcs11.txt").write_text(textwrap.dedent("""\
        library=
        name=NSS Internal PKCS #11 Module

        library=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so
        name=OpenSC

        library=/usr/lib/x86_64-linux-gnu/nss/libnssckbi.so
        name=Root Certs

        library=/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-proxy.so
        name=p11-kit-proxy
        """))
    assert browser_modules(tmp_path) == [("/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so", "Chrome")]


def test_identities_of_both_databases_are_listed_with_their_store_and_factor(nss_home: NssHome) -> None:
    entries, errors = scan_databases(_dbs(nss_home))
    assert errors == []
    by_fp = {e.fingerprint_sha256: e for e in entries}
    # the CA certificate cached in the Firefox profile has no key: not an identity, not listed
    assert set(by_fp) == {fingerprint(nss_home.rsa), fingerprint(nss_home.ec)}
    rsa, p256 = by_fp[fingerprint(nss_home.rsa)], by_fp[fingerprint(nss_home.ec)]
    assert (rsa.store_name, str(rsa.key_type), rsa.key_size) == ("Chrome", "RSA", 2048)
    assert (p256.store_name, p256.curve) == ("Firefox profile work", "P-256")
    for e in (rsa, p256):
        assert e.source is CertificateSource.STORE and e.factor is KeyFactor.KNOWLEDGE
        assert e.usable and e.has_private_key and e.uri.startswith("pkcs11:")
    assert rsa.private_key_visible and not p256.private_key_visible  # hidden behind the password


def test_a_database_without_password_signs_without_asking(nss_home: NssHome) -> None:
    entries, _ = scan_databases(_dbs(nss_home))
    rsa = next(e for e in entries if e.store_name == "Chrome")

    def never(request: PinRequest) -> Pin | None:
        raise AssertionError(f"asked {request}")

    signer = open_nss_signer(rsa, never)
    try:
        digest = hashlib.sha256(b"hello").digest()
        sig = signer.sign_digest(digest, SignatureScheme.RSA_PSS_RSAE_SHA256)
        rsa.certificate().public_key().verify(  # type: ignore[call-arg]
            sig, b"hello", padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    finally:
        signer.close()


def test_the_password_is_asked_under_the_database_name_without_tries(nss_home: NssHome) -> None:
    entries, _ = scan_databases(_dbs(nss_home))
    p256 = next(e for e in entries if e.store_name == "Firefox profile work")
    asked: list[PinRequest] = []

    def answer(request: PinRequest) -> Pin | None:
        asked.append(request)
        return Pin(nss_home.password)

    signer = open_nss_signer(p256, answer)
    try:
        sig = signer.sign_digest(hashlib.sha256(b"m").digest(), SignatureScheme.ECDSA_SECP256R1_SHA256)
        p256.certificate().public_key().verify(sig, b"m", ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg]
    finally:
        signer.close()
    assert len(asked) == 1
    r = asked[0]
    assert r.database_password and r.token_label == "Firefox profile work"
    assert (r.tries_left, r.count_low, r.final_try) == (None, False, False)


def test_a_wrong_database_password_is_refused_in_words_of_a_password(nss_home: NssHome) -> None:
    entries, _ = scan_databases(_dbs(nss_home))
    p256 = next(e for e in entries if e.store_name == "Firefox profile work")
    with pytest.raises(PinIncorrect) as info:
        open_nss_signer(p256, lambda r: Pin("not the password"))
    assert "password" in str(info.value) and "not the password" not in str(info.value)
    assert info.value.tries_left is None
    with pytest.raises(PinCancelled):
        open_nss_signer(p256, lambda r: None)


def _corrupt(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in ("cert9.db", "key4.db"):
        (folder / name).write_bytes(os.urandom(8192))
    return folder


def test_missing_corrupt_and_locked_databases_are_reported_and_hide_nothing(
        tmp_path: Path, nss_home: NssHome) -> None:
    good = NssDatabase(nss_home.chrome, "Chrome")
    missing = NssDatabase(tmp_path / "gone", "Firefox profile gone")
    corrupt = NssDatabase(_corrupt(tmp_path / "corrupt"), "Firefox profile corrupt")
    locked_path = tmp_path / "locked"
    shutil.copytree(nss_home.chrome, locked_path)
    locked = NssDatabase(locked_path, "Firefox profile locked")
    # another process holds an exclusive lock on the database (as a crashed writer could)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1], isolation_level=None); "
         "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); sys.stdin.read()",
         str(locked_path / "cert9.db")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        entries, errors = scan_databases([good, missing, corrupt, locked])
    finally:
        holder.communicate("", timeout=30)
    assert [e.store_name for e in entries] == ["Chrome"]
    reasons = {e.store: e.reason for e in errors if isinstance(e, StoreUnavailable)}
    assert set(reasons) == {"Firefox profile gone", "Firefox profile corrupt", "Firefox profile locked"}
    assert "no database folder" in reasons["Firefox profile gone"]
    assert "CKR_NSS_CERTDB_FAILED" in reasons["Firefox profile corrupt"]
    assert "CKR_NSS_CERTDB_FAILED" in reasons["Firefox profile locked"]


def test_a_new_database_is_added_to_the_open_ones(tmp_path: Path, nss_home: NssHome) -> None:
    later = make_db(tmp_path / "later", None, [("rsa again", nss_home.ca.issue_client("later user"))])
    first, _ = scan_databases(_dbs(nss_home))
    both, errors = scan_databases([*_dbs(nss_home), NssDatabase(later, "Firefox profile later")])
    assert errors == []
    assert {e.store_name for e in both} == {e.store_name for e in first} | {"Firefox profile later"}


def _env(h: NssHome, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OSC_", "OTL_PKCS11"))}
    env.update(HOME=str(h.home), PYTHONPATH=str(ROOT), **extra)
    return env


def test_certs_lists_the_stores_in_json(tmp_path: Path, nss_home: NssHome) -> None:
    empty = tmp_path / "no-modules"
    empty.mkdir()
    r = subprocess.run([sys.executable, "-m", "app", "certs", "--json", "--module", str(empty / "none.so")],
                       capture_output=True, text=True, env=_env(nss_home), cwd=tmp_path, timeout=120,
                       check=False)
    data = json.loads(r.stdout)
    stores = {c["fingerprint_sha256"]: c for c in data["certificates"] if c["source"] == "store"}
    assert set(stores) == {fingerprint(nss_home.rsa), fingerprint(nss_home.ec)}, r.stderr
    ec_entry = stores[fingerprint(nss_home.ec)]
    assert ec_entry["store"] == "Firefox profile work" and ec_entry["key_factor"] == "knowledge"
    assert ec_entry["sources"] == ["Firefox profile work"] and ec_entry["usable"]
    table = subprocess.run([sys.executable, "-m", "app", "certs", "--module", str(empty / "none.so")],
                           capture_output=True, text=True, env=_env(nss_home), cwd=tmp_path, timeout=120,
                           check=False)
    assert "Firefox profile work (knowledge)" in table.stdout
    assert Problem.NO_PRIVATE_KEY.value not in r.stdout  # the cached CA is not listed
