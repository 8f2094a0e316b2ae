"""`osc-trusted-login selftest`, run unfrozen in a subprocess as a user would run it.

The frozen bundle runs the same command in packaging/smoke-linux.sh (called by .ci/run).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Checks that prove the installation carries everything; they must pass on any machine.
REQUIRED = ["runtime", "Qt", "login window", "app icon", "PKCS#11 binding", "trust store", "mutual TLS"]
pytestmark = pytest.mark.timeout(180)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTL_", "QT_", "OSC_"))}
    env.update(HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_CACHE_HOME=str(tmp_path / "cache"), QT_QPA_PLATFORM="offscreen",
               PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
    # SoftHSM2 (registered with p11-kit on test machines) reads an empty token folder of our own.
    tokens = tmp_path / "softhsm-tokens"
    tokens.mkdir(exist_ok=True)
    (tmp_path / "softhsm2.conf").write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n")
    env["SOFTHSM2_CONF"] = str(tmp_path / "softhsm2.conf")
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    env.update(extra)
    (tmp_path / "home").mkdir(exist_ok=True)
    return env


def _run(tmp_path: Path, *args: str, code: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "app", *args]
    return subprocess.run(cmd, cwd=ROOT, env=_env(tmp_path, **env), capture_output=True, text=True,
                          timeout=150, check=False)


@pytest.fixture(scope="module")
def json_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict]:
    tmp = tmp_path_factory.mktemp("selftest")
    p = _run(tmp, "selftest", "--json")
    assert p.stdout.strip(), p.stderr
    return p.returncode, json.loads(p.stdout)


def test_selftest_json_passes_every_required_check(json_run: tuple[int, dict]) -> None:
    code, report = json_run
    by_name = {c["name"]: c for c in report["checks"]}
    failed = {n: c["detail"] for n, c in by_name.items() if c["status"] == "fail"}
    assert failed == {}
    assert code == 0 and report["ok"] is True
    assert [n for n in REQUIRED if by_name.get(n, {}).get("status") != "pass"] == []
    assert report["frozen"] is False
    # Statuses are only these three, and every check explains itself.
    assert {c["status"] for c in report["checks"]} <= {"pass", "warn", "fail"}
    assert all(c["detail"].strip() for c in report["checks"])


def test_selftest_handshake_really_used_the_client_certificate(json_run: tuple[int, dict]) -> None:
    _, report = json_run
    tls = next(c for c in report["checks"] if c["name"] == "mutual TLS")
    assert "TLSv1." in tls["detail"] and "ecdsa_secp256r1_sha256" in tls["detail"]


def test_selftest_text_output_is_plain_words(tmp_path: Path) -> None:
    p = _run(tmp_path, "selftest", "--offscreen")
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("OUTSCALE Trusted Login ") and lines[0].endswith(" self-test")
    assert any(line.strip().startswith("PASS  mutual TLS:") for line in lines)
    assert lines[-1].startswith("All ") and "checks passed" in lines[-1]


def test_selftest_reports_a_module_that_does_not_load_without_failing(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-pkcs11-module.so"
    p = _run(tmp_path, "selftest", "--json", OTL_PKCS11_MODULE=str(missing))
    report = json.loads(p.stdout)
    modules = next(c for c in report["checks"] if c["name"] == "PKCS#11 modules")
    # A broken module on the machine is worth a warning, not a broken installation.
    assert modules["status"] == "warn"
    assert str(missing) in modules["detail"] and "does NOT load" in modules["detail"]
    assert p.returncode == 0


def test_selftest_fails_when_the_tls_engine_is_missing(tmp_path: Path) -> None:
    # What a bundle that lost tlslite-ng would do: the TLS check fails and the exit code says so.
    code = ("import sys; sys.modules['tlslite'] = None\n"
            "from app.__main__ import main\n"
            "sys.exit(main(['selftest', '--json']))")
    p = _run(tmp_path, code=code)
    report = json.loads(p.stdout)
    by_name = {c["name"]: c for c in report["checks"]}
    assert p.returncode == 1 and report["ok"] is False
    assert by_name["mutual TLS"]["status"] == "fail"
    assert "tlslite" in by_name["mutual TLS"]["detail"]
    assert by_name["Qt"]["status"] == "pass"  # one failure does not stop the other checks


def test_version_flag(tmp_path: Path) -> None:
    from app import __version__

    p = _run(tmp_path, "--version")
    assert p.returncode == 0
    assert p.stdout.strip() == f"osc-trusted-login {__version__}"


def test_selftest_check_selects_checks_and_brings_qt_along(tmp_path: Path) -> None:
    p = _run(tmp_path, "selftest", "--json", "--check", "login-window", "--check", "trust-store")
    report = json.loads(p.stdout)
    assert p.returncode == 0
    assert [c["name"] for c in report["checks"]] == ["Qt", "login window", "trust store"]


def test_selftest_reports_a_missing_x11_library_instead_of_aborting(tmp_path: Path) -> None:
    # Qt aborts the process when its X11 plugin cannot load (libxcb-cursor0 missing, Qt >= 6.5). Hide that
    # library in a private mount namespace and give a display: the report must still come out.
    lib = Path("/usr/lib/x86_64-linux-gnu/libxcb-cursor.so.0")
    if os.geteuid() != 0 or not shutil.which("unshare") or not lib.exists():
        pytest.skip("needs root, unshare and the system's libxcb-cursor.so.0")
    script = (f"mount --bind /dev/null {lib.resolve()} && "
              f"exec {sys.executable} -m app selftest --json --check x11 --check login-window")
    env = _env(tmp_path, DISPLAY=":99")  # never contacted: the X11 plugin is found unusable first
    env.pop("QT_QPA_PLATFORM")
    p = subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=150, check=False)
    if "mount:" in p.stderr:
        pytest.skip(f"cannot bind-mount here: {p.stderr.strip()}")
    report = json.loads(p.stdout)
    by_name = {c["name"]: c for c in report["checks"]}
    assert p.returncode == 1
    assert by_name["X11 display plugin"]["status"] == "fail"
    assert "libxcb-cursor.so.0" in by_name["X11 display plugin"]["detail"]
    assert "libxcb-cursor0" in by_name["X11 display plugin"]["detail"]  # the package to install
    assert by_name["login window"]["status"] == "pass"  # shown offscreen instead
