"""A removable "card": a SoftHSM2 token served over p11-kit remoting (TESTING.md section 2).

    card = P11KitCard(hsm, token, workdir); card.insert()
    mod = card.module()          # p11-kit-client.so, talking to this card's server only
    card.remove()                # kills the server's whole process group: every call fails (CKR_DEVICE_ERROR)
    card.insert()                # back; the client sees it after mod.reinitialize() (log in again)

Each card gets its own copy of p11-kit-client.so (a distinct library instance), C_Initialize'd with
its own P11_KIT_SERVER_ADDRESS through load_module(init_env=...): several cards can be in at once and
the process environment is never changed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.sandbox.softhsm import SoftHsm, SoftHsmToken
from app.tokens.p11.module import Pkcs11Module
from app.tokens.p11.registry import load_module, loaded_module, unload_module
from tests.rigs.softhsm import SoftHsmRig

P11KIT_CLIENT_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so",
    "/usr/lib/aarch64-linux-gnu/pkcs11/p11-kit-client.so",
    "/usr/lib64/pkcs11/p11-kit-client.so",
    "/usr/lib/pkcs11/p11-kit-client.so",
)


def find_p11kit_client() -> str | None:
    """Path of p11-kit-client.so, or None."""
    return next((p for p in P11KIT_CLIENT_CANDIDATES if os.path.exists(p)), None)


def p11kit_available() -> bool:
    return find_p11kit_client() is not None and shutil.which("p11-kit") is not None


class P11KitCard:
    """One SoftHSM2 token behind a `p11-kit server`: insert / remove / re-insert at will."""

    def __init__(self, hsm: SoftHsm, token: SoftHsmToken, workdir: Path) -> None:
        client = find_p11kit_client()
        if client is None or shutil.which("p11-kit") is None:
            raise RuntimeError("p11-kit (server and p11-kit-client.so) is not installed")
        self.hsm = hsm
        self.token = token
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.socket_path = self.workdir / "p11kit.sock"
        self.address = f"unix:path={self.socket_path}"
        self.client_module_path = str(self.workdir / "p11-kit-client.so")
        if not os.path.exists(self.client_module_path):
            shutil.copy2(client, self.client_module_path)
        self._proc: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"P11KitCard({self.token.label!r}, inserted={self.inserted})"

    @property
    def inserted(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def init_env(self) -> dict[str, str]:
        return {"P11_KIT_SERVER_ADDRESS": self.address}

    def insert(self, timeout: float = 10.0) -> None:
        """Start the server (its own process group) and wait until it accepts connections."""
        if self.inserted:
            return
        if self.socket_path.exists():
            self.socket_path.unlink()
        self._proc = subprocess.Popen(
            [
                "p11-kit",
                "server",
                "-f",
                "-n",
                str(self.socket_path),
                "--provider",
                self.hsm.system_module_path,
                f"pkcs11:token={_uri_escape(self.token.label)}",
            ],
            env=self.hsm.subprocess_env(),
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"p11-kit server exited with {self._proc.returncode}")
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(str(self.socket_path))
                return
            except OSError:
                time.sleep(0.01)
        self.remove()
        raise RuntimeError("p11-kit server did not start")

    def remove(self) -> None:
        """Pull the card: kill the server's whole process group (the per-connection child too)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def module(self) -> Pkcs11Module:
        """This card's client module (loaded on first use)."""
        return load_module(self.client_module_path, init_env=self.init_env)

    def close(self) -> None:
        """Remove the card and unload its client module."""
        self.remove()
        if loaded_module(self.client_module_path) is not None:
            unload_module(self.client_module_path)

    def __enter__(self) -> P11KitCard:
        self.insert()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _uri_escape(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def require_p11kit() -> None:
    if not p11kit_available():
        pytest.skip("p11-kit remoting is not installed (apt-get install p11-kit)")


@pytest.fixture
def p11kit_card_factory(softhsm_rig: SoftHsmRig, tmp_path: Path) -> Iterator[Callable[..., P11KitCard]]:
    """make(token=None) -> an inserted P11KitCard over a rig token (the second card by default)."""
    require_p11kit()
    cards: list[P11KitCard] = []

    def make(token: SoftHsmToken | None = None, hsm: SoftHsm | None = None) -> P11KitCard:
        card = P11KitCard(
            hsm or softhsm_rig.hsm, token or softhsm_rig.second, tmp_path / f"p11kit{len(cards)}"
        )
        cards.append(card)
        card.insert()
        return card

    yield make
    for c in cards:
        c.close()


@pytest.fixture
def p11kit_card(p11kit_card_factory: Callable[..., P11KitCard]) -> P11KitCard:
    """The rig's second card, inserted, behind p11-kit remoting."""
    return p11kit_card_factory()
