"""Hostile-input rigs: PKCS#11 modules that misbehave, built with `cc` from native/pkcs11_mode.c."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SOURCE = Path(__file__).parent / "native" / "pkcs11_mode.c"
MODES = {"ok": 0, "crash_init": 1, "hang_init": 2, "crash_slots": 3, "hang_slots": 4, "constructor": 5}


@pytest.fixture(scope="session")
def native_modules(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """name -> a real .so: 'ok' works, 'crash_*' / 'hang_*' crash or hang in C_Initialize /
    C_GetSlotList, 'constructor' writes to $HOSTILE_MARK as soon as it is loaded (dlopen)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler (cc)")
    out = tmp_path_factory.mktemp("native")
    built = {}
    for name, mode in MODES.items():
        so = out / f"{name}.so"
        subprocess.run([cc, "-shared", "-fPIC", "-O0", f"-DMODE={mode}", "-o", str(so), str(SOURCE)],
                       check=True, capture_output=True, timeout=120)
        built[name] = so
    return built
