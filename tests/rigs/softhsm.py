"""SoftHSM2 rigs: a private SoftHSM2 with provisioned test cards, as pytest fixtures (session scope).

Use from any test package (the root conftest registers this module as a plugin):

    def test_x(softhsm_rig):                      # the standard cards (built once per test session)
        key = softhsm_rig.keys["p256"]            # ProvisionedKey: cka_id, certificate, public_key
        mod = softhsm_rig.module()                # the loaded Pkcs11Module
        softhsm_rig.card.serial, softhsm_rig.card.user_pin

    def test_y(fresh_softhsm):                    # an empty private SoftHSM2 of your own
        tok = fresh_softhsm.init_token("mine")

SoftHSM2 reads SOFTHSM2_CONF and its token list at C_Initialize only; the rig never touches the
process environment (the module is C_Initialize'd with its own SOFTHSM2_CONF, see
app.tokens.p11.registry.load_module(init_env=...)). Initialising a token on a SoftHsm whose module is
loaded re-scans that module, dropping its sessions: create tokens before logging in.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from app.sandbox.pki import CertificateAuthority
from app.sandbox.softhsm import ProvisionedKey, SoftHsm, SoftHsmToken, softhsm_available
from app.tokens.p11.module import Pkcs11Module
from app.tokens.p11.registry import unload_module

CARD_LABEL = "OTL Test Card"
SECOND_LABEL = "OTL Second Card"
GARBAGE_DER = b"\x30\x82\x01\x00this is not a certificate"

# name -> (kind, options) of the standard keys on the main test card
STANDARD_KEYS: dict[str, tuple[str, dict[str, object]]] = {
    "rsa2048": ("rsa2048", {}),
    "rsa3072": ("rsa3072", {}),
    "p256": ("p256", {}),
    "p384": ("p384", {}),
    "always_auth": ("rsa2048", {"always_authenticate": True}),
    "always_auth_ec": ("p256", {"always_authenticate": True}),
    "visible": ("p256", {"private": False}),  # private key object visible before login (as on PIV cards)
    "expired": ("p256", {"expired": True}),
    "no_key": ("p256", {"key_on_token": False}),
    "no_client_auth": ("p256", {"client_auth": False}),
}
USABLE_KEYS = ("rsa2048", "rsa3072", "p256", "p384", "always_auth", "always_auth_ec", "visible")


@dataclass
class SoftHsmRig:
    """A private SoftHSM2 holding the standard test cards."""

    hsm: SoftHsm
    ca: CertificateAuthority
    card: SoftHsmToken  # the main card: every key of STANDARD_KEYS plus a garbage certificate object
    second: SoftHsmToken  # a second card with one P-256 client certificate
    keys: dict[str, ProvisionedKey] = field(default_factory=dict)
    garbage_id: bytes = b""

    @property
    def module_path(self) -> str:
        return self.hsm.module_path

    def module(self) -> Pkcs11Module:
        """The loaded module (C_Initialize'd with this rig's SOFTHSM2_CONF)."""
        return self.hsm.module()

    @property
    def env(self) -> dict[str, str]:
        """SOFTHSM2_CONF for subprocesses (pkcs11-tool, p11-kit server, the CLI under test)."""
        return self.hsm.env


def build_standard_rig(root: Path, ca: CertificateAuthority | None = None) -> SoftHsmRig:
    """Create the standard cards under `root` (usable outside pytest: benchmarks, demos)."""
    ca = ca or CertificateAuthority("OTL Test Root CA")
    hsm = SoftHsm(root)
    card = hsm.init_token(CARD_LABEL)
    second = hsm.init_token(SECOND_LABEL)
    rig = SoftHsmRig(hsm=hsm, ca=ca, card=card, second=second)
    now = _dt.datetime.now(_dt.UTC)
    for name, (kind, opts) in STANDARD_KEYS.items():
        o = dict(opts)
        expired = bool(o.pop("expired", False))
        rig.keys[name] = hsm.add_client_certificate(
            card,
            ca,
            f"test {name}",
            kind,
            label=f"test {name}",
            not_before=now - _dt.timedelta(days=30) if expired else None,
            not_after=now - _dt.timedelta(days=1) if expired else None,
            **o,
        )  # type: ignore[arg-type]
    rig.garbage_id = hsm.write_raw_certificate(card, GARBAGE_DER, label="garbage")
    rig.keys["second_p256"] = hsm.add_client_certificate(
        second, ca, "second card p256", "p256", label="second p256"
    )
    return rig


def require_softhsm() -> None:
    """Skip the calling test when SoftHSM2 is not installed."""
    if not softhsm_available():
        pytest.skip("SoftHSM2 is not installed (apt-get install softhsm2)")


@pytest.fixture(scope="session")
def test_ca() -> CertificateAuthority:
    """The CA that certifies every rig certificate."""
    return CertificateAuthority("OTL Test Root CA")


@pytest.fixture(scope="session")
def softhsm_rig(
    tmp_path_factory: pytest.TempPathFactory, test_ca: CertificateAuthority
) -> Iterator[SoftHsmRig]:
    """The standard SoftHSM2 cards, built once per test session."""
    require_softhsm()
    rig = build_standard_rig(tmp_path_factory.mktemp("softhsm"), test_ca)
    yield rig
    unload_module(rig.module_path)


@pytest.fixture(scope="session")
def softhsm_module(softhsm_rig: SoftHsmRig) -> Pkcs11Module:
    """The loaded module of the standard rig."""
    return softhsm_rig.module()


@pytest.fixture
def fresh_softhsm(tmp_path: Path) -> Iterator[SoftHsm]:
    """An empty private SoftHSM2 for one test (its own library copy when the rig's is loaded)."""
    require_softhsm()
    hsm = SoftHsm(tmp_path / "softhsm")
    yield hsm
    unload_module(hsm.module_path)
