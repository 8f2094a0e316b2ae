r"""Windows: the registry under HKLM\SOFTWARE\Policies\OUTSCALE\TrustedLogin, then the same under HKCU
(lower precedence). Group Policy writes both; users cannot write either branch of Policies.

The registry's shape becomes the JSON document: a value is a key (REG_DWORD -> a number, 0/1 for
booleans; REG_SZ -> text, or JSON when it starts with [ or {; REG_MULTI_SZ -> a list of text), a subkey
an object, and a subkey whose names are 1, 2, 3... a list (Chrome's convention for list policies).
`parse_reg` reads a regedit export (.reg) into the same tree, so the conversion is tested off Windows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.policy.model import SourceDoc

POLICY_KEY = r"SOFTWARE\Policies\OUTSCALE\TrustedLogin"
HIVES = {"HKEY_LOCAL_MACHINE": "HKLM", "HKEY_CURRENT_USER": "HKCU", "HKLM": "HKLM", "HKCU": "HKCU"}


@dataclass
class RegKey:
    """A registry key: its values (already typed) and its subkeys."""

    values: dict[str, Any] = field(default_factory=dict)
    keys: dict[str, RegKey] = field(default_factory=dict)

    def child(self, path: str) -> RegKey:
        """The subkey at a backslash path, created on the way."""
        key = self
        for part in [p for p in path.split("\\") if p]:
            key = key.keys.setdefault(part, RegKey())
        return key

    def find(self, path: str) -> RegKey | None:
        """The subkey at a backslash path (names compared without case, as Windows does)."""
        key: RegKey | None = self
        for part in [p for p in path.split("\\") if p]:
            assert key is not None
            key = next((v for k, v in key.keys.items() if k.lower() == part.lower()), None)
            if key is None:
                return None
        return key


def _sz(value: str) -> Any:
    text = value.strip()
    if text[:1] in ("[", "{"):
        try:
            return json.loads(text)
        except ValueError:
            return value  # checked by the schema like any other wrong value
    return value


def to_document(key: RegKey) -> Any:
    """The JSON-shaped document of a key (a list when every name is a number)."""
    items: dict[str, Any] = {name: _sz(v) if isinstance(v, str) else v for name, v in key.values.items()}
    items.update({name: to_document(sub) for name, sub in key.keys.items()})
    if items and all(name.isdigit() for name in items):
        return [items[n] for n in sorted(items, key=int)]
    return items


# -- .reg export files --------------------------------------------------------------------------------

_VALUE = re.compile(r'^(?:"((?:[^"\\]|\\.)*)"|(@))\s*=\s*(.*)$', re.S)


def _unescape(s: str) -> str:
    return re.sub(r"\\(.)", r"\1", s)


def _hex_bytes(text: str) -> bytes:
    return bytes(int(b, 16) for b in text.replace(" ", "").split(",") if b)


def _reg_value(raw: str) -> Any:
    raw = raw.strip()
    if raw.startswith('"'):
        return _unescape(raw[1:raw.rindex('"')])
    kind, _, data = raw.partition(":")
    kind = kind.lower()
    if kind == "dword":
        return int(data, 16)
    if kind == "hex(b)":  # QWORD, little-endian
        return int.from_bytes(_hex_bytes(data), "little")
    if kind in ("hex(7)", "hex(2)"):  # MULTI_SZ, EXPAND_SZ: UTF-16LE, NUL-terminated
        text = _hex_bytes(data).decode("utf-16-le")
        parts = [p for p in text.split("\x00") if p]
        return parts if kind == "hex(7)" else (parts[0] if parts else "")
    raise ValueError(f"a registry value of type {kind or raw[:10]} is not a policy value")


def _logical_lines(text: str) -> list[str]:
    out: list[str] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if pending:
            stripped = pending + stripped
            pending = ""
        if stripped.endswith("\\") and not stripped.startswith("["):
            pending = stripped[:-1]  # a hex value continued on the next line
            continue
        out.append(stripped)
    if pending:
        out.append(pending)
    return out


def parse_reg(data: bytes) -> dict[str, RegKey]:
    """A regedit export (UTF-16 with BOM, or REGEDIT4 ANSI) as {"HKLM": root key, "HKCU": root key}."""
    text = data.decode("utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else data.decode("utf-8-sig")
    lines = _logical_lines(text)
    if not lines or lines[0] not in ("Windows Registry Editor Version 5.00", "REGEDIT4"):
        raise ValueError("not a registry export (.reg): the first line is not 'Windows Registry Editor ...'")
    hives: dict[str, RegKey] = {}
    current: RegKey | None = None
    for line in lines[1:]:
        if not line or line.startswith(";"):
            continue
        if line.startswith("["):
            name = line[1:line.rindex("]")]
            if name.startswith("-"):  # a deletion: not a policy
                current = None
                continue
            hive, _, path = name.partition("\\")
            if hive.upper() not in HIVES:
                current = None
                continue
            current = hives.setdefault(HIVES[hive.upper()], RegKey()).child(path)
            continue
        m = _VALUE.match(line)
        if current is None or m is None:
            continue
        name = _unescape(m.group(1)) if m.group(1) is not None else ""
        if m.group(3).strip() == "-":
            continue  # a value deletion
        current.values[name] = _reg_value(m.group(3))
    return hives


def sources_from_reg(hives: Mapping[str, RegKey], label: str = "") -> list[SourceDoc]:
    """The policy documents of a parsed export (or of the live registry): HKCU first, HKLM wins."""
    out: list[SourceDoc] = []
    for hive in ("HKCU", "HKLM"):
        root = hives.get(hive)
        key = root.find(POLICY_KEY) if root is not None else None
        if key is None:
            continue
        doc = to_document(key)
        where = f"{label}{hive}\\{POLICY_KEY}"
        if not isinstance(doc, dict):
            out.append(SourceDoc(where, error="cannot be parsed (the key holds a list, not settings)"))
        else:
            out.append(SourceDoc(where, doc))
    return out


def _live_key(winreg: Any, handle: Any) -> RegKey:  # pragma: no cover - Windows only
    key = RegKey()
    i = 0
    while True:
        try:
            name, value, kind = winreg.EnumValue(handle, i)
        except OSError:
            break
        if kind in (winreg.REG_SZ, winreg.REG_EXPAND_SZ, winreg.REG_DWORD, winreg.REG_QWORD,
                    winreg.REG_MULTI_SZ):
            key.values[name] = value
        i += 1
    i = 0
    while True:
        try:
            sub = winreg.EnumKey(handle, i)
        except OSError:
            break
        with winreg.OpenKey(handle, sub) as h:
            key.keys[sub] = _live_key(winreg, h)
        i += 1
    return key


def read_windows() -> list[SourceDoc]:  # pragma: no cover - Windows only; the conversion is tested
    """The live registry's policy keys, HKCU first."""
    import winreg as _winreg  # type: ignore[import-not-found,unused-ignore]

    winreg: Any = _winreg  # typed as Any: mypy on Linux sees the stub without the Windows names

    hives: dict[str, RegKey] = {}
    for name, hive in (("HKLM", winreg.HKEY_LOCAL_MACHINE), ("HKCU", winreg.HKEY_CURRENT_USER)):
        try:
            with winreg.OpenKey(hive, POLICY_KEY) as h:
                root = RegKey()
                live = _live_key(winreg, h)
                root.child(POLICY_KEY).values.update(live.values)
                root.child(POLICY_KEY).keys.update(live.keys)
                hives[name] = root
        except FileNotFoundError:
            continue
        except OSError as e:
            return [SourceDoc(f"{name}\\{POLICY_KEY}", error=f"cannot be read ({e})")]
    return sources_from_reg(hives)
