"""Find PKCS#11 modules: explicit paths, the environment, the p11-kit registry (Linux), OpenSC defaults.

Discovery only lists candidate paths; loading happens in `app.tokens.p11.registry.load_module`, one module
at a time, so that a module failing to load gives its own ModuleLoadFailed and hides no other.
"""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from app.tokens.errors import ModuleLoadFailed, TokenError

ENV_MODULE = "OTL_PKCS11_MODULE"  # one path
ENV_MODULES = "OTL_PKCS11_MODULES"  # several, separated by os.pathsep

P11KIT_REGISTRY_DIRS = ("/etc/pkcs11/modules", "/usr/share/p11-kit/modules", "~/.config/pkcs11/modules")
P11KIT_LIB_DIRS = (
    "/usr/lib/x86_64-linux-gnu/pkcs11",
    "/usr/lib/aarch64-linux-gnu/pkcs11",
    "/usr/lib64/pkcs11",
    "/usr/lib/pkcs11",
)
# p11-kit's own helper modules are not cards: the trust module lists CA anchors, the client is for remoting.
P11KIT_SKIP = ("p11-kit-trust", "p11-kit-client", "pkcs11-spy")

OPENSC_WINDOWS = (
    r"C:\Windows\System32\opensc-pkcs11.dll",
    r"C:\Program Files\OpenSC Project\OpenSC\pkcs11\opensc-pkcs11.dll",
)
OPENSC_MACOS = (
    "/Library/OpenSC/lib/opensc-pkcs11.so",
    "/usr/local/lib/opensc-pkcs11.so",
    "/opt/homebrew/lib/opensc-pkcs11.so",
    "/Library/OpenSC/lib/pkcs11/opensc-pkcs11.so",
)
OPENSC_LINUX = (
    "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so",
    "/usr/lib64/opensc-pkcs11.so",
    "/usr/lib/opensc-pkcs11.so",
)


@dataclass(frozen=True)
class ModuleCandidate:
    """A module path and where we heard of it ("explicit", "environment", "p11-kit", "default")."""

    path: str
    origin: str
    name: str = ""  # the p11-kit registry name, when it came from there


def _split(value: str) -> list[str]:
    return [p for p in value.split(os.pathsep) if p.strip()]


def env_modules(environ: Mapping[str, str] | None = None) -> list[str]:
    """Paths from OTL_PKCS11_MODULE and OTL_PKCS11_MODULES."""
    env = os.environ if environ is None else environ
    out: list[str] = []
    if env.get(ENV_MODULE):
        out.append(env[ENV_MODULE])
    out += _split(env.get(ENV_MODULES, ""))
    return out


def _parse_p11kit_file(path: Path) -> dict[str, str]:
    conf: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return conf
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        k, _, v = line.partition(":")
        conf[k.strip().lower()] = v.strip()
    return conf


def p11kit_registry(
    dirs: Sequence[str] = P11KIT_REGISTRY_DIRS, lib_dirs: Sequence[str] = P11KIT_LIB_DIRS
) -> list[ModuleCandidate]:
    """Modules registered with p11-kit (`*.module` files), the system's card modules on Linux."""
    seen: dict[str, ModuleCandidate] = {}
    for d in dirs:
        for f in sorted(glob.glob(os.path.join(os.path.expanduser(d), "*.module"))):
            name = Path(f).stem
            if name in seen:
                continue  # /etc overrides /usr/share (p11-kit's order), the user's file last
            conf = _parse_p11kit_file(Path(f))
            mod = conf.get("module")
            if not mod:
                continue
            if not os.path.isabs(mod):
                mod = next(
                    (os.path.join(ld, mod) for ld in lib_dirs if os.path.exists(os.path.join(ld, mod))),
                    os.path.join(lib_dirs[0], mod),
                )
            if any(s in os.path.basename(mod) for s in P11KIT_SKIP):
                continue
            seen[name] = ModuleCandidate(mod, "p11-kit", name)
    return list(seen.values())


def browser_candidates(home: str | None = None) -> list[ModuleCandidate]:
    """Card modules the user's browsers loaded (`library=` of their NSS databases' pkcs11.txt)."""
    from app.tokens.stores.nss_paths import browser_modules

    return [ModuleCandidate(path, "nss", name) for path, name in browser_modules(home)]


def platform_defaults(platform: str | None = None) -> list[ModuleCandidate]:
    """OpenSC's default locations on Windows and macOS (and Linux when p11-kit knows no module)."""
    plat = platform or sys.platform
    paths = OPENSC_WINDOWS if plat.startswith("win") else OPENSC_MACOS if plat == "darwin" else OPENSC_LINUX
    return [ModuleCandidate(p, "default") for p in paths if os.path.exists(p)][:1]


def discover(
    explicit: Iterable[str] = (),
    *,
    use_environment: bool = True,
    use_registry: bool = True,
    environ: Mapping[str, str] | None = None,
    platform: str | None = None,
) -> list[ModuleCandidate]:
    """Candidate modules, most specific first, without duplicates (same file = same module).

    Explicit paths (settings, --module) come first and are kept even when the file is missing, so
    that loading them reports the problem. When explicit paths or the environment name modules, the
    registry and defaults are not consulted.
    """
    out: list[ModuleCandidate] = []
    seen: set[str] = set()

    def add(c: ModuleCandidate) -> None:
        key = os.path.realpath(c.path)
        if key not in seen:
            seen.add(key)
            out.append(c)

    from app.tokens.module_gate import note_user_module

    for p in explicit:
        note_user_module(p)  # named by the user (Settings, --module): policy user_may_add covers it
        add(ModuleCandidate(os.path.expanduser(p), "explicit"))
    if use_environment:
        for p in env_modules(environ):
            add(ModuleCandidate(os.path.expanduser(p), "environment"))
    if out:
        return out
    plat = platform or sys.platform
    if use_registry and plat.startswith("linux"):
        for c in p11kit_registry():
            add(c)
        for c in browser_candidates():
            add(c)
    if not out:
        for c in platform_defaults(plat):
            add(c)
    return out


def module_paths(explicit: Iterable[str] = (), **kwargs: object) -> list[str]:
    """Just the paths of `discover`."""
    return [c.path for c in discover(explicit, **kwargs)]  # type: ignore[arg-type]


def load_all(candidates: Iterable[ModuleCandidate | str]) -> tuple[list[str], list[TokenError]]:
    """Load each module; returns (loaded paths, one error per module that failed). Never raises."""
    from app.tokens.p11.registry import load_module

    loaded: list[str] = []
    errors: list[TokenError] = []
    for c in candidates:
        path = c.path if isinstance(c, ModuleCandidate) else c
        try:
            load_module(path)
            loaded.append(path)
        except TokenError as e:
            errors.append(e)
        except Exception as e:
            errors.append(ModuleLoadFailed(path, f"{type(e).__name__}: {e}"))
    return loaded, errors
