"""Class 1, a card URI loads any library: a `module-path` from --cert, OSC_X509_CLIENT_KEY, a profile
or a remembered choice only names a module; one that is not known is refused before any dlopen, with
a message that says how to allow it. The library is real (its constructor writes a mark file when it
is loaded); the commands are the real `login --headless`."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest

from app.session.backend import RealBackend
from app.session.model import AuthMethod, CertificateChoice, Credentials, LoginRequest, Secret
from app.tokens.errors import ModuleNotAllowed
from app.tokens.modules import allowed_module, known_modules
from tests.hostile._cli import private_env, run_cli
from tests.rigs.softhsm import SoftHsmRig


def _uri(module: Path) -> str:
    return f"pkcs11:token=Any%20Card;object=x;type=private?module-path={quote(str(module), safe='/')}"


def _refused(text: str) -> None:
    assert "not a known one, so it was not loaded" in text, text
    assert "Settings" in text and "--module" in text and "Traceback" not in text


@pytest.mark.parametrize("where", ["--cert", "OSC_X509_CLIENT_KEY", "profile"])
def test_a_uri_never_loads_an_unknown_library(where: str, native_modules: dict[str, Path],
                                              tmp_path: Path) -> None:
    mark = tmp_path / "mark"
    home = tmp_path / "home"
    env = private_env(home, HOSTILE_MARK=str(mark), OSC_LOGIN="x@example.com", OSC_PASSWORD="not-used")
    uri = _uri(native_modules["constructor"])
    args = ["login", "--headless", "--pin-stdin", "--endpoint", "https://127.0.0.1:9/api/v1"]
    if where == "--cert":
        args += ["--cert", uri]
    elif where == "OSC_X509_CLIENT_KEY":
        env["OSC_X509_CLIENT_KEY"] = uri
    else:
        (home / ".osc").mkdir(mode=0o700)
        (home / ".osc" / "config.json").write_text(json.dumps({"default": {"x509_client_key": uri}}))
    ran = run_cli(*args, env=env, stdin="1234\n")
    assert ran.rc == 1
    _refused(ran.text)
    assert not mark.exists()  # the library's code never ran


def test_the_user_s_own_module_flag_is_honoured(native_modules: dict[str, Path], tmp_path: Path) -> None:
    # the control: the same library given with --module is loaded (so the test above can fail)
    mark = tmp_path / "mark"
    env = private_env(tmp_path / "home", HOSTILE_MARK=str(mark), OSC_LOGIN="x@example.com",
                      OSC_PASSWORD="not-used")
    ran = run_cli("login", "--headless", "--pin-stdin", "--endpoint", "https://127.0.0.1:9/api/v1",
                  "--cert", _uri(native_modules["constructor"]), "--module",
                  str(native_modules["constructor"]), env=env, stdin="1234\n")
    assert ran.rc == 1 and mark.exists()


def test_a_remembered_choice_is_checked_and_a_known_module_opens(
        softhsm_rig: SoftHsmRig, native_modules: dict[str, Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("HOSTILE_MARK", str(tmp_path / "mark"))
    creds = Credentials(AuthMethod.PASSWORD, "x@example.com", Secret("pw"))
    evil = CertificateChoice(_uri(native_modules["constructor"]),
                             module_path=str(native_modules["constructor"]))  # as the GUI remembers it
    with pytest.raises(ModuleNotAllowed, match="saved choice"):
        RealBackend().open_certificate(LoginRequest(creds, certificate=evil), lambda r: None)
    assert not (tmp_path / "mark").exists()
    # the SoftHSM module is known (loaded from the rig, as Settings or the registry would): it opens
    key = softhsm_rig.keys["p256"]
    uri = (f"pkcs11:token={quote(softhsm_rig.card.label)};id={''.join(f'%{b:02X}' for b in key.cka_id)};"
           f"type=cert?module-path={quote(softhsm_rig.module_path, safe='/')}")
    softhsm_rig.module()
    from app.tokens.pin import Pin

    opened = RealBackend().open_certificate(LoginRequest(creds, certificate=CertificateChoice(uri)),
                                            lambda r: Pin(softhsm_rig.card.user_pin))
    try:
        assert opened.card is not None
    finally:
        RealBackend().release_certificate(opened)


def test_allowed_module_is_the_one_decision(native_modules: dict[str, Path], tmp_path: Path) -> None:
    so = native_modules["ok"]
    link = tmp_path / "alias.so"
    link.symlink_to(so)
    assert allowed_module(str(link), [str(so)]) == str(so)  # the known path is what gets loaded
    with pytest.raises(ModuleNotAllowed):
        allowed_module(str(so), [str(native_modules["constructor"])])
    listed = [c.path for c in known_modules([str(so)], environ={"OTL_PKCS11_MODULE": "/x/env.so"},
                                            registry_dirs=())]
    assert listed[:2] == [str(so), "/x/env.so"]
