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


# -- the token layer's fences (the PKCS#11 binding, the sandbox, values without the driver) ----------

BINDINGS = {"pkcs11", "PyKCS11"}
# Values that must load without the driver: flags, the readings the driver hands out, the model and
# the file store (a file certificate is opened without python-pkcs11).
VALUE_MODULES = ("app.tokens.flags", "app.tokens.p11.readings", "app.tokens.model", "app.tokens.filestore")


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _all_imports(root: Path, path: Path) -> set[str]:
    """Every module name `path` imports anywhere: module level, functions and TYPE_CHECKING blocks (a
    type-only import still ties two modules together; a circle behind it is still a circle),
    relative imports resolved; `from x import y` counts as x and as x.y (y may be a submodule)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module_name(root, path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.add(module)
            names.update(f"{module}.{a.name}" for a in node.names)
    return names


def import_graph(root: Path) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module -> the modules under `root` it imports, module -> every name it imports)."""
    files = {_module_name(root, p): p for p in sorted(root.rglob("*.py"))}
    raw = {m: _all_imports(root, p) for m, p in files.items()}
    return {m: {n for n in names if n in files and n != m} for m, names in raw.items()}, raw


def import_circles(root: Path) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    graph, _ = import_graph(root)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(circles)


def binding_outside_fence(root: Path) -> list[str]:
    """Files that import the PKCS#11 binding outside tokens/p11/."""
    fence = root / "tokens" / "p11"
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if not p.is_relative_to(fence) and any(n.split(".")[0] in BINDINGS for n in _all_imports(root, p))
    )


def tokens_importing_sandbox(root: Path) -> list[str]:
    """Files under tokens/ that import the sandbox (the arrow would point up)."""
    return sorted(
        str(p.relative_to(root))
        for p in (root / "tokens").rglob("*.py")
        if any(n == "app.sandbox" or n.startswith("app.sandbox.") for n in _all_imports(root, p))
    )


def provisioning_outside_sandbox(root: Path) -> list[str]:
    """Files outside sandbox/ that import the test/demo token writer (it is not on the product's path)."""
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if not p.is_relative_to(root / "sandbox")
        and p != root / "tokens" / "p11" / "provisioning.py"
        and "app.tokens.p11.provisioning" in _all_imports(root, p)
    )


def values_reaching_binding(root: Path, values: tuple[str, ...] = VALUE_MODULES) -> list[str]:
    """'value -> module' for each module a value module loads (transitively) that imports the binding."""
    graph, raw = import_graph(root)
    out = []
    for start in values:
        seen, todo = {start}, [start]
        while todo:
            for w in graph.get(todo.pop(), set()) - seen:
                seen.add(w)
                todo.append(w)
        out += [f"{start} -> {m}" for m in sorted(seen) if any(n.split(".")[0] in BINDINGS for n in raw[m])]
    return out


def test_pkcs11_binding_imported_only_inside_its_folder() -> None:
    assert binding_outside_fence(APP) == []
    assert (APP / "tokens" / "p11" / "module.py").exists()  # the fence is where the rule looks


def test_nothing_in_tokens_imports_the_sandbox() -> None:
    assert tokens_importing_sandbox(APP) == []


def test_token_provisioning_is_only_for_the_sandbox() -> None:
    assert provisioning_outside_sandbox(APP) == []


def test_values_and_flags_never_import_the_binding() -> None:
    graph, _ = import_graph(APP)
    assert set(VALUE_MODULES) <= set(graph)  # a renamed value module must not pass by vanishing
    assert values_reaching_binding(APP) == []


def test_no_import_circle_in_app() -> None:
    assert import_circles(APP) == []


def _tree(root: Path, files: dict[str, str]) -> Path:
    app = root / "app"
    for name, text in files.items():
        f = app / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text, encoding="utf-8")
    return app


def test_each_token_rule_fails_on_a_violation(tmp_path: Path) -> None:
    app = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "tokens/__init__.py": "",
            "tokens/p11/__init__.py": "",
            "tokens/p11/module.py": "import pkcs11\n",  # inside the fence: allowed
            "tokens/flags.py": "from app.tokens.p11 import module\n",  # a value reaching the binding
            # binding outside the fence (function-local), and the first arrow of a circle
            "tokens/card.py": "import app.tokens.filestore\ndef f():\n    from pkcs11 import Mechanism\n",
            "tokens/softhsm.py": "from app.sandbox.pki import new_key\n",  # an arrow pointing up
            "tokens/inventory.py": "from app.tokens import card\n",
            "tokens/signer.py": "def g():\n    from .inventory import scan\n",  # relative, function-local
            "tokens/filestore.py": "from app.tokens.signer import g\n",
            "tokens/p11/provisioning.py": "",
            "tokens/watch.py": "from app.tokens.p11 import provisioning\n",  # a test writer in the product
            # a circle closed by a type-only import is still a circle
            "tokens/pin.py": "import app.tokens.uri\n",
            "tokens/uri.py": "import typing\nif typing.TYPE_CHECKING:\n    from app.tokens import pin\n",
            "sandbox/__init__.py": "",
            "sandbox/pki.py": "",
        },
    )
    assert binding_outside_fence(app) == ["tokens/card.py"]
    assert tokens_importing_sandbox(app) == ["tokens/softhsm.py"]
    assert provisioning_outside_sandbox(app) == ["tokens/watch.py"]
    reached = values_reaching_binding(app, ("app.tokens.flags",))
    assert reached == ["app.tokens.flags -> app.tokens.p11.module"]
    # card -> filestore -> signer -> (function-local, relative) inventory -> card
    assert import_circles(app) == [
        ["app.tokens.card", "app.tokens.filestore", "app.tokens.inventory", "app.tokens.signer"],
        ["app.tokens.pin", "app.tokens.uri"],
    ]


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


# -- the whole tree: Qt's home, arrows between layers, the size of files and functions -----------------

QT = {"PySide6", "shiboken6", "PyQt5", "PyQt6"}
# Which layers each layer may not import (app.sandbox is a test double: only the CLI's demo and the
# sandbox itself use it).
FORBIDDEN = {
    "app.tokens": ("app.session", "app.ui", "app.cli", "app.sandbox"),
    "app.session": ("app.ui", "app.cli", "app.sandbox"),
    "app.ui": ("app.cli", "app.sandbox"),
    "app.sandbox": ("app.ui", "app.cli"),
    # the managed policy is read by every layer, so it may import none of them
    "app.policy": ("app.tokens", "app.session", "app.ui", "app.cli", "app.sandbox"),
}
MAX_FILE_LINES = 700
MAX_FUNCTION_LINES = 80


def qt_outside_ui(root: Path) -> list[str]:
    """Files outside app/ui that import Qt anywhere (function-local imports included)."""
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if not p.is_relative_to(root / "ui")
        and any(n.split(".")[0] in QT for n in _all_imports(root, p))
    )


def upward_arrows(root: Path) -> list[str]:
    """Imports that point up (or into the sandbox) between layers, as 'module -> imported'."""
    graph, _ = import_graph(root)
    out = []
    for module, targets in graph.items():
        for layer, banned in FORBIDDEN.items():
            if module == layer or module.startswith(layer + "."):
                out += [f"{module} -> {t}" for t in sorted(targets) if t.startswith(banned)]
    return sorted(out)


def oversized(root: Path) -> list[str]:
    """Modules over MAX_FILE_LINES lines and functions over MAX_FUNCTION_LINES lines."""
    out = []
    for p in sorted(root.rglob("*.py")):
        text = p.read_text(encoding="utf-8")
        if text.count("\n") > MAX_FILE_LINES:
            out.append(f"{p.relative_to(root)} ({text.count(chr(10))} lines)")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    out.append(f"{p.relative_to(root)}:{node.name} ({length} lines)")
    return out


def test_qt_lives_in_app_ui_only() -> None:
    assert qt_outside_ui(APP) == []


def test_imports_point_down() -> None:
    assert upward_arrows(APP) == []


def test_no_oversized_module_or_function() -> None:
    assert oversized(APP) == []


def test_each_tree_rule_fails_on_a_violation(tmp_path: Path) -> None:
    long_function = "def f():\n" + "    x = 1\n" * MAX_FUNCTION_LINES
    app = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "ui/__init__.py": "",
            "ui/window.py": "from PySide6 import QtWidgets\nimport app.cli.gui\n",  # Qt at home; ui -> cli up
            "cli/__init__.py": "",
            "cli/gui.py": "def run():\n    import PySide6\n",  # Qt outside app/ui (function-local)
            "session/__init__.py": "",
            "session/api.py": "from app.ui import window\nfrom app.sandbox import server\n",
            "sandbox/__init__.py": "",
            "sandbox/server.py": "import app.session.api\n",  # allowed: the sandbox may use the core
            "policy/__init__.py": "from app.session import api\n",  # the policy may import no layer
            "tokens/__init__.py": "",
            "tokens/big.py": "x = 1\n" * (MAX_FILE_LINES + 1) + long_function,
        },
    )
    assert qt_outside_ui(app) == ["cli/gui.py"]
    assert upward_arrows(app) == [
        "app.policy -> app.session",
        "app.policy -> app.session.api",
        "app.session.api -> app.sandbox",  # `from app.sandbox import server`: the package, then the module
        "app.session.api -> app.sandbox.server",
        "app.session.api -> app.ui",
        "app.session.api -> app.ui.window",
        "app.ui.window -> app.cli.gui",
    ]
    assert oversized(app) == [f"tokens/big.py ({MAX_FILE_LINES + MAX_FUNCTION_LINES + 2} lines)",
                              f"tokens/big.py:f ({MAX_FUNCTION_LINES + 1} lines)"]
