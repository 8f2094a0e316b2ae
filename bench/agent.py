"""Benchmark: a call through the local API agent against the same call made directly, same sandbox, same run.

    .venv/bin/python bench/agent.py [--calls 200] [--latency-runs 3] [--clients 20] [--seconds 10] \
        [--rounds 3] [--latency-in-process]

Set-up: a SoftHSM2 card and a key file certified by one CA; the sandbox (its own process) with an API
access rule naming that CA, so every call needs mutual TLS. Ours: a trusted session on the card with its
agent; osc-sdk-python (one kept-alive Gateway) calls ReadVms through the agent (HTTP on 127.0.0.1, then
the session's kept-alive mTLS connection, re-signed with the temporary key). Reference: osc-sdk-python
calling the sandbox directly with mutual TLS and the key file (OpenSSL, kept alive). Measured alternately:

1. latency: the median of `--calls` single kept-alive calls, ours / direct, alternated, made by one tool
   process; `--latency-runs` such runs (each a new process), the median of their ratios (goal <= 1.3x);
   `--latency-in-process` also measures it with the tool inside the agent's process;
2. throughput: `--clients` Gateways (threads in 4 processes: tools are processes of their own, and the
   agent's process then runs the agent alone, as in use) calling at once for `--seconds`, ours / direct
   calls per second (goal >= 80 %), in `--rounds` rounds alternating direct and ours (median ratio).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.sandbox.pki import CertificateAuthority
from app.sandbox.softhsm import SoftHsm
from app.session.agent.attach import attach_agent
from app.session.lifecycle import TrustedSession
from app.session.model import AuthMethod, CertificateChoice, Credentials, LoginRequest, Secret
from app.tokens.inventory import scan_module
from app.tokens.pin import Pin

ROOT = Path(__file__).resolve().parents[1]
PIN = "123456"


def start_sandbox(state: Path, ca_file: Path) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """`python -m app.sandbox` in its own process (its own GIL), requiring the CA."""
    proc = subprocess.Popen([sys.executable, "-m", "app.sandbox", "--json", "--state", str(state),
                             "--client-ca", str(ca_file)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.stdout is not None
    return proc, json.loads(proc.stdout.readline())


def gateways(n: int, cfg: Path, profile: str) -> list[Any]:
    """`n` osc-sdk-python Gateways (own sessions, no rate limiter) sharing one parsed API description."""
    from osc_sdk_python import Gateway
    from osc_sdk_python.call import Call

    template = Gateway(path=str(cfg), profile=profile, max_retries=0)
    out = []
    for _ in range(n):
        gw = object.__new__(type(template))
        gw.__dict__.update(template.__dict__)
        gw.call = Call(logger=template.log, version=template.endpoint_api_version, limiter=None,
                       path=str(cfg), profile=profile, max_retries=0)
        out.append(gw)
    return out


def _unique(tag: str) -> dict[str, list[str]]:
    """A filter the sandbox ignores: each call's body (so its signature) is its own, since the sandbox
    refuses a signature it has already seen (the same call twice in one second would be one)."""
    return {"TagKeys": [tag]}


def latency(ours: Any, direct: Any, calls: int) -> tuple[float, float]:
    """Median seconds of one kept-alive ReadVms, ours and direct, measured alternately."""
    a: list[float] = []
    b: list[float] = []
    for gw in (ours, direct):
        for i in range(5):
            gw.ReadVms(Filters=_unique(f"warm{i}"))  # warm: connections made, TLS done
    for i in range(calls):
        for gw, out in ((ours, a), (direct, b)):
            params = _unique(f"lat{i}")
            t0 = time.perf_counter()
            gw.ReadVms(Filters=params)
            out.append(time.perf_counter() - t0)
    return statistics.median(a), statistics.median(b)


def latency_worker(ours_cfg: str, direct_cfg: str, calls: int) -> int:
    """`--latency-worker`: `latency` in a tool process of its own; prints the two medians as JSON."""
    ours, direct = gateways(1, Path(ours_cfg), "trusted-login"), gateways(1, Path(direct_cfg), "direct")
    print(json.dumps(latency(ours[0], direct[0], calls)), flush=True)
    return 0


def latency_in_tool(ours_cfg: Path, direct_cfg: Path, calls: int) -> tuple[float, float]:
    """`latency` measured by a tool in its own process, as tools are (the agent's process runs the agent
    alone); the same process makes the direct calls, alternated."""
    out = subprocess.run([sys.executable, __file__, "--latency-worker", str(ours_cfg), str(direct_cfg),
                          str(calls)], capture_output=True, text=True, timeout=600, env=dict(os.environ))
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    ours, direct = json.loads(out.stdout.strip().splitlines()[-1])
    return float(ours), float(direct)


def worker(cfg: str, profile: str, clients: int, seconds: float) -> int:
    """`--worker`: `clients` Gateways (threads) calling ReadVms for `seconds` from the start time read
    on stdin (sent once every worker said it is ready: connected and warm)."""
    gws = gateways(clients, Path(cfg), profile)
    for i, gw in enumerate(gws):
        gw.ReadVms(Filters=_unique(f"w{os.getpid()}-{i}"))  # connected and warm before the clock starts
    print("ready", flush=True)
    start_at = float(sys.stdin.readline())
    counts = [0] * len(gws)
    errors: list[str] = []
    stop = start_at + seconds

    def run(i: int, gw: Any) -> None:
        time.sleep(max(0.0, start_at - time.time()))
        while time.time() < stop:
            try:
                gw.ReadVms(Filters=_unique(f"{os.getpid()}-{i}-{counts[i]}"))
                counts[i] += 1
            except Exception as e:
                errors.append(f"{type(e).__name__}: {e}")
                return

    threads = [threading.Thread(target=run, args=(i, gw)) for i, gw in enumerate(gws)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"calls": sum(counts), "errors": errors[:3]}), flush=True)
    return 0


def throughput(cfg: Path, profile: str, clients: int, seconds: float, processes: int = 4) -> float:
    """Calls per second of `clients` tools (threads in `processes` processes, as tools are) for `seconds`."""
    per = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", str(cfg), profile, str(n), str(seconds)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=dict(os.environ))
             for n in per if n]
    for p in procs:  # each parses the API description and warms its connections first
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    start_at = time.time() + 0.5
    results = [json.loads(p.communicate(f"{start_at}\n", timeout=120)[0].strip().splitlines()[-1])
               for p in procs]
    errors = [e for r in results for e in r["errors"]]
    if errors:
        raise RuntimeError(f"failed calls, e.g. {errors[:1]}")
    return sum(r["calls"] for r in results) / seconds


def main() -> int:
    if sys.argv[1:2] == ["--latency-worker"]:
        return latency_worker(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    if sys.argv[1:2] == ["--worker"]:
        cfg, profile, n, seconds = sys.argv[2:6]
        return worker(cfg, profile, int(n), float(seconds))
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=3, help="throughput rounds, direct and ours alternated")
    ap.add_argument("--latency-runs", type=int, default=3, help="latency runs (each its own tool process)")
    ap.add_argument("--latency-in-process", action="store_true",
                    help="also measure latency with the tool inside the agent's process (the old way)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        ca = CertificateAuthority("Bench client CA")
        (tmp / "ca.pem").write_bytes(ca.cert_pem())
        ca.issue_client("bench file", key_kind="p256").write(tmp / "cert.pem", tmp / "file.key")
        # osc-sdk-python 0.42 hands requests x509_client_cert alone: certificate and key in one file
        (tmp / "file.pem").write_bytes((tmp / "cert.pem").read_bytes() + (tmp / "file.key").read_bytes())
        (tmp / "file.pem").chmod(0o600)
        hsm = SoftHsm(tmp / "softhsm")
        tok = hsm.init_token("bench card", user_pin=PIN, so_pin="12345678")
        hsm.add_client_certificate(tok, ca, "bench card", "p256", label="bench card")
        cert = next(c for c in scan_module(hsm.module_path, module=hsm.module()).certificates if c.usable)
        proc, info = start_sandbox(tmp / "sandbox", tmp / "ca.pem")
        os.environ["REQUESTS_CA_BUNDLE"] = info["ca_file"]  # osc-sdk-python verifies with requests' default
        try:
            request = LoginRequest(
                credentials=Credentials(AuthMethod.PASSWORD, info["login"], Secret(info["password"])),
                region=info["region"], endpoint=info["endpoint"], ca_file=info["ca_file"],
                certificate=CertificateChoice(cert.uri, module_path=hsm.module_path))
            session = TrustedSession(request, pin_callback=lambda r: Pin(PIN), on_event=lambda e: None)
            session.login()
            env = dict(os.environ, OSC_TRUSTED_LOGIN_RUNTIME_DIR=str(tmp / "run"))
            (tmp / "run").mkdir(mode=0o700)
            handle = attach_agent(session, region=info["region"], env=env)
            assert handle is not None
            direct_cfg = tmp / "direct.json"
            direct_cfg.write_text(json.dumps({"direct": {
                "access_key": info["access_key"], "secret_key": info["secret_key"], "region": info["region"],
                "endpoints": {"api": info["endpoint"]}, "x509_client_cert": str(tmp / "file.pem")}}))
            ours_cfg = Path(handle.info.config_file)
            ratios = []
            for run in range(args.latency_runs):
                lat_ours, lat_direct = latency_in_tool(ours_cfg, direct_cfg, args.calls)
                ratios.append(lat_ours / lat_direct)
                print(f"  latency run {run + 1}: through the agent {lat_ours * 1000:.2f} ms, direct mTLS "
                      f"{lat_direct * 1000:.2f} ms -> {ratios[-1]:.2f}x", flush=True)
            if ratios:
                print(f"latency, median of {args.calls} kept-alive ReadVms per run, tool in its own process: "
                      f"median ratio of {len(ratios)} runs {statistics.median(ratios):.2f}x (goal <= 1.3x)")
            if args.latency_in_process:  # the tool shares the agent's interpreter (and its GIL)
                ours, direct = gateways(1, ours_cfg, "trusted-login"), gateways(1, direct_cfg, "direct")
                lat_ours, lat_direct = latency(ours[0], direct[0], args.calls)
                print(f"latency, tool in the agent's process: through the agent {lat_ours * 1000:.2f} ms, "
                      f"direct mTLS {lat_direct * 1000:.2f} ms -> {lat_ours / lat_direct:.2f}x")
            # alternated rounds: a shared machine's load moves within a minute; one round of each would
            # compare two different machines
            rounds: list[tuple[float, float]] = []
            for _ in range(args.rounds):
                tp_direct = throughput(direct_cfg, "direct", args.clients, args.seconds)
                tp_ours = throughput(ours_cfg, "trusted-login", args.clients, args.seconds)
                rounds.append((tp_ours, tp_direct))
                print(f"  round {len(rounds)}: through the agent {tp_ours:.0f}/s, direct {tp_direct:.0f}/s "
                      f"-> {100 * tp_ours / tp_direct:.0f} %", flush=True)
            if rounds:
                med_ours = statistics.median(r[0] for r in rounds)
                med_direct = statistics.median(r[1] for r in rounds)
                ratio = statistics.median(100 * r[0] / r[1] for r in rounds)
                print(f"throughput, {args.clients} clients x {args.seconds:g} s, {args.rounds} alternated "
                      f"rounds: through the agent {med_ours:.0f}/s, direct mTLS {med_direct:.0f}/s (medians) "
                      f"-> median ratio {ratio:.0f} % (goal >= 80 %)")
            print(f"agent: {handle.stats()}; card signatures: {session.client.http.signatures}")
            session.logout()
            handle.close()
        finally:
            proc.terminate()
            proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
