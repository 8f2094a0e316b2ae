"""OSC4-HMAC-SHA256 and Basic headers: parity with osc-sdk-python's reference signer."""

from __future__ import annotations

import base64
import datetime as dt
import json
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from osc_sdk_python.authentication import Authentication
from osc_sdk_python.credentials import Profile

from app.session import signing
from app.session.model import Secret

REGIONS = ["eu-west-2", "us-east-2", "us-west-1", "cloudgouv-eu-west-1", "ap-northeast-1"]


def _reference(
    ak: str,
    sk: str,
    region: str,
    host: str,
    when: dt.datetime,
    path: str,
    body: str,
    login: str | None = None,
    password: str | None = None,
) -> dict[str, str]:
    profile = Profile(access_key=ak, secret_key=sk, region=region, login=login, password=password)
    auth = Authentication(profile, host)
    fixed = (when.strftime("%Y%m%dT%H%M%SZ"), when.strftime("%Y%m%d"))
    with mock.patch.object(Authentication, "build_dates", return_value=fixed):
        if login is not None:
            return auth.get_basic_auth_header()
        return auth.forge_headers_signed(path, body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
dates = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31)).map(
    lambda d: d.replace(tzinfo=dt.UTC, microsecond=0)
)
keys = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=20, max_size=20)
secrets_ = st.text(min_size=1, max_size=50).filter(lambda s: "\x00" not in s)


@settings(max_examples=300, deadline=None)
@given(
    body=json_values,
    ascii_body=st.booleans(),
    ak=keys,
    sk=secrets_,
    region=st.sampled_from(REGIONS),
    when=dates,
    call=st.sampled_from(["ReadVms", "CreateAccessKey", "ReadApiAccessPolicy", "ReadAccounts"]),
    host=st.sampled_from(["api.eu-west-2.outscale.com", "127.0.0.1:8443", "localhost", "[::1]:4443"]),
)
def test_osc4_headers_equal_the_reference_signer(
    body: object, ascii_body: bool, ak: str, sk: str, region: str, when: dt.datetime, call: str, host: str
) -> None:
    text = json.dumps(body, ensure_ascii=ascii_body)
    path = f"/api/v1/{call}"
    ref = _reference(ak, sk, region, host, when, path, text)
    ours = signing.osc4_headers(
        access_key=ak,
        secret_key=Secret(sk),
        region=region,
        host=host,
        path=path,
        body=text.encode("utf-8"),
        now=when,
    )
    assert ours["Authorization"] == ref["Authorization"]
    assert ours["X-Osc-Date"] == ref["X-Osc-Date"]
    assert ours["Content-Type"] == ref["Content-Type"]


@pytest.mark.parametrize(
    "body",
    [
        "",
        "{}",
        '{"Tag": "été ☃ 日本語"}',
        '{"Tag":"\\u00e9t\\u00e9"}',
        '{"Filters": {"VmIds": ["i-12345678"]}}',
        "x" * 100_000,
    ],
)
def test_fixed_bodies_including_non_ascii(body: str) -> None:
    when = dt.datetime(2024, 2, 29, 23, 59, 59, tzinfo=dt.UTC)
    ref = _reference(
        "AK0123456789ABCDEFGH",
        "sécret/+=KEY",
        "eu-west-2",
        "api.eu-west-2.outscale.com",
        when,
        "/api/v1/ReadVms",
        body,
    )
    ours = signing.osc4_headers(
        access_key="AK0123456789ABCDEFGH",
        secret_key="sécret/+=KEY",
        region="eu-west-2",
        host="api.eu-west-2.outscale.com",
        path="/api/v1/ReadVms",
        body=body,
        now=when,
    )
    assert ours["Authorization"] == ref["Authorization"]


def test_a_known_signature_vector() -> None:
    # Pinned so that a change in the SDK and in our code at once cannot go unnoticed.
    when = dt.datetime(2020, 6, 14, 12, 0, 0, tzinfo=dt.UTC)
    h = signing.osc4_headers(
        access_key="ABCDEFGHIJ0123456789",
        secret_key="secret",
        region="eu-west-2",
        host="api.eu-west-2.outscale.com",
        path="/api/v1/ReadVms",
        body=b"{}",
        now=when,
    )
    assert h["X-Osc-Date"] == "20200614T120000Z"
    assert h["Authorization"].startswith(
        "OSC4-HMAC-SHA256 Credential=ABCDEFGHIJ0123456789/20200614/eu-west-2/api/osc4_request, "
        "SignedHeaders=content-type;host;x-osc-date, Signature="
    )
    ref = _reference(
        "ABCDEFGHIJ0123456789",
        "secret",
        "eu-west-2",
        "api.eu-west-2.outscale.com",
        when,
        "/api/v1/ReadVms",
        "{}",
    )
    assert h["Authorization"] == ref["Authorization"]


def test_signature_changes_with_every_signed_part() -> None:
    when = dt.datetime(2021, 1, 1, tzinfo=dt.UTC)
    base = dict(
        secret_key="s",
        region="eu-west-2",
        host="h",
        path="/api/v1/ReadVms",
        body=b"{}",
        date_iso=signing.osc_date(when),
    )
    ref = signing.compute_signature(**base)  # type: ignore[arg-type]
    for k, v in [
        ("secret_key", "t"),
        ("region", "us-east-2"),
        ("host", "h:1"),
        ("path", "/api/v1/ReadCas"),
        ("body", b"{ }"),
        ("date_iso", "20210101T000001Z"),
    ]:
        assert signing.compute_signature(**(base | {k: v})) != ref, k  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(
    login=st.text(min_size=1, max_size=30).filter(lambda s: ":" not in s),
    password=st.text(max_size=30),
    when=dates,
)
def test_basic_headers_equal_the_reference(login: str, password: str, when: dt.datetime) -> None:
    ref = _reference("", "", "eu-west-2", "h", when, "/", "", login=login, password=password)
    ours = signing.basic_headers(login=login, password=Secret(password), now=when)
    assert ours == ref
    parsed = signing.parse_basic_authorization(ours["Authorization"])
    assert parsed is not None and parsed[0] == login and parsed[1].reveal() == password


def test_eim_login_form_is_kept_whole() -> None:
    h = signing.basic_headers(
        login="123456789012/alice",
        password=Secret("pw:with:colons"),
        now=dt.datetime(2022, 1, 1, tzinfo=dt.UTC),
    )
    assert base64.b64decode(h["Authorization"].split()[1]) == b"123456789012/alice:pw:with:colons"
    login, pw = signing.parse_basic_authorization(h["Authorization"])  # type: ignore[misc]
    assert (login, pw.reveal()) == ("123456789012/alice", "pw:with:colons")


def test_parse_osc4_authorization_round_trip() -> None:
    h = signing.osc4_headers(
        access_key="AK",
        secret_key="sk",
        region="us-west-1",
        host="x",
        path="/api/v1/A",
        body="{}",
        now=dt.datetime(2023, 5, 6, 7, 8, 9, tzinfo=dt.UTC),
    )
    p = signing.parse_osc4_authorization(h["Authorization"])
    assert p is not None
    assert (p.access_key, p.date_stamp, p.region, p.service, p.signed_headers) == (
        "AK",
        "20230506",
        "us-west-1",
        "api",
        "content-type;host;x-osc-date",
    )
    assert signing.parse_osc4_authorization("AWS4-HMAC-SHA256 Credential=x") is None
    assert signing.parse_basic_authorization("Bearer abc") is None
    assert signing.parse_basic_authorization("Basic !!!") is None
    assert signing.parse_basic_authorization("Basic " + base64.b64encode(b"nocolon").decode()) is None


def test_naive_dates_are_refused_and_secrets_stay_hidden() -> None:
    with pytest.raises(ValueError):
        signing.osc_date(dt.datetime(2020, 1, 1))
    s = Secret("topsecret")
    h = signing.osc4_headers(access_key="AK", secret_key=s, region="eu-west-2", host="h", path="/p", body=b"")
    assert "topsecret" not in repr(h) and "topsecret" not in repr(s)


def test_generic_canonical_request_matches_the_fixed_one() -> None:
    date_iso = "20240101T000000Z"
    fixed = signing.canonical_request(
        method="POST", path="/api/v1/ReadVms", host="h:1", content_type="a/b", date_iso=date_iso, body=b"{}"
    )
    generic = signing.canonical_request_from_headers(
        method="POST",
        path="/api/v1/ReadVms",
        headers={"host": "h:1", "content-type": " a/b ", "x-osc-date": date_iso},
        signed_headers=signing.SIGNED_HEADERS,
        body=b"{}",
    )
    assert generic == fixed
    sig = signing.signature_of_canonical(
        secret_key="s", date_iso=date_iso, region="eu-west-2", canonical=fixed
    )
    assert sig == signing.compute_signature(
        secret_key="s",
        region="eu-west-2",
        host="h:1",
        path="/api/v1/ReadVms",
        body=b"{}",
        date_iso=date_iso,
        content_type="a/b",
    )


def test_signing_keys_are_kept_per_day_and_region_and_die_with_the_secret() -> None:
    from app.session.model import Secret
    from app.session.signing import SigningKeys, signing_key

    secret = Secret("s" * 40)
    keys = SigningKeys(secret)
    assert keys.key("20261204", "eu-west-2") == signing_key("s" * 40, "20261204", "eu-west-2")
    assert keys.key("20261205", "eu-west-2") == signing_key("s" * 40, "20261205", "eu-west-2")
    assert keys.key("20261205", "us-east-2") == signing_key("s" * 40, "20261205", "us-east-2")
    assert "s" * 10 not in repr(keys)
    secret.wipe()  # logout, renewal: a client still alive must not sign with the cached key
    with pytest.raises(ValueError, match="wiped"):
        keys.key("20261205", "us-east-2")
