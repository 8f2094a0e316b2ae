"""The per-user runtime file that tells `exec` and `env` where the running session's agent is.

`$XDG_RUNTIME_DIR/osc-trusted-login/agent.json` (else a 0700 folder `osc-trusted-login-UID` in the
temporary folder), written atomically, 0600. It holds the agent's endpoint, the Region and the **local
pair** (by design: any process of this user that can read it may call the API through the agent while
the session lives; docs/DECISIONS.md), never the temporary key. Readers refuse a file or folder owned by
another user or open to others, and a symlink. Next to it, the per-session osc config file
(`osc-config.json`, 0600) with a profile that agrees with the variables (osc-sdk-python merges a
config-file profile over the OSC_* variables, so the variables alone lose to the user's own `default`)
and its osc-cli twin `trusted-login-osc-cli` (osc-cli reads no variables: it needs
``--config-path "$OSC_CONFIG_FILE" --profile trusted-login-osc-cli``).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.session.model import Secret

RUNTIME_NAME = "agent.json"
RUNTIME_DIR_VARIABLE = "OSC_TRUSTED_LOGIN_RUNTIME_DIR"  # overrides the folder (the test suite sets it)
CONFIG_NAME = "osc-config.json"
SESSION_PROFILE = "trusted-login"
# Variables that would take the tools elsewhere or make them sign another way: removed.
UNSET_VARIABLES = ("OSC_X509_CLIENT_CERT", "OSC_X509_CLIENT_KEY", "OSC_X509_CLIENT_CERT_B64",
                   "OSC_X509_CLIENT_KEY_B64", "OSC_LOGIN", "OSC_PASSWORD", "OSC_ACCESS_KEY_V2",
                   "OSC_SECRET_KEY_V2", "OSC_PROTOCOL", "OSC_TLS_SKIP_VERIFY")


class RuntimeFileRejected(Exception):
    """The runtime file or its folder is not safe to use (owner, permissions, type)."""


@dataclass(frozen=True)
class AgentInfo:
    """What the runtime file says about the running session's agent."""

    endpoint: str
    region: str
    access_key: str
    secret_key: Secret = field(repr=False)
    pid: int
    config_file: str  # the per-session osc config file (profile SESSION_PROFILE)
    account_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The runtime file's content (the local secret included, by design)."""
        return {"version": 1, "endpoint": self.endpoint, "region": self.region, "access_key": self.access_key,
                "secret_key": self.secret_key.reveal(), "pid": self.pid, "config_file": self.config_file,
                "account_id": self.account_id}

    def variables(self) -> dict[str, str]:
        """The OSC_* variables that take osc-sdk-python, oapi-cli and Terraform to the agent."""
        return {"OSC_ENDPOINT_API": self.endpoint, "OSC_ACCESS_KEY": self.access_key,
                "OSC_SECRET_KEY": self.secret_key.reveal(), "OSC_REGION": self.region,
                "OSC_CONFIG_FILE": self.config_file, "OSC_PROFILE": SESSION_PROFILE}


def runtime_dir(env: Mapping[str, str] | None = None) -> Path:
    """The user's runtime folder for the app (not created)."""
    env = os.environ if env is None else env
    forced = env.get(RUNTIME_DIR_VARIABLE)  # tests and unusual set-ups: the folder itself
    if forced and os.path.isabs(forced):
        return Path(forced)
    base = env.get("XDG_RUNTIME_DIR")
    if base and os.path.isabs(base):
        return Path(base) / "osc-trusted-login"
    return Path(tempfile.gettempdir()) / f"osc-trusted-login-{os.getuid()}"


def _check_private(path: Path, *, folder: bool) -> None:
    st = os.lstat(path)
    kind_ok = stat.S_ISDIR(st.st_mode) if folder else stat.S_ISREG(st.st_mode)
    if not kind_ok:
        raise RuntimeFileRejected(f"{path} is not a {'folder' if folder else 'regular file'}.")
    if st.st_uid != os.getuid():
        raise RuntimeFileRejected(f"{path} belongs to another user (uid {st.st_uid}).")
    if st.st_mode & 0o077:
        raise RuntimeFileRejected(f"{path} is open to other users (mode {stat.S_IMODE(st.st_mode):o}).")


def ensure_dir(folder: Path) -> Path:
    """Create the runtime folder 0700 if needed; refuse one that is not ours and private."""
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700, parents=False)
    _check_private(folder, folder=True)
    return folder


def write_private(path: Path, data: bytes) -> None:
    """Write `path` atomically (temporary file in the same folder, fsync, rename), mode 0600."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def profiles_for(info: AgentInfo, name: str) -> dict[str, dict[str, Any]]:
    """The two entries for `name`: osc-sdk-python's shape, and osc-cli's as `name`-osc-cli (profile.py)."""
    base = info.endpoint.rsplit("/api/", 1)[0]
    return {
        name: {"access_key": info.access_key, "secret_key": info.secret_key.reveal(), "region": info.region,
               "endpoints": {"api": info.endpoint}},
        f"{name}-osc-cli": {"access_key": info.access_key, "secret_key": info.secret_key.reveal(),
                            "region_name": info.region, "endpoint": base, "https": False},
    }


def session_config(info: AgentInfo) -> bytes:
    """The per-session osc config file: the profile that agrees with the variables, and osc-cli's."""
    return json.dumps(profiles_for(info, SESSION_PROFILE), indent=2).encode("utf-8")


def write_runtime(folder: Path, info: AgentInfo) -> Path:
    """Write the session config file and then the runtime file (0600); returns the runtime file."""
    ensure_dir(folder)
    write_private(Path(info.config_file), session_config(info))
    path = folder / RUNTIME_NAME
    write_private(path, json.dumps(info.to_json(), indent=2).encode("utf-8"))
    return path


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (one of another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_runtime(folder: Path) -> AgentInfo | None:
    """The running session's agent, or None (no file, or its process is gone: a stale file is removed).

    Raises RuntimeFileRejected for a file or folder that is not this user's and private.
    """
    path = folder / RUNTIME_NAME
    if not folder.exists() or not os.path.lexists(path):
        return None
    _check_private(folder, folder=True)
    _check_private(path, folder=False)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        info = AgentInfo(endpoint=str(data["endpoint"]), region=str(data["region"]),
                         access_key=str(data["access_key"]), secret_key=Secret(str(data["secret_key"])),
                         pid=int(data["pid"]), config_file=str(data["config_file"]),
                         account_id=data.get("account_id"))
    except (ValueError, KeyError, TypeError) as e:
        raise RuntimeFileRejected(f"{path} is not a runtime file of this app ({type(e).__name__}).") from e
    if not pid_alive(info.pid):
        remove_runtime(folder, pid=info.pid)
        return None
    return info


def remove_runtime(folder: Path, *, pid: int | None = None) -> None:
    """Remove the runtime and session config files (only if they are `pid`'s, when given)."""
    path = folder / RUNTIME_NAME
    if pid is not None:
        try:
            if int(json.loads(path.read_text(encoding="utf-8")).get("pid", -1)) != pid:
                return  # a newer session's file: not ours to remove
        except (OSError, ValueError, TypeError, AttributeError):
            return
    path.unlink(missing_ok=True)
    (folder / CONFIG_NAME).unlink(missing_ok=True)


def _quote_sh(v: str) -> str:
    return "'" + v.replace("'", "'\"'\"'") + "'"


def _quote_fish(v: str) -> str:
    return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _quote_ps(v: str) -> str:
    return "'" + v.replace("'", "''") + "'"


def env_lines(info: AgentInfo, fmt: str = "sh") -> str:
    """The variables as `fmt` (sh, fish, powershell) lines, or a JSON object (json)."""
    values = info.variables()
    if fmt == "json":
        return json.dumps({"set": values, "unset": list(UNSET_VARIABLES)}, indent=2)
    lines: list[str] = []
    for name in UNSET_VARIABLES:
        lines.append({"sh": f"unset {name};", "fish": f"set -e {name};",
                      "powershell": f"Remove-Item Env:{name} -ErrorAction SilentlyContinue"}[fmt])
    for name, value in values.items():
        lines.append({"sh": f"export {name}={_quote_sh(value)};",
                      "fish": f"set -gx {name} {_quote_fish(value)};",
                      "powershell": f"$env:{name} = {_quote_ps(value)}"}[fmt])
    return "\n".join(lines)


def child_environment(info: AgentInfo, base: Mapping[str, str]) -> dict[str, str]:
    """`base` with the agent's variables set and the certificate/login ones removed (for `exec`)."""
    env = {k: v for k, v in base.items() if k not in UNSET_VARIABLES}
    env.update(info.variables())
    return env
