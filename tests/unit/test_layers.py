"""House rules enforced on the source tree: layering and single-import modules."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _files(sub: str) -> list[Path]:
    return sorted((APP / sub).rglob("*.py"))


def test_core_layers_do_not_import_qt() -> None:
    offenders = [
        f"{p.relative_to(APP)} imports {name}"
        for sub in ("tokens", "session", "sandbox")
        for p in _files(sub)
        for name in _imports(p)
        if name.split(".")[0] in {"PySide6", "shiboken6", "PyQt5", "PyQt6"}
    ]
    assert offenders == []


def test_imports_point_one_way() -> None:
    offenders = []
    for p in _files("tokens"):
        offenders += [f"{p.name} -> {n}" for n in _imports(p) if n.startswith(("app.session", "app.ui"))]
    for p in _files("session"):
        offenders += [f"{p.name} -> {n}" for n in _imports(p) if n.startswith("app.ui")]
    assert offenders == []


def test_pkcs11_binding_imported_in_one_module_only() -> None:
    users = sorted(
        str(p.relative_to(APP))
        for p in APP.rglob("*.py")
        if any(n.split(".")[0] in {"pkcs11", "PyKCS11"} for n in _imports(p))
    )
    assert users in ([], ["tokens/pkcs11.py"])


def test_tls_engine_imported_only_inside_its_folder() -> None:
    outside = sorted(
        str(p.relative_to(APP))
        for p in APP.rglob("*.py")
        if any(n.split(".")[0] == "tlslite" for n in _imports(p))
        and not p.is_relative_to(APP / "session" / "tls")
    )
    assert outside == []


def test_the_layer_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from PySide6 import QtCore\nimport pkcs11.util\n")
    assert {"PySide6", "pkcs11.util"} <= _imports(bad)
