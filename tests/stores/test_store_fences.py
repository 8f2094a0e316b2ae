"""The stores' fences: each OS API is called from its one thin class, and no store imports a binding."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

STORES = Path(__file__).resolve().parents[2] / "app" / "tokens" / "stores"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_each_os_api_is_reached_from_its_thin_class_only() -> None:
    for path in sorted(STORES.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert ("WinDLL" in text) == (path.name == "windows_api.py"), path.name
        assert ('"Security"' in text) == (path.name == "macos_api.py"), path.name
        assert not {"pkcs11", "PyKCS11", "Security", "objc"} & _imports(path), path.name


def test_the_windows_and_macos_backends_import_on_linux_without_their_os_libraries() -> None:
    code = ("import sys; import app.tokens.stores.windows, app.tokens.stores.macos; "
            "print('Security' in sys.modules, 'pkcs11' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=STORES.parents[2], timeout=60).stdout.split()
    assert out == ["False", "False"]
