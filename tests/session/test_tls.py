"""mTLS engine against independent servers: Python `ssl` and `openssl s_server -Verify 1` (file keys).

Card keys (SoftHSM2, p11-kit removal) are in test_tls_card.py.
"""

from __future__ import annotations

import datetime as _dt
import json
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID
from tlslite.constants import GroupName

from app.sandbox.pki import CertificateAuthority, Issued
from app.session import tls
from app.session.errors import (
    ClientCertRejected,
    ConnectionTimeout,
    EndpointUnreachable,
    ServerNotTrusted,
    TlsHandshakeError,
)
from app.session.tls import TrustConfig, make_session
from app.session.tls.speedups import FAST_AEAD_CLASS, _CryptographyECDH, _ECPublicKey, _FastX509
from app.tokens.errors import TokenRemoved
from app.tokens.signer import RSA_PKCS1_SCHEMES, SignatureScheme, SoftwareSigner
from tests.rigs.tls_servers import (
    OpenSslServer,
    PythonTlsServer,
    page_client_subject,
    page_reused,
    silent_server,
)


class Pkcs1OnlySigner(SoftwareSigner):
    """An RSA key that advertises PKCS#1 v1.5 only (like a card without CKM_RSA_PKCS_PSS)."""

    def supported_schemes(self) -> tuple[SignatureScheme, ...]:
        return RSA_PKCS1_SCHEMES


class RemovableSigner(SoftwareSigner):
    """A file key that can be 'removed': then every signature raises TokenRemoved, as a card would."""

    removed = False

    def sign_digest(self, digest: bytes, scheme: SignatureScheme) -> bytes:
        if self.removed:
            raise TokenRemoved("The card was removed.", token_label="test card")
        return super().sign_digest(digest, scheme)


@dataclass
class Pki:
    dir: Path
    ca: CertificateAuthority
    ca_file: Path
    other_ca_file: Path
    server: tuple[Path, Path]
    signers: dict[str, SoftwareSigner]
    issued: dict[str, Issued]

    def trust(self) -> TrustConfig:
        return TrustConfig(str(self.ca_file))

    def write_server(self, name: str, issued: Issued) -> tuple[Path, Path]:
        cert, key = self.dir / f"{name}.pem", self.dir / f"{name}.key"
        issued.write(cert, key)
        return cert, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("tlspki")
    ca = CertificateAuthority("TLS Test Root")
    other = CertificateAuthority("Somebody Else's Root")
    (d / "ca.pem").write_bytes(ca.cert_pem())
    (d / "other.pem").write_bytes(other.cert_pem())
    server = ca.issue_server(("localhost", "127.0.0.1"))
    server.write(d / "srv.pem", d / "srv.key")
    issued = {name: ca.issue_client(f"client-{name}", kind)
              for name, kind in (("rsa", "rsa2048"), ("p256", "p256"), ("p384", "p384"))}
    signers: dict[str, SoftwareSigner] = {
        "rsa_pss": SoftwareSigner(issued["rsa"].key, issued["rsa"].certificate, description="rsa.pem"),  # type: ignore[arg-type]
        "rsa_pkcs1": Pkcs1OnlySigner(issued["rsa"].key, issued["rsa"].certificate,  # type: ignore[arg-type]
                                     description="pkcs1-only"),
        "p256": SoftwareSigner(issued["p256"].key, issued["p256"].certificate, description="p256.pem"),  # type: ignore[arg-type]
        "p384": SoftwareSigner(issued["p384"].key, issued["p384"].certificate, description="p384.pem"),  # type: ignore[arg-type]
    }
    # A PKCS#12 file, read back the way the file store does (the key never touches disk unencrypted).
    p12_issued = ca.issue_client("client-p12", "rsa2048")
    (d / "client.p12").write_bytes(p12_issued.pkcs12(b"secret"))
    key, cert, extra = pkcs12.load_key_and_certificates((d / "client.p12").read_bytes(), b"secret")
    signers["p12"] = SoftwareSigner(key, cert, tuple(extra), description="client.p12")  # type: ignore[arg-type]
    issued["p12"] = p12_issued
    return Pki(d, ca, d / "ca.pem", d / "other.pem", (d / "srv.pem", d / "srv.key"), signers, issued)


@pytest.fixture(scope="module")
def py13(pki: Pki) -> Iterator[PythonTlsServer]:
    with PythonTlsServer(*pki.server, pki.ca_file) as s:
        yield s


@pytest.fixture(scope="module")
def py12(pki: Pki) -> Iterator[PythonTlsServer]:
    with PythonTlsServer(*pki.server, pki.ca_file, tls_max=ssl.TLSVersion.TLSv1_2) as s:
        yield s


OPENSSL_VARIANTS: dict[str, tuple[str, ...]] = {
    "ossl13": ("-tls1_3",),
    "ossl12": ("-tls1_2",),
    # The server only accepts SHA-384 client signatures (TLS 1.3): RSA must use PSS-SHA384.
    "ossl13_sha384": ("-tls1_3", "-client_sigalgs", "rsa_pss_rsae_sha384:ECDSA+SHA256:ECDSA+SHA384"),
    # TLS 1.2 server that only takes PKCS#1 v1.5 (and ECDSA) client signatures, and signs with SHA-256.
    "ossl12_pkcs1": ("-tls1_2", "-client_sigalgs", "RSA+SHA256:ECDSA+SHA256:ECDSA+SHA384",
                     "-sigalgs", "ECDSA+SHA256"),
}


@pytest.fixture(scope="module")
def ossl(pki: Pki) -> Iterator[dict[str, OpenSslServer]]:
    servers = {name: OpenSslServer(*pki.server, pki.ca_file, *args)
               for name, args in OPENSSL_VARIANTS.items()}
    yield servers
    for s in servers.values():
        s.close()


def _expected_family(key: str, server: str) -> str:
    if key in ("p256", "p384"):
        return "ecdsa_secp256r1_sha256" if key == "p256" else "ecdsa_secp384r1_sha384"
    if key == "rsa_pkcs1" or server == "ossl12_pkcs1":
        return "rsa_pkcs1_sha256"
    if server == "ossl13_sha384":
        return "rsa_pss_rsae_sha384"
    return "rsa_pss_rsae"


KEYS = ("rsa_pss", "rsa_pkcs1", "p256", "p384", "p12")


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("server", ["py13", "py12"])
def test_python_ssl_server_sees_the_client_certificate(pki: Pki, key: str, server: str,
                                                      request: pytest.FixtureRequest) -> None:
    srv: PythonTlsServer = request.getfixturevalue(server)
    signer = pki.signers[key]
    with make_session(signer, pki.trust(), timeout=10) as session:
        r = session.get(srv.url("/whoami"))
        assert r.status_code == 200
        seen = json.loads(r.text)
        info = session.connection_info
    assert seen["client_subject"] == signer.certificate.subject.rfc4514_string()
    assert info is not None and not info.resumed
    want_version = "TLSv1.3" if server == "py13" and key != "rsa_pkcs1" else "TLSv1.2"
    assert seen["version"] == info.tls_version == want_version
    assert info.signature_scheme is not None
    assert info.signature_scheme.startswith(_expected_family(key, server)), info.signature_scheme
    assert session.signatures == 1
    if key == "rsa_pkcs1":
        assert info.note and "RSA-PSS" in info.note  # the fallback is said, not silent


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("server", list(OPENSSL_VARIANTS))
def test_openssl_s_server_sees_the_client_certificate(pki: Pki, ossl: dict[str, OpenSslServer], key: str,
                                                     server: str) -> None:
    signer = pki.signers[key]
    if key == "rsa_pkcs1" and server.startswith("ossl13"):
        pytest.skip("a PKCS#1-only key cannot do TLS 1.3 (test_pkcs1_only_key_vs_tls13_only_server)")
    with make_session(signer, pki.trust(), timeout=10) as session:
        r = session.get(ossl[server].url())
        info = session.connection_info
    assert r.status_code == 200
    cn = signer.certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    subject = page_client_subject(r.text)
    assert subject is not None and f"CN={cn}" in subject.replace(" ", "")
    assert info is not None
    assert info.tls_version == ("TLSv1.3" if server.startswith("ossl13") else "TLSv1.2")
    assert info.signature_scheme is not None
    assert info.signature_scheme.startswith(_expected_family(key, server)), info.signature_scheme


def test_pkcs1_only_key_vs_tls13_only_server(pki: Pki, ossl: dict[str, OpenSslServer]) -> None:
    with make_session(pki.signers["rsa_pkcs1"], pki.trust(), timeout=10) as session, \
            pytest.raises(TlsHandshakeError, match="protocol_version"):
        session.get(ossl["ossl13"].url())
    assert session.signatures == 0


def test_tls13_client_auth_against_openssl3_never_compresses_our_certificate(
        pki: Pki, ossl: dict[str, OpenSslServer]) -> None:
    # tlslite-ng 0.8.2 sends CompressedCertificate wrongly and OpenSSL 3 aborts: we never compress.
    with make_session(pki.signers["rsa_pss"], pki.trust(), timeout=10) as session:
        assert session.tls_context._settings.certificate_compression_send == []
        r = session.get(ossl["ossl13"].url())
    assert page_client_subject(r.text) is not None
    assert "New, TLSv1.3" in r.text


# --- fast paths -----------------------------------------------------------------------------------


@pytest.mark.parametrize("suite", ["TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"])
def test_record_layer_and_key_exchange_use_cryptography(pki: Pki, suite: str) -> None:
    args = ("-tls1_3", "-ciphersuites", suite, "-alpn", "http/1.1")
    with OpenSslServer(*pki.server, pki.ca_file, *args) as srv:
        identity = tls.TlsIdentity(pki.signers["p256"])
        ctx = tls.TlsContext(identity, pki.trust(), tls.TicketStore())
        raw = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        sock = ctx.wrap_socket(raw, server_hostname="localhost")
        try:
            record = sock._conn._recordLayer
            for state in (record._writeState, record._readState):
                assert isinstance(state.encContext, FAST_AEAD_CLASS)
            assert sock.cipher_implementation() == "cryptography"
            assert sock.connection_info.cipher == suite
            assert sock.connection_info.key_exchange == "x25519"
            assert isinstance(sock._conn._getKEX(GroupName.x25519, (3, 4)), _CryptographyECDH)
            # the ssl.SSLSocket look-alike, as urllib3 uses it
            assert sock.selected_alpn_protocol() == "http/1.1"
            assert sock.version() == "TLSv1.3"
            assert sock.fileno() == raw.fileno()
            der = sock.getpeercert(binary_form=True)
            assert x509.load_der_x509_certificate(der).subject.rfc4514_string() == \
                sock.connection_info.server_cert_subject
            sock.settimeout(5)
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            buf = bytearray(65536)
            chunks = []
            while n := sock.recv_into(buf):
                chunks.append(bytes(buf[:n]))
            assert b"".join(chunks).startswith(b"HTTP/1.0 200")
            assert sock.recv_into(buf) == 0  # EOF stays EOF
        finally:
            sock.close()


def test_large_response_over_the_adapter(pki: Pki, py13: PythonTlsServer,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    fast_records = []
    original = tls.TlsSocket._next_app_record

    def counting(self: tls.TlsSocket) -> bytes | None:
        out = original(self)
        if out:
            fast_records.append(len(out))
        return out

    monkeypatch.setattr(tls.TlsSocket, "_next_app_record", counting)
    with make_session(pki.signers["p256"], pki.trust(), timeout=10) as session:
        r = session.get(py13.url("/bytes/1048576"))
        assert r.content == b"x" * 1048576
        assert sum(fast_records) >= 1048576  # the bulk went through the record fast path
        r2 = session.get(py13.url("/hello"))  # same pooled connection: no second handshake
        assert r2.text == "hello"
        assert session.handshakes == 1


def test_importing_the_engine_changes_nothing_in_tlslite_until_install_speedups() -> None:
    # A fresh interpreter: this process may already have built a context (which installs them).
    code = """
import tlslite.messages, tlslite.x509
import app.session.tls
from app.session.tls import speedups
assert tlslite.messages.X509 is tlslite.x509.X509, "patched at import"
assert not speedups.speedups_installed()
speedups.install_speedups()
assert tlslite.messages.X509 is speedups._FastX509
speedups.install_speedups()  # idempotent
assert tlslite.messages.X509 is speedups._FastX509 and speedups.speedups_installed()
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[2], check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_certificates_are_parsed_by_cryptography(pki: Pki, py13: PythonTlsServer) -> None:
    # tlslite's own EC key parsing costs ~1.6 ms per certificate; install_speedups() swaps the class it
    # uses, called when the context is built.
    from tlslite import messages

    identity = tls.TlsIdentity(pki.signers["p256"])
    ctx = tls.TlsContext(identity, pki.trust(), tls.TicketStore())
    assert messages.X509 is _FastX509
    sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", py13.port), timeout=10),
                           server_hostname="localhost")
    try:
        leaf = sock._conn.session.serverCertChain.x509List[0]
        assert isinstance(leaf, _FastX509) and isinstance(leaf.publicKey, _ECPublicKey)
        assert leaf.publicKey.curve_name == "NIST256p" and len(leaf.publicKey) == 256
    finally:
        sock.close()


# --- server verification (never optional) ---------------------------------------------------------


def _server_with(pki: Pki, name: str, issued: Issued) -> PythonTlsServer:
    return PythonTlsServer(*pki.write_server(name, issued), pki.ca_file)


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


BAD_SERVERS: dict[str, tuple[Any, str]] = {
    "wrong_host": (lambda ca: ca.issue_server(("api.example.test",)), "not localhost"),
    "expired": (lambda ca: ca.issue_server(not_before=_now() - _dt.timedelta(days=30),
                                           not_after=_now() - _dt.timedelta(days=1)), "expired"),
    "wrong_eku": (lambda ca: ca.issue_server(eku=[ExtendedKeyUsageOID.CLIENT_AUTH]), "refused|EKU|usage"),
    "unknown_ca": (lambda ca: CertificateAuthority("Rogue CA").issue_server(), "not a trusted"),
}


@pytest.mark.parametrize("case", list(BAD_SERVERS))
def test_untrusted_server_is_refused_before_the_card_signs(pki: Pki, case: str) -> None:
    make, words = BAD_SERVERS[case]
    signer = RemovableSigner(pki.issued["rsa"].key, pki.issued["rsa"].certificate)  # type: ignore[arg-type]
    with _server_with(pki, case, make(pki.ca)) as srv, make_session(signer, pki.trust(), timeout=10) as s:
        with pytest.raises(ServerNotTrusted, match=words) as err:
            s.get(srv.url("/hello"), verify=False)  # verify=False changes nothing
        assert err.value.host == "localhost"
        assert s.signatures == 0  # the card was never asked
        assert s.connection_info is None
        seen = srv.wait_seen(1)
        assert seen and seen[0].client_subject is None  # our certificate was never sent


def test_trust_config_without_the_ca_refuses_the_sandbox_server(pki: Pki, py13: PythonTlsServer) -> None:
    with make_session(pki.signers["p256"], TrustConfig(str(pki.other_ca_file)), timeout=10) as s, \
            pytest.raises(ServerNotTrusted):
        s.get(py13.url())


# --- the server refuses us ------------------------------------------------------------------------


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2])
def test_server_rejecting_the_client_certificate(pki: Pki, version: ssl.TLSVersion) -> None:
    signer = pki.signers["rsa_pss"]
    with PythonTlsServer(*pki.server, pki.other_ca_file, tls_max=version) as srv, \
            make_session(signer, pki.trust(), timeout=10) as s, pytest.raises(ClientCertRejected) as err:
        s.get(srv.url())
    assert err.value.certificate_subject == signer.certificate.subject.rfc4514_string()
    assert "client-rsa" in str(err.value) and "localhost" in str(err.value)


def test_openssl_server_rejecting_the_client_certificate(pki: Pki) -> None:
    with OpenSslServer(*pki.server, pki.other_ca_file, "-tls1_3", "-verify_return_error") as srv, \
            make_session(pki.signers["p256"], pki.trust(), timeout=10) as s, \
            pytest.raises(ClientCertRejected):
        s.get(srv.url())


def test_server_requiring_a_certificate_when_we_have_none(pki: Pki, py13: PythonTlsServer) -> None:
    with make_session(None, pki.trust(), timeout=10) as s, \
            pytest.raises(ClientCertRejected, match="requires a client certificate"):
        s.get(py13.url())


def test_signer_error_during_handshake_surfaces_as_itself(pki: Pki, py13: PythonTlsServer) -> None:
    signer = RemovableSigner(pki.issued["p256"].key, pki.issued["p256"].certificate)  # type: ignore[arg-type]
    signer.removed = True
    with make_session(signer, pki.trust(), timeout=10) as s, pytest.raises(TokenRemoved):
        s.get(py13.url())


def test_server_that_never_answers_times_out(pki: Pki) -> None:
    with silent_server() as port, make_session(pki.signers["p256"], pki.trust(), timeout=0.5) as s, \
            pytest.raises(ConnectionTimeout, match=r"127\.0\.0\.1"):
        s.get(f"https://127.0.0.1:{port}/")


def test_closed_port_is_unreachable(pki: Pki) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with make_session(None, pki.trust(), timeout=2) as s, pytest.raises(EndpointUnreachable) as info:
        s.get(f"https://127.0.0.1:{port}/")
    # plain words for the CLIs (they print str(e)): the OS's reason, not urllib3's retry wrapper
    text = str(info.value)
    assert "refused" in text.lower() and f"127.0.0.1:{port}" in text
    assert not any(w in text for w in ("HTTPSConnectionPool", "Max retries", "NewConnectionError"))


def test_errors_cross_urllib3_as_ssl_errors(pki: Pki) -> None:
    assert issubclass(tls.TlsSocketError, ssl.SSLError)


# --- resumption: later connections without the card -----------------------------------------------


def test_resumption_needs_no_signature_and_keeps_the_identity_python_server(pki: Pki,
                                                                           py13: PythonTlsServer) -> None:
    signer = RemovableSigner(pki.issued["rsa"].key, pki.issued["rsa"].certificate)  # type: ignore[arg-type]
    with make_session(signer, pki.trust(), timeout=10) as s:
        assert json.loads(s.get(py13.url("/whoami")).text)["resumed"] is False
        assert s.signatures == 1
        signer.removed = True  # the card is gone from now on
        for _ in range(3):
            s.drop_connections()  # force a new TCP + TLS connection
            seen = json.loads(s.get(py13.url("/whoami")).text)
            assert seen["resumed"] is True
            assert seen["client_subject"] == signer.certificate.subject.rfc4514_string()
            info = s.connection_info
            assert info is not None and info.resumed and info.signature_scheme is None
            assert info.client_cert_subject == seen["client_subject"]
            assert info.server_cert_subject.startswith("CN=localhost")
        assert s.signatures == 1
        # Logout drops the tickets: the next connection needs the card again.
        s.close()
        with pytest.raises(TokenRemoved):
            s.get(py13.url("/whoami"))


def test_resumption_against_openssl(pki: Pki, ossl: dict[str, OpenSslServer]) -> None:
    signer = RemovableSigner(pki.issued["p256"].key, pki.issued["p256"].certificate)  # type: ignore[arg-type]
    with make_session(signer, pki.trust(), timeout=10) as s:
        first = s.get(ossl["ossl13"].url()).text
        assert not page_reused(first)
        signer.removed = True
        for _ in range(2):  # s_server -www closes after each page: every request is a new connection
            page = s.get(ossl["ossl13"].url()).text
            assert page_reused(page)
            assert "CN=client-p256" in (page_client_subject(page) or "").replace(" ", "")
        assert s.signatures == 1
        assert s.tickets.ticket_count() >= 1


def test_one_session_from_several_threads(pki: Pki, py13: PythonTlsServer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with make_session(pki.signers["p256"], pki.trust(), timeout=10) as s:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda _: json.loads(s.get(py13.url("/whoami")).text), range(12)))
        assert all(r["client_subject"] == "CN=client-p256,O=OUTSCALE Trusted Login test" for r in results)
        assert 1 <= s.signatures <= s.handshakes <= 12


@pytest.mark.parametrize("version", ["-tls1_3", "-tls1_2"])
def test_server_accepting_none_of_our_schemes_is_said_plainly(pki: Pki, version: str) -> None:
    with OpenSslServer(*pki.server, pki.ca_file, version, "-client_sigalgs", "ECDSA+SHA256") as srv, \
            make_session(pki.signers["rsa_pss"], pki.trust(), timeout=10) as s, \
            pytest.raises(TlsHandshakeError, match="accepts only ecdsa_secp256r1_sha256") as err:
        s.get(srv.url())
    assert "rsa_pss_rsae_sha256" in str(err.value)


def test_a_trust_change_is_not_bypassed_by_resumption(pki: Pki, py13: PythonTlsServer,
                                                      tmp_path: Path) -> None:
    # The extra CA file stops trusting the server's CA during the session (an operator removes it):
    # a new connection must be verified against the new anchors, not resumed from a ticket that was
    # verified under the old ones.
    import os

    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(pki.ca_file.read_bytes())
    trust = TrustConfig(str(ca_file), include_defaults=False)
    signer = RemovableSigner(pki.issued["p256"].key, pki.issued["p256"].certificate)  # type: ignore[arg-type]
    with make_session(signer, trust, timeout=10) as s:
        assert json.loads(s.get(py13.url("/whoami")).text)["resumed"] is False
        ca_file.write_bytes(pki.other_ca_file.read_bytes())
        st = ca_file.stat()
        os.utime(ca_file, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        s.drop_connections()
        with pytest.raises(ServerNotTrusted):
            s.get(py13.url("/whoami"))
