"""The local API agent's rigs: the sandbox requiring the card's CA, a trusted session on the p11-kit
card with its agent, a private HOME / runtime folder / state folder, and the real tools run as
processes in that private environment (osc-sdk-python, osc-cli: nobody here wrote them)."""

from __future__ import annotations

import datetime as _dt
import json
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from app.sandbox.server import Sandbox
from app.session.agent.attach import AgentHandle, AgentOptions, attach_agent
from app.session.lifecycle import SessionSettings, TrustedSession
from app.session.model import AuthMethod, CertificateChoice, Credentials, LoginRequest, Secret, SessionState
from app.session.signing import osc4_headers
from app.tokens.pin import Pin, PinRequest
from tests.rigs.events import SessionEvents
from tests.rigs.p11kit import P11KitCard
from tests.rigs.sandbox import _shared_server_pki, make_sandbox  # noqa: F401 - fixture
from tests.rigs.softhsm import SoftHsmRig

ROOT = Path(__file__).resolve().parents[2]
FAST = SessionSettings(watch_interval=0.05, rescan_backoff=(0.05, 0.1, 0.2), tick_seconds=0.2)


def private_env(tmp: Path) -> dict[str, str]:
    """A user environment of its own: HOME, runtime and state folders; no OSC_* of the developer's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSC_")}
    home, run, state = tmp / "home", tmp / "run", tmp / "state"
    for d in (home, run, state):
        d.mkdir(parents=True, exist_ok=True)
    run.chmod(0o700)
    env.update(HOME=str(home), XDG_RUNTIME_DIR=str(run), XDG_STATE_HOME=str(state), PYTHONPATH=str(ROOT))
    return env


class AgentRig:
    """A trusted session on the p11-kit card, logged in, with its agent attached."""

    def __init__(self, api: Sandbox, card: P11KitCard, env: dict[str, str], *,
                 options: AgentOptions | None = None, settings: SessionSettings = FAST) -> None:
        assert api.info is not None
        card.module()
        self.api, self.card, self.env = api, card, env
        uri = f"pkcs11:token={quote(card.token.label)};object={quote('second p256')};type=cert"
        self.request = LoginRequest(
            credentials=Credentials(AuthMethod.PASSWORD, api.info.login, Secret(api.info.password)),
            region=api.info.region, endpoint=api.info.endpoint, ca_file=api.info.ca_file,
            certificate=CertificateChoice(uri, module_path=card.client_module_path))
        self.events = SessionEvents(timeout=30.0)
        self.pins: list[PinRequest] = []
        self.session = TrustedSession(self.request, pin_callback=self._pin, on_event=self.events,
                                      settings=settings)
        self.info = self.session.login()
        self.events.state(SessionState.ACTIVE)
        handle = attach_agent(self.session, region=self.info.region, account_id=self.info.account_id,
                              options=options, env=env)
        assert handle is not None
        self.agent: AgentHandle = handle
        self.http = requests.Session()

    def _pin(self, req: PinRequest) -> Pin:
        self.pins.append(req)
        return Pin(self.card.token.user_pin)

    def local_key_unseen(self) -> bool:
        """The local access key never reached the API."""
        return all(c.access_key != self.agent.access_key for c in self.served())

    def served(self) -> list[Any]:
        """The sandbox's call log."""
        return self.api.served_calls

    def signed(self, call: str, params: dict[str, Any] | None = None, *, secret: str | None = None,
               access_key: str | None = None, now: _dt.datetime | None = None,
               body: bytes | None = None, extra: dict[str, str] | None = None,
               host: str | None = None, via: requests.Session | None = None) -> requests.Response:
        """POST a call to the agent signed like osc-sdk-python (host without port), with overrides;
        `via` another connection than the rig's own (a tool of its own)."""
        data = body if body is not None else json.dumps(params or {}).encode()
        host_header = host or self.agent.server.host_header
        headers = osc4_headers(access_key=access_key or self.agent.access_key,
                               secret_key=secret if secret is not None else self.agent.pair.secret_key,
                               region=self.info.region, host=host_header.split(":")[0],
                               path=f"/api/v1/{call}", body=data, now=now)
        headers["Host"] = host_header
        headers.update(extra or {})
        http = via or self.http
        return http.post(f"{self.agent.endpoint}/{call}", data=data, headers=headers, timeout=30)

    def close(self) -> None:
        self.http.close()
        self.session.logout()
        self.session.wait_ended(30)
        self.agent.close()


@pytest.fixture
def api(tmp_path: Path, _shared_server_pki: Path, softhsm_rig: SoftHsmRig,  # noqa: F811
        request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """The sandbox with an API access rule naming the rig's CA: every call needs the card."""
    kw = getattr(request, "param", {}) or {}
    sb = make_sandbox(tmp_path / "sandbox", _shared_server_pki, client_ca_pem=softhsm_rig.ca.cert_pem(), **kw)
    sb.start()
    yield sb
    sb.stop()


@pytest.fixture
def server_ctx(_shared_server_pki: Path) -> ssl.SSLContext:  # noqa: F811
    """A TLS server context (Python's ssl, i.e. OpenSSL) with the shared test server's certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(_shared_server_pki / "server.pem", _shared_server_pki / "server-key.pem")
    return ctx


@pytest.fixture
def user_env(tmp_path: Path) -> dict[str, str]:
    """A private user environment (HOME, XDG_RUNTIME_DIR, XDG_STATE_HOME)."""
    return private_env(tmp_path / "user")


@pytest.fixture
def rig(api: Sandbox, p11kit_card: P11KitCard, user_env: dict[str, str]) -> Iterator[AgentRig]:
    r = AgentRig(api, p11kit_card, user_env)
    yield r
    r.close()
    if not p11kit_card.inserted:
        p11kit_card.insert()


# --- the real tools, as processes in the private environment ----------------------------------------

SDK_SCRIPT = r"""
import json, sys
from osc_sdk_python import Gateway
gw = Gateway(**json.loads(sys.argv[1]))
print("{}", flush=True)
for line in sys.stdin:
    call, params = json.loads(line)
    try:
        print(json.dumps({"ok": getattr(gw, call)(**params)}), flush=True)
    except Exception as e:
        print(json.dumps({"error": type(e).__name__, "text": str(e)}), flush=True)
"""


class SdkTool:
    """osc-sdk-python in its own process (private environment), making the calls it is sent one by one.

    Building a Gateway costs seconds (it parses the API description), so a test keeps one process."""

    def __init__(self, env: dict[str, str], gateway: dict[str, Any] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SDK_SCRIPT, json.dumps(gateway or {"max_retries": 0})], env=env,
            cwd=env["HOME"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self._line() == {}

    def _line(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            assert self.proc.stderr is not None
            raise AssertionError(f"osc-sdk-python stopped: {self.proc.stderr.read()[-2000:]}")
        return dict(json.loads(line))

    def call(self, name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """{"ok": answer} or {"error": exception class, "text": its message}."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps([name, params or {}]) + "\n")
        self.proc.stdin.flush()
        return self._line()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def run_osc_cli(env: dict[str, str], *args: str,
                prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    """`osc-cli api ARGS` in a process."""
    exe = str(Path(sys.executable).with_name("osc-cli"))
    return subprocess.run([*(prefix or []), exe, "api", *args], env=env, capture_output=True, text=True,
                          timeout=120, cwd=env["HOME"])


# --- osc-sdk-python in this process (many clients: building a Gateway costs seconds, so one is copied) ---


@pytest.fixture(scope="session")
def sdk_template(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One osc-sdk-python Gateway (its parsed API description is shared by the clients made from it)."""
    from osc_sdk_python import Gateway

    cfg = tmp_path_factory.mktemp("sdk") / "config.json"
    cfg.write_text(json.dumps({"t": {"access_key": "A" * 20, "secret_key": "B" * 40, "region": "eu-west-2"}}))
    return Gateway(path=str(cfg), profile="t", max_retries=0)


def sdk_client(template: Any, *, path: str, profile: str) -> Any:
    """A Gateway of its own (own requests.Session, own profile from `path`), no rate limiter."""
    from osc_sdk_python.call import Call

    gw = object.__new__(type(template))  # (copy.copy trips on the Gateway's __getattr__)
    gw.__dict__.update(template.__dict__)
    gw.call = Call(logger=template.log, version=template.endpoint_api_version, limiter=None, path=path,
                   profile=profile, max_retries=0)
    return gw
