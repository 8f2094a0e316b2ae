"""The policy readers on real files and real formats: Linux files (policy.d order, ownership, mode,
broken JSON), a regedit export (.reg, UTF-16) and macOS plists / a .mobileconfig (plistlib)."""

from __future__ import annotations

import os
import plistlib
from pathlib import Path

import pytest

from app.policy import ENV_ROOT, load, merge
from app.policy.macos import BUNDLE_ID, parse_mobileconfig, parse_plist, read_macos
from app.policy.windows import parse_reg, sources_from_reg
from tests.policy.conftest import write_policy

EXAMPLE = Path(__file__).resolve().parents[2] / "packaging" / "linux" / "policy.example.json"


def _load(root: Path):
    return load(platform="linux", environ={ENV_ROOT: str(root)})


def test_no_policy_is_no_restriction(policy_root: Path) -> None:
    p = _load(policy_root)
    assert not p.present and p.login_blocked() is None
    assert (
        p.file_keys_allowed and p.module_allowed("/any/module.so") and p.endpoint_allowed("https://x/api/v1")
    )
    assert p.capped_grace(300) == 300 and p.allows_local_agent and p.allows_remember_me


def test_policy_d_overrides_policy_json_in_name_order_key_by_key(policy_root: Path) -> None:
    main = write_policy(
        policy_root,
        {
            "version": 1,
            "max_grace_seconds": 200,
            "remember_me": False,
            "support": {"text": "Call 4242", "url": "https://help.example"},
        },
    )
    write_policy(
        policy_root, {"max_grace_seconds": 100, "support": {"text": "Call 5555"}}, "policy.d/20-b.json"
    )
    last = write_policy(policy_root, {"max_grace_seconds": 60}, "policy.d/30-c.json")
    write_policy(policy_root, {"max_grace_seconds": 999}, "policy.d/10-a.json")  # earlier name: overridden
    write_policy(policy_root, {"max_grace_seconds": 1}, "policy.d/99-z.json~")  # an editor's backup: ignored
    p = _load(policy_root)
    assert p.get("max_grace_seconds") == 60 and p.origin("max_grace_seconds") == str(last)
    assert p.get("remember_me") is False and p.origin("remember_me") == str(main)
    assert p.get("support.text") == "Call 5555" and p.get("support.url") == "https://help.example"
    assert p.origin("support.url") == str(main)
    assert [Path(s).name for s in p.sources] == ["policy.json", "10-a.json", "20-b.json", "30-c.json"]
    assert p.login_blocked() is None


def test_a_broken_file_blocks_login_and_says_why(policy_root: Path) -> None:
    write_policy(policy_root, {"support": {"text": "Call 4242"}})
    write_policy(policy_root, '{"certificate_sources": ["card"', "policy.d/50-broken.json")
    p = _load(policy_root)
    blocked = p.login_blocked()
    assert blocked is not None and "50-broken.json cannot be parsed" in blocked
    assert p.support_line() == "Call 4242"  # the parts that parsed still help the user


def test_wrong_values_take_the_strictest_reading_and_unknown_keys_are_reported(policy_root: Path) -> None:
    write_policy(
        policy_root,
        {
            "certificate_sources": ["usb-stick"],
            "max_grace_seconds": "ten",
            "local_agent": "no",
            "colour": "blue",
            "pkcs11_modules": {"allowed": 3, "x": 1},
        },
    )
    p = _load(policy_root)
    assert not p.file_keys_allowed and p.capped_grace(300) == 0 and not p.allows_local_agent
    assert not p.module_allowed("/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so")
    assert any("colour" in u for u in p.unknown) and any("pkcs11_modules.x" in u for u in p.unknown)
    assert p.login_blocked() is None  # a wrong value is strict, not blocking
    assert len([x for x in p.problems if "strictest" in x]) == 4


@pytest.mark.parametrize("mode", [0o666, 0o664])
def test_a_file_users_can_write_is_refused(policy_root: Path, mode: int) -> None:
    path = write_policy(policy_root, {"certificate_sources": ["card", "file"]})
    os.chown(path, 0, 1000)  # group 1000 (not an administrators' group) may write with 0o664
    path.chmod(mode)
    p = _load(policy_root)
    assert p.login_blocked() is not None and "can be written by other users" in p.login_blocked()
    assert "certificate_sources" not in p.values  # nothing of a refused file applies


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_a_file_owned_by_a_user_is_refused(policy_root: Path) -> None:
    path = write_policy(policy_root, {"remember_me": True})
    os.chown(path, 1000, 1000)
    p = _load(policy_root)
    assert "belongs to user id 1000" in (p.login_blocked() or "")


def test_a_folder_users_can_write_is_refused(policy_root: Path) -> None:
    write_policy(policy_root, {"max_grace_seconds": 60}, "policy.d/10.json")
    (policy_root / "etc" / "osc-trusted-login" / "policy.d").chmod(0o777)
    p = _load(policy_root)
    assert "policy.d" in (p.login_blocked() or "") and "written by other users" in (p.login_blocked() or "")


def test_the_override_is_ignored_in_a_frozen_build(
    policy_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_policy(policy_root, {"remember_me": False})
    monkeypatch.setattr("sys.frozen", True, raising=False)
    p = _load(policy_root)
    assert "remember_me" not in p.values and any("ignored" in x for x in p.problems)


def test_the_documented_example_is_valid() -> None:
    import json

    p = merge(
        [
            __import__("app.policy", fromlist=["SourceDoc"]).SourceDoc(
                "example", json.loads(EXAMPLE.read_text())
            )
        ]
    )
    assert p.problems == () and p.unknown == () and p.login_blocked() is None
    assert not p.file_keys_allowed and p.capped_grace(300) == 120


# -- Windows: a regedit export ------------------------------------------------------------------------

REG = r"""Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SOFTWARE\Policies\OUTSCALE\TrustedLogin]
"version"=dword:00000001
"max_grace_seconds"=dword:00000078
"end_on_removal"=dword:00000000
"extra_ca_file"="C:\\ProgramData\\Corp\\proxy-ca.pem"
"certificate_sources"=hex(7):63,00,61,00,72,00,64,00,00,00,00,00
"allowed_issuers_sha256"="[\"AA:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99\"]"

[HKEY_LOCAL_MACHINE\SOFTWARE\Policies\OUTSCALE\TrustedLogin\pkcs11_modules]
"user_may_add"=dword:00000000

[HKEY_LOCAL_MACHINE\SOFTWARE\Policies\OUTSCALE\TrustedLogin\pkcs11_modules\allowed]
"1"="C:\\Windows\\System32\\opensc-pkcs11.dll"
"2"="C:\\Program Files\\Vendor\\*.dll"

[HKEY_LOCAL_MACHINE\SOFTWARE\Policies\OUTSCALE\TrustedLogin\endpoints\fixed\1]
"region"="eu-west-2"
"api"="https://api.eu-west-2.outscale.com/api/v1"

[HKEY_CURRENT_USER\SOFTWARE\Policies\OUTSCALE\TrustedLogin]
"max_grace_seconds"=dword:0000003c
"remember_me"=dword:00000000

[HKEY_CURRENT_USER\SOFTWARE\Policies\OUTSCALE\TrustedLogin\support]
"text"="Call the service desk, ext. 4242"
"""


def test_a_reg_export_in_utf16_as_regedit_writes_it() -> None:
    data = b"\xff\xfe" + REG.replace("\n", "\r\n").encode("utf-16-le")
    p = merge(sources_from_reg(parse_reg(data)))
    assert p.problems == () and p.unknown == ()
    assert p.get("max_grace_seconds") == 120 and p.origin("max_grace_seconds").startswith("HKLM")  # HKLM wins
    assert p.get("remember_me") is False and p.origin("remember_me").startswith("HKCU")  # HKCU fills in
    assert p.get("certificate_sources") == ["card"]
    assert p.get("pkcs11_modules.allowed") == [
        r"C:\Windows\System32\opensc-pkcs11.dll",
        r"C:\Program Files\Vendor\*.dll",
    ]
    assert p.get("pkcs11_modules.user_may_add") is False and p.get("end_on_removal") is False
    assert p.fixed_endpoints == [{"region": "eu-west-2", "api": "https://api.eu-west-2.outscale.com/api/v1"}]
    assert p.get("allowed_issuers_sha256") == [
        "aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899"
    ]
    assert p.get("extra_ca_file") == r"C:\ProgramData\Corp\proxy-ca.pem"
    assert p.support_line() == "Call the service desk, ext. 4242"


def test_a_file_that_is_no_reg_export_is_refused() -> None:
    with pytest.raises(ValueError, match="not a registry export"):
        parse_reg(b'{"version": 1}')


def test_the_admx_template_names_every_key() -> None:
    admx = (
        Path(__file__).resolve().parents[2] / "packaging" / "windows" / "osc-trusted-login.admx"
    ).read_text()
    for name in (
        "max_grace_seconds",
        "end_on_removal",
        "remember_me",
        "local_agent",
        "publish_profile",
        "extra_ca_file",
        "certificate_sources",
        "allowed_issuers_sha256",
        "user_may_add",
    ):
        assert f'"{name}"' in admx, name


# -- macOS: managed preferences and a configuration profile -------------------------------------------


def test_managed_preferences_plist_computer_wins_over_user(policy_root: Path) -> None:
    base = policy_root / "Library" / "Managed Preferences"
    (base / "alice").mkdir(parents=True)
    for d in (policy_root / "Library", base, base / "alice"):
        d.chmod(0o755)
    (base / f"{BUNDLE_ID}.plist").write_bytes(plistlib.dumps({"max_grace_seconds": 60, "local_agent": False}))
    (base / "alice" / f"{BUNDLE_ID}.plist").write_bytes(
        plistlib.dumps({"max_grace_seconds": 600, "remember_me": False}, fmt=plistlib.FMT_BINARY)
    )
    p = merge(read_macos(policy_root, frozenset({os.geteuid()}), user="alice"))
    assert p.get("max_grace_seconds") == 60 and p.get("remember_me") is False and not p.allows_local_agent
    assert p.login_blocked() is None


def test_the_mobileconfig_example_gives_the_policy() -> None:
    data = (
        Path(__file__).resolve().parents[2] / "packaging" / "macos" / "osc-trusted-login.mobileconfig"
    ).read_bytes()
    p = merge(
        [__import__("app.policy", fromlist=["SourceDoc"]).SourceDoc("profile", parse_mobileconfig(data))]
    )
    assert p.problems == () and p.unknown == ()
    assert p.get("certificate_sources") == ["card"] and p.get("max_grace_seconds") == 120
    assert p.fixed_endpoints and p.get("pkcs11_modules.allowed")


def test_a_damaged_plist_is_a_parse_error() -> None:
    with pytest.raises(ValueError):
        parse_plist(b"<?xml version='1.0'?><plist><dict><key>x</key>")
