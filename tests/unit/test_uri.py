"""RFC 7512 parse / build, with round-trips and percent-encoding."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.tokens.uri import Pkcs11Uri, UriError, build_uri, is_pkcs11_uri, parse_uri


def test_rfc_examples() -> None:
    u = parse_uri(
        "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;"
        "manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;type=cert;"
        "id=%69%95%3E%5C%F4%BD%EC%91;serial=?pin-source=file:/etc/token"
    )
    assert u.token == "The Software PKCS#11 Softtoken"
    assert u.manufacturer == "Snake Oil, Inc."
    assert u.object == "my-certificate" and u.type == "cert"
    assert u.id == bytes.fromhex("69953e5cf4bdec91")
    assert u.serial == ""
    assert u.pin_source == "file:/etc/token"
    assert parse_uri(str(u)) == u


def test_empty_and_library_attributes() -> None:
    assert parse_uri("pkcs11:") == Pkcs11Uri()
    u = parse_uri(
        "pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-description=Soft%20Token;"
        "library-version=1;slot-id=3?module-path=/usr/lib/x.so&module-name=x"
    )
    assert u.slot_id == 3 and u.library_version == "1"
    assert u.module_path == "/usr/lib/x.so" and u.module_name == "x"
    assert parse_uri(str(u)) == u


def test_pin_value_is_never_kept() -> None:
    u = parse_uri("pkcs11:token=A?pin-value=1234")
    assert u.had_pin_value
    assert "1234" not in str(u) and "1234" not in repr(u)


def test_vendor_attributes_round_trip() -> None:
    u = parse_uri("pkcs11:token=A;x-vendor=v%20w?x-q=1")
    assert u.vendor_path == (("x-vendor", "v w"),) and u.vendor_query == (("x-q", "1"),)
    assert parse_uri(str(u)) == u


@pytest.mark.parametrize(
    "bad",
    [
        "http://x",
        "pkcs11:token",
        "pkcs11:foo=bar",
        "pkcs11:token=a;token=b",
        "pkcs11:id=%zz",
        "pkcs11:slot-id=abc",
        "pkcs11:type=car",
        "pkcs11:token=%FF%FE",
    ],
)
def test_invalid(bad: str) -> None:
    with pytest.raises(UriError):
        parse_uri(bad)


def test_build_encodes_reserved_characters() -> None:
    s = build_uri(token="My Card; 50% / é", id=b"\x00\x01", object="a?b", module_path="/p a/x.so")
    assert s.startswith("pkcs11:")
    assert ";" not in s.split(":", 1)[1].split("token=")[1].split(";")[0]
    assert "%C3%A9" in s and "id=%00%01" in s and "?module-path=/p%20a/x.so" in s
    u = parse_uri(s)
    assert u.token == "My Card; 50% / é" and u.object == "a?b" and u.id == b"\x00\x01"


def test_matching() -> None:
    u = parse_uri("pkcs11:token=A;serial=1;id=%01;type=cert")
    assert u.matches_token(label="A", serial="1", manufacturer="m", model="x")
    assert not u.matches_token(label="B", serial="1", manufacturer="m", model="x")
    assert u.matches_object(cka_id=b"\x01", label="anything")
    assert not u.matches_object(cka_id=b"\x02", label="anything")
    assert not u.matches_object(cka_id=b"\x01", label="a", object_type="private")


def test_is_pkcs11_uri() -> None:
    assert is_pkcs11_uri("PKCS11:token=a") and not is_pkcs11_uri("/path/file.p12")


def test_without_query() -> None:
    assert str(parse_uri("pkcs11:token=a?module-path=/x").without_query()) == "pkcs11:token=a"


text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)


@given(
    token=st.none() | text,
    serial=st.none() | text,
    obj=st.none() | text,
    id_=st.none() | st.binary(max_size=20),
    slot=st.none() | st.integers(0, 2**32),
    module_path=st.none() | text,
    type_=st.none() | st.sampled_from(["cert", "private", "public"]),
)
def test_round_trip(
    token: str | None,
    serial: str | None,
    obj: str | None,
    id_: bytes | None,
    slot: int | None,
    module_path: str | None,
    type_: str | None,
) -> None:
    u = Pkcs11Uri(
        token=token, serial=serial, object=obj, id=id_, slot_id=slot, module_path=module_path, type=type_
    )
    assert parse_uri(str(u)) == u
    assert str(parse_uri(str(u))) == str(u)
