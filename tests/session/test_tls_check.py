"""`osc-trusted-login tls-check` as a subprocess, against the Python-ssl test server (file keys).

The card case (pkcs11: URI + PIN) is in test_tls_card.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.sandbox.pki import CertificateAuthority
from tests.rigs.tls_servers import PythonTlsServer

ROOT = Path(__file__).resolve().parents[2]


def tls_check(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", "tls-check", *args], input=stdin, capture_output=True,
                          text=True, cwd=ROOT, timeout=60)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("tlscheck")
    ca = CertificateAuthority("Check Root")
    ca_file = d / "ca.pem"
    ca_file.write_bytes(ca.cert_pem())
    ca.issue_server().write(d / "srv.pem", d / "srv.key")
    client = ca.issue_client("operator-p12", "p256")
    (d / "client.p12").write_bytes(client.pkcs12(b"s3cret-pass"))
    pem = ca.issue_client("operator-pem", "rsa2048")
    pem.write(d / "client.pem", d / "client.key")
    return {"dir": d, "ca": ca_file, "srv": d / "srv.pem", "srv_key": d / "srv.key", "p12": d / "client.p12",
            "pem": d / "client.pem"}


@pytest.fixture(scope="module")
def server(files: dict[str, Path]) -> Iterator[PythonTlsServer]:
    with PythonTlsServer(files["srv"], files["srv_key"], files["ca"]) as s:
        yield s


def test_pkcs12_with_password_on_stdin_json(files: dict[str, Path], server: PythonTlsServer) -> None:
    p = tls_check(server.url("/whoami"), "--cert", str(files["p12"]), "--ca-file", str(files["ca"]),
                  "--pin-stdin", "--json", stdin="s3cret-pass\n")
    assert p.returncode == 0, p.stderr + p.stdout
    doc = json.loads(p.stdout)
    for k in ("tls_version", "cipher", "signature_scheme", "resumed", "client_cert_subject",
              "server_cert_subject", "http_status"):
        assert k in doc
    assert doc["http_status"] == 200 and doc["tls_version"] == "TLSv1.3"
    assert doc["signature_scheme"] == "ecdsa_secp256r1_sha256"
    assert "CN=operator-p12" in doc["client_cert_subject"]
    assert "s3cret-pass" not in p.stdout + p.stderr
    assert server.wait_seen(1) and any(s.client_subject and "operator-p12" in s.client_subject
                                       for s in server.seen)


def test_pem_plain_output(files: dict[str, Path], server: PythonTlsServer) -> None:
    p = tls_check(server.url("/hello"), "--cert", str(files["pem"]), "--ca-file", str(files["ca"]))
    assert p.returncode == 0, p.stderr
    assert "HTTP status:  200" in p.stdout
    assert "rsa_pss_rsae_sha256" in p.stdout and "CN=operator-pem" in p.stdout


def test_wrong_password_is_a_certificate_error(files: dict[str, Path], server: PythonTlsServer) -> None:
    p = tls_check(server.url(), "--cert", str(files["p12"]), "--ca-file", str(files["ca"]), "--pin-stdin",
                  stdin="wrong\n")
    assert p.returncode == 2
    assert "password" in p.stderr.lower() and "wrong" not in p.stderr
    assert "Traceback" not in p.stderr


def test_no_certificate_against_a_server_that_requires_one(files: dict[str, Path],
                                                           server: PythonTlsServer) -> None:
    p = tls_check(server.url(), "--ca-file", str(files["ca"]), "--json")
    assert p.returncode == 1
    doc = json.loads(p.stdout)
    assert doc["ok"] is False and doc["error"] == "ClientCertRejected"
    assert "client certificate" in doc["message"]


def test_untrusted_server_in_plain_words(files: dict[str, Path], server: PythonTlsServer) -> None:
    p = tls_check(server.url(), "--cert", str(files["pem"]))  # the test CA is not trusted by default
    assert p.returncode == 1
    assert "not trusted" in p.stderr and "Traceback" not in p.stderr
