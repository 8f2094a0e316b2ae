"""RFC 7512 PKCS#11 URIs: parse and build (`pkcs11:token=My%20Card;id=%01;type=cert?module-path=...`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote_to_bytes

# Path attributes in the order RFC 7512 lists them (we build in this order).
PATH_ATTRS = (
    "library-description",
    "library-manufacturer",
    "library-version",
    "slot-description",
    "slot-manufacturer",
    "slot-id",
    "token",
    "manufacturer",
    "model",
    "serial",
    "object",
    "type",
    "id",
)
QUERY_ATTRS = ("pin-source", "module-name", "module-path")
OBJECT_TYPES = ("cert", "private", "public", "secret-key", "data")

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Characters RFC 7512 lets stand unencoded in a path value (pk11-path-res-avail) and a query value.
_PATH_SAFE = _UNRESERVED | frozenset(b":[]@!$'()*+,=&")
_QUERY_SAFE = _UNRESERVED | frozenset(b":[]@!$'()*+,=/?|")
_HEX = re.compile(r"%(?![0-9A-Fa-f]{2})")


class UriError(ValueError):
    """Not a valid PKCS#11 URI."""


def _encode(value: str | bytes, safe: frozenset[int]) -> str:
    raw = value.encode("utf-8") if isinstance(value, str) else value
    return "".join(chr(b) if b in safe else f"%{b:02X}" for b in raw)


def _decode(value: str, what: str) -> bytes:
    if _HEX.search(value):
        raise UriError(f"bad percent-encoding in {what!r}")
    return unquote_to_bytes(value)


def _text(value: str, what: str) -> str:
    try:
        return _decode(value, what).decode("utf-8")
    except UnicodeDecodeError as e:
        raise UriError(f"{what} is not UTF-8") from e


@dataclass(frozen=True)
class Pkcs11Uri:
    """The attributes of a PKCS#11 URI. Unset attributes are None; `id` is raw bytes.

    `pin-value` is deliberately not kept (a PIN is never stored): `parse` drops it and sets
    `had_pin_value`. Unknown vendor attributes (`x-...`) are kept for round-trips.
    """

    library_description: str | None = None
    library_manufacturer: str | None = None
    library_version: str | None = None
    slot_description: str | None = None
    slot_manufacturer: str | None = None
    slot_id: int | None = None
    token: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    serial: str | None = None
    object: str | None = None
    type: str | None = None
    id: bytes | None = None
    pin_source: str | None = None
    module_name: str | None = None
    module_path: str | None = None
    vendor_path: tuple[tuple[str, str], ...] = ()
    vendor_query: tuple[tuple[str, str], ...] = ()
    had_pin_value: bool = field(default=False, compare=False)

    # -- parse ------------------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str) -> Pkcs11Uri:
        """Parse an RFC 7512 URI (UriError when it is not one)."""
        if not isinstance(text, str) or not text[:7].lower() == "pkcs11:":
            raise UriError("a PKCS#11 URI starts with 'pkcs11:'")
        body = text[7:]
        path, _, query = body.partition("?")
        values: dict[str, Any] = {}
        vendor_path: list[tuple[str, str]] = []
        vendor_query: list[tuple[str, str]] = []
        had_pin = False
        for part in path.split(";") if path else []:
            if not part:
                continue
            name, eq, value = part.partition("=")
            name = name.lower()
            if not eq:
                raise UriError(f"attribute {name!r} has no value")
            if name in values:
                raise UriError(f"attribute {name!r} appears twice")
            if name == "id":
                values["id"] = _decode(value, name)
            elif name == "slot-id":
                try:
                    values[name] = int(_text(value, name), 10)
                except ValueError as e:
                    raise UriError("slot-id must be a decimal number") from e
            elif name in PATH_ATTRS:
                values[name] = _text(value, name)
            elif name.startswith("x-"):
                vendor_path.append((name, _text(value, name)))
            else:
                raise UriError(f"unknown path attribute {name!r}")
        for part in query.split("&") if query else []:
            if not part:
                continue
            name, eq, value = part.partition("=")
            name = name.lower()
            if name == "pin-value":
                had_pin = True  # never kept
                continue
            if not eq:
                raise UriError(f"query attribute {name!r} has no value")
            if name in QUERY_ATTRS:
                if name in values:
                    raise UriError(f"attribute {name!r} appears twice")
                values[name] = _text(value, name)
            else:
                vendor_query.append((name, _text(value, name)))
        t = values.get("type")
        if t is not None and t not in OBJECT_TYPES:
            raise UriError(f"unknown object type {t!r}")
        kwargs = {k.replace("-", "_"): v for k, v in values.items()}
        return cls(
            **kwargs,
            vendor_path=tuple(vendor_path),
            vendor_query=tuple(vendor_query),
            had_pin_value=had_pin,
        )

    # -- build ------------------------------------------------------------------------------

    def __str__(self) -> str:
        parts: list[str] = []
        for name in PATH_ATTRS:
            v = getattr(self, name.replace("-", "_"))
            if v is None:
                continue
            if name == "id":
                assert isinstance(v, bytes)
                parts.append("id=" + "".join(f"%{b:02X}" for b in v))
            else:
                parts.append(f"{name}={_encode(str(v), _PATH_SAFE)}")
        parts += [f"{k}={_encode(v, _PATH_SAFE)}" for k, v in self.vendor_path]
        query = [
            f"{name}={_encode(v, _QUERY_SAFE)}"
            for name in QUERY_ATTRS
            if (v := getattr(self, name.replace("-", "_"))) is not None
        ]
        query += [f"{k}={_encode(v, _QUERY_SAFE)}" for k, v in self.vendor_query]
        return "pkcs11:" + ";".join(parts) + ("?" + "&".join(query) if query else "")

    def without_query(self) -> Pkcs11Uri:
        """The same URI without module-path / module-name / pin-source."""
        return replace(self, pin_source=None, module_name=None, module_path=None, vendor_query=())

    # -- matching ---------------------------------------------------------------------------

    def matches_token(self, *, label: str, serial: str, manufacturer: str, model: str) -> bool:
        """Whether the token attributes given in this URI match (absent attributes match anything)."""
        return (
            (self.token is None or self.token == label)
            and (self.serial is None or self.serial == serial)
            and (self.manufacturer is None or self.manufacturer == manufacturer)
            and (self.model is None or self.model == model)
        )

    def matches_slot(self, *, slot_id: int, description: str = "", manufacturer: str = "") -> bool:
        return (
            (self.slot_id is None or self.slot_id == slot_id)
            and (self.slot_description is None or self.slot_description == description)
            and (self.slot_manufacturer is None or self.slot_manufacturer == manufacturer)
        )

    def matches_object(self, *, cka_id: bytes, label: str, object_type: str = "cert") -> bool:
        return (
            (self.id is None or self.id == cka_id)
            and (self.object is None or self.object == label)
            and (self.type is None or self.type == object_type)
        )


def parse_uri(text: str) -> Pkcs11Uri:
    """Parse an RFC 7512 URI."""
    return Pkcs11Uri.parse(text)


def build_uri(**attrs: object) -> str:
    """Build a URI from attributes named as in Pkcs11Uri (token=..., serial=..., id=b'...')."""
    return str(Pkcs11Uri(**attrs))  # type: ignore[arg-type]


def is_pkcs11_uri(text: str) -> bool:
    return isinstance(text, str) and text[:7].lower() == "pkcs11:"


def certificate_uri(text: str) -> str:
    """The URI of the certificate that goes with a key URI (OSC_X509_CLIENT_KEY / x509_client_key may
    name the private key): the same token and id, the certificate object. Other URIs are returned as is."""
    uri = Pkcs11Uri.parse(text)
    if uri.type in ("private", "public"):
        uri = replace(uri, type="cert")
    return str(uri)
