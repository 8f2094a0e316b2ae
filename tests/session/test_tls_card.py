"""mTLS with keys that stay on a card: SoftHSM2 keys against Python ssl and openssl s_server, card removal
(p11-kit remoting) before the handshake and during a session that resumes without the card, and
`tls-check` with a pkcs11: URI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.x509.oid import NameOID

from app.sandbox.pki import CertificateAuthority
from app.session.tls import TrustConfig, make_session
from app.tokens.card import Pkcs11Signer, open_card_signer
from app.tokens.errors import TokenRemoved
from app.tokens.inventory import scan_module
from app.tokens.pin import Pin, PinRequest
from app.tokens.uri import build_uri
from tests.rigs.p11kit import P11KitCard
from tests.rigs.softhsm import SoftHsmRig
from tests.rigs.tls_servers import OpenSslServer, PythonTlsServer, page_client_subject, page_reused

ROOT = Path(__file__).resolve().parents[2]


class Pins:
    def __init__(self, pin: str) -> None:
        self.pin = pin
        self.asked = 0

    def __call__(self, request: PinRequest) -> Pin | None:
        self.asked += 1
        return Pin(self.pin)


@pytest.fixture(scope="module")
def server_files(tmp_path_factory: pytest.TempPathFactory, test_ca: CertificateAuthority) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("tlscard")
    test_ca.issue_server().write(d / "srv.pem", d / "srv.key")
    (d / "ca.pem").write_bytes(test_ca.cert_pem())
    return {"cert": d / "srv.pem", "key": d / "srv.key", "ca": d / "ca.pem"}


@pytest.fixture(scope="module")
def servers(server_files: dict[str, Path]) -> Iterator[dict[str, object]]:
    f = server_files
    with PythonTlsServer(f["cert"], f["key"], f["ca"]) as py, \
            OpenSslServer(f["cert"], f["key"], f["ca"], "-tls1_3") as o13, \
            OpenSslServer(f["cert"], f["key"], f["ca"], "-tls1_2") as o12:
        yield {"py": py, "ossl13": o13, "ossl12": o12}


# (rig key, disable PSS through the token layer's mechanism filter)
CARD_KEYS = {"rsa_pss": ("rsa2048", False), "rsa_pkcs1": ("rsa2048", True), "p256": ("p256", False),
             "p384": ("p384", False)}


@pytest.fixture(scope="module")
def card_signers(softhsm_rig: SoftHsmRig) -> Iterator[dict[str, Pkcs11Signer]]:
    inv = scan_module(softhsm_rig.module_path, module=softhsm_rig.module())
    out = {}
    for name, (key, no_pss) in CARD_KEYS.items():
        entry = next(c for c in inv.certificates if c.label == f"test {key}")
        out[name] = open_card_signer(softhsm_rig.module_path, entry, Pins(softhsm_rig.card.user_pin),
                                     disable_pss=no_pss)
    yield out
    for s in out.values():
        s.close()


@pytest.mark.parametrize("server", ["py", "ossl13", "ossl12"])
@pytest.mark.parametrize("key", list(CARD_KEYS))
def test_card_key_authenticates(card_signers: dict[str, Pkcs11Signer], servers: dict[str, object],
                                server_files: dict[str, Path], key: str, server: str) -> None:
    signer = card_signers[key]
    srv = servers[server]
    if key == "rsa_pkcs1" and server == "ossl13":
        pytest.skip("a PKCS#1-only key cannot do TLS 1.3 (test_tls.py covers that refusal)")
    with make_session(signer, TrustConfig(str(server_files["ca"])), timeout=10) as s:
        r = s.get(srv.url("/whoami") if server == "py" else srv.url())  # type: ignore[attr-defined]
        info = s.connection_info
        assert s.signatures == 1
    assert r.status_code == 200 and info is not None
    if server == "py":
        assert json.loads(r.text)["client_subject"] == signer.certificate.subject.rfc4514_string()
    else:
        cn = signer.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        assert f"CN = {cn}" in (page_client_subject(r.text) or "").replace("CN=", "CN = ")
    tls13 = server != "ossl12" and key != "rsa_pkcs1"
    assert info.tls_version == ("TLSv1.3" if tls13 else "TLSv1.2")
    assert info.signature_scheme is not None
    if key == "rsa_pkcs1":
        assert info.signature_scheme.startswith("rsa_pkcs1_")
        assert info.note and "RSA-PSS" in info.note
    elif key == "rsa_pss" and tls13:
        assert info.signature_scheme.startswith("rsa_pss_rsae_")
    elif key == "p256":
        assert info.signature_scheme == "ecdsa_secp256r1_sha256"
    elif key == "p384":
        assert info.signature_scheme == "ecdsa_secp384r1_sha384"


def _removable(softhsm_rig: SoftHsmRig, card: P11KitCard) -> Pkcs11Signer:
    inv = scan_module(card.client_module_path, module=card.module())
    [entry] = inv.certificates
    return open_card_signer(card.client_module_path, entry, Pins(softhsm_rig.second.user_pin))


def test_card_removed_before_the_handshake(softhsm_rig: SoftHsmRig, p11kit_card: P11KitCard,
                                           servers: dict[str, object], server_files: dict[str, Path]) -> None:
    signer = _removable(softhsm_rig, p11kit_card)
    try:
        p11kit_card.remove()
        with make_session(signer, TrustConfig(str(server_files["ca"])), timeout=10) as s, \
                pytest.raises(TokenRemoved):
            s.get(servers["py"].url())  # type: ignore[attr-defined]
    finally:
        signer.close()


@pytest.mark.parametrize("server", ["py", "ossl13"])
def test_after_removal_connections_resume_without_the_card(
        softhsm_rig: SoftHsmRig, p11kit_card_factory: Callable[..., P11KitCard], servers: dict[str, object],
        server_files: dict[str, Path], server: str) -> None:
    card = p11kit_card_factory()
    signer = _removable(softhsm_rig, card)
    srv = servers[server]
    url = srv.url("/whoami") if server == "py" else srv.url()  # type: ignore[attr-defined]
    subject = signer.certificate.subject.rfc4514_string()
    try:
        with make_session(signer, TrustConfig(str(server_files["ca"])), timeout=10) as s:
            s.get(url)
            assert s.signatures == 1
            card.remove()
            for _ in range(3):
                s.drop_connections()
                r = s.get(url)
                if server == "py":
                    seen = json.loads(r.text)
                    assert seen["resumed"] is True and seen["client_subject"] == subject
                else:
                    assert page_reused(r.text) and page_client_subject(r.text)
                assert s.connection_info is not None and s.connection_info.resumed
            assert s.signatures == 1  # zero signatures since the removal
            s.close()  # logout: tickets gone, the card is needed again
            with pytest.raises(TokenRemoved):
                s.get(url)
    finally:
        signer.close()


def test_tls_check_with_a_card_uri(softhsm_rig: SoftHsmRig, servers: dict[str, object],
                                   server_files: dict[str, Path]) -> None:
    key = softhsm_rig.keys["p256"]
    uri = build_uri(token=softhsm_rig.card.label, id=key.cka_id, type="cert")
    env = {**os.environ, **softhsm_rig.env}
    p = subprocess.run([sys.executable, "-m", "app", "tls-check", servers["py"].url("/whoami"),  # type: ignore[attr-defined]
                        "--cert", uri, "--module", softhsm_rig.module_path,
                        "--ca-file", str(server_files["ca"]),
                        "--pin-stdin", "--json"], input=softhsm_rig.card.user_pin + "\n", capture_output=True,
                       text=True, cwd=ROOT, env=env, timeout=60)
    assert p.returncode == 0, p.stderr + p.stdout
    doc = json.loads(p.stdout)
    assert doc["signature_scheme"] == "ecdsa_secp256r1_sha256" and doc["http_status"] == 200
    assert "CN=test p256" in doc["client_cert_subject"]
    assert softhsm_rig.card.user_pin not in p.stdout + p.stderr
