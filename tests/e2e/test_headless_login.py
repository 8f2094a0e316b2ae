"""`osc-trusted-login login --headless` as a subprocess, against the sandbox, with the p11-kit card."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from app.sandbox.server import Sandbox
from tests.rigs.p11kit import P11KitCard
from tests.rigs.sandbox import _shared_server_pki, client_pki, make_sandbox  # noqa: F401 - fixtures
from tests.rigs.softhsm import SoftHsmRig

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def api(tmp_path: Path, _shared_server_pki: Path, softhsm_rig: SoftHsmRig) -> Iterator[Sandbox]:  # noqa: F811
    sb = make_sandbox(tmp_path / "sandbox", _shared_server_pki, client_ca_pem=softhsm_rig.ca.cert_pem())
    sb.start()
    yield sb
    sb.stop()


class Cli:
    """The headless command running in its own HOME/TMPDIR/cwd, its stdout read line by line."""

    def __init__(self, tmp: Path, api: Sandbox, card: P11KitCard, *extra: str, give_pin: bool = True) -> None:
        assert api.info is not None
        self.home = tmp / "home"
        self.work = tmp / "work"
        for d in (self.home, self.work, self.work / "tmp"):
            d.mkdir(parents=True, exist_ok=True)
        self.stderr_path = self.work / "stderr.log"
        uri = f"pkcs11:token={quote(card.token.label)};object={quote('second p256')};type=cert"
        env = {k: v for k, v in os.environ.items() if not k.startswith("OSC_")}
        env.update(HOME=str(self.home), TMPDIR=str(self.work / "tmp"), PYTHONPATH=str(ROOT),
                   OSC_LOGIN=api.info.login, OSC_PASSWORD=api.info.password,
                   P11_KIT_SERVER_ADDRESS=card.address)
        cmd = [sys.executable, "-m", "app", "login", "--headless", "--json", "--pin-stdin",
               "--cert", uri, "--module", card.client_module_path, "--endpoint", api.info.endpoint,
               "--ca-file", api.info.ca_file, "--region", api.info.region, *extra]
        self.stderr = self.stderr_path.open("w")
        self.proc = subprocess.Popen(cmd, cwd=self.work, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        assert self.proc.stdin is not None
        if give_pin:
            self.proc.stdin.write(card.token.user_pin + "\n")
            self.proc.stdin.flush()
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self.raw: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def until(self, event: str, state: str | None = None, timeout: float = 30.0) -> dict[str, Any]:
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no {event}/{state} line; saw {self.seen}; stderr: "
                                     f"{self.stderr_path.read_text()}") from None
            if line is None:
                raise AssertionError(f"exited before {event}/{state}; saw {self.seen}; stderr: "
                                     f"{self.stderr_path.read_text()}")
            self.raw.append(line)
            obj = json.loads(line)
            self.seen.append(obj)
            if obj["event"] == event and (state is None or obj["state"] == state):
                return obj

    def finish(self, timeout: float = 30.0) -> int:
        rc = self.proc.wait(timeout=timeout)
        while True:
            line = self.lines.get(timeout=timeout)
            if line is None:
                break
            self.raw.append(line)
            self.seen.append(json.loads(line))
        self.stderr.close()
        return rc


def _temp_keys(api: Sandbox) -> list[Any]:
    return [k for k in api.access_keys() if k.tag and "osc-trusted-login" in k.tag]


def test_card_removed_ends_the_session_and_no_secret_is_left_anywhere(
        tmp_path: Path, api: Sandbox, p11kit_card: P11KitCard) -> None:
    assert api.info is not None
    p11kit_card.module()
    cli = Cli(tmp_path, api, p11kit_card, "--grace-seconds", "1", "--verbose")
    try:
        cli.until("state", "authenticating")
        created = cli.until("key_created")
        cli.until("state", "active")
        keys = _temp_keys(api)
        assert [k.access_key_id for k in keys] == [created["access_key_id"]]
        temp_secret = keys[0].secret_key
        p11kit_card.remove()
        removed = cli.until("card_removed")
        assert removed["state"] == "grace" and "deadline" in removed
        ended = cli.until("state", "ended")
        assert ended["reason"] == "card removed"
        rc = cli.finish()
    finally:
        if cli.proc.poll() is None:
            cli.proc.kill()
    assert rc == 3
    assert any(e["event"] == "key_revoked" for e in cli.seen)
    assert _temp_keys(api) == []

    secrets = {"PIN": p11kit_card.token.user_pin, "password": api.info.password,
               "temporary secret key": temp_secret, "demo secret key": api.info.secret_key}
    written = [p for d in (cli.home, cli.work) for p in d.rglob("*") if p.is_file()]
    assert cli.stderr_path in written
    texts = {str(p): p.read_bytes().decode("utf-8", "replace") for p in written}
    texts["stdout"] = "".join(cli.raw)
    for name, value in secrets.items():
        assert len(value) >= 4
        leaks = [where for where, text in texts.items() if value in text]
        assert leaks == [], f"the {name} appears in {leaks}"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_logs_out_cleanly(tmp_path: Path, api: Sandbox, p11kit_card: P11KitCard, sig: int) -> None:
    p11kit_card.module()
    cli = Cli(tmp_path, api, p11kit_card)
    try:
        cli.until("state", "active")
        assert len(_temp_keys(api)) == 1
        cli.proc.send_signal(sig)
        ended = cli.until("state", "ended")
        rc = cli.finish()
    finally:
        if cli.proc.poll() is None:
            cli.proc.kill()
    assert rc == 0
    assert ended["reason"] == ("logout" if sig == signal.SIGINT else "quit")
    assert any(e["event"] == "key_revoked" for e in cli.seen)
    assert _temp_keys(api) == []


def test_ctrl_c_at_the_pin_prompt_ends_cleanly(tmp_path: Path, api: Sandbox, p11kit_card: P11KitCard) -> None:
    p11kit_card.module()
    cli = Cli(tmp_path, api, p11kit_card, give_pin=False)
    try:
        cli.until("state", "authenticating")
        cli.proc.send_signal(signal.SIGINT)  # while it waits for the PIN line
        ended = cli.until("state", "ended")
        rc = cli.finish()
    finally:
        if cli.proc.poll() is None:
            cli.proc.kill()
    assert rc == 0 and ended["reason"] == "logout"
    assert not any(e["event"] == "key_created" for e in cli.seen)
    assert _temp_keys(api) == []


def test_a_wrong_pin_fails_the_login_plainly(tmp_path: Path, api: Sandbox, p11kit_card: P11KitCard) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSC_")}
    assert api.info is not None
    env.update(HOME=str(tmp_path / "home"), PYTHONPATH=str(ROOT), OSC_LOGIN=api.info.login,
               OSC_PASSWORD=api.info.password, P11_KIT_SERVER_ADDRESS=p11kit_card.address)
    uri = f"pkcs11:token={quote(p11kit_card.token.label)};type=cert"
    proc = subprocess.run(
        [sys.executable, "-m", "app", "login", "--headless", "--json", "--pin-stdin", "--cert", uri,
         "--module", p11kit_card.client_module_path, "--endpoint", api.info.endpoint,
         "--ca-file", api.info.ca_file], input="000000wrong\n", capture_output=True, text=True, env=env,
        cwd=tmp_path, timeout=60, check=False)
    assert proc.returncode == 1
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    assert lines[-1]["event"] == "error" and lines[-1]["error"] == "PinIncorrect", lines
    ended = [x for x in lines if x["event"] == "state" and x["state"] == "ended"]
    assert ended and ended[-1]["reason"] == "login failed"
    assert "000000wrong" not in proc.stdout + proc.stderr
    assert _temp_keys(api) == []


def test_missing_credentials_is_a_usage_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSC_")}
    env.update(HOME=str(tmp_path), PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "app", "login", "--headless", "--cert", "pkcs11:token=x"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, check=False,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 2
    assert "no credentials" in proc.stderr


def test_a_file_certificate_session_has_no_card_to_watch(
        tmp_path: Path, _shared_server_pki: Path, client_pki: Any) -> None:  # noqa: F811
    sb = make_sandbox(tmp_path / "sandbox", _shared_server_pki, client_ca_pem=client_pki.ca_pem)
    info = sb.start()
    try:
        cert_file, _key = client_pki.cert("alice")
        env = {k: v for k, v in os.environ.items() if not k.startswith("OSC_")}
        env.update(HOME=str(tmp_path / "home"), PYTHONPATH=str(ROOT), OSC_ACCESS_KEY=info.access_key,
                   OSC_SECRET_KEY=info.secret_key)
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "login", "--headless", "--json", "--cert", cert_file,
             "--endpoint", info.endpoint, "--ca-file", info.ca_file],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
            cwd=tmp_path)
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:
            seen.append(json.loads(line))
            if seen[-1]["event"] == "state" and seen[-1]["state"] in ("active", "ended"):
                break
        assert seen[-1]["state"] == "active", (seen, proc.stderr.read() if proc.stderr else "")
        assert seen[-1].get("card") is None
        assert len(_temp_keys(sb)) == 1
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=30)
        seen += [json.loads(x) for x in rest.splitlines()]
        assert proc.returncode == 0
        assert not any(e["event"] in ("card_removed", "tick") for e in seen)
        assert any(e["event"] == "key_revoked" for e in seen)
        assert _temp_keys(sb) == []
        assert info.secret_key not in rest + err
    finally:
        sb.stop()
