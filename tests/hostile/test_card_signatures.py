"""Class 6: the card signs what the server asks, as often as it asks. It must sign once per connection
attempt: no TLS 1.3 post-handshake authentication (not even when a hostile server asks without our
offer), no TLS 1.2 renegotiation, and no reconnect-and-sign loop (a server that drops every connection
right after the handshake gets WASTED_SIGNATURES_LIMIT signatures, then none).

Real parts: the SoftHSM2 card's P-256 key (every signature is a C_Sign on the card), the product's mTLS
transport, and three hostile servers on loopback: Python ssl dropping after each handshake, a tlslite
server that sends a post-handshake CertificateRequest it was never offered, and `openssl s_server`
renegotiating. Signatures are counted twice: by the transport (identity.signatures) and by the server
(handshakes in which it received the client's CertificateVerify). Stated time: each case ends within
BOUND seconds (the requests have a 10 s deadline).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tlslite.api import HandshakeSettings, TLSConnection, X509CertChain, parsePEMKey

from app.sandbox.pki import CertificateAuthority
from app.session.errors import SessionError, SignatureBudgetSpent, TlsHandshakeError
from app.session.tls import TrustConfig, make_session
from app.session.tls.keys import WASTED_SIGNATURES_LIMIT
from app.tokens.card import Pkcs11Signer, open_card_signer
from app.tokens.inventory import scan_module
from app.tokens.pin import Pin, PinRequest
from tests.rigs.softhsm import SoftHsmRig

BOUND = 30.0


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, test_ca: CertificateAuthority) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("hostile-sign")
    test_ca.issue_server(key_kind="rsa2048").write(d / "srv.pem", d / "srv.key")
    (d / "ca.pem").write_bytes(test_ca.cert_pem())
    return {"cert": d / "srv.pem", "key": d / "srv.key", "ca": d / "ca.pem"}


@pytest.fixture(scope="module")
def card(softhsm_rig: SoftHsmRig) -> Iterator[Pkcs11Signer]:
    inv = scan_module(softhsm_rig.module_path, module=softhsm_rig.module())
    entry = next(c for c in inv.certificates if c.label == "test p256")

    def pin(request: PinRequest) -> Pin:
        return Pin(softhsm_rig.card.user_pin)

    signer = open_card_signer(softhsm_rig.module_path, entry, pin)
    yield signer
    signer.close()


@contextlib.contextmanager
def serving(handle) -> Iterator[int]:  # type: ignore[no-untyped-def]
    srv = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except (TimeoutError, OSError):
                continue
            held.append(conn)
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        t.join(2)
        for c in held:
            with contextlib.suppress(OSError):
                c.close()
        srv.close()


def test_a_server_dropping_after_each_handshake_gets_a_bounded_number_of_signatures(
        card: Pkcs11Signer, files: dict[str, Path]) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(files["cert"], files["key"])
    ctx.load_verify_locations(files["ca"])
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.num_tickets = 0  # no TLS 1.3 tickets, so no resumption: every connection needs a new signature
    signed_handshakes = []

    def drop(conn: socket.socket) -> None:
        try:
            tls = ctx.wrap_socket(conn, server_side=True)
            if tls.getpeercert(binary_form=True):
                signed_handshakes.append(1)
            tls.close()  # right after the handshake, before any answer
        except (OSError, ssl.SSLError):
            conn.close()

    with serving(drop) as port:
        http = make_session(card, TrustConfig(extra_ca_file=str(files["ca"])), timeout=10.0, deadline=10.0)
        errors: list[SessionError] = []
        started = time.monotonic()
        for _ in range(10):  # a tool, the agent or a refresh timer asking again and again
            with pytest.raises(SessionError) as caught:
                http.get(f"https://localhost:{port}/")
            errors.append(caught.value)
        assert time.monotonic() - started < BOUND
        http.close()
    assert http.signatures == WASTED_SIGNATURES_LIMIT == 3
    assert len(signed_handshakes) == WASTED_SIGNATURES_LIMIT
    assert all(isinstance(e, SignatureBudgetSpent) for e in errors[WASTED_SIGNATURES_LIMIT:])
    assert "Log in again" in str(errors[-1])


def _tlslite_server(files: dict[str, Path]) -> tuple[X509CertChain, object]:
    chain = X509CertChain()
    chain.parsePemList(files["cert"].read_text())
    key = parsePEMKey(files["key"].read_text(), private=True)
    return chain, key


def test_post_handshake_authentication_is_refused(card: Pkcs11Signer, files: dict[str, Path]) -> None:
    chain, key = _tlslite_server(files)
    seen: dict[str, object] = {}

    def hostile(conn: socket.socket) -> None:
        tls = TLSConnection(conn)
        settings = HandshakeSettings()
        settings.minVersion = settings.maxVersion = (3, 4)
        try:
            tls.handshakeServer(certChain=chain, privateKey=key, reqCert=True, settings=settings,
                                alpn=[bytearray(b"http/1.1")])
            seen["client_cert"] = bool(tls.session.clientCertChain)
            seen["offered_pha"] = tls._pha_supported
            tls.read()  # the request
            tls._pha_supported = True  # hostile: ask although the client never offered it
            for _ in tls.request_post_handshake_auth():
                pass
            tls.write(bytearray(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
            tls.read()  # a Certificate + CertificateVerify would arrive here
            seen["second_signature"] = True
        except Exception as e:  # the client's alert ends it, which is what we want
            seen["ended"] = type(e).__name__
        finally:
            conn.close()

    with serving(hostile) as port:
        http = make_session(card, TrustConfig(extra_ca_file=str(files["ca"])), timeout=10.0, deadline=10.0)
        with pytest.raises(TlsHandshakeError) as caught:
            http.get(f"https://localhost:{port}/")
        http.close()
    assert "sign again on the same connection" in str(caught.value), (caught.value, seen)
    assert http.signatures == 1
    assert seen.get("client_cert") is True and seen.get("offered_pha") is False
    assert "second_signature" not in seen


def test_tls12_renegotiation_is_refused(card: Pkcs11Signer, files: dict[str, Path]) -> None:
    exe = shutil.which("openssl")
    if not exe:
        pytest.skip("openssl is not installed")
    # s_server without -www: it prints what it receives and sends what it reads on stdin; "R" renegotiates
    # asking for the client certificate again (a second signature, if the client went along).
    proc = subprocess.Popen([exe, "s_server", "-accept", "127.0.0.1:0", "-cert", str(files["cert"]),
                             "-key", str(files["key"]), "-CAfile", str(files["ca"]), "-Verify", "1",
                             "-tls1_2", "-no_dhe", "-naccept", "1"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    assert proc.stdin is not None and proc.stdout is not None
    out: list[str] = []
    port = 0
    while not port:
        line = proc.stdout.readline().decode(errors="replace")
        assert line, "s_server did not start"
        if "ACCEPT" in line:
            port = int(line.rsplit(":", 1)[1])
    threading.Thread(target=lambda: out.extend(li.decode(errors="replace") for li in proc.stdout),
                     daemon=True).start()
    http = make_session(card, TrustConfig(extra_ca_file=str(files["ca"])), timeout=10.0, deadline=6.0)
    box: list[object] = []

    def get() -> None:
        try:
            box.append(http.get(f"https://localhost:{port}/"))
        except SessionError as e:
            box.append(e)

    t = threading.Thread(target=get, daemon=True)
    t.start()
    try:
        end = time.monotonic() + BOUND
        while not any("GET / HTTP/1.1" in li for li in out):  # the request arrived: renegotiate now
            assert time.monotonic() < end, out
            time.sleep(0.05)
        proc.stdin.write(b"R\n")
        proc.stdin.flush()
        t.join(BOUND)
        assert not t.is_alive()
    finally:
        proc.kill()
        proc.wait()
        http.close()
    assert http.signatures == 1  # the handshake's; none for the renegotiation
    assert isinstance(box[0], SessionError)  # the server gave up (or the deadline came), plainly
