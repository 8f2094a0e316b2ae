"""Reading local files someone else may have crafted, and keeping the app's own files private.

`read_bounded` reads only regular files, opens them without blocking (a FIFO must not freeze the
process) and never reads more than a limit no honest input reaches (`/dev/zero` must not exhaust
memory). `check_private` refuses, the way OpenSSH refuses `~/.ssh/config`, a file that can redirect
the session (the OUTSCALE config, the app's settings) when another user could have written it: owned
by someone else, or group/world-writable, or in a folder that is. `make_private_dir` creates the
app's own folders 0700 (files are written 0600 by app.session.config.write_json_atomic).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from app.tokens.errors import FileRefused

# Limits: ten times (and more) the largest honest file of each kind.
MAX_CREDENTIAL_BYTES = 1 << 20  # a PKCS#12 / PEM with a long chain is tens of KiB
MAX_CONFIG_BYTES = 1 << 20  # an osc config with a hundred profiles is about 50 KiB
MAX_SMALL_TEXT_BYTES = 64 << 10  # a p11-kit .module file is a few lines

_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO opens at once instead of waiting for a writer
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a pipe (FIFO)"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def read_bounded(path: Path | str, limit: int, *, what: str = "file") -> bytes:
    """The bytes of a regular file of at most `limit` bytes; FileRefused (one plain sentence) otherwise.

    OSError (missing file, no permission) is left to the caller, which words it for its own file.
    """
    fd = os.open(os.fspath(path), _OPEN_FLAGS)
    try:
        st = os.fstat(fd)  # of what was opened: no window between a check and the open
        if not stat.S_ISREG(st.st_mode):
            raise FileRefused(str(path), f"The {what} {path} is {_kind(st.st_mode)}, not a regular file, "
                                         "so it was not read.")
        if st.st_size > limit:
            raise FileRefused(str(path), f"The {what} {path} is {st.st_size} bytes, more than any {what} "
                                         f"holds ({limit} bytes at most), so it was not read.")
        chunks: list[bytes] = []
        total = 0
        while total <= limit:  # a file that grows while we read is still bounded
            chunk = os.read(fd, min(1 << 16, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise FileRefused(str(path), f"The {what} {path} grew past {limit} bytes while it was read, "
                                         "so it was not used.")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _unsafe(path: Path, st: os.stat_result, uid: int) -> str | None:
    """Why another user could have written `path` (None when only its owner or root could)."""
    if st.st_uid not in (uid, 0):
        return "is owned by another user"
    if st.st_mode & 0o022:
        if stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX:
            return None  # a sticky folder (/tmp): others cannot rename or replace what is ours in it
        return "can be changed by other users" if st.st_mode & 0o002 else "can be changed by its group"
    return None


def _fix(path: Path, st: os.stat_result, uid: int) -> str:
    if st.st_uid not in (uid, 0):
        return f"chown {uid} {path}" if uid else f"chown root {path}"
    return f"chmod go-w {path}"


def check_private(path: Path | str, *, what: str, home: Path | str | None = None) -> None:
    """Refuse (FileRefused naming the fixing command) a file another local user could have written.

    Like OpenSSH: the file, then each folder up to the home folder (or /), must be owned by the user or
    root and not writable by group or others. No check on Windows (ACLs; the profile folder is private).
    """
    if os.name != "posix":
        return
    uid = os.geteuid()
    p = Path(os.path.realpath(os.fspath(path)))  # a link is judged by where it leads, as OpenSSH does
    stop = Path(os.path.realpath(os.fspath(home if home is not None else Path.home())))
    current = p
    while True:
        try:
            st = os.stat(current)
        except OSError:
            return  # a missing file is not ours to judge here: reading it says so
        reason = _unsafe(current, st, uid)
        if reason is not None:
            fix = _fix(current, st, uid)
            where = "" if current == p else f" (its folder {current} {reason})"
            head = f"The {what} {p} {reason}" if current == p else f"The {what} {p} is not private{where}"
            raise FileRefused(str(p), f"{head}, so another user could have changed it; it was not used. "
                                      f"Fix it with: {fix}", fix=fix)
        if current == stop or current.parent == current:
            return
        current = current.parent


def make_private_dir(path: Path | str) -> None:
    """Create `path` and its missing parents 0700 (an existing folder is left as it is)."""
    p = Path(path)
    missing: list[Path] = []
    while not p.exists() and p.parent != p:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=0o700)
        except FileExistsError:
            continue
        os.chmod(d, 0o700)  # mkdir's mode is masked by the umask
