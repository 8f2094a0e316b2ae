"""Class 5, configs anyone can write: the OUTSCALE config, the settings and their folders are refused,
as OpenSSH refuses ~/.ssh/config, when another local user could have written them; the message names
the command that fixes it, and running that command makes the file usable. The app's own files are
created 0600 in 0700 folders whatever the umask. Real files, the real `login --headless`."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
from pathlib import Path

import pytest

from app.session.config import AppSettings, load_osc_config, load_settings, save_osc_profile, save_settings
from app.session.errors import ConfigError
from tests.hostile._cli import private_env, run_cli

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX ownership and modes")
NOBODY = 65534


def _config(home: Path) -> Path:
    d = home / ".osc"
    d.mkdir(parents=True, mode=0o700)
    p = d / "config.json"
    # the attacker's aim: point the endpoint at their own server and collect the password
    p.write_text(json.dumps({"default": {"login": "op@example.com", "password": "pw",
                                         "endpoints": {"api": "https://attacker.example/api/v1"}}}))
    p.chmod(0o600)
    return p


def _fix_named_in(message: str) -> list[str]:
    assert "Fix it with: " in message, message
    return shlex.split(message.split("Fix it with: ", 1)[1].strip())


@pytest.mark.parametrize("spoil", ["world-writable", "group-writable", "other owner", "folder writable"])
def test_login_refuses_a_config_another_user_could_write(spoil: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    cfg = _config(home)
    if spoil == "world-writable":
        cfg.chmod(0o666)
    elif spoil == "group-writable":
        cfg.chmod(0o620)
    elif spoil == "other owner":
        if os.geteuid() != 0:
            pytest.skip("only root can give a file to another user")
        os.chown(cfg, NOBODY, NOBODY)
    else:
        cfg.parent.chmod(0o777)
    ran = run_cli("login", "--headless", "--cert", "pkcs11:token=x", env=private_env(home))
    assert ran.rc == 2 and "Traceback" not in ran.err
    assert "another user could have changed it" in ran.err
    assert "attacker.example" not in ran.text
    fix = _fix_named_in(ran.err)
    assert fix[0] in ("chmod", "chown") and Path(fix[-1]) in (cfg, cfg.parent)
    subprocess.run(fix, check=True, timeout=30)  # the command the message names fixes it
    assert load_osc_config(cfg)["default"]["login"] == "op@example.com"


def test_settings_refused_when_others_can_write_them(tmp_path: Path) -> None:
    p = tmp_path / "cfg" / "settings.json"
    save_settings(AppSettings(pkcs11_modules=("/usr/lib/x.so",)), p)
    p.chmod(0o646)
    with pytest.raises(ConfigError, match=r"chmod go-w .*settings.json"):
        load_settings(p)
    p.chmod(0o600)
    assert load_settings(p).pkcs11_modules == ("/usr/lib/x.so",)


def test_own_files_are_created_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        settings = tmp_path / "xdg" / "deep" / "osc-trusted-login" / "settings.json"
        save_settings(AppSettings(), settings)
        osc = tmp_path / "home" / ".osc" / "config.json"
        save_osc_profile(osc, "default", {"region": "eu-west-2"})
    finally:
        os.umask(old)
    for f in (settings, osc):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    for d in (settings.parent, settings.parent.parent, settings.parent.parent.parent, osc.parent):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d


def test_a_link_is_judged_by_where_it_leads(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # anyone may replace what is in here
    real = shared / "config.json"
    real.write_text('{"default": {"region": "eu-west-2"}}')
    real.chmod(0o600)
    own = tmp_path / "home" / ".osc"
    own.mkdir(parents=True, mode=0o700)
    (own / "config.json").symlink_to(real)
    with pytest.raises(ConfigError, match=f"chmod go-w {shared}"):
        load_osc_config(own / "config.json")
