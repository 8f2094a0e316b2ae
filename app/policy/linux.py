"""Linux: /etc/osc-trusted-login/policy.json, then policy.d/*.json in name order (later ones win)."""

from __future__ import annotations

from pathlib import Path

from app.policy.files import Untrusted, check_folders, read_source
from app.policy.model import SourceDoc

POLICY_DIR = "etc/osc-trusted-login"  # under the root ("/", or the test override)


def read_linux(root: Path, trusted_uids: frozenset[int]) -> list[SourceDoc]:
    """The policy files, lowest precedence first; nothing when none exists."""
    base = root / POLICY_DIR
    out: list[SourceDoc] = []
    main = base / "policy.json"
    if main.exists() or main.is_symlink():
        out.append(read_source(main, root, trusted_uids))
    drop = base / "policy.d"
    if drop.is_dir():
        try:
            check_folders(drop / "x", root, trusted_uids)  # a folder users can write could add files
        except Untrusted as e:
            return [*out, SourceDoc(str(drop), error=f"refused: {e}")]
        # editors leave "x.json~" and ".x.json.swp": only *.json files count, dot files never
        names = sorted(p.name for p in drop.iterdir()
                       if p.name.endswith(".json") and not p.name.startswith("."))
        out += [read_source(drop / n, root, trusted_uids) for n in names]
    return out
