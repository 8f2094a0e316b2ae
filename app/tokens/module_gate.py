"""The organisation's say on PKCS#11 modules, checked before any library is loaded.

`check_module_policy` runs in `app.tokens.p11.registry.load_module` (every load, whatever named the
module: the p11-kit registry, Settings, --module, a URI) and in `app.tokens.modules.allowed_module`
(a URI or a remembered choice, before the known-module check). It lives apart from modules.py because
the registry imports it and modules.py imports the registry: one module each way would be a circle.
"""

from __future__ import annotations

import os
import threading

from app.tokens.errors import ModuleLoadFailed


class ModuleForbidden(ModuleLoadFailed):
    """The organisation's policy (pkcs11_modules) does not allow this module: it was not loaded."""


_lock = threading.Lock()
_user_named: set[str] = set()  # real paths the user named (Settings, --module, OTL_PKCS11_MODULE)


def note_user_module(path: str) -> None:
    """Remember that the user named this module (policy `user_may_add` lets such modules load)."""
    with _lock:
        _user_named.add(os.path.realpath(os.path.expanduser(path)))


def user_named(path: str) -> bool:
    """True when the user named this module (Settings, --module, OTL_PKCS11_MODULE)."""
    with _lock:
        return os.path.realpath(os.path.expanduser(path)) in _user_named


def check_module_policy(path: str) -> None:
    """ModuleForbidden when the managed policy's pkcs11_modules list does not allow `path`."""
    from app.policy import NOT_ALLOWED, current

    policy = current()
    # the environment (app.tokens.modules.ENV_MODULE/S, read here without importing modules.py, which
    # imports the registry) is the user's naming too
    env = [os.environ.get("OTL_PKCS11_MODULE", ""),
           *os.environ.get("OTL_PKCS11_MODULES", "").split(os.pathsep)]
    user = user_named(path) or any(p and os.path.realpath(p) == os.path.realpath(path) for p in env)
    if policy.module_allowed(path, user_added=user):
        return
    where = policy.origin("pkcs11_modules.allowed")
    raise ModuleForbidden(path, str(policy.refuse(
        f"this PKCS#11 module is {NOT_ALLOWED} (pkcs11_modules in {where}), so it was not loaded")))
