"""The module registry: one Pkcs11Module per library file per process (load, look up, re-scan, unload)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping

from app.tokens.errors import ModuleLoadFailed, TokenError
from app.tokens.module_gate import check_module_policy
from app.tokens.p11.module import Pkcs11Module
from app.tokens.p11.probe import ensure_probed

log = logging.getLogger(__name__)

_REGISTRY: dict[str, Pkcs11Module] = {}
_REGISTRY_LOCK = threading.Lock()


def _key(path: str) -> str:
    return os.path.realpath(path)


def load_module(path: str, *, init_env: Mapping[str, str] | None = None) -> Pkcs11Module:
    """The loaded module for `path` (loaded and C_Initialize'd on first use; ModuleLoadFailed if not).

    `init_env` is set in the process environment around every C_Initialize of this module (for
    modules configured by environment, e.g. SOFTHSM2_CONF or P11_KIT_SERVER_ADDRESS), under a lock.
    Two paths to the same file share one module (the dynamic loader shares it too).
    """
    check_module_policy(path)  # the organisation's list, before anything of the library runs
    key = _key(path)
    with _REGISTRY_LOCK:
        mod = _REGISTRY.get(key)
        if mod is not None and not mod.closed:
            if init_env:
                mod.init_env = dict(init_env)
            return mod
    # A child tries the module first (outside the lock: a slow module holds up no other): one that
    # crashes or hangs is never loaded here, and it is remembered with its reason.
    ensure_probed(path, init_env)
    with _REGISTRY_LOCK:
        mod = _REGISTRY.get(key)
        if mod is not None and not mod.closed:
            return mod
        try:
            mod = Pkcs11Module(path, init_env)
        except ModuleLoadFailed:
            raise
        except TokenError as e:
            raise ModuleLoadFailed(path, str(e)) from e
        _REGISTRY[key] = mod
        return mod


def load_module_with(path: str, factory: Callable[[], Pkcs11Module]) -> Pkcs11Module:
    """The loaded module for `path`, else the one `factory` makes (a library initialised its own way,
    e.g. NSS's softokn with its parameter string), registered like any other."""
    key = _key(path)
    with _REGISTRY_LOCK:
        mod = _REGISTRY.get(key)
        if mod is None or mod.closed:
            mod = _REGISTRY[key] = factory()
        return mod


def loaded_module(path: str) -> Pkcs11Module | None:
    """The module for `path` if it is loaded, else None (never loads)."""
    with _REGISTRY_LOCK:
        mod = _REGISTRY.get(_key(path))
        return mod if mod is not None and not mod.closed else None


def loaded_paths() -> list[str]:
    """Paths of the modules loaded in this process (each was loaded from a known source)."""
    with _REGISTRY_LOCK:
        return [m.path for m in _REGISTRY.values() if not m.closed]


def rescan_module(path: str) -> Pkcs11Module | None:
    """Re-scan a loaded module (C_Finalize + C_Initialize) so that it sees a card inserted since it was
    initialised (p11-kit remoting and some readers show one only then). None when `path` is not loaded
    (nothing to re-scan: loading it sees the cards). Raises TokenError when the re-scan fails."""
    mod = loaded_module(path)
    if mod is not None:
        mod.reinitialize()
    return mod


def unload_module(path: str) -> None:
    """Close sessions and C_Finalize (the library stays mapped; no-op when not loaded)."""
    with _REGISTRY_LOCK:
        mod = _REGISTRY.pop(_key(path), None)
    if mod is not None:
        mod.close()


def unload_all() -> None:
    """Unload every module (process exit, tests)."""
    with _REGISTRY_LOCK:
        mods = list(_REGISTRY.values())
        _REGISTRY.clear()
    for m in mods:
        try:
            m.close()
        except Exception:
            log.debug("unloading %s failed", m.path)


def binding_info() -> str:
    """'python-pkcs11 VERSION (EXTENSION FILE)': proves the compiled binding loads (selftest)."""
    from importlib.metadata import PackageNotFoundError, version

    import pkcs11._pkcs11 as ext

    try:
        v = version("python-pkcs11")
    except PackageNotFoundError:
        v = "?"
    return f"python-pkcs11 {v} ({os.path.basename(ext.__file__ or '?')})"
