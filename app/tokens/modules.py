"""Find PKCS#11 modules: explicit paths, the environment, the p11-kit registry (Linux), OpenSC defaults.

Discovery only lists candidate paths; loading happens in `app.tokens.p11.registry.load_module`, one module
at a time, so that a module failing to load gives its own ModuleLoadFailed and hides no other.

A card URI (`pkcs11:...?module-path=...`) may only *name* a module that is already known: loading a
library runs its code in the process that is about to hold the PIN, and a URI can come from a file
someone else wrote. `allowed_module` is the one place that decides; `known_modules` lists the known set.
"""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from app.tokens.errors import ModuleLoadFailed, ModuleNotAllowed, TokenError

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
    from app.tokens.safefile import MAX_SMALL_TEXT_BYTES, read_bounded

    conf: dict[str, str] = {}
    try:
        text = read_bounded(path, MAX_SMALL_TEXT_BYTES, what="p11-kit module file").decode("utf-8", "replace")
    except (OSError, TokenError):  # unreadable, a FIFO, huge: not a module registration
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


def known_modules(
    explicit: Iterable[str] = (),
    *,
    environ: Mapping[str, str] | None = None,
    platform: str | None = None,
    registry_dirs: Sequence[str] = P11KIT_REGISTRY_DIRS,
) -> list[ModuleCandidate]:
    """Every module the user or the system made known: `explicit` (Settings, --module), the
    OTL_PKCS11_MODULE(S) environment, the p11-kit registry (Linux) and every OpenSC default that exists.

    Unlike `discover` (which picks what to scan), nothing here hides anything else: it is the allow-list.
    """
    plat = platform or sys.platform
    found = [ModuleCandidate(os.path.expanduser(p), "explicit") for p in explicit]
    found += [ModuleCandidate(os.path.expanduser(p), "environment") for p in env_modules(environ)]
    if plat.startswith("linux"):
        found += p11kit_registry(registry_dirs)
    paths = OPENSC_WINDOWS if plat.startswith("win") else OPENSC_MACOS if plat == "darwin" else OPENSC_LINUX
    found += [ModuleCandidate(p, "default") for p in paths]
    return found


def allowed_module(requested: str, known: Iterable[str], *, named_by: str = "The card URI") -> str:
    """The path to load for a module that a URI or a remembered choice names: the known module that is
    the same file (compared after resolving links), else ModuleNotAllowed, raised before any dlopen.

    The one decision point for "may this library be loaded": a managed policy narrows `known`.
    The known path is returned (not `requested`), so a link swapped after this check loads nothing new.
    """
    from app.tokens.module_gate import check_module_policy

    check_module_policy(requested)  # the organisation's list first: no known-module rule can widen it
    want = os.path.realpath(os.path.expanduser(requested))
    for path in known:
        if os.path.realpath(os.path.expanduser(path)) == want:
            return path
    raise ModuleNotAllowed(
        requested,
        f"{named_by} names this PKCS#11 module, which is not a known one, so it was not loaded (loading a "
        "library runs its code). If you trust it, add it in Settings (PKCS#11 modules) or give it with "
        "--module.",
    )


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
