"""Module discovery: explicit paths, environment, the p11-kit registry; failures do not hide others."""

from __future__ import annotations

from pathlib import Path

from app.tokens import modules
from app.tokens.errors import ModuleLoadFailed
from app.tokens.modules import ModuleCandidate, discover, env_modules, load_all, p11kit_registry


def test_explicit_paths_come_first_and_are_deduplicated(tmp_path: Path) -> None:
    a = tmp_path / "a.so"
    a.write_bytes(b"")
    got = discover([str(a), str(a), "/missing/b.so"], environ={"OTL_PKCS11_MODULE": str(a)})
    assert [c.path for c in got] == [str(a), "/missing/b.so"]
    assert got[0].origin == "explicit"


def test_environment(tmp_path: Path) -> None:
    env = {"OTL_PKCS11_MODULE": "/x/one.so", "OTL_PKCS11_MODULES": "/x/two.so:/x/three.so"}
    assert env_modules(env) == ["/x/one.so", "/x/two.so", "/x/three.so"]
    got = discover(environ=env)
    assert [c.origin for c in got] == ["environment"] * 3


def test_p11kit_registry(tmp_path: Path) -> None:
    etc, usr, lib = tmp_path / "etc", tmp_path / "usr", tmp_path / "lib"
    for d in (etc, usr, lib):
        d.mkdir()
    (lib / "card.so").write_bytes(b"")
    (usr / "card.module").write_text("# comment\nmodule: card.so\n")
    (usr / "other.module").write_text("module: /opt/other.so\npriority: 1\n")
    (etc / "other.module").write_text("module: /etc-wins/other.so\n")
    (usr / "p11-kit-trust.module").write_text("module: p11-kit-trust.so\n")
    (usr / "broken.module").write_text("no module line\n")
    got = p11kit_registry([str(etc), str(usr)], [str(lib)])
    assert {c.name: c.path for c in got} == {"other": "/etc-wins/other.so", "card": str(lib / "card.so")}


def test_registry_used_only_without_explicit_paths(monkeypatch) -> None:
    monkeypatch.setattr(modules, "p11kit_registry", lambda: [ModuleCandidate("/reg/x.so", "p11-kit", "x")])
    assert [c.path for c in discover(environ={}, platform="linux")] == ["/reg/x.so"]
    assert [c.path for c in discover(["/e.so"], environ={}, platform="linux")] == ["/e.so"]


def test_platform_defaults(monkeypatch) -> None:
    monkeypatch.setattr(modules.os.path, "exists", lambda p: p == "/Library/OpenSC/lib/opensc-pkcs11.so")
    got = discover(environ={}, platform="darwin")
    assert [c.path for c in got] == ["/Library/OpenSC/lib/opensc-pkcs11.so"]


def test_a_failing_module_does_not_hide_the_others(tmp_path: Path) -> None:
    bad = tmp_path / "bad.so"
    bad.write_text("not a library")
    loaded, errors = load_all([str(tmp_path / "missing.so"), str(bad)])
    assert loaded == []
    assert [type(e) for e in errors] == [ModuleLoadFailed, ModuleLoadFailed]
    assert "missing.so" in str(errors[0]) and "bad.so" in str(errors[1])
