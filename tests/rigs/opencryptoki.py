"""A token that really locks its PIN: opencryptoki's soft token (TESTING.md section 3). Needs root.

    rig = OpencryptokiRig(); rig.start()      # pkcsslotd in the foreground (refuses if one runs)
    rig.init_token()                          # C_InitToken + C_InitPIN (PyKCS11, in a subprocess)
    mod = rig.module()                        # the Pkcs11Module of libopencryptoki
    ...
    rig.stop()                                # unloads the library first, then stops the daemon

Token initialisation runs in a child process: PyKCS11 and python-pkcs11 would otherwise share one
C_Initialize of the same library in this process. The SO PIN stays the factory one (87654321):
changing it makes later SO logins fail.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.tokens.p11.module import Pkcs11Module
from app.tokens.p11.registry import load_module, loaded_module, unload_module

OCK_MODULE_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/opencryptoki/libopencryptoki.so.0",
    "/usr/lib/aarch64-linux-gnu/opencryptoki/libopencryptoki.so.0",
    "/usr/lib64/opencryptoki/libopencryptoki.so.0",
)
SOCKET = Path("/var/run/pkcsslotd.socket")
SOFT_SLOT = 3
SO_PIN = "87654321"
USER_PIN = "11223344"
LABEL = "OTL Lockout Card"

_INIT_SCRIPT = r"""
import sys, PyKCS11
lib = PyKCS11.PyKCS11Lib(); lib.load(sys.argv[1])
slot, so_pin, user_pin, label = int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
lib.initToken(slot, so_pin, label)
s = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
s.login(so_pin, PyKCS11.CKU_SO); s.initPin(user_pin); s.logout(); s.closeSession()
print(lib.getTokenInfo(slot).serialNumber.strip())
"""


def find_ock_module() -> str | None:
    return next((p for p in OCK_MODULE_CANDIDATES if os.path.exists(p)), None)


def _slotd_running() -> bool:
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                if "(pkcsslotd)" in stat and stat.rsplit(")", 1)[1].split()[0] != "Z":
                    return True
            except OSError:
                continue
    return False


def skip_reason() -> str | None:
    """Why the opencryptoki rig cannot run here, or None."""
    if os.name != "posix" or os.geteuid() != 0:
        return "the opencryptoki lockout rig needs root (pkcsslotd)"
    if find_ock_module() is None or shutil.which("pkcsslotd") is None:
        return "opencryptoki is not installed (apt-get install opencryptoki)"
    try:
        import PyKCS11  # noqa: F401
    except ImportError:
        return "PyKCS11 (test dependency) is not installed"
    if _slotd_running() or SOCKET.exists():
        return "a pkcsslotd is already running; a second one would break it"
    return None


class OpencryptokiRig:
    """pkcsslotd + the soft token in slot 3, initialised with a known user PIN."""

    def __init__(self, log_dir: Path | str = "/var/log/opencryptoki") -> None:
        module = find_ock_module()
        if module is None:
            raise RuntimeError("opencryptoki is not installed")
        self.module_path = module
        self.log_dir = Path(log_dir)
        self.serial: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        if _slotd_running():
            raise RuntimeError("a pkcsslotd is already running; refusing to start a second one")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._proc = subprocess.Popen(
            ["pkcsslotd", "-f", "-l", str(self.log_dir / "otl-tests.log")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not SOCKET.exists():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("pkcsslotd did not start")
            time.sleep(0.02)

    def init_token(self, user_pin: str = USER_PIN) -> str:
        """(Re)initialise the soft token: fresh objects, PIN counters reset. Returns its serial."""
        if loaded_module(self.module_path) is not None:
            unload_module(self.module_path)
        r = subprocess.run(
            [sys.executable, "-c", _INIT_SCRIPT, self.module_path, str(SOFT_SLOT), SO_PIN, user_pin, LABEL],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if r.returncode != 0:
            raise RuntimeError(f"opencryptoki token init failed: {r.stderr.strip()[-500:]}")
        self.serial = r.stdout.strip().splitlines()[-1]
        return self.serial

    def module(self) -> Pkcs11Module:
        return load_module(self.module_path)

    def stop(self) -> None:
        # unload first: with a client attached, SIGTERM makes the daemon wait for it
        if loaded_module(self.module_path) is not None:
            unload_module(self.module_path)
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


@pytest.fixture(scope="session")
def opencryptoki_rig() -> Iterator[OpencryptokiRig]:
    """The running soft token (skipped with the reason where it cannot run)."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    rig = OpencryptokiRig()
    rig.start()
    try:
        yield rig
    finally:
        rig.stop()
