"""Local PKCS#12 / PEM store read with `cryptography`: listing, passwords, corrupt files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from app.sandbox.pki import CertificateAuthority
from app.tokens.errors import FileStoreError, KeyNotFound, StorePasswordIncorrect
from app.tokens.filestore import load_credential, open_file_signer, read_file_entries, scan_store
from app.tokens.inventory import CertificateSource, Problem, scan
from app.tokens.signer import CardSigner, KeyType, SignatureScheme, sign_message, verify_signature


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority("File Test CA")


@pytest.fixture
def store(tmp_path: Path, ca: CertificateAuthority) -> Path:
    d = tmp_path / "store"
    d.mkdir()
    rsa = ca.issue_client("p12 rsa", "rsa2048")
    (d / "rsa.p12").write_bytes(rsa.pkcs12(b"right password", name=b"my rsa"))
    ec = ca.issue_client("pem ec", "p256")
    (d / "ec.pem").write_bytes(ec.cert_pem() + ec.key_pem(b"pem password"))
    plain = ca.issue_client("pem plain", "p384")
    plain.write(d / "plain.crt", d / "plain.key")
    (d / "open.p12").write_bytes(ca.issue_client("open p12", "p256").pkcs12(None))
    old = ca.issue_client(
        "old",
        "p256",
        not_before=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        not_after=dt.datetime(2021, 1, 1, tzinfo=dt.UTC),
    )
    (d / "old.pem").write_bytes(old.cert_pem() + old.key_pem())
    (d / "corrupt.p12").write_bytes(b"\x30\x82\x05\x00" + b"\x00" * 64)
    (d / "nokey.pem").write_bytes(ca.issue_client("no key", "p256").cert_pem())
    (d / "notes.txt").write_text("not a credential")
    return d


def test_listing_a_store_folder(store: Path) -> None:
    entries, errors = scan_store([store])
    by = {Path(e.file_path or "").name: e for e in entries}
    assert set(by) == {"rsa.p12", "ec.pem", "plain.crt", "open.p12", "old.pem", "corrupt.p12", "nokey.pem"}
    assert errors == []
    assert all(e.source is CertificateSource.FILE for e in entries)
    rsa = by["rsa.p12"]
    assert rsa.needs_password and rsa.has_private_key and rsa.usable
    ec = by["ec.pem"]
    assert ec.needs_password and ec.usable and (ec.key_type, ec.key_size) == (KeyType.EC, 256)
    assert ec.subject == "CN=pem ec,O=OUTSCALE Trusted Login test" and len(ec.fingerprint_sha256) == 64
    assert by["plain.crt"].usable and not by["plain.crt"].needs_password and by["plain.crt"].key_size == 384
    assert by["open.p12"].usable and by["open.p12"].subject.startswith("CN=open p12")
    assert by["old.pem"].problems == (Problem.EXPIRED,)
    assert by["corrupt.p12"].problems == (Problem.UNPARSABLE,)
    assert by["nokey.pem"].problems == (Problem.NO_PRIVATE_KEY,)


def test_pkcs12_right_and_wrong_password(store: Path) -> None:
    signer = open_file_signer(store / "rsa.p12", "right password")
    assert signer.key_type is KeyType.RSA
    assert not isinstance(signer, CardSigner)  # a file key has no login to keep or give back
    for scheme in signer.supported_schemes():
        verify_signature(signer.certificate, b"m", sign_message(signer, b"m", scheme), scheme)
    with pytest.raises(StorePasswordIncorrect) as ei:
        open_file_signer(store / "rsa.p12", "wrong password")
    assert "wrong password" not in str(ei.value) + repr(ei.value)
    with pytest.raises(StorePasswordIncorrect):
        open_file_signer(store / "rsa.p12", None)


def test_corrupt_pkcs12(store: Path) -> None:
    with pytest.raises(FileStoreError) as ei:
        load_credential(store / "corrupt.p12", "x")
    assert not isinstance(ei.value, StorePasswordIncorrect)


def test_encrypted_pem_key(store: Path) -> None:
    with pytest.raises(StorePasswordIncorrect):
        open_file_signer(store / "ec.pem")
    with pytest.raises(StorePasswordIncorrect):
        open_file_signer(store / "ec.pem", "nope")
    signer = open_file_signer(store / "ec.pem", "pem password")
    scheme = SignatureScheme.ECDSA_SECP256R1_SHA256
    verify_signature(signer.certificate, b"m", sign_message(signer, b"m", scheme), scheme)


def test_pem_with_companion_key_and_no_key(store: Path) -> None:
    [entry] = read_file_entries(store / "plain.crt")
    signer = open_file_signer(entry)
    assert signer.key_size == 384
    with pytest.raises(KeyNotFound):
        open_file_signer(store / "nokey.pem")


def test_mismatched_key_is_refused(tmp_path: Path, ca: CertificateAuthority) -> None:
    a, b = ca.issue_client("a", "p256"), ca.issue_client("b", "p256")
    (tmp_path / "mix.pem").write_bytes(a.cert_pem() + b.key_pem())
    with pytest.raises(KeyNotFound):
        open_file_signer(tmp_path / "mix.pem")


def test_inventory_includes_stores_and_missing_paths(store: Path, tmp_path: Path) -> None:
    inv = scan([], [str(store / "open.p12"), str(tmp_path / "missing")])
    assert len(inv.certificates) == 1 and len(inv.errors) == 1



_LOADED_AFTER = """
import sys
{imports}
{call}
print("pkcs11" in sys.modules)
"""


def _binding_loaded_after(imports: str, call: str) -> bool:
    """Whether python-pkcs11 is in sys.modules after a fresh interpreter ran `imports` and `call`."""
    import subprocess
    import sys

    code = _LOADED_AFTER.format(imports=imports, call=call)
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    return done.stdout.strip().splitlines()[-1] == "True"


def test_loading_a_file_certificate_does_not_load_the_pkcs11_binding(store: Path) -> None:
    calls = "\n".join(
        [
            f"open_file_signer({str(store / 'rsa.p12')!r}, b'right password')",
            f"open_file_signer({str(store / 'ec.pem')!r}, b'pem password')",
            f"assert scan_store([{str(store)!r}])[0]",
        ]
    )
    assert not _binding_loaded_after("from app.tokens.filestore import open_file_signer, scan_store", calls)


def test_the_binding_probe_sees_a_module_that_loads_the_binding() -> None:
    # the same probe on the inventory (which reads cards) must say True, or the test above proves nothing
    assert _binding_loaded_after("from app.tokens.inventory import scan", "scan()")
