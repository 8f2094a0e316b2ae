"""Regions and endpoints against the OpenAPI description; custom endpoints."""

from __future__ import annotations

import pytest

from app.session.errors import ConfigError
from app.session.regions import DEFAULT_REGION, REGION_LABELS, REGIONS, resolve_endpoint
from tests.rigs import oapi


def test_regions_are_the_specs() -> None:
    server = oapi.spec()["servers"][0]
    assert set(REGIONS) == set(server["variables"]["region"]["enum"])
    assert DEFAULT_REGION == server["variables"]["region"]["default"] == "eu-west-2"
    assert set(REGION_LABELS) == set(REGIONS)


@pytest.mark.parametrize("region", REGIONS)
def test_spec_endpoint(region: str) -> None:
    ep = resolve_endpoint(region)
    assert ep.url == oapi.spec()["servers"][0]["url"].replace("{region}", region)
    assert ep.host == f"api.{region}.outscale.com" and ep.hostname == ep.host and ep.port == 443
    assert ep.region == region and not ep.custom
    assert ep.path_for("ReadVms") == "/api/v1/ReadVms"
    assert ep.url_for("ReadVms") == f"https://api.{region}.outscale.com/api/v1/ReadVms"


def test_default_region() -> None:
    assert resolve_endpoint().region == "eu-west-2"
    assert resolve_endpoint(None, None).url == "https://api.eu-west-2.outscale.com/api/v1"


@pytest.mark.parametrize(
    ("url", "expected_url", "host", "port"),
    [
        ("https://127.0.0.1:8443", "https://127.0.0.1:8443/api/v1", "127.0.0.1:8443", 8443),
        ("https://127.0.0.1:8443/api/v1/", "https://127.0.0.1:8443/api/v1", "127.0.0.1:8443", 8443),
        (
            "https://Api.Private.example:443/api/v1",
            "https://api.private.example/api/v1",
            "api.private.example",
            443,
        ),
        ("https://[::1]:9443/custom", "https://[::1]:9443/custom", "[::1]:9443", 9443),
    ],
)
def test_custom_endpoints(url: str, expected_url: str, host: str, port: int) -> None:
    ep = resolve_endpoint("eu-west-2", url)
    assert (ep.url, ep.host, ep.port, ep.custom) == (expected_url, host, port, True)
    assert ep.path_for("ReadVms").endswith("/ReadVms")


def test_custom_endpoint_keeps_any_region_name() -> None:
    ep = resolve_endpoint("my-private-1", "https://api.private.example")
    assert ep.region == "my-private-1"


def test_the_spec_url_given_as_custom_is_not_custom() -> None:
    assert not resolve_endpoint("us-east-2", "https://api.us-east-2.outscale.com/api/v1").custom


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "ftp://x",
        "https://",
        "https://u:p@host/",
        "https://h/api?x=1",
        "https://h:99999/",
    ],
)
def test_bad_custom_endpoints(url: str) -> None:
    with pytest.raises(ConfigError):
        resolve_endpoint("eu-west-2", url)


def test_unknown_region_without_endpoint() -> None:
    with pytest.raises(ConfigError, match="Unknown Region"):
        resolve_endpoint("mars-north-1")
