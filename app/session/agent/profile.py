"""The opt-in profile published in the OUTSCALE tools' config file while the session lives.

`OSC_CONFIG_FILE` or `~/.osc/config.json`, rewritten atomically (0600; the user's other profiles and
keys are kept as they were parsed: JSON objects keep their order). Two entries, because the two
Python tools read incompatible profile shapes and each refuses the other's keys (checked with
osc-sdk-python 0.42 and osc-cli 1.11):

- ``NAME``: ``access_key``, ``secret_key``, ``region``, ``endpoints.api`` — osc-sdk-python, oapi-cli
  and the Terraform provider read this shape (osc-sdk-python raises TypeError on ``endpoint``, ``https``
  or ``region_name``);
- ``NAME-osc-cli``: ``access_key``, ``secret_key``, ``region_name``, ``endpoint`` (scheme and port,
  no path: osc-cli appends ``/api/latest/<Call>``), ``https: false`` — osc-cli (which raises TypeError on
  ``endpoints``). osc-cli reads only ``~/.osc/config.json``; with another file, give it
  ``--config-path``.

Each publication is recorded (file, names, local access key, process) in the app's
state folder; at the next start a record whose profile still holds that access key is removed (a
crash leaves a profile whose pair is dead: harmless, then cleaned). A profile the user changed since
(another access key) is left alone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.session.agent.runtime import AgentInfo, pid_alive, profiles_for, write_private

RECORD_NAME = "published-profiles.json"


class ProfileError(Exception):
    """The config file cannot be updated safely (unreadable, not a JSON object)."""


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """The OUTSCALE tools' config file: OSC_CONFIG_FILE, else ~/.osc/config.json."""
    env = os.environ if env is None else env
    value = env.get("OSC_CONFIG_FILE")
    if value:
        return Path(value).expanduser()
    return Path(env.get("HOME") or str(Path.home())) / ".osc" / "config.json"


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where publications are remembered across reboots ($XDG_STATE_HOME/osc-trusted-login)."""
    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME") or str(Path.home())) / ".local" / "state")
    return Path(base) / "osc-trusted-login"


def _load(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        why = type(e).__name__
        raise ProfileError(f"{path} cannot be read as JSON ({why}); it was left as it is.") from e
    if not isinstance(data, dict):
        raise ProfileError(f"{path} is not a JSON object; it was left as it is.")
    return data


def _save(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private(path, (json.dumps(data, indent=2) + "\n").encode("utf-8"))


def publish(info: AgentInfo, name: str, *, env: Mapping[str, str] | None = None) -> Path:
    """Add (or replace) the `name` entries in the config file; remember them for the clean-up."""
    if not name or name.startswith("-"):
        raise ProfileError("the profile needs a name")
    path = config_path(env)
    data = _load(path)
    entries = profiles_for(info, name)
    _record(env, path, list(entries), info.access_key)
    data.update(entries)
    _save(path, data)
    return path


def unpublish(path: Path, names: list[str], access_key: str, *, env: Mapping[str, str] | None = None) -> bool:
    """Remove the entries that still hold `access_key`; True when the file changed."""
    try:
        data = _load(path)
    except ProfileError:
        return False
    gone = [n for n in names if isinstance(data.get(n), dict) and data[n].get("access_key") == access_key]
    for n in gone:
        del data[n]
    if gone:
        _save(path, data)
    _forget(env, path, access_key)
    return bool(gone)


def _records_file(env: Mapping[str, str] | None) -> Path:
    return state_dir(env) / RECORD_NAME


def _read_records(env: Mapping[str, str] | None) -> list[dict[str, Any]]:
    try:
        data = json.loads(_records_file(env).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []


def _write_records(env: Mapping[str, str] | None, records: list[dict[str, Any]]) -> None:
    f = _records_file(env)
    f.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private(f, json.dumps(records).encode("utf-8"))


def _record(env: Mapping[str, str] | None, path: Path, names: list[str], access_key: str) -> None:
    records = _read_records(env)
    records.append({"file": str(path), "names": names, "access_key": access_key, "pid": os.getpid()})
    _write_records(env, records)


def _forget(env: Mapping[str, str] | None, path: Path, access_key: str) -> None:
    records = [r for r in _read_records(env) if not (r.get("file") == str(path)
                                                     and r.get("access_key") == access_key)]
    _write_records(env, records)


def clean_stale(*, env: Mapping[str, str] | None = None, alive: Any = None) -> int:
    """Remove the profiles left by sessions whose process is gone; returns how many records were cleaned."""
    cleaned = 0
    for r in _read_records(env):
        pid = r.get("pid")
        if isinstance(pid, int) and pid != os.getpid() and (alive or pid_alive)(pid):
            continue  # another running session's profile
        names = [str(n) for n in r.get("names", [])]
        unpublish(Path(str(r.get("file"))), names, str(r.get("access_key")), env=env)
        cleaned += 1
    return cleaned

