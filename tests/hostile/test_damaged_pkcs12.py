"""Class 4, damaged PKCS#12: a truncated or cut file is listed as damaged (no password asked, none can
open it), while an intact encrypted file still asks its password. Real files made by `openssl pkcs12`
and by `cryptography`, read by the real `certs` and `login --headless` commands."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from app.sandbox.pki import CertificateAuthority
from app.tokens.errors import FileDamaged, StorePasswordIncorrect
from app.tokens.filestore import load_credential, read_file_entries
from tests.hostile._cli import private_env, run_cli

PASSWORD = "file-pass"


@pytest.fixture(scope="module")
def encrypted_p12(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A password-protected PKCS#12 written by the openssl command (what users export)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("p12")
    ca = CertificateAuthority("Hostile CA")
    leaf = ca.issue_client("operator@example.com", "p256")
    (d / "cert.pem").write_bytes(leaf.cert_pem())
    (d / "key.pem").write_bytes(leaf.key_pem())
    out = d / "operator.p12"
    subprocess.run(["openssl", "pkcs12", "-export", "-in", d / "cert.pem", "-inkey", d / "key.pem",
                    "-out", out, "-passout", f"pass:{PASSWORD}", "-certpbe", "AES-256-CBC"],
                   check=True, capture_output=True, timeout=60)
    return out


def _cut(src: Path, dst: Path, keep: int) -> Path:
    dst.write_bytes(src.read_bytes()[:keep])
    return dst


def test_truncated_file_is_damaged_not_locked(encrypted_p12: Path, tmp_path: Path) -> None:
    whole = read_file_entries(encrypted_p12)[0]
    assert whole.needs_password and not whole.problems  # the control: intact and encrypted
    with pytest.raises(StorePasswordIncorrect):
        load_credential(encrypted_p12, "wrong")
    size = encrypted_p12.stat().st_size
    for keep in (size - 1, size - 40, size // 2, 64):
        cut = _cut(encrypted_p12, tmp_path / f"cut{keep}.p12", keep)
        entry = read_file_entries(cut)[0]
        assert not entry.needs_password, keep
        assert entry.problems and "damaged" in entry.details[0] and "no password" in entry.details[0]
        with pytest.raises(FileDamaged, match="damaged"):
            load_credential(cut, PASSWORD)  # even the right password: the file cannot open


def test_commands_say_damaged_and_never_ask_a_password(encrypted_p12: Path, tmp_path: Path) -> None:
    cut = _cut(encrypted_p12, tmp_path / "operator.p12", encrypted_p12.stat().st_size // 2)
    env = private_env(tmp_path / "home", OSC_LOGIN="x@example.com", OSC_PASSWORD="not-used")
    listed = run_cli("certs", "--no-modules", "--store", str(cut), "--json", env=env)
    assert "damaged" in listed.out and '"needs_password": true' not in listed.out
    # --pin-stdin would read the file's password from stdin: none is asked, so none is consumed
    ran = run_cli("login", "--headless", "--pin-stdin", "--cert", str(cut), "--endpoint",
                  "https://127.0.0.1:9/api/v1", env=env, stdin=f"{PASSWORD}\n")
    assert ran.rc == 1, ran.text
    assert "damaged" in ran.text and "Traceback" not in ran.text
