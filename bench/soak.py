"""Soak benchmark: growth per hour of what a process that runs all day must keep flat.

    .venv/bin/python bench/soak.py [--seconds 60] [--json]

The real desktop controller (offscreen), a SoftHSM2 card behind `p11-kit server` (removable), the sandbox
API requiring the card's CA, in a process of its own (so that its records, which grow with every call it
serves, are not counted as ours). Each scenario runs `--seconds` on a fresh controller and samples every
figure of tests/soak/sampler.py (RSS, references to None/True/False, threads, file descriptors, live
QObjects, PKCS#11 sessions) once a second; growth per hour is the least-squares slope after a warm-up of
a third of the run (the previous scenario's controller is still being torn down at the start).
Reference, in the same process and run: the same event loop with the app idle at its login
window and no timer of ours running. Scenarios, each at realistic timers (the product's defaults) and
sped up (what the soak tests use):

- session: logged in, card in, session window open (watch polling, VM table, tray);
- grace:   card pulled, countdown banner ticking (grace long enough not to end);
- picker:  the certificate picker left open, the inventory polled;
- cycles:  login -> card out -> back -> logout, over and over (sped up only).

Goal: 0 growth beyond warm-up for every figure except RSS, whose goal is "no trend" (within the
reference's own noise).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")

from PySide6.QtCore import QCoreApplication, QEvent  # noqa: E402

from tests.soak.sampler import FIGURES, Sampler  # noqa: E402


def events() -> None:
    """One turn of the event loop, deferred deletions included (as QApplication.exec() does them;
    processEvents() alone leaves every deleteLater() pending and would look like a leak)."""
    QCoreApplication.processEvents()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def pump(until: Callable[[], bool], timeout: float = 30.0) -> None:
    """Run the Qt event loop until `until()` holds (or fail after `timeout`)."""
    end = time.monotonic() + timeout
    while not until():
        if time.monotonic() > end:
            raise RuntimeError("condition not reached in time")
        events()
        time.sleep(0.005)


def run_for(seconds: float, sampler: Sampler, step: Callable[[int], None] | None = None) -> None:
    """Pump events for `seconds`, sampling once a second (or after each `step` when given)."""
    end = time.monotonic() + seconds
    n = 0
    sampler.take(0)
    while time.monotonic() < end:
        n += 1
        if step is not None:
            step(n)
        else:
            tick = time.monotonic() + 1.0
            while time.monotonic() < tick:
                events()
                time.sleep(0.01)
        sampler.take(n)


class SandboxProcess:
    """`python -m app.sandbox` in a child process, with an API access rule requiring `client_ca_pem`."""

    def __init__(self, state: Path, client_ca_pem: bytes) -> None:
        import subprocess
        from types import SimpleNamespace

        state.mkdir(parents=True)
        ca = state / "client-ca.pem"
        ca.write_bytes(client_ca_pem)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.sandbox", "--state", str(state), "--client-ca", str(ca), "--json"],
            stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.proc.stdout is not None
        self.info = SimpleNamespace(**json.loads(self.proc.stdout.readline()))

    def stop(self) -> None:
        """End the child."""
        self.proc.terminate()
        self.proc.wait(10)


class Bench:
    """The app, the card and the sandbox, built once."""

    def __init__(self, root: Path) -> None:
        from app.session.lifecycle import SessionSettings
        from app.ui.app import ensure_qapplication
        from tests.rigs.p11kit import P11KitCard
        from tests.rigs.softhsm import build_standard_rig

        ensure_qapplication()
        self.rig = build_standard_rig(root / "softhsm")
        self.card = P11KitCard(self.rig.hsm, self.rig.second, root / "p11kit")
        self.card.insert()
        self.card.module()
        self.api = SandboxProcess(root / "sandbox", self.rig.ca.cert_pem())
        self.realistic = SessionSettings()
        self.fast = SessionSettings(watch_interval=0.05, rescan_backoff=(0.05, 0.1, 0.2), tick_seconds=0.2)

    def controller(self, fast: bool, poll_ms: int) -> Any:
        """A fresh controller wired to the card and the sandbox."""
        from app.ui.app import AppOptions, TrustedLoginApp
        from app.ui.inventory import InventoryConfig
        from app.ui.login import LoginPrefill

        assert self.api.info is not None
        options = AppOptions(
            inventory=InventoryConfig(
                module_paths=(self.card.client_module_path,),
                init_envs={self.card.client_module_path: self.card.init_env},
            ),
            prefill=LoginPrefill(endpoint=self.api.info.endpoint, ca_file=self.api.info.ca_file),
            session_settings=self.fast if fast else self.realistic,
            use_keyring=False,
            quit_on_close=False,
            inventory_poll_ms=poll_ms,
        )
        app = TrustedLoginApp(options)
        app.start()
        return app

    def login(self, app: Any, grace: float | None = None) -> None:
        """Log in through the login window and the PIN dialog; wait for the session window."""
        from app.session.model import CertificateChoice
        from app.ui.login import LoginPrefill, PickedCertificate

        assert self.api.info is not None
        uri = f"pkcs11:token={quote(self.card.token.label)};object={quote('second p256')};type=cert"
        app.login_window.prefill(LoginPrefill(
            identity=self.api.info.login, secret=self.api.info.password,
            certificate=PickedCertificate(CertificateChoice(uri, module_path=self.card.client_module_path),
                                          "second p256", self.card.token.label),
            grace_override_seconds=grace))
        app.login_window.login_button.click()
        self.answer_pin(app)
        pump(lambda: app.session_window is not None and app.session_window.vm_table.rowCount() == 3)

    def answer_pin(self, app: Any) -> None:
        """Type the card's PIN into the dialog when it shows."""
        pump(lambda: app.pin_bridge.dialog is not None)
        dialog = app.pin_bridge.dialog
        dialog.pin_edit.setText(self.card.token.user_pin)
        dialog.ok_button.click()

    def logout(self, app: Any) -> None:
        """Log out and wait for the login window."""
        app.logout()
        pump(lambda: app.session is None and app.login_window.isVisible())

    def close(self) -> None:
        """Stop the sandbox and the card."""
        self.api.stop()
        self.card.close()


def scenario(bench: Bench, name: str, fast: bool, seconds: float) -> Sampler:
    """One scenario on a fresh controller; the controller is shut down afterwards."""
    poll_ms = 50 if fast else 1500
    app = bench.controller(fast, poll_ms)
    sampler = Sampler()
    try:
        if name == "reference":
            run_for(seconds, sampler)
        elif name == "session":
            bench.login(app)
            run_for(seconds, sampler)
            bench.logout(app)
        elif name == "grace":
            bench.login(app, grace=3600.0)
            bench.card.remove()
            pump(lambda: app.session_window.banner.isVisible())
            run_for(seconds, sampler)
            bench.card.insert()
            bench.answer_pin(app)
            pump(lambda: not app.session_window.banner.isVisible())
            bench.logout(app)
        elif name == "picker":
            app.open_picker()
            pump(lambda: len(app.picker.rows()) > 0)
            run_for(seconds, sampler)
            app.picker.reject()
        elif name == "cycles":
            def cycle(n: int) -> None:
                bench.login(app)
                bench.card.remove()
                pump(lambda: app.session_window.banner.isVisible())
                bench.card.insert()
                bench.answer_pin(app)
                pump(lambda: not app.session_window.banner.isVisible())
                bench.logout(app)

            run_for(seconds, sampler, cycle)
    finally:
        app.shutdown()
        events()
    return sampler


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="per scenario")
    ap.add_argument("--only", choices=("session", "grace", "picker", "cycles"), help="one scenario")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    plan = [("reference", False), ("session", False), ("session", True), ("grace", False), ("grace", True),
            ("picker", False), ("picker", True), ("cycles", True)]
    if args.only:
        plan = [("reference", False), *[p for p in plan if p[0] == args.only]]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="otl-bench-soak-") as tmp:
        bench = Bench(Path(tmp))
        try:
            for name, fast in plan:
                label = f"{name} ({'sped up' if fast else 'realistic'})" if name != "reference" else name
                sampler = scenario(bench, name, fast, args.seconds)
                warmup = max(1, len(sampler.samples) // 3)
                results[label] = {"samples": len(sampler.samples), "per_hour": sampler.per_hour(warmup),
                                  "growth": sampler.growth(warmup)}
        finally:
            bench.close()
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    ref = results["reference"]["per_hour"]
    head = " ".join(f"{f:>12}" for f in FIGURES)
    print(f"growth per hour after warm-up ({args.seconds:.0f} s per scenario; reference = idle app)")
    print(f"{'scenario':28} {head}")
    for label, r in results.items():
        print(f"{label:28} " + " ".join(f"{r['per_hour'].get(f, 0):12.1f}" for f in FIGURES))
    print(f"{'excess over reference':28} (per hour, worst scenario)")
    worst = {f: max(r["per_hour"].get(f, 0) - ref.get(f, 0) for r in results.values()) for f in FIGURES}
    print(f"{'':28} " + " ".join(f"{worst[f]:12.1f}" for f in FIGURES))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
