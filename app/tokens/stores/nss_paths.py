"""Where Chrome and Firefox keep their NSS databases on Linux, and the card modules they loaded.

Binding-free and side-effect free: only reads `profiles.ini` and `pkcs11.txt`. Chrome, Chromium and
most tools share ~/.pki/nssdb; every Firefox profile has its own database, listed in `profiles.ini`
of the classic, snap and flatpak locations.
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from pathlib import Path

# (folder holding profiles.ini, relative to HOME; the words added to the profile's name)
FIREFOX_ROOTS = (
    (".mozilla/firefox", ""),
    ("snap/firefox/common/.mozilla/firefox", " (snap)"),
    (".var/app/org.mozilla.firefox/.mozilla/firefox", " (flatpak)"),
)
# (the shared database, relative to HOME; its name in the picker)
SHARED_DBS = (
    (".pki/nssdb", "Chrome"),
    ("snap/chromium/current/.pki/nssdb", "Chromium (snap)"),
    (".var/app/org.chromium.Chromium/.pki/nssdb", "Chromium (flatpak)"),
)
# Modules of pkcs11.txt that are not cards: NSS's built-in roots, p11-kit's trust module and proxy
# (the proxy re-exports the p11-kit registry, which is read directly).
SKIP_MODULES = ("libnssckbi", "p11-kit-trust", "p11-kit-proxy", "libsoftokn3", "libfreebl")


@dataclass(frozen=True)
class NssDatabase:
    """One NSS database folder (`sql:` format: cert9.db + key4.db) and its name in the picker."""

    path: Path
    name: str  # "Chrome", "Firefox profile default-release"...

    @property
    def present(self) -> bool:
        """Whether it is an sql: database (cert9.db there); an old dbm one (cert8.db) is not read."""
        return (self.path / "cert9.db").is_file()


def _home(home: Path | str | None) -> Path:
    return Path(home) if home is not None else Path(os.path.expanduser("~"))


def firefox_profiles(root: Path, suffix: str = "") -> list[NssDatabase]:
    """The profiles `root/profiles.ini` lists (relative or absolute paths), in the file's order."""
    ini = root / "profiles.ini"
    if not ini.is_file():
        return []
    parser = configparser.RawConfigParser(strict=False)
    try:
        parser.read(ini, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError, OSError):
        return []
    out = []
    for section in parser.sections():
        if not section.lower().startswith("profile") or not parser.has_option(section, "Path"):
            continue
        rel = parser.get(section, "Path")
        relative = parser.get(section, "IsRelative", fallback="1").strip() != "0"
        path = root / rel if relative else Path(rel)
        name = parser.get(section, "Name", fallback=Path(rel).name)
        out.append(NssDatabase(path, f"Firefox profile {name}{suffix}"))
    return out


def nss_databases(home: Path | str | None = None) -> list[NssDatabase]:
    """Every NSS database of the user: the shared one(s) of Chrome/Chromium, then Firefox's profiles.

    Listed even when missing (the caller reports a listed-but-missing Firefox profile); the shared
    folders only when they exist (most users have no ~/.pki/nssdb).
    """
    h = _home(home)
    out = [NssDatabase(h / rel, name) for rel, name in SHARED_DBS if (h / rel).is_dir()]
    for rel, suffix in FIREFOX_ROOTS:
        out += firefox_profiles(h / rel, suffix)
    seen: set[str] = set()
    unique = []
    for db in out:
        key = os.path.realpath(db.path)
        if key not in seen:
            seen.add(key)
            unique.append(db)
    return unique


def pkcs11_txt_modules(db: Path) -> list[str]:
    """The `library=` paths of the database's pkcs11.txt (modules the browser loaded), cards only."""
    try:
        text = (db / "pkcs11.txt").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        key, _, value = line.strip().partition("=")
        value = value.strip().strip('"')
        if key.strip() != "library" or not value or not os.path.isabs(value):
            continue
        if any(s in os.path.basename(value) for s in SKIP_MODULES):
            continue
        out.append(value)
    return out


def browser_modules(home: Path | str | None = None) -> list[tuple[str, str]]:
    """(module path, database name) of every card module the user's browsers loaded, once each."""
    seen: dict[str, tuple[str, str]] = {}
    for db in nss_databases(home):
        for lib in pkcs11_txt_modules(db.path):
            seen.setdefault(os.path.realpath(lib), (lib, db.name))
    return list(seen.values())
