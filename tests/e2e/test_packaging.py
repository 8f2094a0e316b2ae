"""The installer recipes, checked without building (a build takes minutes: .ci/run builds the .deb once
and runs packaging/smoke-linux.sh on it, frozen `--version` and `selftest` included)."""

from __future__ import annotations

import ast
import configparser
import plistlib
import re
import shutil
import struct
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "packaging"
ICONS = ROOT / "resources" / "icons"
NAME = "osc-trusted-login"


def _spec_assignments() -> dict[str, object]:
    """Literal top-level assignments of the PyInstaller spec (it is Python; not executed here)."""
    tree = ast.parse((PKG / f"{NAME}.spec").read_text(encoding="utf-8"))
    out: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = node.value
            if isinstance(value, ast.Dict):  # keep the literal entries of a partly computed dict
                out[node.targets[0].id] = {ast.literal_eval(k): ast.literal_eval(v) for k, v in
                                           zip(value.keys, value.values, strict=True)
                                           if k is not None and _is_literal(v)}
            elif _is_literal(value):
                out[node.targets[0].id] = ast.literal_eval(value)
    return out


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except ValueError:
        return False
    return True


def _analysis_kwargs() -> dict[str, ast.expr]:
    tree = ast.parse((PKG / f"{NAME}.spec").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Analysis":
            return {k.arg: k.value for k in node.keywords if k.arg}
    raise AssertionError("no Analysis(...) in the spec")


def test_spec_never_ships_pykcs11_and_keeps_pydoc() -> None:
    excludes = _spec_assignments()["excludes"]
    assert isinstance(excludes, list)
    assert "PyKCS11" in excludes  # GPL, test-only (DESIGN.md)
    assert not {"pydoc", "xmlrpc", "xmlrpc.server"} & set(excludes)  # tlslite-ng needs pydoc


def test_spec_ships_tlslite_as_replaceable_source() -> None:
    mode = ast.literal_eval(_analysis_kwargs()["module_collection_mode"])
    assert mode == {"tlslite": "py"}  # LGPL-2.1: the user can replace it


def test_spec_keeps_the_display_plugins_selftest_and_users_need() -> None:
    spec = _spec_assignments()
    platforms = spec["PLATFORMS"]
    assert isinstance(platforms, dict)
    assert "qwindows" in platforms["win32"] and "libqcocoa" in platforms["darwin"]
    assert "libqxcb" in platforms["linux"]
    assert all(any("offscreen" in p for p in v) for v in platforms.values())
    keep = spec["KEEP_PLUGINS"]
    assert isinstance(keep, dict)
    assert not any("gtk3" in p for p in keep["platformthemes"])
    assert any("svg" in p for p in keep["imageformats"])  # the app icon is an SVG


def test_licence_notices_cover_every_runtime_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    deps = [re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0] for d in
            project["dependencies"] + project["optional-dependencies"]["ui"]]
    notices = (PKG / "licenses" / "THIRD-PARTY-NOTICES.md").read_text(encoding="utf-8").lower()
    licensed = {n.lower().replace("_", "-") for n in _spec_assignments()["LICENSED"]}  # type: ignore[union-attr]
    missing_notice = [d for d in deps if d.lower().split("-essentials")[0] not in notices]
    missing_copy = [d for d in deps if d.lower().replace("_", "-") not in licensed]
    assert missing_notice == [] and missing_copy == []
    for text in ("LGPL-3.0.txt", "GPL-3.0.txt", "LGPL-2.1.txt"):
        assert "GNU" in (PKG / "licenses" / text).read_text(encoding="utf-8")[:400]


def test_desktop_entry_matches_the_installed_names() -> None:
    cp = configparser.ConfigParser(interpolation=None)
    cp.optionxform = str  # type: ignore[assignment,method-assign]
    cp.read(PKG / "linux" / f"{NAME}.desktop", encoding="utf-8")
    entry = cp["Desktop Entry"]
    assert entry["Type"] == "Application" and entry["Exec"] == NAME and entry["Icon"] == NAME
    assert entry["Terminal"] == "false"
    assert "Utility" in entry["Categories"].split(";")
    if shutil.which("desktop-file-validate"):
        subprocess.run(["desktop-file-validate", str(PKG / "linux" / f"{NAME}.desktop")], check=True)


def test_icons_are_well_formed() -> None:
    png = (ICONS / f"{NAME}.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24]) == (256, 256)
    ico = (ICONS / f"{NAME}.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", ico[:6])
    sizes = {ico[6 + 16 * i] or 256 for i in range(count)}
    assert (reserved, kind) == (0, 1) and {16, 32, 48, 256} <= sizes
    icns = (ICONS / f"{NAME}.icns").read_bytes()
    assert icns[:4] == b"icns" and struct.unpack(">I", icns[4:8])[0] == len(icns)
    assert b"ic10" in icns  # 1024 px, for Retina
    assert b"<svg" in (ICONS / f"{NAME}.svg").read_bytes()


def test_macos_entitlements_allow_third_party_pkcs11_modules() -> None:
    ent = plistlib.loads((PKG / "macos" / "entitlements.plist").read_bytes())
    assert ent == {"com.apple.security.cs.disable-library-validation": True,
                   "com.apple.security.cs.allow-unsigned-executable-memory": True}


def test_inno_setup_recipe_is_per_user_with_start_menu_and_optional_signing() -> None:
    iss = (PKG / "windows" / f"{NAME}.iss").read_text(encoding="utf-8")
    assert re.search(r"^PrivilegesRequired=lowest$", iss, re.M)
    assert re.search(r"^DefaultDirName=\{autopf\}", iss, re.M)
    assert re.search(r'^Name: "\{autoprograms\}', iss, re.M)
    assert re.search(r"#ifdef SIGN\s+SignTool=signtool\s+SignedUninstaller=yes\s+#endif", iss)


def test_release_workflow_builds_all_three_and_publishes_checksums() -> None:
    yaml = pytest.importorskip("yaml")
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text(encoding="utf-8"))
    jobs = wf["jobs"]
    assert set(jobs["build"]["strategy"]["matrix"]["os"]) == {"ubuntu-22.04", "windows-2022", "macos-14"}
    assert "debian:12" in jobs["deb-on-clean-systems"]["strategy"]["matrix"]["image"]
    steps = "\n".join(str(s.get("run", "")) for j in jobs.values() for s in j["steps"])
    assert "smoke-linux.sh" in steps and "SHA256SUMS" in steps and "selftest" in steps
    uploads = [s for s in jobs["build"]["steps"]
               if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert uploads and "dist/*.sha256" in uploads[0]["with"]["path"]


def test_no_signing_material_is_committed() -> None:
    secret = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----|\.pfx\b.*base64,|MII[A-Za-z0-9+/]{60}")
    files = [p for p in [*PKG.rglob("*"), ROOT / ".github" / "workflows" / "release.yml"] if p.is_file()]
    assert [p.name for p in files if secret.search(p.read_bytes())] == []
    assert not [p for p in PKG.rglob("*") if p.suffix in (".pfx", ".p12", ".key", ".cer")]


@pytest.mark.parametrize("script", ["build-linux.sh", "smoke-linux.sh", "macos/build-macos.sh"])
def test_shell_scripts_parse(script: str) -> None:
    subprocess.run(["bash", "-n", str(PKG / script)], check=True)
