"""Which CA issued a certificate: the candidates whose key signed it (allowed_issuers_sha256)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

MAX_CA_FILE_BYTES = 4 << 20


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the certificate's DER, lowercase hex (the form the policy lists)."""
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def issuer_fingerprints(leaf: x509.Certificate, candidates: Iterable[x509.Certificate]) -> list[str]:
    """Fingerprints of the candidates that really issued `leaf` (name AND signature checked: a CA
    certificate of the same name but another key does not count)."""
    out = []
    for ca in candidates:
        if ca.subject != leaf.issuer:
            continue
        try:
            leaf.verify_directly_issued_by(ca)
        except Exception:  # InvalidSignature, TypeError for key types that cannot sign: not its issuer
            ok = False
        else:
            ok = True
        if ok:
            out.append(fingerprint(ca))
    return out


def certificates_in(path: str | None) -> list[x509.Certificate]:
    """The PEM certificates of a CA bundle (the policy's extra_ca_file); none when it is unreadable."""
    if not path:
        return []
    try:
        data = Path(path).read_bytes()[:MAX_CA_FILE_BYTES]
        return list(x509.load_pem_x509_certificates(data))
    except (OSError, ValueError):
        return []
