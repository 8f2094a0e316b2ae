"""Class 7, a bad PKCS#11 module takes the app down: modules are tried in a child process with a
deadline first; one that crashes or hangs in C_Initialize or C_GetSlotList is remembered as failed,
with which step and why, and is never loaded in the app's process; the other modules stay usable.
Real .so files built with cc, the real SoftHSM2, the real `certs` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.tokens.errors import ModuleLoadFailed
from app.tokens.p11 import probe
from app.tokens.p11.registry import load_module
from tests.hostile._cli import DEADLINE, private_env, run_cli
from tests.rigs.softhsm import SoftHsmRig

PROBE_SECONDS = "3"  # the hanging modules' deadline here (the default is probe.DEFAULT_DEADLINE)

EXPECTED = {
    "crash_init": "crashed in loading the library or C_Initialize (SIGSEGV)",
    "crash_slots": "crashed in C_GetSlotList (SIGSEGV)",
    "hang_init": "did not answer within 3 s in loading the library or C_Initialize",
    "hang_slots": "did not answer within 3 s in C_GetSlotList",
}


def test_certs_survives_crashing_and_hanging_modules(native_modules: dict[str, Path], softhsm_rig: SoftHsmRig,
                                                     tmp_path: Path) -> None:
    env = private_env(tmp_path / "home", OTL_PKCS11_PROBE_SECONDS=PROBE_SECONDS, **softhsm_rig.hsm.env)
    args = ["certs", "--json"]
    for name in EXPECTED:
        args += ["--module", str(native_modules[name])]
    args += ["--module", softhsm_rig.module_path]
    ran = run_cli(*args, env=env, timeout=DEADLINE)  # four bad modules cost at most two 3 s deadlines each
    assert ran.rc == 0, ran.text
    listed = json.loads(ran.out)
    assert softhsm_rig.card.serial in {t["serial"] for t in listed["tokens"]}  # the good module still works
    errors = " | ".join(e["message"] for e in listed["errors"])
    for name, why in EXPECTED.items():
        assert f"{native_modules[name]}: it {why}" in errors, errors


def test_a_failed_module_is_remembered_and_never_loaded_here(native_modules: dict[str, Path],
                                                            softhsm_rig: SoftHsmRig,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(probe.PROBE_SECONDS_ENV, PROBE_SECONDS)
    crash = str(native_modules["crash_slots"])
    probe.forget(crash)
    with pytest.raises(ModuleLoadFailed, match=r"crashed in C_GetSlotList \(SIGSEGV\)"):
        load_module(crash)  # this process is still here: the crash happened in the child
    assert probe.failed_modules()[str(Path(crash).resolve())].startswith("it crashed in C_GetSlotList")

    def no_second_probe(*a: object, **k: object) -> str:
        raise AssertionError("a module that failed is not probed (nor loaded) again")

    monkeypatch.setattr(probe, "run_probe", no_second_probe)
    with pytest.raises(ModuleLoadFailed, match="crashed"):
        load_module(crash)
    assert softhsm_rig.module().slots()  # the good module is unaffected
    probe.forget(crash)
    with pytest.raises(AssertionError, match="not probed"):
        load_module(crash)  # forget() makes the next load try it again


def test_a_working_module_passes_the_probe(native_modules: dict[str, Path]) -> None:
    ok = str(native_modules["ok"])
    probe.forget(ok)
    assert probe.run_probe(ok, timeout=float(DEADLINE)) is None
    probe.ensure_probed(ok)
    assert str(Path(ok).resolve()) not in probe.failed_modules()
