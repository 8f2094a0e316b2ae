"""The headless login command's pieces: request building, PIN source, event printing, exit codes."""

from __future__ import annotations

import argparse
import io
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from app.cli import login as cli
from app.session.errors import ConfigError
from app.session.model import (
    AuthMethod,
    EndReason,
    EventKind,
    LoginRequest,
    SessionEvent,
    SessionInfo,
    SessionState,
)
from app.tokens.errors import PinIncorrect
from app.tokens.pin import PinPurpose, PinRequest


def _args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    cli.configure(p)
    return p.parse_args(list(argv))


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # never the real ~/.osc


def _build(args: argparse.Namespace, env: dict[str, str],
           answer: str = "typed") -> tuple[LoginRequest, list[str]]:
    warnings: list[str] = []
    prompts: list[str] = []

    def prompt(text: str) -> str:
        prompts.append(text)
        return answer

    req = cli.build_request(args, env, prompt=prompt, warn=warnings.append)
    return req, warnings + [f"prompt:{p}" for p in prompts]


URI = "pkcs11:token=Card;object=key;type=cert"


def test_environment_credentials_and_flags() -> None:
    req, notes = _build(_args("--headless", "--cert", URI, "--module", "/m.so", "--grace-seconds", "30"),
                        {"OSC_LOGIN": "ops@example.com", "OSC_PASSWORD": "pw-from-env",
                         "OSC_REGION": "us-east-2"})
    assert req.credentials.method is AuthMethod.PASSWORD and req.credentials.identity == "ops@example.com"
    assert req.credentials.secret.reveal() == "pw-from-env"
    assert req.region == "us-east-2" and req.grace_override_seconds == 30
    assert req.certificate is not None
    assert req.certificate.ref == URI and req.certificate.module_path == "/m.so"
    assert notes == []


def test_flags_win_over_the_environment_and_secrets_on_the_command_line_warn() -> None:
    req, notes = _build(_args("--access-key", "AK1", "--secret-key", "sk-flag", "--cert", URI, "--region",
                              "eu-west-2"), {"OSC_LOGIN": "ignored", "OSC_PASSWORD": "x"})
    assert req.credentials.method is AuthMethod.ACCESS_KEY and req.credentials.identity == "AK1"
    assert req.credentials.secret.reveal() == "sk-flag"
    assert any("secret key on the command line" in n for n in notes)


def test_a_missing_secret_is_prompted() -> None:
    req, notes = _build(_args("--login", "ops", "--cert", URI), {}, answer="from-prompt")
    assert req.credentials.secret.reveal() == "from-prompt"
    assert notes == ["prompt:Password for ops: "]


def test_profile_values_are_used(tmp_path: Path) -> None:
    conf = tmp_path / "config.json"
    conf.write_text(json.dumps({"work": {"access_key": "AKP", "secret_key": "skp", "region": "us-west-1",
                                         "endpoints": {"api": "https://api.example/api/v1"},
                                         "x509_client_cert": URI}}))
    req, _ = _build(_args("--profile", "work", "--config-file", str(conf)), {})
    assert req.credentials.identity == "AKP" and req.credentials.secret.reveal() == "skp"
    assert req.region == "us-west-1" and req.endpoint == "https://api.example/api/v1"
    assert req.certificate is not None and req.certificate.ref == URI


def test_a_named_profile_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    conf = tmp_path / "config.json"
    conf.write_text("{}")
    with pytest.raises(ConfigError):
        _build(_args("--profile", "nope", "--config-file", str(conf)), {})


@pytest.mark.parametrize(("argv", "env", "words"), [
    ((), {}, "no credentials"),
    (("--login", "ops"), {"OSC_PASSWORD": "x"}, "no certificate"),
    (("--login", "ops", "--cert", "/no/such/file.p12"), {"OSC_PASSWORD": "x"}, "does not exist"),
    (("--login", "ops", "--cert", URI, "--grace-seconds", "-1"), {"OSC_PASSWORD": "x"}, "zero or more"),
    (("--login", "ops", "--cert", URI, "--ca-file", "/no/ca.pem"), {"OSC_PASSWORD": "x"}, "does not exist"),
])
def test_usage_errors(argv: tuple[str, ...], env: dict[str, str], words: str) -> None:
    with pytest.raises(cli.UsageError, match=words):
        _build(_args(*argv), env)


def test_pin_from_stdin_one_line_per_request_then_cancel() -> None:
    src = cli.PinSource(from_stdin=True, stdin=io.StringIO("1234\n5678\n"), err=io.StringIO())
    req = PinRequest("Card", PinPurpose.LOGIN)
    first = src(req)
    second = src(PinRequest("Card", PinPurpose.RELOGIN))
    assert first is not None and first.reveal() == "1234"
    assert second is not None and second.reveal() == "5678"
    assert src(req) is None  # no more lines: cancelled, never retried


def test_pin_pad_is_announced_not_read() -> None:
    err = io.StringIO()
    src = cli.PinSource(from_stdin=True, stdin=io.StringIO("1234\n"), err=err)
    assert src(PinRequest("Card", PinPurpose.LOGIN, protected_path=True, final_try=True)) is None
    assert "on the reader" in err.getvalue() and "locks the card" in err.getvalue()


def _ev(kind: EventKind, state: SessionState, **kw: Any) -> SessionEvent:
    return SessionEvent(kind=kind, state=state, at=0.0, **kw)


def test_json_printer_one_object_per_event_and_thinned_ticks() -> None:
    out = io.StringIO()
    p = cli.Printer(out, as_json=True)
    p(_ev(EventKind.STATE, SessionState.ACTIVE))
    for left in (299.5, 299.0, 240.2, 239.6, 9.5, 9.4, 8.6):
        p(_ev(EventKind.TICK, SessionState.GRACE, seconds_left=left))
    p(_ev(EventKind.STATE, SessionState.ENDED, reason=EndReason.CARD_REMOVED))
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert lines[0] == {"event": "state", "state": "active", "at": 0.0}
    assert [x.get("seconds_left") for x in lines if x["event"] == "tick"] == [299.5, 239.6, 9.5, 8.6]
    assert lines[-1]["reason"] == "card removed"


def test_plain_printer() -> None:
    out = io.StringIO()
    p = cli.Printer(out, as_json=False)
    p(_ev(EventKind.CARD_REMOVED, SessionState.GRACE, message="The card was removed"))
    p(_ev(EventKind.STATE, SessionState.GRACE, seconds_left=300, data={"deadline": "2030-01-01T00:05:00Z"}))
    p(_ev(EventKind.TICK, SessionState.GRACE, seconds_left=120))
    p(_ev(EventKind.STATE, SessionState.ACTIVE))
    p(_ev(EventKind.STATE, SessionState.GRACE, seconds_left=120))
    p(_ev(EventKind.TICK, SessionState.GRACE, seconds_left=120))  # a new countdown: printed again
    lines = out.getvalue().splitlines()
    assert lines[0] == "card removed - The card was removed"
    assert "ends in 5:00 (at 2030-01-01T00:05:00Z)" in lines[1]
    assert "2:00" in lines[2] and lines[3] == "active"
    assert len(lines) == 6 and "2:00" in lines[5]


class FakeSession:
    """Stands in for TrustedSession: scripted login outcome and end."""

    def __init__(self, request: LoginRequest, *, pin_callback: Any, on_event: Any, settings: Any,
                 fail: Exception | None = None, end: EndReason = EndReason.CARD_REMOVED) -> None:
        self.on_event = on_event
        self.fail = fail
        self.end = end
        self.end_reason: EndReason | None = None
        self.ended = threading.Event()
        self.logouts: list[EndReason] = []

    def login(self) -> SessionInfo:
        if self.fail is not None:
            self.end_reason = EndReason.LOGIN_FAILED
            self.on_event(_ev(EventKind.STATE, SessionState.ENDED, reason=EndReason.LOGIN_FAILED))
            self.ended.set()
            raise self.fail
        self.on_event(_ev(EventKind.STATE, SessionState.ACTIVE))
        self.end_reason = self.end
        self.on_event(_ev(EventKind.STATE, SessionState.ENDED, reason=self.end))
        self.ended.set()
        return SessionInfo(None, None, AuthMethod.PASSWORD, "ops", "eu-west-2", "https://x", None, None, None,
                           None, None, False, 300.0)

    def wait_ended(self, timeout: float | None = None) -> bool:
        return self.ended.wait(timeout)

    def logout(self, reason: EndReason = EndReason.LOGOUT) -> None:
        self.logouts.append(reason)


@pytest.mark.parametrize(("end", "code"), [(EndReason.CARD_REMOVED, 3), (EndReason.KEY_EXPIRED, 4),
                                           (EndReason.LOGOUT, 0), (EndReason.ERROR, 5)])
def test_exit_codes_follow_the_end_reason(end: EndReason, code: int) -> None:
    out = io.StringIO()
    rc = cli.run(_args("--headless", "--json", "--login", "ops", "--cert", URI),
                 env={"OSC_PASSWORD": "pw"}, out=out, err=io.StringIO(), stdin=io.StringIO(),
                 session_factory=lambda *a, **kw: FakeSession(*a, **kw, end=end))
    assert rc == code


def test_a_failed_login_prints_the_error_after_the_final_state() -> None:
    out, err = io.StringIO(), io.StringIO()
    rc = cli.run(_args("--headless", "--json", "--login", "ops", "--cert", URI),
                 env={"OSC_PASSWORD": "pw"}, out=out, err=err, stdin=io.StringIO(),
                 session_factory=lambda *a, **kw: FakeSession(*a, **kw, fail=PinIncorrect(tries_left=2)))
    assert rc == 1
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert lines[-1]["event"] == "error" and lines[-1]["error"] == "PinIncorrect"
    assert "login failed" in err.getvalue()


def test_without_headless_it_says_how() -> None:
    err = io.StringIO()
    assert cli.run(_args("--login", "ops"), env={}, out=io.StringIO(), err=err) == 2
    assert "--headless" in err.getvalue()


def test_a_protected_certificate_file_asks_its_password(tmp_path: Path) -> None:
    from app.sandbox.pki import CertificateAuthority

    issued = CertificateAuthority("CLI test CA").issue_client("ops", key_kind="p256")
    p12 = tmp_path / "ops.p12"
    p12.write_bytes(issued.pkcs12(b"file-pass"))
    req, notes = _build(_args("--login", "ops", "--cert", str(p12)), {"OSC_PASSWORD": "pw"},
                        answer="file-pass")
    assert req.certificate is not None and req.certificate.file_password is not None
    assert req.certificate.file_password.reveal() == "file-pass"
    assert notes == ["prompt:Password of ops.p12: "]
    # with --pin-stdin the password is the next stdin line, like a PIN
    lines = iter(["from-stdin"])
    req = cli.build_request(_args("--login", "ops", "--cert", str(p12), "--pin-stdin"),
                            {"OSC_PASSWORD": "pw"}, prompt=lambda t: "unused", warn=lambda t: None,
                            read_line=lambda: next(lines))
    assert req.certificate is not None and req.certificate.file_password is not None
    assert req.certificate.file_password.reveal() == "from-stdin"


class InterruptedSession(FakeSession):
    """Ctrl-C during login after the key was made, then Ctrl-C again while the login cleans up."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.cleanup_finished = False

    def login(self) -> SessionInfo:
        import os
        import signal

        try:
            os.kill(os.getpid(), signal.SIGINT)  # the handler raises here, as in a real login
            raise AssertionError("the first Ctrl-C did not stop the login")
        except BaseException:
            os.kill(os.getpid(), signal.SIGINT)  # a second Ctrl-C during the key's revocation
            self.cleanup_finished = True
            self.end_reason = EndReason.LOGOUT
            self.ended.set()
            raise


def test_a_second_ctrl_c_does_not_cut_the_login_cleanup_short() -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals need the main thread")
    made: list[InterruptedSession] = []

    def factory(*a: Any, **kw: Any) -> InterruptedSession:
        made.append(InterruptedSession(*a, **kw))
        return made[-1]

    rc = cli.run(_args("--headless", "--login", "ops", "--cert", URI), env={"OSC_PASSWORD": "pw"},
                 out=io.StringIO(), err=io.StringIO(), stdin=io.StringIO(), session_factory=factory)
    assert made and made[0].cleanup_finished
    assert made[0].logouts == [EndReason.LOGOUT] and rc == 0
