"""osc config profiles, OSC_* environment precedence, app settings, atomic owner-only writes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from app.session import config as C
from app.session.errors import ConfigError
from app.session.model import Secret

URI = "pkcs11:token=PIV%20Card;object=PIV%20AUTH%20key;type=private"


def _write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    _write(
        h / ".osc" / "config.json",
        {
            "default": {"access_key": "AKDEFAULT", "secret_key": "SKDEFAULT", "region": "eu-west-2"},
            "prod": {
                "access_key": "AKPROD",
                "secret_key": "SKPROD",
                "region": "us-east-2",
                "endpoints": {"api": "https://api.private.example/api/v1"},
                "x509_client_cert": URI.replace("private", "cert"),
                "x509_client_key": URI,
                "login": "ops@example.com",
                "password": "pw-in-file",
            },
            "legacy": {"email": "old@example.com", "password": "x", "region": "cloudgouv-eu-west-1"},
        },
    )
    return h


def test_default_profile(home: Path) -> None:
    p = C.resolve_profile(env={}, home=home)
    assert (p.name, p.access_key, p.region) == ("default", "AKDEFAULT", "eu-west-2")
    assert isinstance(p.secret_key, Secret) and p.secret_key.reveal() == "SKDEFAULT"
    assert p.sources["access_key"].startswith("file:") and p.has_access_key and not p.has_login


def test_named_profile_with_pkcs11_uris_and_endpoint(home: Path) -> None:
    p = C.resolve_profile("prod", env={}, home=home)
    assert p.region == "us-east-2" and p.endpoint_api == "https://api.private.example/api/v1"
    assert p.x509_client_key == URI and p.client_cert_is_pkcs11
    assert p.login == "ops@example.com" and p.password is not None and p.has_login


def test_osc_profile_env_selects_and_email_alias(home: Path) -> None:
    p = C.resolve_profile(env={"OSC_PROFILE": "legacy"}, home=home)
    assert p.name == "legacy" and p.login == "old@example.com" and p.region == "cloudgouv-eu-west-1"


def test_env_overrides_file_and_says_so(home: Path) -> None:
    env = {
        "OSC_PROFILE": "prod",
        "OSC_ACCESS_KEY": "AKENV",
        "OSC_SECRET_KEY": "SKENV",
        "OSC_REGION": "us-west-1",
        "OSC_ENDPOINT_API": "https://127.0.0.1:9443",
        "OSC_X509_CLIENT_CERT": "/tmp/c.pem",
        "OSC_X509_CLIENT_KEY": "/tmp/c.key",
        "OSC_LOGIN": "env@example.com",
        "OSC_PASSWORD": "envpw",
    }
    p = C.resolve_profile(env=env, home=home)
    assert (p.access_key, p.region, p.endpoint_api, p.login) == (
        "AKENV",
        "us-west-1",
        "https://127.0.0.1:9443",
        "env@example.com",
    )
    assert p.secret_key is not None and p.secret_key.reveal() == "SKENV"
    assert p.password is not None and p.password.reveal() == "envpw"
    assert p.x509_client_cert == "/tmp/c.pem" and not p.client_cert_is_pkcs11
    assert p.sources["region"] == "env:OSC_REGION"
    # values the environment does not set still come from the file
    partial = C.resolve_profile(env={"OSC_PROFILE": "prod", "OSC_REGION": "eu-west-2"}, home=home)
    assert partial.access_key == "AKPROD" and partial.region == "eu-west-2"


def test_explicit_argument_beats_osc_profile(home: Path) -> None:
    assert C.resolve_profile("prod", env={"OSC_PROFILE": "legacy"}, home=home).name == "prod"


def test_osc_config_file(tmp_path: Path) -> None:
    f = _write(tmp_path / "elsewhere.json", {"default": {"access_key": "AKX", "secret_key": "SKX"}})
    p = C.resolve_profile(env={"OSC_CONFIG_FILE": str(f)}, home=tmp_path / "nohome")
    assert p.access_key == "AKX" and p.region == "eu-west-2" and p.sources["region"] == "default"
    assert p.config_file == str(f)
    with pytest.raises(ConfigError, match="does not exist"):
        C.resolve_profile(env={"OSC_CONFIG_FILE": str(tmp_path / "missing.json")}, home=tmp_path)


def test_missing_default_file_is_fine_but_missing_profile_is_not(tmp_path: Path, home: Path) -> None:
    p = C.resolve_profile(env={"OSC_ACCESS_KEY": "AK", "OSC_SECRET_KEY": "SK"}, home=tmp_path / "empty")
    assert p.access_key == "AK"
    with pytest.raises(ConfigError, match=r"No profile 'nope'.*default, prod, legacy"):
        C.resolve_profile("nope", env={}, home=home)
    with pytest.raises(ConfigError):
        C.resolve_profile(env={"OSC_PROFILE": "nope"}, home=home)


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"default": "x"}', "\udcff"])
def test_corrupt_osc_config(tmp_path: Path, content: str) -> None:
    f = tmp_path / ".osc" / "config.json"
    f.parent.mkdir(parents=True)
    if content == "\udcff":
        f.write_bytes(b"\xff\xfe\x00garbage")
    else:
        f.write_text(content)
    before = f.read_bytes()
    with pytest.raises(ConfigError) as ei:
        C.resolve_profile(env={}, home=tmp_path)
    assert ei.value.path == str(f)
    with pytest.raises(ConfigError):
        C.save_osc_profile(f, "new", {"region": "eu-west-2"})
    assert f.read_bytes() == before  # never overwritten


def test_secrets_never_in_repr(home: Path) -> None:
    p = C.resolve_profile("prod", env={}, home=home)
    assert "SKPROD" not in repr(p) and "pw-in-file" not in repr(p)


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_save_osc_profile_keeps_others_and_is_owner_only(home: Path) -> None:
    f = C.default_osc_config_path(home)
    f.chmod(0o644)
    C.save_osc_profile(
        f,
        "sandbox",
        {
            "region": "eu-west-2",
            "endpoints": {"api": "https://127.0.0.1:1/api/v1"},
            "secret_key": Secret("S"),
        },
    )
    data = json.loads(f.read_text())
    assert set(data) == {"default", "prod", "legacy", "sandbox"} and data["sandbox"]["secret_key"] == "S"
    assert _mode(f) == 0o600
    C.save_osc_profile(f, "sandbox", {"secret_key": None})
    assert "secret_key" not in json.loads(f.read_text())["sandbox"]
    assert not [x for x in f.parent.iterdir() if x.name.startswith(".config.json")]  # no temp left


def test_settings_defaults_and_round_trip(tmp_path: Path) -> None:
    path = C.default_settings_path(tmp_path / "cfg")
    assert C.load_settings(path) == C.AppSettings()
    s = C.AppSettings(
        pkcs11_modules=("/usr/lib/opensc-pkcs11.so",),
        store_folders=("/home/u/certs",),
        extra_ca_bundle="/etc/ca.pem",
        language="fr",
        remembered_login="ops@example.com",
        remembered_region="us-east-2",
        remember_login=True,
        grace_override_seconds=120,
    )
    C.save_settings(s, path)
    assert C.load_settings(path) == s
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    assert C.update_settings(path, language="en").language == "en"
    assert C.load_settings(path).language == "en"


def test_settings_keep_unknown_keys(tmp_path: Path) -> None:
    path = _write(tmp_path / "settings.json", {"language": "fr", "future_option": {"a": 1}})
    s = C.load_settings(path)
    assert s.extras == {"future_option": {"a": 1}}
    C.save_settings(s, path)
    assert json.loads(path.read_text())["future_option"] == {"a": 1}


@pytest.mark.parametrize(
    "data",
    [
        {"pkcs11_modules": "notalist"},
        {"grace_override_seconds": -1},
        {"remember_login": "yes"},
        {"language": 3},
    ],
)
def test_settings_type_errors(tmp_path: Path, data: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        C.load_settings(_write(tmp_path / "settings.json", data))


def test_corrupt_settings_are_never_overwritten_silently(tmp_path: Path) -> None:
    path = _write(tmp_path / "settings.json", "{broken")
    with pytest.raises(ConfigError, match="not valid JSON"):
        C.load_settings(path)
    with pytest.raises(ConfigError):
        C.save_settings(C.AppSettings(language="fr"), path)
    assert path.read_text() == "{broken"
    C.save_settings(C.AppSettings(language="fr"), path, replace_corrupt=True)
    assert (tmp_path / "settings.json.corrupt").read_text() == "{broken"
    assert C.load_settings(path).language == "fr"


def test_write_is_atomic_when_serialisation_fails(tmp_path: Path) -> None:
    path = _write(tmp_path / "settings.json", {"language": "fr"})
    with pytest.raises(TypeError):
        C.write_json_atomic(path, {"bad": object()})
    assert json.loads(path.read_text()) == {"language": "fr"}
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]


def test_default_paths_do_not_need_a_real_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert C.default_osc_config_path(tmp_path) == tmp_path / ".osc" / "config.json"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    if os.name == "posix":
        assert C.default_settings_path() == tmp_path / "xdg" / "osc-trusted-login" / "settings.json"
