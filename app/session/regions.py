"""OUTSCALE Regions and API endpoints (from outscale.yaml's server list), plus custom endpoints."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from app.session.errors import ConfigError

#: The Regions listed by the OpenAPI description (servers[0].variables.region.enum).
REGIONS: tuple[str, ...] = ("ap-northeast-1", "cloudgouv-eu-west-1", "eu-west-2", "us-east-2", "us-west-1")
DEFAULT_REGION = "eu-west-2"
API_PATH = "/api/v1"

#: Where each Region is, in the user's words (for the Region picker).
REGION_LABELS: dict[str, str] = {
    "ap-northeast-1": "Tokyo (ap-northeast-1)",
    "cloudgouv-eu-west-1": "France, SecNumCloud (cloudgouv-eu-west-1)",
    "eu-west-2": "France (eu-west-2)",
    "us-east-2": "United States East (us-east-2)",
    "us-west-1": "United States West (us-west-1)",
}


@dataclass(frozen=True)
class Endpoint:
    """Where the API is: `url` is the base (``https://api.eu-west-2.outscale.com/api/v1``), `host`
    the Host header value (with ``:port`` when the URL has a non-default port), `region` the Region
    used in signatures, `custom` True for an endpoint that is not a spec Region's."""

    url: str
    host: str
    region: str
    custom: bool = False

    @property
    def hostname(self) -> str:
        """The host name alone (no port), for TLS server name checks."""
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        """The TCP port (443 unless the URL says otherwise)."""
        return urlsplit(self.url).port or 443

    def path_for(self, call: str) -> str:
        """The URL path of a call, e.g. ``/api/v1/ReadVms`` (what the signature covers)."""
        return urlsplit(self.url).path.rstrip("/") + "/" + call

    def url_for(self, call: str) -> str:
        """The full URL of a call."""
        return self.url.rstrip("/") + "/" + call


def region_endpoint_url(region: str) -> str:
    """The public API base URL of a spec Region."""
    return f"https://api.{region}.outscale.com{API_PATH}"


def _host_header(scheme: str, hostname: str, port: int | None) -> str:
    host = f"[{hostname}]" if ":" in hostname else hostname
    if port is None or (scheme == "https" and port == 443):
        return host
    return f"{host}:{port}"


def resolve_endpoint(region: str | None = None, custom_url: str | None = None) -> Endpoint:
    """The endpoint for `region` (default eu-west-2), or for `custom_url` signed for `region`.

    A custom URL must be https; a bare ``https://host[:port]`` gets ``/api/v1`` appended.
    Raises ConfigError for an unknown Region (without custom URL) or a malformed/non-https URL.
    """
    region = (region or DEFAULT_REGION).strip()
    if not custom_url:
        if region not in REGIONS:
            raise ConfigError(
                f"Unknown Region '{region}'. Known Regions: {', '.join(REGIONS)}; "
                "use a custom endpoint for others."
            )
        url = region_endpoint_url(region)
        return Endpoint(url=url, host=f"api.{region}.outscale.com", region=region, custom=False)
    if not region or any(c.isspace() or c == "/" for c in region):
        raise ConfigError(f"Invalid Region name '{region}'.")
    parts = urlsplit(custom_url.strip())
    if parts.scheme.lower() != "https":
        raise ConfigError(f"The API endpoint must be an https:// URL (got '{custom_url}').")
    if not parts.hostname:
        raise ConfigError(f"The API endpoint '{custom_url}' has no host name.")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(
            f"The API endpoint '{custom_url}' must not carry credentials, a query or a fragment."
        )
    try:
        port = parts.port
    except ValueError as e:
        raise ConfigError(f"The API endpoint '{custom_url}' has an invalid port.") from e
    path = parts.path.rstrip("/") or API_PATH
    netloc = _host_header("https", parts.hostname, port)
    url = urlunsplit(("https", netloc, path, "", ""))
    standard = url == region_endpoint_url(region)
    return Endpoint(url=url, host=netloc, region=region, custom=not standard)
