"""Tell a damaged PKCS#12 file from an encrypted one, without its password.

OpenSSL answers "invalid password or PKCS12 data" to both. The outer structure of a PFX (RFC 7292)
is never encrypted: the PFX SEQUENCE, its authenticated-safe OCTET STRING, each ContentInfo in it and
the SafeContents of the plain (`data`) ones are DER that must be whole and well nested. A truncated
or cut file breaks them; a file that is only encrypted keeps them. Bit flips inside the encrypted
parts cannot be seen without the password (they are reported as a wrong password, as before).
"""

from __future__ import annotations

_SEQUENCE, _OCTET_STRING, _OID, _INTEGER, _CTX0 = 0x30, 0x04, 0x06, 0x02, 0xA0
_OID_DATA = bytes.fromhex("2a864886f70d010701")  # 1.2.840.113549.1.7.1
_MAX_DEPTH = 24  # PKCS#12 nests about ten levels; deeper is not a PFX and is not walked further


class _Damaged(Exception):
    pass


class _NotDer(Exception):
    """BER (indefinite lengths) that some old tools write: not judged."""


def _tlv(data: bytes, i: int, end: int) -> tuple[int, int, int]:
    """(tag, start of contents, end of contents) of the element at i; _Damaged when it overruns end."""
    if i + 2 > end:
        raise _Damaged("an element is cut short")
    tag, first = data[i], data[i + 1]
    j = i + 2
    if first == 0x80:
        raise _NotDer()
    length = first
    if first & 0x80:
        n = first & 0x7F
        if n > 4 or j + n > end:
            raise _Damaged("an element's length is cut short")
        length = int.from_bytes(data[j : j + n], "big")
        j += n
    if j + length > end:
        raise _Damaged("the file ends before its contents do (it is truncated)")
    return tag, j, j + length


def _walk(data: bytes, start: int, end: int, depth: int = 0) -> None:
    """Check that every constructed element between start and end nests exactly."""
    i = start
    while i < end:
        tag, s, e = _tlv(data, i, end)
        if tag & 0x20 and depth < _MAX_DEPTH:
            _walk(data, s, e, depth + 1)
        i = e


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out = []
    i = start
    while i < end:
        t = _tlv(data, i, end)
        out.append(t)
        i = t[2]
    return out


def _content_octets(data: bytes, ci: tuple[int, int, int]) -> tuple[bytes, bytes]:
    """(content type OID, the OCTET STRING's bytes) of a ContentInfo whose content is plain data."""
    kids = _children(data, ci[1], ci[2])
    if len(kids) < 2 or kids[0][0] != _OID or kids[1][0] != _CTX0:
        raise _Damaged("a content block is malformed")
    oid = data[kids[0][1] : kids[0][2]]
    inner = _children(data, kids[1][1], kids[1][2])
    if oid != _OID_DATA:
        return oid, b""  # encrypted or signed content: opaque without the password
    if not inner or inner[0][0] != _OCTET_STRING:
        raise _Damaged("a data block holds no octet string")
    return oid, data[inner[0][1] : inner[0][2]]


def _whole_sequence(blob: bytes, what: str) -> None:
    tag, s, e = _tlv(blob, 0, len(blob))
    if tag != _SEQUENCE or e != len(blob):
        raise _Damaged(f"the {what} is not one whole structure")
    _walk(blob, s, e)


def pkcs12_damage(data: bytes) -> str | None:
    """Why `data` cannot be a whole PKCS#12 file (None when its unencrypted structure is intact)."""
    try:
        tag, s, e = _tlv(data, 0, len(data))
        if tag != _SEQUENCE:
            return "it does not start as a PKCS#12 file does"
        _walk(data, s, e)
        kids = _children(data, s, e)
        if len(kids) < 2 or kids[0][0] != _INTEGER or kids[1][0] != _SEQUENCE:
            return "its outer structure is incomplete"
        oid, auth_safe = _content_octets(data, kids[1])
        if oid != _OID_DATA:
            return None  # a public-key-protected PFX: nothing more to check without the key
        _whole_sequence(auth_safe, "list of contents")
        for ci in _children(auth_safe, *_tlv(auth_safe, 0, len(auth_safe))[1:]):
            if ci[0] != _SEQUENCE:
                raise _Damaged("a content block is not a structure")
            inner_oid, safe_contents = _content_octets(auth_safe, ci)
            if inner_oid == _OID_DATA:
                _whole_sequence(safe_contents, "certificate or key block")
        return None
    except _Damaged as d:
        return str(d)
    except _NotDer:
        return None
