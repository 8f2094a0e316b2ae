"""A PIV card emulator (NIST SP 800-73-4, the parts OpenSC's PIV driver uses), for the PC/SC rig.

`PivCard.answer(apdu)` takes one command APDU and returns the response (data + SW1SW2); every APDU it
answers is recorded in `apdus` (time.monotonic(), CLA INS P1 P2 as hex) so that tests can count the card
traffic. What it implements, in the order OpenSC needs it:
- SELECT of the PIV AID (A0 00 00 03 08 ...) answering the application property template (tag 61);
  any other AID is "file not found" (OpenSC's other drivers probe theirs first);
- GET DATA (tag list 5C) of the discovery object (7E), CCC, CHUID (its GUID is the token serial in
  OpenSC) and the X.509 certificates of slots 9A/9C/9D/9E; long answers go out in 256-byte pieces with
  61xx and GET RESPONSE;
- VERIFY of the PIV application PIN (key reference 80): 63Cx with the tries left on a wrong PIN or on
  an empty VERIFY while not verified, 6983 once blocked; P1=FF resets the verification;
- GENERAL AUTHENTICATE with command chaining (CLA bit 0x10): RSA-2048 (raw RSA on the block OpenSC
  padded), ECC P-256/P-384 (ECDSA of the hash OpenSC sends), and the 9B witness challenge that OpenSC
  uses for C_GenerateRandom. 9A/9D need the PIN verified, 9C needs it verified again before every use
  (PIN-always, as on real cards), 9E needs no PIN.

The card's material (keys, certificates, PIN, GUID) comes from a `CardSpec`, a JSON-friendly dict built
by `make_spec` in the test process (the rig's host process, inside the private namespace, loads it).
"""

from __future__ import annotations

import base64
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, utils

PIV_AID = bytes.fromhex("A000000308")
PIV_PIX = bytes.fromhex("000010000100")
ATR = bytes.fromhex("3B8680015049564543")  # T=1, historical "PIVEC"; TCK appended below


def _with_tck(atr: bytes) -> bytes:
    tck = 0
    for b in atr[1:]:
        tck ^= b
    return atr + bytes([tck])


ATR = _with_tck(ATR)

SLOT_TAGS = {"9A": "5FC105", "9C": "5FC10A", "9D": "5FC10B", "9E": "5FC101"}
SLOT_KEYREF = {0x9A: "9A", 0x9C: "9C", 0x9D: "9D", 0x9E: "9E"}
ALG_OF = {"rsa2048": 0x07, "p256": 0x11, "p384": 0x14}
SW_OK = b"\x90\x00"
SW_NOT_FOUND = b"\x6a\x82"
SW_SECURITY = b"\x69\x82"
SW_BLOCKED = b"\x69\x83"
SW_WRONG_DATA = b"\x6a\x80"
SW_INS = b"\x6d\x00"
SW_REF_NOT_FOUND = b"\x6a\x88"
SW_WRONG_P1P2 = b"\x6a\x86"


def tlv(tag: bytes | int, value: bytes) -> bytes:
    """BER-TLV with a definite length (tag given as bytes or one byte)."""
    t = bytes([tag]) if isinstance(tag, int) else tag
    n = len(value)
    if n < 0x80:
        ln = bytes([n])
    elif n < 0x100:
        ln = b"\x81" + bytes([n])
    else:
        ln = b"\x82" + n.to_bytes(2, "big")
    return t + ln + value


def parse_tlv(data: bytes) -> dict[int, bytes]:
    """One level of BER-TLV with one-byte tags (what GENERAL AUTHENTICATE's 7C template holds)."""
    out: dict[int, bytes] = {}
    i = 0
    while i < len(data):
        tag = data[i]
        n = data[i + 1]
        i += 2
        if n == 0x81:
            n = data[i]
            i += 1
        elif n == 0x82:
            n = int.from_bytes(data[i:i + 2], "big")
            i += 2
        out[tag] = data[i:i + n]
        i += n
    return out


def make_spec(guid: bytes, pin: str, slots: dict[str, tuple[Any, x509.Certificate]], *,
              tries: int = 3) -> dict[str, Any]:
    """A card's material as plain JSON values: `slots` maps "9A".. to (private key, certificate)."""
    out: dict[str, Any] = {"guid": guid.hex(), "pin": pin, "max_tries": tries, "slots": {}}
    for name, (key, cert) in slots.items():
        out["slots"][name] = {
            "key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode(),
            "cert": base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode(),
        }
    return out


@dataclass
class _Slot:
    key: Any
    cert_der: bytes


@dataclass
class PivCard:
    """One emulated PIV card; its PIN state survives removal and re-insertion (it is the same card)."""

    guid: bytes
    pin: bytes
    slots: dict[str, _Slot]
    max_tries: int = 3
    tries: int = 3
    apdus: list[tuple[float, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _verified: bool = False
    _pin_always_ok: bool = False  # 9C: the PIN was verified since the last 9C signature
    _pending: bytes = b""  # what GET RESPONSE still has to send
    _chain: bytes = b""  # command chaining: data of the earlier pieces

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> PivCard:
        """The card described by `make_spec`."""
        slots = {
            name: _Slot(serialization.load_pem_private_key(s["key"].encode(), None),
                        base64.b64decode(s["cert"]))
            for name, s in spec["slots"].items()
        }
        tries = int(spec.get("max_tries", 3))
        return cls(bytes.fromhex(spec["guid"]), spec["pin"].encode(), slots, tries, tries)

    # -- commands from the tests -------------------------------------------------------------

    def reset_tries(self) -> None:
        with self.lock:
            self.tries = self.max_tries

    def set_tries(self, n: int) -> None:
        with self.lock:
            self.tries = n

    def power_reset(self) -> None:
        """Power off / reset / removal: the security status is lost (not the tries counter)."""
        with self.lock:
            self._verified = False
            self._pin_always_ok = False
            self._pending = b""
            self._chain = b""

    # -- the card ----------------------------------------------------------------------------

    def answer(self, apdu: bytes) -> bytes:
        """The response APDU (data + SW1SW2) to one command APDU, recorded in `apdus`."""
        with self.lock:
            self.apdus.append((time.monotonic(), apdu[:4].hex()))
            if len(apdu) < 4:
                return b"\x67\x00"
            cla, ins = apdu[0], apdu[1]
            data, le = _body(apdu)
            if ins != 0xC0:
                self._pending = b""
            if ins == 0xA4:
                return self._select(apdu[2], data, le)
            if ins == 0xCB:
                return self._get_data(data, le)
            if ins == 0xC0:
                return self._respond(self._pending, le)
            if ins == 0x20:
                return self._verify(apdu[2], apdu[3], data)
            if ins == 0x87:
                if cla & 0x10:  # chained: more pieces follow
                    self._chain += data
                    return SW_OK
                data, self._chain = self._chain + data, b""
                return self._general_authenticate(apdu[2], apdu[3], data, le)
            return SW_INS

    def _respond(self, data: bytes, le: int) -> bytes:
        limit = le or 256
        if len(data) <= limit:
            self._pending = b""
            return data + SW_OK
        self._pending = data[limit:]
        return data[:limit] + bytes([0x61, min(len(self._pending), 0xFF) & 0xFF])

    def _select(self, p1: int, data: bytes, le: int) -> bytes:
        if p1 == 0x04 and data and PIV_AID.startswith(data[:5]) and data[:5] == PIV_AID:
            apt = tlv(0x61, tlv(0x4F, PIV_PIX) + tlv(0x79, tlv(0x4F, PIV_AID))
                      + tlv(0x50, b"Emulated PIV"))
            return self._respond(apt, le)
        return SW_NOT_FOUND

    def _get_data(self, data: bytes, le: int) -> bytes:
        if len(data) < 3 or data[0] != 0x5C:
            return SW_WRONG_DATA
        tag = data[2:2 + data[1]].hex().upper()
        obj = self._object(tag)
        if obj is None:
            return SW_NOT_FOUND
        return self._respond(obj, le)

    def _object(self, tag: str) -> bytes | None:
        if tag == "7E":  # discovery object: the PIV AID and the PIN usage policy (PIV PIN only)
            return tlv(0x7E, tlv(0x4F, PIV_AID + PIV_PIX) + tlv(b"\x5f\x2f", b"\x40\x00"))
        if tag == "5FC107":  # CCC
            card_id = bytes.fromhex("A000000116") + b"\xff" + b"\x10" + self.guid[:14]
            body = (tlv(0xF0, card_id) + tlv(0xF1, b"\x21") + tlv(0xF2, b"\x21") + tlv(0xF3, b"")
                    + tlv(0xF4, b"\x00") + tlv(0xF5, b"\x10") + tlv(0xF6, b"") + tlv(0xF7, b"")
                    + tlv(0xFA, b"") + tlv(0xFB, b"") + tlv(0xFC, b"") + tlv(0xFD, b"") + tlv(0xFE, b""))
            return tlv(0x53, body)
        if tag == "5FC102":  # CHUID: FASC-N, GUID (the serial OpenSC reports), expiry, no signature
            fascn = bytes.fromhex("D4E739DA739CED39CE739D836858210842108421C84210C3EB")
            body = (tlv(0x30, fascn) + tlv(0x34, self.guid) + tlv(0x35, b"20401231")
                    + tlv(0x3E, b"") + tlv(0xFE, b""))
            return tlv(0x53, body)
        for slot, stag in SLOT_TAGS.items():
            if tag == stag and slot in self.slots:
                return tlv(0x53, tlv(0x70, self.slots[slot].cert_der) + tlv(0x71, b"\x00") + tlv(0xFE, b""))
        return None

    def _verify(self, p1: int, p2: int, data: bytes) -> bytes:
        if p2 != 0x80:
            return SW_REF_NOT_FOUND
        if p1 == 0xFF:
            self._verified = self._pin_always_ok = False
            return SW_OK
        if self.tries <= 0:
            return SW_BLOCKED
        if not data:  # status query
            return SW_OK if self._verified else bytes([0x63, 0xC0 | self.tries])
        if data.rstrip(b"\xff") == self.pin:
            self.tries = self.max_tries
            self._verified = self._pin_always_ok = True
            return SW_OK
        self.tries -= 1
        self._verified = self._pin_always_ok = False
        return SW_BLOCKED if self.tries <= 0 else bytes([0x63, 0xC0 | self.tries])

    def _general_authenticate(self, alg: int, keyref: int, data: bytes, le: int) -> bytes:
        if not data or data[0] != 0x7C:
            return SW_WRONG_DATA
        inner = parse_tlv(parse_tlv(data)[0x7C])
        if keyref == 0x9B or (0x81 in inner and not inner[0x81] and 0x82 not in inner):
            # the witness OpenSC asks for as a source of random bytes (C_GenerateRandom)
            return self._respond(tlv(0x7C, tlv(0x81, os.urandom(8))), le)
        name = SLOT_KEYREF.get(keyref)
        slot = self.slots.get(name or "")
        if slot is None:
            return SW_REF_NOT_FOUND
        if name != "9E" and not self._verified:
            return SW_SECURITY
        if name == "9C":
            if not self._pin_always_ok:
                return SW_SECURITY
            self._pin_always_ok = False
        challenge = inner.get(0x81)
        if challenge is None:
            return SW_WRONG_DATA
        sig = _sign(slot.key, challenge)
        if sig is None:
            return SW_WRONG_DATA
        return self._respond(tlv(0x7C, tlv(0x82, sig)), le)


def _sign(key: Any, challenge: bytes) -> bytes | None:
    if isinstance(key, rsa.RSAPrivateKey):
        n = key.private_numbers().public_numbers.n
        m = int.from_bytes(challenge, "big")
        if len(challenge) != key.key_size // 8 or m >= n:
            return None
        return pow(m, key.private_numbers().d, n).to_bytes(key.key_size // 8, "big")
    if isinstance(key, ec.EllipticCurvePrivateKey):
        by_len = {32: hashes.SHA256(), 48: hashes.SHA384(), 64: hashes.SHA512(), 20: hashes.SHA1()}
        algo = by_len.get(len(challenge))
        if algo is None:
            return None
        return key.sign(challenge, ec.ECDSA(utils.Prehashed(algo)))
    return None


def _body(apdu: bytes) -> tuple[bytes, int]:
    """(command data, Le) of a short or extended APDU (Le 0 = as much as there is)."""
    rest = apdu[4:]
    if not rest:
        return b"", 0
    if len(rest) == 1:
        return b"", rest[0] or 256
    if rest[0] == 0 and len(rest) >= 3:  # extended
        lc = int.from_bytes(rest[1:3], "big")
        if len(rest) == 3:
            return b"", lc or 65536
        data = rest[3:3 + lc]
        tail = rest[3 + lc:]
        le = int.from_bytes(tail[-2:], "big") if len(tail) >= 2 else 0
        return data, le or (65536 if tail else 0)
    lc = rest[0]
    data = rest[1:1 + lc]
    tail = rest[1 + lc:]
    return data, (tail[0] or 256) if tail else 0
