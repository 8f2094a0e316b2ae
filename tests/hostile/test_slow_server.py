"""Class 2: a slow server. A server that accepts and then sends one byte every so often never trips a
read timeout; every request has an overall deadline (connect + handshake + request + answer), a Cancel
that cuts it short at any point, and a logout that cannot hang (it says the key outlives the session,
and until when).

Real parts: a loopback server dribbling bytes (raw TCP, or after a real TLS handshake), the mTLS
transport, the SoftHSM2 card, the sandbox API behind a TCP relay that turns slow mid-session, and the
`login --headless` command as a process. Stated times: each case ends within BOUND seconds (it takes
about its deadline: 2-3 s; without the deadline it would take hours: 16 KiB at one byte a beat).
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

from app.sandbox.server import Sandbox
from app.session.backend import RealBackend
from app.session.errors import ConnectionTimeout, LoginCancelled
from app.session.lifecycle import SessionSettings, TrustedSession
from app.session.model import (
    AuthMethod,
    CertificateChoice,
    Credentials,
    EndReason,
    LoginRequest,
    Secret,
    SessionState,
)
from app.session.tls import TrustConfig, make_session
from app.tokens.pin import Pin, PinRequest
from tests.rigs.events import SessionEvents
from tests.rigs.hostile_peers import Peer, relay, tcp_dribbler, tls_dribbler
from tests.rigs.sandbox import _shared_server_pki, make_sandbox  # noqa: F401 - fixture
from tests.rigs.softhsm import CARD_LABEL, SoftHsmRig

ROOT = Path(__file__).resolve().parents[2]
BEAT = 0.5  # seconds between two bytes: far below the 10 s read timeout, so no read ever times out
BOUND = 20.0  # seconds within which every case below must have ended (deadlines are 2-3 s)


def card_request(rig: SoftHsmRig, endpoint: str, ca_file: str | None, login: str = "demo",
                 password: str = "x") -> LoginRequest:
    rig.module()  # loaded with the rig's SOFTHSM2_CONF
    uri = f"pkcs11:token={quote(CARD_LABEL)};object={quote('test p256')};type=cert"
    return LoginRequest(credentials=Credentials(AuthMethod.PASSWORD, login, Secret(password)),
                        region="eu-west-2", endpoint=endpoint, ca_file=ca_file,
                        certificate=CertificateChoice(uri, module_path=rig.module_path))


def pins(rig: SoftHsmRig):  # type: ignore[no-untyped-def]
    def give(req: PinRequest) -> Pin:
        return Pin(rig.card.user_pin)
    return give


def in_thread(fn):  # type: ignore[no-untyped-def]
    """Run fn in a thread; returns (thread, box) where box gets ('ok', value) or ('error', exc)."""
    box: list[tuple[str, object]] = []

    def run() -> None:
        try:
            box.append(("ok", fn()))
        except BaseException as e:  # the test inspects it
            box.append(("error", e))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box


def wait_accepted(peer: Peer, count: int = 1) -> None:
    end = time.monotonic() + BOUND
    while peer.accepted < count:
        assert time.monotonic() < end, "the client never connected"
        time.sleep(0.02)


def test_a_login_against_a_dribbling_server_ends_at_its_deadline(softhsm_rig: SoftHsmRig,
                                                                  tmp_path: Path) -> None:
    with tcp_dribbler(BEAT) as peer:
        request = card_request(softhsm_rig, f"https://127.0.0.1:{peer.port}", None)
        events = SessionEvents(timeout=BOUND)
        session = TrustedSession(request, pin_callback=pins(softhsm_rig), on_event=events,
                                 backend=RealBackend(timeout=10.0, deadline=2.0))
        t, box = in_thread(session.login)
        t.join(BOUND)
        assert not t.is_alive(), f"login still waiting after {BOUND} s"
        kind, error = box[0]
        assert kind == "error" and isinstance(error, ConnectionTimeout), box
        assert "did not finish answering within 2 s" in str(error)
        assert peer.accepted == 1  # no retry behind the user's back
        events.state(SessionState.ENDED)
        assert session.end_reason is EndReason.LOGIN_FAILED


def test_a_slow_answer_body_is_bounded_too(tmp_path: Path, _shared_server_pki: Path) -> None:  # noqa: F811
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(_shared_server_pki / "server.pem", _shared_server_pki / "server-key.pem")
    with tls_dribbler(ctx, BEAT) as peer:
        http = make_session(None, TrustConfig(extra_ca_file=str(_shared_server_pki / "ca.pem")),
                            timeout=10.0, deadline=2.0)
        t, box = in_thread(lambda: http.get(f"https://localhost:{peer.port}/", timeout=10.0))
        t.join(BOUND)
        assert not t.is_alive(), f"the request still waiting after {BOUND} s"
        kind, error = box[0]
        assert kind == "error" and isinstance(error, ConnectionTimeout), box
        http.close()


def test_cancel_stops_connecting_at_once(softhsm_rig: SoftHsmRig) -> None:
    """The GUI's Cancel and a logout during Connecting... both call session.logout()."""
    with tcp_dribbler(BEAT) as peer:
        request = card_request(softhsm_rig, f"https://127.0.0.1:{peer.port}", None)
        events = SessionEvents(timeout=BOUND)
        # the default deadline (60 s): only the Cancel can end this within BOUND
        session = TrustedSession(request, pin_callback=pins(softhsm_rig), on_event=events,
                                 backend=RealBackend())
        t, box = in_thread(session.login)
        wait_accepted(peer)
        session.logout(EndReason.LOGOUT)
        t.join(BOUND)
        assert not t.is_alive(), f"login still waiting {BOUND} s after Cancel"
        kind, error = box[0]
        assert kind == "error" and isinstance(error, LoginCancelled), box
        events.state(SessionState.ENDED)
        assert session.end_reason is EndReason.LOGOUT


@pytest.fixture
def api(tmp_path: Path, _shared_server_pki: Path, softhsm_rig: SoftHsmRig) -> Iterator[Sandbox]:  # noqa: F811
    sb = make_sandbox(tmp_path / "sandbox", _shared_server_pki, client_ca_pem=softhsm_rig.ca.cert_pem())
    sb.start()
    yield sb
    sb.stop()


def test_a_logout_on_a_server_turned_slow_says_the_key_outlives_the_session(
        api: Sandbox, softhsm_rig: SoftHsmRig) -> None:
    assert api.info is not None
    parts = urlsplit(api.info.endpoint)
    with relay((parts.hostname or "127.0.0.1", parts.port or 443), BEAT) as hop:
        endpoint = urlunsplit(parts._replace(netloc=f"{parts.hostname}:{hop.peer.port}"))
        request = card_request(softhsm_rig, endpoint, api.info.ca_file, api.info.login, api.info.password)
        events = SessionEvents(timeout=BOUND)
        session = TrustedSession(request, pin_callback=pins(softhsm_rig), on_event=events,
                                 settings=SessionSettings(watch_interval=0.1),
                                 backend=RealBackend(timeout=10.0, revoke_deadline=2.0))
        info = session.login()
        assert info.temporary_key_id is not None
        hop.slow()  # from now on the server answers one byte a beat
        t, box = in_thread(session.logout)
        t.join(BOUND)
        assert not t.is_alive(), f"logout still waiting after {BOUND} s"
        kind, result = box[0]
        assert kind == "ok"
        assert not result.revoked  # type: ignore[attr-defined]
        message = result.message  # type: ignore[attr-defined]
        assert "could not be deleted" in message and info.temporary_key_id in message
        assert f"until it expires at {info.temporary_key_expires}" in message
        assert info.temporary_key_id in [k.access_key_id for k in api.access_keys()]  # it really outlives


def test_headless_login_ctrl_c_while_connecting_ends_the_process(softhsm_rig: SoftHsmRig,
                                                                 tmp_path: Path) -> None:
    uri = f"pkcs11:token={quote(CARD_LABEL)};object={quote('test p256')};type=cert"
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OSC_", "OTL_"))}
    env.update(softhsm_rig.env, HOME=str(home), PYTHONPATH=str(ROOT), OSC_LOGIN="demo", OSC_PASSWORD="x")
    with tcp_dribbler(BEAT) as peer:
        cmd = [sys.executable, "-m", "app", "login", "--headless", "--json", "--pin-stdin", "--cert", uri,
               "--module", softhsm_rig.module_path, "--endpoint", f"https://127.0.0.1:{peer.port}"]
        proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stdin is not None
            proc.stdin.write(softhsm_rig.card.user_pin + "\n")
            proc.stdin.flush()
            wait_accepted(peer)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=BOUND)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, err
        assert "Traceback" not in err
        assert '"state": "ENDED"' in out or '"state": "ended"' in out.lower(), out
