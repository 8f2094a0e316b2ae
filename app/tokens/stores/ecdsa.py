"""ECDSA signature formats: the raw r||s of CNG and PKCS#11, the DER SEQUENCE that TLS wants."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature


def raw_to_der(raw: bytes) -> bytes:
    """r||s (two big-endian halves of equal length) -> DER."""
    if not raw or len(raw) % 2:
        raise ValueError("a raw ECDSA signature has two halves of equal length")
    half = len(raw) // 2
    return encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))


def der_to_raw(der: bytes, size_bits: int) -> bytes:
    """DER -> r||s, each half the curve's size in bytes (what CNG returns; used by the fakes)."""
    r, s = decode_dss_signature(der)
    n = (size_bits + 7) // 8
    return r.to_bytes(n, "big") + s.to_bytes(n, "big")
