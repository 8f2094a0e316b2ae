"""NSS databases made with the real certutil/pk12util (Debian's libnss3-tools) under a temporary HOME:
Chrome's ~/.pki/nssdb (no password, an RSA key) and a Firefox profile listed in profiles.ini (with a
password, a P-256 key, plus a CA certificate without key, as Firefox caches them).

    def test_x(nss_home): nss_home.home, .chrome, .firefox, .rsa, .ec (Issued), .password
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from app.sandbox.pki import CertificateAuthority, Issued

PASSWORD = "nss-db-password"


def require_nss_tools() -> None:
    """Skip when certutil/pk12util are missing (setup.sh installs libnss3-tools)."""
    if not (shutil.which("certutil") and shutil.which("pk12util")):
        pytest.skip("certutil/pk12util (libnss3-tools) are not installed")


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=60)


def make_db(folder: Path, password: str | None, identities: list[tuple[str, Issued]],
            cas: tuple[CertificateAuthority, ...] = ()) -> Path:
    """A fresh sql: database in `folder` holding each (nickname, identity) with its key."""
    folder.mkdir(parents=True, exist_ok=True)
    pwfile = folder.parent / f".{folder.name}.pw"
    pwfile.write_text((password or "") + "\n")
    if password:
        _run("certutil", "-N", "-d", f"sql:{folder}", "-f", str(pwfile))
    else:
        _run("certutil", "-N", "-d", f"sql:{folder}", "--empty-password")
    for nick, issued in identities:
        p12 = folder.parent / f".{nick}.p12"
        p12.write_bytes(issued.pkcs12(b"transfer", name=nick.encode()))
        _run("pk12util", "-i", str(p12), "-d", f"sql:{folder}", "-W", "transfer", "-k", str(pwfile))
        p12.unlink()
    for i, ca in enumerate(cas):
        pem = folder.parent / f".ca{i}.pem"
        pem.write_bytes(ca.cert_pem())
        _run("certutil", "-A", "-d", f"sql:{folder}", "-n", f"cached CA {i}", "-t", ",,", "-i", str(pem))
    pwfile.unlink()
    return folder


def fingerprint(issued: Issued) -> str:
    """SHA-256 of the certificate's DER, lowercase hex."""
    return hashlib.sha256(issued.certificate.public_bytes(Encoding.DER)).hexdigest()


def write_profiles_ini(root: Path, profiles: dict[str, str]) -> None:
    """profiles.ini of a Firefox root: Name -> relative Path."""
    lines = ["[General]", "StartWithLastProfile=1", ""]
    for i, (name, rel) in enumerate(profiles.items()):
        lines += [f"[Profile{i}]", f"Name={name}", "IsRelative=1", f"Path={rel}", ""]
    root.mkdir(parents=True, exist_ok=True)
    (root / "profiles.ini").write_text("\n".join(lines))


@dataclass
class NssHome:
    """A HOME with Chrome's database and one Firefox profile (name "work")."""

    home: Path
    chrome: Path
    firefox: Path
    rsa: Issued
    ec: Issued
    ca: CertificateAuthority
    password: str = PASSWORD


def build_nss_home(home: Path, ca: CertificateAuthority) -> NssHome:
    """Chrome's ~/.pki/nssdb (RSA, no password) and Firefox profile "work" (P-256, password)."""
    require_nss_tools()
    rsa = ca.issue_client("nss rsa user", key_kind="rsa2048")
    ec = ca.issue_client("nss ec user", key_kind="p256")
    chrome = make_db(home / ".pki" / "nssdb", None, [("rsa user", rsa)])
    ff_root = home / ".mozilla" / "firefox"
    write_profiles_ini(ff_root, {"work": "abcd1234.work"})
    firefox = make_db(ff_root / "abcd1234.work", PASSWORD, [("ec user", ec)], cas=(ca,))
    return NssHome(home, chrome, firefox, rsa, ec, ca)


@pytest.fixture(scope="session")
def nss_ca() -> CertificateAuthority:
    """The CA of the NSS identities (the sandbox trusts it in the login tests)."""
    return CertificateAuthority("NSS test client CA")


@pytest.fixture(scope="session")
def nss_home(tmp_path_factory: pytest.TempPathFactory, nss_ca: CertificateAuthority) -> NssHome:
    """Built once per session; read-only for the tests (softokn opens it read-only)."""
    return build_nss_home(tmp_path_factory.mktemp("nss-home"), nss_ca)
