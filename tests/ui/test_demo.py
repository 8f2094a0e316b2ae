"""The README's first command, headless, as a subprocess: provisions the demo card, starts the sandbox,
logs in with the card, prints the events and the VMs, logs out with the key revoked, exits 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.sandbox.softhsm import softhsm_available

ROOT = Path(__file__).resolve().parents[2]


def _run(state: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return subprocess.run(
        [sys.executable, "-m", "app", "demo", "--state-dir", str(state), *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(not softhsm_available(), reason="SoftHSM2 is not installed (apt-get install softhsm2)")
def test_headless_demo_runs_the_whole_flow_and_reuses_its_card(tmp_path: Path) -> None:
    state = tmp_path / "demo"
    first = _run(state, "--json")
    assert first.returncode == 0, first.stderr
    events = [json.loads(line) for line in first.stdout.splitlines() if line.startswith("{")]
    kinds = [e["event"] for e in events]
    assert kinds.index("key_created") < kinds.index("key_revoked")
    assert any(e["event"] == "state" and e["state"] == "active" for e in events)
    assert events[-1]["state"] == "ended" and events[-1]["reason"] == "logout"
    vms = next(e for e in events if e["event"] == "vms")["vms"]
    assert len(vms) >= 1 and all(v["vm_id"].startswith("i-") for v in vms)
    assert "THROWAWAY DEMO VALUE" in first.stderr and "card PIN" in first.stderr
    assert "created in" in first.stderr and "revoked (checked on the sandbox)" in first.stderr

    # Later runs reuse the same card (plain text output this time).
    second = _run(state, "--headless")
    assert second.returncode == 0, second.stderr
    assert "reused from" in second.stdout
    assert "ReadVms returned" in second.stdout
    assert "revoked (checked on the sandbox)" in second.stdout
