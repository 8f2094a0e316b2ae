"""A headless login through a key in a Firefox profile's NSS database, chosen by its fingerprint."""
# ruff: noqa: F811 - the rigs' fixtures reappear as arguments

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.rigs.nss import NssHome, fingerprint, nss_ca, nss_home  # noqa: F401 - fixtures
from tests.rigs.sandbox import _shared_server_pki, make_sandbox  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]


def _env(h: NssHome, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OSC_", "OTL_PKCS11"))}
    env.update(HOME=str(h.home), PYTHONPATH=str(ROOT), **extra)
    return env


def test_headless_login_with_a_firefox_key_chosen_by_fingerprint(
        tmp_path: Path, _shared_server_pki: Path, nss_home: NssHome) -> None:
    sb = make_sandbox(tmp_path / "sandbox", _shared_server_pki, client_ca_pem=nss_home.ca.cert_pem())
    info = sb.start()
    try:
        fp = fingerprint(nss_home.ec)
        colons = ":".join(fp[i:i + 2] for i in range(0, 64, 2)).upper()  # as browsers show it
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "login", "--headless", "--json", "--pin-stdin", "--cert", colons,
             "--endpoint", info.endpoint, "--ca-file", info.ca_file],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=_env(nss_home, OSC_ACCESS_KEY=info.access_key, OSC_SECRET_KEY=info.secret_key), cwd=tmp_path)
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(nss_home.password + "\n")
        proc.stdin.flush()
        seen = []
        for line in proc.stdout:
            seen.append(json.loads(line))
            if seen[-1]["event"] == "state" and seen[-1]["state"] in ("active", "ended"):
                break
        assert seen[-1]["state"] == "active", (seen, proc.stderr.read() if proc.stderr else "")
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert nss_home.password not in "".join(json.dumps(s) for s in seen) + rest + err
    finally:
        sb.stop()


def test_an_unknown_fingerprint_is_a_usage_error(tmp_path: Path, nss_home: NssHome) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "app", "login", "--headless", "--cert", "ab" * 32, "--endpoint",
         "https://127.0.0.1:9/"], capture_output=True, text=True, stdin=subprocess.DEVNULL,
        env=_env(nss_home, OSC_ACCESS_KEY="AK", OSC_SECRET_KEY="SK"), cwd=tmp_path, timeout=120, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "No listed certificate has the SHA-256 fingerprint" in proc.stderr


def test_the_terminal_asks_the_database_password_by_name_and_never_counts_tries(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import io

    import app.cli.login as cli
    from app.tokens.pin import PinPurpose, PinRequest

    prompts: list[str] = []
    monkeypatch.setattr(cli.getpass, "getpass", lambda prompt, stream=None: prompts.append(prompt) or "pw")
    source = cli.PinSource(from_stdin=False, stdin=io.StringIO(), err=io.StringIO())
    pin = source(PinRequest("Firefox profile work", PinPurpose.LOGIN, database_password=True))
    assert pin is not None and pin.reveal() == "pw"
    assert prompts == ["Database password of 'Firefox profile work': "]


def test_the_osc_profile_x509_client_cert_may_be_a_fingerprint(
        tmp_path: Path, nss_home: NssHome, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import argparse

    from app.cli.login import build_request, configure

    config = tmp_path / "config.json"
    config.write_text(json.dumps({"default": {"access_key": "AK", "secret_key": "SK", "region": "eu-west-2",
                                              "x509_client_cert": fingerprint(nss_home.rsa)}}))
    monkeypatch.setenv("HOME", str(nss_home.home))
    parser = argparse.ArgumentParser()
    configure(parser)
    # a module of our own: discovering the system's in this process would load them for every later test
    args = parser.parse_args(["--config-file", str(config), "--module", str(tmp_path / "none.so")])
    request = build_request(args, {}, prompt=lambda p: "", warn=lambda w: None)
    choice = request.certificate
    assert choice is not None and choice.entry is not None
    assert choice.entry.fingerprint_sha256 == fingerprint(nss_home.rsa)
    assert choice.entry.store_name == "Chrome" and choice.is_card  # opened through softokn, no file read
