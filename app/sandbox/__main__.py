"""``python -m app.sandbox``: run the sandbox OUTSCALE API until interrupted."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import platformdirs

from app.sandbox.server import Sandbox


def build_parser() -> argparse.ArgumentParser:
    """The command line of the sandbox."""
    p = argparse.ArgumentParser(
        prog="python -m app.sandbox", description="A local OUTSCALE API emulator (HTTPS)."
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="TCP port (default: any free port, printed on start)")
    p.add_argument(
        "--state",
        type=Path,
        default=None,
        help="state folder (PKI, accounts, keys); default: the user's state folder",
    )
    p.add_argument(
        "--client-ca",
        type=Path,
        default=None,
        help="PEM CA to upload; an API access rule then requires a certificate it issued",
    )
    p.add_argument(
        "--client-cn", action="append", default=[], help="with --client-ca: allowed certificate CN"
    )
    p.add_argument("--trusted-env", action="store_true", help="turn RequireTrustedEnv on")
    p.add_argument("--key-lifetime", type=float, default=None, metavar="SECONDS",
                   help="keys made by CreateAccessKey expire at most SECONDS after creation (tests renewal)")
    p.add_argument("--latency-ms", type=float, default=0.0, metavar="MS",
                   help="delay every answer (and the TLS server flight) by MS: a slow network")
    p.add_argument("--json", action="store_true", help="print the start information as one JSON line")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Start the sandbox, print where it is and the demo credentials, serve until SIGINT/SIGTERM."""
    args = build_parser().parse_args(argv)
    state = args.state or Path(platformdirs.user_state_dir("osc-trusted-login", appauthor=False)) / "sandbox"
    ca_pem = args.client_ca.read_bytes() if args.client_ca else None
    sandbox = Sandbox(
        state,
        client_ca_pem=ca_pem,
        trusted_env=args.trusted_env,
        host=args.host,
        port=args.port,
        client_cns=args.client_cn,
        key_lifetime_seconds=args.key_lifetime,
    )
    sandbox.set_latency(args.latency_ms / 1000.0)
    try:
        info = sandbox.start()
    except (OSError, ValueError, RuntimeError) as e:
        print(f"sandbox: cannot start: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(info.to_json()), flush=True)
    else:
        print(
            f"Sandbox OUTSCALE API on {info.endpoint} (Region {info.region})\n"
            f"  server CA:  {info.ca_file}\n  state:      {info.state_dir}\n"
            f"  login:      {info.login}\n  password:   {info.password}\n"
            f"  access key: {info.access_key}\n  secret key: {info.secret_key}\n"
            f"  account:    {info.account_id}\n"
            f"  client CA required: {'yes' if info.client_ca_id else 'no'}; trusted env: {info.trusted_env}\n"
            "(throwaway demo values; Ctrl+C stops)",
            flush=True,
        )
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
