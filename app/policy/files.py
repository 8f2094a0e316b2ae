"""Reading a policy file that only an administrator can have written (Linux, macOS).

A policy that the user can write is no policy: the file, and every folder above it, must belong to
root (or to the account running the tests, under the test override) and must not be writable by
group or others (a group of root, gid 0, may write: that is an administrators' group).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from app.policy.model import SourceDoc

MAX_POLICY_BYTES = 1 << 20  # a policy is a few hundred bytes; a huge file is a mistake or an attack


class Untrusted(Exception):
    """The file (or a folder above it) could be written by someone other than an administrator."""


def _check_owner(path: str, st: os.stat_result, trusted_uids: frozenset[int]) -> None:
    if st.st_uid not in trusted_uids:
        raise Untrusted(f"{path} belongs to user id {st.st_uid}, not to root: a user could have written it")
    if st.st_mode & stat.S_IWOTH or (st.st_mode & stat.S_IWGRP and st.st_gid != 0):
        raise Untrusted(f"{path} can be written by other users (mode {stat.filemode(st.st_mode)})")


def check_folders(path: Path, stop: Path, trusted_uids: frozenset[int]) -> None:
    """Every folder from `path`'s parent up to `stop` (included) is an administrator's."""
    here = path.resolve().parent
    stop = stop.resolve()
    while True:
        _check_owner(str(here), here.stat(), trusted_uids)
        if here == stop or here.parent == here:
            return
        here = here.parent


def read_trusted(path: Path, stop: Path, trusted_uids: frozenset[int]) -> bytes:
    """The bytes of `path` after the ownership and mode checks; Untrusted or OSError otherwise."""
    check_folders(path, stop, trusted_uids)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)  # checked on the file opened, so a swap after the check changes nothing
        if not stat.S_ISREG(st.st_mode):
            raise Untrusted(f"{path} is not a regular file")
        _check_owner(str(path), st, trusted_uids)
        if st.st_size > MAX_POLICY_BYTES:
            raise Untrusted(f"{path} is larger than {MAX_POLICY_BYTES} bytes")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(MAX_POLICY_BYTES + 1)
    finally:
        os.close(fd)


def load_json(data: bytes) -> Mapping[str, Any]:
    """A policy document from JSON bytes (ValueError for anything else than one JSON object)."""
    doc = json.loads(data.decode("utf-8-sig"))
    if not isinstance(doc, dict):
        raise ValueError("a policy must be one JSON object")
    return doc


def read_source(path: Path, stop: Path, trusted_uids: frozenset[int],
                parse: Callable[[bytes], Mapping[str, Any]] = load_json) -> SourceDoc:
    """One policy file as a SourceDoc: its document, or the reason nothing of it can apply."""
    label = str(path)
    try:
        return SourceDoc(label, parse(read_trusted(path, stop, trusted_uids)))
    except Untrusted as e:
        return SourceDoc(label, error=f"refused: {e}")
    except OSError as e:
        return SourceDoc(label, error=f"cannot be read ({e.strerror or e})")
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError, plistlib.InvalidFileException
        return SourceDoc(label, error=f"cannot be parsed ({e})")
