"""The runtime file: written atomically 0600 in a 0700 folder; refused when it or its folder is open to
others, a symlink, or another user's; a stale one (its process gone) is removed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from app.session.agent.pair import new_local_pair
from app.session.agent.runtime import (
    CONFIG_NAME,
    RUNTIME_NAME,
    AgentInfo,
    RuntimeFileRejected,
    read_runtime,
    write_runtime,
)


def _info(folder: Path, pid: int | None = None) -> AgentInfo:
    pair = new_local_pair()
    return AgentInfo("http://127.0.0.1:5/api/v1", "eu-west-2", pair.access_key, pair.secret_key,
                     pid or os.getpid(), str(folder / CONFIG_NAME))


def test_written_private_and_read_back(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    info = _info(folder)
    path = write_runtime(folder, info)
    assert oct(folder.stat().st_mode & 0o777) == "0o700" and oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(Path(info.config_file).stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []  # no temporary left over
    got = read_runtime(folder)
    assert got is not None and got.access_key == info.access_key
    assert got.secret_key.reveal() == info.secret_key.reveal()
    assert info.secret_key.reveal() not in repr(got)


@pytest.mark.parametrize("what", ["file-mode", "folder-mode", "symlink", "other-user"])
def test_unsafe_runtime_files_are_refused(tmp_path: Path, what: str, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "run"
    path = write_runtime(folder, _info(folder))
    if what == "file-mode":
        path.chmod(0o644)
    elif what == "folder-mode":
        folder.chmod(0o755)
    elif what == "symlink":
        real = tmp_path / "elsewhere.json"
        path.rename(real)
        path.symlink_to(real)
    else:
        uid = os.getuid()
        monkeypatch.setattr(os, "getuid", lambda: uid + 1)  # the files now belong to "another user"
    with pytest.raises(RuntimeFileRejected):
        read_runtime(folder)


def test_a_stale_runtime_file_is_removed(tmp_path: Path) -> None:
    dead = int(subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True, check=True).stdout)
    folder = tmp_path / "run"
    write_runtime(folder, _info(folder, pid=dead))
    assert read_runtime(folder) is None
    assert not (folder / RUNTIME_NAME).exists() and not (folder / CONFIG_NAME).exists()
