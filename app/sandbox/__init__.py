"""A local OUTSCALE API emulator (mTLS HTTPS server) for the demo mode and the tests.

``Sandbox(state_dir, ...).start()`` runs it in-process; ``python -m app.sandbox`` runs it alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.sandbox.server import Sandbox, SandboxInfo, TlsRecord

__all__ = ["Sandbox", "SandboxInfo", "TlsRecord"]


def __getattr__(name: str) -> Any:
    # Lazy, so `import app.sandbox.pki` stays light.
    if name in __all__:
        from app.sandbox import server

        return getattr(server, name)
    raise AttributeError(name)
