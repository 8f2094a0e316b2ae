"""The three hand-offs on real parts: `exec` (a running session, or one of its own), `env`, and the
published profile, with osc-sdk-python and osc-cli as processes in a private HOME."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from app.sandbox.server import Sandbox
from app.session.agent import profile as profiles
from app.session.agent.attach import AgentOptions
from app.session.agent.runtime import RUNTIME_NAME, runtime_dir
from app.session.model import SessionState
from tests.agent.conftest import ROOT, SDK_SCRIPT, AgentRig, SdkTool, run_osc_cli
from tests.rigs.p11kit import P11KitCard

OSC_CLI = str(Path(sys.executable).with_name("osc-cli"))


class Elsewhere:
    """Another "API endpoint" (plain HTTP) that counts whatever reaches it."""

    def __init__(self) -> None:
        hits = self.hits = []

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                hits.append(self.path)
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def elsewhere() -> Iterator[Elsewhere]:
    e = Elsewhere()
    yield e
    e.close()


def hostile_default(home: Path, url: str) -> dict[str, Any]:
    """The user's own config: a `default` profile pointing elsewhere, another one, an unknown key."""
    cfg = {"default": {"access_key": "ELSEWHEREKEY00000000", "secret_key": "S" * 40, "region": "eu-west-2",
                       "endpoints": {"api": url + "/api/v1"}, "x509_client_cert": "/nonexistent.pem"},
           "mine": {"access_key": "MINEMINEMINEMINEMINE", "secret_key": "M" * 40, "region": "us-east-2",
                    "custom_key": [1, 2.5, {"x": None}]}}
    (home / ".osc").mkdir(exist_ok=True)
    (home / ".osc" / "config.json").write_text(json.dumps(cfg))
    return cfg


def app_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "app", *args]


def test_exec_reaches_the_agent_despite_a_default_profile_pointing_elsewhere(
        rig: AgentRig, elsewhere: Elsewhere) -> None:
    hostile_default(Path(rig.env["HOME"]), elsewhere.url)
    env = dict(rig.env, OSC_X509_CLIENT_CERT="/nonexistent.pem", OSC_LOGIN="someone")
    n = len(rig.served())
    sdk = subprocess.run(app_cmd("exec", "--", sys.executable, "-c", SDK_SCRIPT, '{"max_retries": 0}'),
                         input='["ReadVms", {}]\n', env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert sdk.returncode == 0, sdk.stderr
    assert "ok" in json.loads(sdk.stdout.splitlines()[-1]), sdk.stdout
    cli = subprocess.run(app_cmd("exec", "--", "sh", "-c",
                                 f'{OSC_CLI} api ReadVms --config-path "$OSC_CONFIG_FILE" '
                                 "--profile trusted-login-osc-cli && "
                                 'test -z "$OSC_X509_CLIENT_CERT$OSC_LOGIN"'),
                         env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr + cli.stdout
    assert "Vms" in json.loads(cli.stdout)
    assert elsewhere.hits == []
    assert [(c.call, c.access_key) for c in rig.served()[n:]] == [("ReadVms", rig.info.temporary_key_id)] * 2
    # the command's exit status comes back
    seven = subprocess.run(app_cmd("exec", "--", "sh", "-c", "exit 7"), env=env, cwd=ROOT, timeout=60)
    assert seven.returncode == 7
    missing = subprocess.run(app_cmd("exec", "--", "no-such-command-here"), env=env, cwd=ROOT, timeout=60,
                             capture_output=True, text=True)
    assert missing.returncode == 127


def test_ctrl_c_reaches_the_command_and_exec_waits_for_it(rig: AgentRig) -> None:
    # as a terminal does: SIGINT to the whole foreground process group (exec and its command)
    script = 'trap "echo got-int; exit 42" INT; echo ready; while :; do sleep 0.05; done'
    p = subprocess.Popen(app_cmd("exec", "--", "sh", "-c", script), env=rig.env, cwd=ROOT, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    os.killpg(p.pid, signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 42, err
    assert out.strip() == "got-int"


def test_env_prints_the_variables_in_each_format(rig: AgentRig) -> None:
    env = rig.env
    sh = subprocess.run(["sh", "-c", f'eval "$({sys.executable} -m app env)" && '
                        'printf "%s %s %s %s" "$OSC_ENDPOINT_API" "$OSC_ACCESS_KEY" "$OSC_PROFILE" '
                        '"${OSC_X509_CLIENT_CERT-unset}"'],
                        env=dict(env, OSC_X509_CLIENT_CERT="/x.pem"), cwd=ROOT, capture_output=True,
                        text=True, timeout=60)
    assert sh.returncode == 0, sh.stderr
    assert sh.stdout.split() == [rig.agent.endpoint, rig.agent.access_key, "trusted-login", "unset"]
    out = {}
    for fmt in ("fish", "powershell", "json"):
        p = subprocess.run(app_cmd("env", "--format", fmt), env=env, cwd=ROOT, capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 0, p.stderr
        out[fmt] = p.stdout
    assert f"set -gx OSC_ACCESS_KEY '{rig.agent.access_key}';" in out["fish"]
    assert f"$env:OSC_ENDPOINT_API = '{rig.agent.endpoint}'" in out["powershell"]
    data = json.loads(out["json"])
    assert data["set"]["OSC_REGION"] == rig.info.region and "OSC_X509_CLIENT_CERT" in data["unset"]
    # the per-session profile agrees with the variables
    cfg = json.loads(Path(data["set"]["OSC_CONFIG_FILE"]).read_text())
    assert cfg["trusted-login"]["endpoints"]["api"] == data["set"]["OSC_ENDPOINT_API"]
    assert cfg["trusted-login"]["access_key"] == data["set"]["OSC_ACCESS_KEY"]
    for f in (runtime_dir(env) / RUNTIME_NAME, Path(data["set"]["OSC_CONFIG_FILE"])):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    # the temporary key is nowhere in what the tools get
    assert rig.info.temporary_key_id not in out["json"] + f.read_text()
    # the end: no session any more
    rig.session.logout()
    rig.session.wait_ended(30)
    none = subprocess.run(app_cmd("env"), env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert none.returncode == 1 and "no trusted session" in none.stderr and none.stdout == ""
    from tests.agent.test_agent_sandbox import gone_soon

    assert gone_soon(lambda: not (runtime_dir(env) / RUNTIME_NAME).exists())


@pytest.fixture
def published(api: Sandbox, p11kit_card: P11KitCard, user_env: dict[str, str],
              elsewhere: Elsewhere) -> Iterator[tuple[AgentRig, dict[str, Any]]]:
    mine = hostile_default(Path(user_env["HOME"]), elsewhere.url)
    r = AgentRig(api, p11kit_card, user_env, options=AgentOptions(publish_profile="tl"))
    yield r, mine
    r.close()


def test_the_published_profile_works_for_both_tools_and_goes_at_the_end(
        published: tuple[AgentRig, dict[str, Any]], elsewhere: Elsewhere) -> None:
    rig, mine = published
    path = Path(rig.env["HOME"]) / ".osc" / "config.json"
    assert rig.agent.profile_file == path and stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert {k: data[k] for k in mine} == mine  # the user's profiles and unknown keys as they were
    n = len(rig.served())
    tool = SdkTool(rig.env, {"profile": "tl", "max_retries": 0})  # no OSC_* variable at all
    try:
        assert "ok" in tool.call("ReadVms")
    finally:
        tool.close()
    cli = run_osc_cli(rig.env, "ReadVms", "--profile", "tl-osc-cli")
    assert cli.returncode == 0, cli.stderr
    assert "Vms" in json.loads(cli.stdout)
    assert [c.access_key for c in rig.served()[n:]] == [rig.info.temporary_key_id] * 2
    assert elsewhere.hits == []
    # osc-cli in GRACE (the session's kept connection), then after the end (a clear error, nothing sent)
    rig.card.remove()
    rig.events.state(SessionState.GRACE)
    grace = run_osc_cli(rig.env, "ReadVms", "--profile", "tl-osc-cli")
    assert grace.returncode == 0 and "Vms" in json.loads(grace.stdout), grace.stderr
    rig.card.insert()
    kept = Path(rig.env["HOME"]) / "kept.json"  # what a tool read before the end (a long run)
    kept.write_text(path.read_text())
    rig.session.logout()
    rig.session.wait_ended(30)
    rig.agent.end()  # (the agent's own watch does it too; this makes the checks below deterministic)
    n = len(rig.served())
    ended = run_osc_cli(rig.env, "ReadVms", "--profile", "tl-osc-cli", "--config-path", str(kept))
    assert ended.returncode != 0 and "TrustedSessionEnded" in ended.stdout + ended.stderr
    assert len(rig.served()) == n
    assert json.loads(path.read_text()) == mine


def test_a_stale_profile_from_a_crash_is_cleaned_at_the_next_start(tmp_path: Path) -> None:
    from tests.agent.conftest import private_env

    env = private_env(tmp_path)
    home = Path(env["HOME"])
    mine = hostile_default(home, "http://127.0.0.1:9")
    from app.session.agent.pair import new_local_pair
    from app.session.agent.runtime import AgentInfo

    dead = subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True, check=True)
    pair = new_local_pair()
    info = AgentInfo("http://127.0.0.1:1/api/v1", "eu-west-2", pair.access_key, pair.secret_key,
                     int(dead.stdout), str(tmp_path / "c.json"))
    path = profiles.publish(info, "tl", env=env)
    # the crashed process's record says it was pid `dead`
    rec = profiles.state_dir(env) / profiles.RECORD_NAME
    rec.write_text(json.dumps([dict(json.loads(rec.read_text())[0], pid=int(dead.stdout))]))
    other = new_local_pair()  # a second stale one the user has since changed: left alone
    data = json.loads(path.read_text())
    assert "tl" in data and "tl-osc-cli" in data
    data["tl-osc-cli"]["access_key"] = other.access_key
    path.write_text(json.dumps(data))
    assert profiles.clean_stale(env=env) == 1
    after = json.loads(path.read_text())
    assert "tl" not in after and after["tl-osc-cli"]["access_key"] == other.access_key
    assert {k: after[k] for k in mine} == mine
    assert profiles.clean_stale(env=env) == 0


def test_exec_without_a_session_logs_in_runs_and_logs_out(api: Sandbox, p11kit_card: P11KitCard,
                                                           user_env: dict[str, str]) -> None:
    assert api.info is not None
    p11kit_card.module()
    uri = f"pkcs11:token={quote(p11kit_card.token.label)};object={quote('second p256')};type=cert"
    env = dict(user_env, OSC_LOGIN=api.info.login, OSC_PASSWORD=api.info.password,
               P11_KIT_SERVER_ADDRESS=p11kit_card.address)
    cmd = app_cmd("exec", "--pin-stdin", "--cert", uri, "--module", p11kit_card.client_module_path,
                  "--endpoint", api.info.endpoint, "--ca-file", api.info.ca_file, "--region", api.info.region,
                  "--", "sh", "-c", f'{OSC_CLI} api ReadVms --config-path "$OSC_CONFIG_FILE" '
                  '--profile trusted-login-osc-cli && test -z "$OSC_LOGIN$OSC_PASSWORD" && exit 3')
    p = subprocess.run(cmd, input=p11kit_card.token.user_pin + "\n", env=env, cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 3, p.stderr
    assert "Vms" in json.loads(p.stdout)
    calls = [(c.call, c.status) for c in api.served_calls]
    assert ("ReadVms", 200) in calls and calls[-1] == ("DeleteAccessKey", 200)  # logged out after
    assert [k for k in api.access_keys() if k.tag and "osc-trusted-login" in k.tag] == []
    assert not (runtime_dir(user_env) / RUNTIME_NAME).exists()
