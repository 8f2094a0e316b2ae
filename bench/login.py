"""Login benchmark: from the PIN typed to the session ready, on the real card (SoftHSM2), TLS and sandbox.

    .venv/bin/python -m bench.login [--rounds N] [--latency-ms 50]

The sandbox delays every answer (and its TLS server flight) by the latency: one simulated round trip
each. Per key (EC P-256, and an RSA key that asks its PIN for every signature, CKA_ALWAYS_AUTHENTICATE):
the median time from the PIN handed over to `login()` returning (the session window opens then), at no
latency and at the given latency, in the same run; the sequential round trips after the PIN as
(t_latency - t_0) / latency (goal <= 3: the handshake's client flight with the first call, creating the
key, then the reads); the card's signatures and the PIN prompts per login (goal: one signature; the
PIN-always key asks twice). Also: with an unreachable endpoint, PIN prompts before the failure (goal 0).
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.sandbox.server import Sandbox, ensure_server_pki  # noqa: E402
from app.session.lifecycle import TrustedSession  # noqa: E402
from app.session.model import AuthMethod, CertificateChoice, Credentials, LoginRequest, Secret  # noqa: E402
from app.tokens.inventory import scan_module  # noqa: E402
from app.tokens.model import CertificateEntry  # noqa: E402
from app.tokens.pin import Pin, PinRequest  # noqa: E402
from tests.rigs.softhsm import SoftHsmRig, build_standard_rig  # noqa: E402


class _Pins:
    """Answers every prompt with the card's PIN at once; notes when the last one was answered."""

    def __init__(self, pin: str) -> None:
        self.pin = pin
        self.asked = 0
        self.answered_at = 0.0

    def __call__(self, request: PinRequest) -> Pin | None:
        self.asked += 1
        self.answered_at = time.perf_counter()
        return Pin(self.pin)


def _entry(rig: SoftHsmRig, key: str) -> CertificateEntry:
    fingerprint = rig.keys[key].fingerprint_sha256
    inv = scan_module(rig.module_path, init_env=rig.env)
    return next(c for c in inv.certificates if c.fingerprint_sha256 == fingerprint)


def login_once(sb: Sandbox, rig: SoftHsmRig, entry: CertificateEntry, *, endpoint: str | None = None,
               pin_first: bool = False) -> dict[str, Any]:
    """One login (then logout); what it took after the PIN."""
    assert sb.info is not None
    pins = _Pins(rig.card.user_pin)
    req = LoginRequest(Credentials(AuthMethod.PASSWORD, sb.info.login, Secret(sb.info.password)),
                       region=sb.info.region, endpoint=endpoint or sb.info.endpoint,
                       certificate=CertificateChoice(entry.uri, module_path=entry.module_path,
                                                     entry=None if pin_first else entry),
                       ca_file=sb.info.ca_file)
    session = TrustedSession(req, pin_callback=pins, on_event=lambda e: None)
    try:
        session.login()
    except Exception as e:
        session.wait_ended(30)
        return {"error": type(e).__name__, "pins": pins.asked}
    done = time.perf_counter()
    signatures = getattr(session._connection, "signatures", None)
    session.logout()
    return {"ms": (done - pins.answered_at) * 1000, "signatures": signatures, "pins": pins.asked}


def _median(sb: Sandbox, rig: SoftHsmRig, entry: CertificateEntry, rounds: int, pin_first: bool = False
            ) -> dict[str, Any]:
    runs = [login_once(sb, rig, entry, pin_first=pin_first) for _ in range(rounds)]
    bad = [r for r in runs if "error" in r]
    if bad:
        raise SystemExit(f"login failed: {bad[0]}")
    return {"ms": statistics.median(r["ms"] for r in runs), "signatures": runs[-1]["signatures"],
            "pins": runs[-1]["pins"]}


def main() -> int:
    """Run the benchmark and print its table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--latency-ms", type=float, default=50.0)
    args = ap.parse_args()
    latency = args.latency_ms / 1000.0
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        rig = build_standard_rig(d / "softhsm")
        state = d / "sandbox"
        ensure_server_pki(state, ("127.0.0.1", "localhost"))
        sb = Sandbox(state, client_ca_pem=rig.ca.cert_pem())
        sb.start()
        try:
            print(f"login benchmark: {args.rounds} logins per figure, {args.latency_ms:g} ms per round trip")
            print(f"{'key':<16}{'0 ms: PIN->ready':>18}{'latency: PIN->ready':>22}{'round trips':>13}"
                  f"{'signatures':>12}{'PIN prompts':>13}")
            # the reference, in the same run: a bare URI opens the card first (PIN, then the whole handshake)
            for key, pin_first in (("p256", False), ("always_auth", False), ("p256", True)):
                entry = _entry(rig, key)
                sb.set_latency(0.0)
                base = _median(sb, rig, entry, args.rounds, pin_first)
                sb.set_latency(latency)
                slow = _median(sb, rig, entry, args.rounds, pin_first)
                key = f"{key} (PIN first)" if pin_first else key
                trips = (slow["ms"] - base["ms"]) / args.latency_ms if args.latency_ms else float("nan")
                print(f"{key:<16}{base['ms']:>15.0f} ms{slow['ms']:>19.0f} ms{trips:>13.1f}"
                      f"{slow['signatures']!s:>12}{slow['pins']:>13}")
            sb.set_latency(0.0)
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                closed = f"https://127.0.0.1:{s.getsockname()[1]}/api/v1"
            r = login_once(sb, rig, _entry(rig, "p256"), endpoint=closed)
            print(f"unreachable endpoint: {r.get('error')}, PIN prompts before it: {r['pins']} (goal 0)")
        finally:
            sb.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
