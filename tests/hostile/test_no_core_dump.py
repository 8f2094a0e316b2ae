"""A session process cannot dump core: it holds the PIN, the password and the temporary key. The real
`login --headless`, stopped at its PIN prompt (the moment the PIN is about to be in memory), has a
core size limit of 0 it cannot raise; a hardened process that aborts leaves no core file where an
unhardened one (the control) does."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.hostile._cli import DEADLINE, ROOT, private_env
from tests.rigs.softhsm import SoftHsmRig

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and prctl are Linux")


def _core_limits(pid: int) -> str:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max core file size"):
            return " ".join(line.split()[4:6])
    raise AssertionError("no core limit line")


def test_headless_login_cannot_dump_core_while_it_waits_for_the_pin(softhsm_rig: SoftHsmRig,
                                                                     tmp_path: Path) -> None:
    key = softhsm_rig.keys["p256"]
    cka_id = "".join(f"%{b:02X}" for b in key.cka_id)
    uri = f"pkcs11:token={quote(softhsm_rig.card.label)};id={cka_id};type=cert"
    env = private_env(tmp_path / "home", OSC_LOGIN="x@example.com", OSC_PASSWORD="not-used",
                      **softhsm_rig.hsm.env)
    proc = subprocess.Popen([sys.executable, "-m", "app", "login", "--headless", "--pin-stdin", "--cert", uri,
                             "--module", softhsm_rig.module_path, "--endpoint", "https://127.0.0.1:9/api/v1"],
                            cwd=tmp_path, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the first event comes once the session started: PIN awaited next
        assert line, proc.stderr.read() if proc.stderr else ""
        assert _core_limits(proc.pid) == "0 0"  # soft and hard: the process cannot raise it again
    finally:
        proc.kill()
        proc.communicate(timeout=DEADLINE)


CRASH = textwrap.dedent("""
    import os, resource, sys
    sys.path.insert(0, {root!r})
    if sys.argv[1] == "hardened":
        from app.session.hardening import dumpable, no_core_dumps
        assert no_core_dumps() and dumpable() is False
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    except (ValueError, OSError):
        print("could not raise the core limit", flush=True)
    os.abort()
""")


def test_a_hardened_process_that_crashes_leaves_no_core(tmp_path: Path) -> None:
    if Path("/proc/sys/kernel/core_pattern").read_text().strip() not in ("core", "core.%p"):
        pytest.skip("cores are not written as plain files here (core_pattern); the limit test stands")
    script = CRASH.format(root=str(ROOT))
    for mode in ("control", "hardened"):
        d = tmp_path / mode
        d.mkdir()
        p = subprocess.run([sys.executable, "-c", script, mode], cwd=d, capture_output=True, text=True,
                           timeout=DEADLINE)
        assert p.returncode < 0, p.stderr  # it did crash (SIGABRT)
        cores = list(d.glob("core*"))
        if mode == "control":
            if not cores:
                pytest.skip("this machine writes no core files even for an unhardened process")
        else:
            assert cores == [] and "could not raise" in p.stdout
        for c in cores:
            c.unlink()
