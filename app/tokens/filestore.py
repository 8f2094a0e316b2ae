"""Local certificate store: PKCS#12 (.p12/.pfx) and PEM files, read with `cryptography`.

Listing never needs a password when the file lets us read its certificate without one (PEM, and
PKCS#12 files whose certificate bag is not encrypted); otherwise the entry says `needs_password`.
A key is decrypted only in memory, by `open_file_signer`, and never written anywhere.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from app.tokens.der import pkcs12_damage
from app.tokens.errors import FileDamaged, FileStoreError, KeyNotFound, StorePasswordIncorrect
from app.tokens.model import CertificateEntry, CertificateSource, Problem, parse_certificate
from app.tokens.safefile import MAX_CREDENTIAL_BYTES, read_bounded
from app.tokens.signer import SoftwareSigner

log = logging.getLogger(__name__)

PKCS12_SUFFIXES = (".p12", ".pfx")
PEM_SUFFIXES = (".pem", ".crt", ".cer")
MAX_FILE_SIZE = MAX_CREDENTIAL_BYTES  # a credential file is small; anything bigger is not one of ours


class _Revealable(Protocol):
    def reveal(self) -> str: ...


Password = str | bytes | _Revealable | None


def _password_bytes(password: Password) -> bytes | None:
    if password is None:
        return None
    if isinstance(password, bytes):
        return password
    if isinstance(password, str):
        return password.encode("utf-8")
    return password.reveal().encode("utf-8")


def _read(path: Path) -> bytes:
    # regular files only, opened without blocking, bounded: a FIFO or /dev/zero is refused in one sentence
    try:
        return read_bounded(path, MAX_FILE_SIZE, what="certificate file")
    except OSError as e:
        raise FileStoreError(f"Cannot read {path}: {e.strerror or e}") from e


def is_pkcs12(path: Path) -> bool:
    return path.suffix.lower() in PKCS12_SUFFIXES


def _pem_blocks(data: bytes, kind: bytes) -> list[bytes]:
    out = []
    begin = b"-----BEGIN " + kind
    start = 0
    while (i := data.find(begin, start)) >= 0:
        end_marker = data.find(b"-----END ", i)
        if end_marker < 0:
            break
        end = data.find(b"-----", end_marker + 9)
        if end < 0:
            break
        out.append(data[i : end + 5] + b"\n")
        start = end + 5
    return out


def _has_private_key_block(data: bytes) -> tuple[bool, bool]:
    """(has a key block, that key is encrypted)."""
    if b"PRIVATE KEY-----" not in data:
        return False, False
    encrypted = b"BEGIN ENCRYPTED PRIVATE KEY" in data or b"Proc-Type: 4,ENCRYPTED" in data
    return True, encrypted


def _companion_key(path: Path) -> Path | None:
    """`name.key` or `name-key.pem` / `name.key.pem` beside a PEM certificate."""
    for cand in (
        path.with_suffix(".key"),
        path.with_name(path.stem + "-key.pem"),
        path.with_name(path.stem + ".key.pem"),
    ):
        if cand != path and cand.is_file():
            return cand
    return None


def _file_entry(
    path: Path,
    der: bytes,
    *,
    has_key: bool,
    needs_password: bool,
    label: str,
    now: _dt.datetime | None,
    extra_problems: tuple[Problem, ...] = (),
    details: tuple[str, ...] = (),
) -> CertificateEntry:
    p = parse_certificate(der, now)
    problems = list(p.problems) + list(extra_problems)
    if not has_key:
        problems.append(Problem.NO_PRIVATE_KEY)
    return CertificateEntry(
        source=CertificateSource.FILE,
        uri=str(path),
        label=label,
        der=der,
        **p.entry_fields(),
        has_private_key=has_key,
        private_key_visible=has_key,
        always_authenticate=False,
        problems=tuple(dict.fromkeys(problems)),
        details=details + ((p.error,) if p.error else ()),
        file_path=str(path),
        needs_password=needs_password,
    )


def read_file_entries(path: Path | str, *, now: _dt.datetime | None = None) -> list[CertificateEntry]:
    """The certificate entries of one file (FileStoreError when it is not a credential file)."""
    path = Path(path)
    data = _read(path)
    if is_pkcs12(path):
        return [_pkcs12_entry(path, data, now)]
    certs = _pem_blocks(data, b"CERTIFICATE")
    if not certs:
        if b"-----BEGIN" in data:
            return []  # a key file or something else in PEM: listed through its certificate
        raise FileStoreError(f"{path.name} holds no PEM certificate")
    has_key, encrypted = _has_private_key_block(data)
    if not has_key:
        comp = _companion_key(path)
        if comp is not None:
            has_key, encrypted = _has_private_key_block(_read(comp))
    leaf = certs[0]  # the leaf first, the chain after it (the usual order)
    try:
        der = x509.load_pem_x509_certificate(leaf).public_bytes(serialization.Encoding.DER)
    except Exception as e:
        return [
            CertificateEntry(
                source=CertificateSource.FILE,
                uri=str(path),
                label=path.name,
                der=b"",
                problems=(Problem.UNPARSABLE,),
                details=(f"{type(e).__name__}: {e}"[:200],),
                file_path=str(path),
                fingerprint_sha256=hashlib.sha256(leaf).hexdigest(),
            )
        ]
    return [_file_entry(path, der, has_key=has_key, needs_password=encrypted, label=path.name, now=now)]


def _pkcs12_entry(path: Path, data: bytes, now: _dt.datetime | None) -> CertificateEntry:
    try:
        p12 = pkcs12.load_pkcs12(data, None)
    except ValueError:
        # Either a password is needed or the file is corrupt: tell them apart with an empty password
        # being refused the same way; we cannot read the certificate without the password.
        damage = "not a PKCS#12 file" if not _looks_like_pkcs12(data) else _damage_sentence(path, data)
        if damage:
            # damaged, not locked: no password can open it, so none is asked
            return CertificateEntry(
                source=CertificateSource.FILE,
                uri=str(path),
                label=path.name,
                der=b"",
                problems=(Problem.UNPARSABLE,),
                details=(damage,),
                file_path=str(path),
                fingerprint_sha256=hashlib.sha256(data).hexdigest(),
            )
        return CertificateEntry(
            source=CertificateSource.FILE,
            uri=str(path),
            label=path.name,
            der=b"",
            has_private_key=True,
            file_path=str(path),
            needs_password=True,
            details=("the certificate is shown after the file's password is given",),
        )
    if p12.cert is None:
        return CertificateEntry(
            source=CertificateSource.FILE,
            uri=str(path),
            label=path.name,
            der=b"",
            problems=(Problem.UNPARSABLE,),
            details=("no certificate in the file",),
            file_path=str(path),
        )
    der = p12.cert.certificate.public_bytes(serialization.Encoding.DER)
    label = (p12.cert.friendly_name or b"").decode("utf-8", "replace") or path.name
    return _file_entry(path, der, has_key=p12.key is not None, needs_password=False, label=label, now=now)


def _damage_sentence(path: Path, data: bytes) -> str | None:
    reason = pkcs12_damage(data)
    if reason is None:
        return None
    return f"{path.name} is damaged ({reason}): no password can open it; export it again"


def _looks_like_pkcs12(data: bytes) -> bool:
    # PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo, ... }
    if len(data) < 8 or data[0] != 0x30:
        return False
    i = 2 if data[1] < 0x80 else 2 + (data[1] & 0x7F)
    return data[i : i + 3] == b"\x02\x01\x03"


def scan_store(
    paths: Sequence[Path | str], *, now: _dt.datetime | None = None
) -> tuple[list[CertificateEntry], list[FileStoreError]]:
    """Entries of every credential file in `paths` (files, or folders scanned one level deep).

    One bad file never breaks the listing: its error is returned beside the entries.
    """
    entries: list[CertificateEntry] = []
    errors: list[FileStoreError] = []
    for p in paths:
        p = Path(p).expanduser()
        if p.is_dir():
            files = sorted(
                f for f in p.iterdir() if f.is_file() and f.suffix.lower() in PKCS12_SUFFIXES + PEM_SUFFIXES
            )
        elif p.exists():
            files = [p]
        else:
            errors.append(FileStoreError(f"{p} does not exist"))
            continue
        for f in files:
            try:
                entries += read_file_entries(f, now=now)
            except FileStoreError as e:
                errors.append(e)
            except Exception as e:  # never let one file break the listing
                errors.append(FileStoreError(f"{f.name}: {type(e).__name__}"))
    return entries, errors


@dataclass(frozen=True)
class FileCredential:
    """What a credential file holds once opened (the key stays in memory)."""

    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

    def __repr__(self) -> str:
        return f"FileCredential({self.certificate.subject.rfc4514_string()!r})"


def load_credential(path: Path | str, password: Password = None) -> FileCredential:
    """Open a PKCS#12 or PEM (certificate + key, maybe encrypted) file.

    StorePasswordIncorrect for a wrong or missing password, FileStoreError for a corrupt file,
    KeyNotFound when the file has no key matching its certificate.
    """
    path = Path(path).expanduser()
    data = _read(path)
    pw = _password_bytes(password)
    if is_pkcs12(path):
        if not _looks_like_pkcs12(data):
            raise FileStoreError(f"{path.name} is not a PKCS#12 file")
        if (damage := _damage_sentence(path, data)) is not None:
            raise FileDamaged(damage + ".")
        try:
            p12 = pkcs12.load_pkcs12(data, pw)
        except ValueError as e:
            # cryptography says "Invalid password or PKCS12 data": the structure looked right above
            if not pw:
                raise StorePasswordIncorrect(f"{path.name} is protected: a password is needed.") from e
            raise StorePasswordIncorrect(f"The password of {path.name} is incorrect.") from None
        except Exception as e:
            raise FileStoreError(f"{path.name} cannot be read as PKCS#12 ({type(e).__name__})") from None
        if p12.cert is None:
            raise FileStoreError(f"{path.name} holds no certificate")
        if p12.key is None:
            raise KeyNotFound(f"{path.name} holds no private key")
        key = p12.key
        cert = p12.cert.certificate
        chain = tuple(c.certificate for c in p12.additional_certs)
    else:
        blocks = _pem_blocks(data, b"CERTIFICATE")
        if not blocks:
            raise FileStoreError(f"{path.name} holds no PEM certificate")
        try:
            certs = [x509.load_pem_x509_certificate(b) for b in blocks]
        except Exception as e:
            raise FileStoreError(
                f"{path.name}: the certificate cannot be parsed ({type(e).__name__})"
            ) from None
        key_data = data if b"PRIVATE KEY-----" in data else None
        if key_data is None and (comp := _companion_key(path)) is not None:
            key_data = _read(comp)
        if key_data is None:
            raise KeyNotFound(f"{path.name} has no private key beside it")
        encrypted = _has_private_key_block(key_data)[1]
        if encrypted and not pw:
            raise StorePasswordIncorrect(f"The key of {path.name} is encrypted: a password is needed.")
        try:
            loaded = serialization.load_pem_private_key(key_data, pw if encrypted else None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as e:  # a damaged key names an unknown type
            if encrypted:
                raise StorePasswordIncorrect(f"The password of {path.name} is incorrect.") from None
            raise FileStoreError(
                f"{path.name}: the private key cannot be read ({type(e).__name__})"
            ) from None
        key = loaded
        cert, chain = certs[0], tuple(certs[1:])
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise KeyNotFound(f"{path.name}: only RSA and EC keys are supported")
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    try:
        cert_spki = cert.public_key().public_bytes(*spki)
    except (ValueError, TypeError, UnsupportedAlgorithm):  # a damaged key in a certificate that parses
        raise FileStoreError(f"{path.name}: the certificate's public key cannot be read") from None
    if key.public_key().public_bytes(*spki) != cert_spki:
        raise KeyNotFound(f"{path.name}: the private key does not match the certificate")
    return FileCredential(cert, chain, key)


def open_file_signer(source: CertificateEntry | Path | str, password: Password = None) -> SoftwareSigner:
    """A SoftwareSigner for a file entry (or path), decrypting its key in memory with `password`."""
    path = Path(source.file_path or source.uri) if isinstance(source, CertificateEntry) else Path(source)
    cred = load_credential(path, password)
    return SoftwareSigner(cred.private_key, cred.certificate, cred.chain, description=os.path.basename(path))


def credential_entry(
    path: Path | str, credential: FileCredential, *, needs_password: bool
) -> CertificateEntry:
    """The entry of a file opened with its password: the key is known to be there."""
    path = Path(path)
    der = credential.certificate.public_bytes(serialization.Encoding.DER)
    return _file_entry(path, der, has_key=True, needs_password=needs_password, label=path.name, now=None)
