"""Policy test helpers: a policy root (OTL_POLICY_ROOT) with real files, and the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def write_policy(root: Path, doc: dict[str, Any] | str, name: str = "policy.json") -> Path:
    """Write a policy file under `root`/etc/osc-trusted-login (name may be 'policy.d/NN.json')."""
    path = root / "etc" / "osc-trusted-login" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    for folder in (root, root / "etc", root / "etc" / "osc-trusted-login", path.parent):
        folder.chmod(0o755)
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    path.chmod(0o644)
    return path


def cli_env(home: Path, policy_root: Path | None, **extra: str) -> dict[str, str]:
    """os.environ without OSC_*/OTL_*, a private HOME, and the policy root."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OSC_", "OTL_", "XDG_"))}
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_STATE_HOME=str(home / ".state"),
        XDG_CACHE_HOME=str(home / ".cache"),
        PYTHONPATH=str(ROOT),
        OSC_TRUSTED_LOGIN_RUNTIME_DIR=str(home / "run"),
        **extra,
    )
    if policy_root is not None:
        env["OTL_POLICY_ROOT"] = str(policy_root)
    return env


def run_cli(
    *args: str, env: dict[str, str], stdin: str = "", timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """The real `python -m app ARGS`."""
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=env["HOME"],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture()
def policy_root(tmp_path: Path) -> Path:
    """An empty root folder for OTL_POLICY_ROOT (0755, owned by the tester)."""
    root = tmp_path / "root"
    root.mkdir(mode=0o755)
    root.chmod(0o755)
    return root
