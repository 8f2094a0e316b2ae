"""Shared helpers of the MFA set-up tests: connectors to the sandbox for a file key or a card."""

from __future__ import annotations

from app.sandbox.server import SandboxInfo
from app.session.api import OutscaleClient
from app.session.model import AuthMethod, Credentials, Secret
from app.session.regions import resolve_endpoint
from app.session.setup import MtlsConnector
from app.tokens.signer import Signer


def connector(info: SandboxInfo, signer: Signer, *, access_key: bool = False) -> MtlsConnector:
    """A connector logging in with the demo login/password (or its access key)."""
    creds = (Credentials(AuthMethod.ACCESS_KEY, info.access_key, Secret(info.secret_key)) if access_key
             else Credentials(AuthMethod.PASSWORD, info.login, Secret(info.password)))
    return MtlsConnector(signer, resolve_endpoint(info.region, info.endpoint), creds, ca_file=info.ca_file,
                         timeout=20)


def plain_client(info: SandboxInfo) -> OutscaleClient:
    """A client with the demo access key and no client certificate."""
    import requests

    s = requests.Session()
    s.verify = info.ca_file
    base = OutscaleClient(s, resolve_endpoint(info.region, info.endpoint), max_retries=0)
    return base.with_access_key(info.access_key, Secret(info.secret_key))
