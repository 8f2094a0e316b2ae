"""Benchmark: the full inventory of 10 SoftHSM2 tokens x 50 certificates, against pkcs11-tool.

    .venv/bin/python bench/inventory.py [--tokens 10] [--certs 50] [--rounds 5]

Ours: C_Finalize + C_Initialize (SoftHSM2 re-reads its token files, so every round is cold) and the
whole listing (tokens, certificates parsed, keys matched, problems found). Reference, measured in the
same run over the same tokens: `pkcs11-tool --list-objects --type cert`, once per token (it lists one
slot per run). Prints the medians and the ratio ours / pkcs11-tool. Goal: <= 1 s and <= 1.5x.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.sandbox.pki import CertificateAuthority, new_key
from app.sandbox.softhsm import SoftHsm
from app.tokens.inventory import scan_module


def provision(root: Path, n_tokens: int, n_certs: int) -> SoftHsm:
    """Tokens with certificates only (listing speed does not depend on keys); one software key reused."""
    hsm = SoftHsm(root)
    ca = CertificateAuthority("Bench CA")
    public = new_key("p256").public_key()
    tokens = [hsm.init_token(f"bench {i:02d}") for i in range(n_tokens)]
    for t_i, tok in enumerate(tokens):
        items = []
        for c_i in range(n_certs):
            cert = ca.issue_client(f"bench {t_i:02d}-{c_i:02d}", public_key=public).certificate
            items.append((cert, (t_i * 1000 + c_i).to_bytes(4, "big"), f"cert {c_i:02d}"))
        hsm.write_certificates(tok, items)
    return hsm


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tokens", type=int, default=10)
    ap.add_argument("--certs", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    tool = shutil.which("pkcs11-tool")
    if tool is None:
        print("pkcs11-tool (Debian: opensc) is needed for the reference", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        hsm = provision(Path(tmp) / "softhsm", args.tokens, args.certs)
        took = time.perf_counter() - t0
        print(f"provisioned {args.tokens} tokens x {args.certs} certificates in {took:.1f} s")
        mod = hsm.module()
        env = hsm.subprocess_env()
        labels = [t.label for t in hsm.tokens]
        ours, native = [], []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            mod.reinitialize()
            inv = scan_module(mod.path, module=mod)
            ours.append(time.perf_counter() - t0)
            assert len(inv.certificates) == args.tokens * args.certs, len(inv.certificates)
            assert not inv.errors, inv.errors

            t0 = time.perf_counter()
            listed = 0
            for label in labels:
                out = subprocess.run(
                    [
                        tool,
                        "--module",
                        hsm.module_path,
                        "--token-label",
                        label,
                        "--list-objects",
                        "--type",
                        "cert",
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                listed += out.count("Certificate Object")
            native.append(time.perf_counter() - t0)
            assert listed == args.tokens * args.certs, listed
        o, n = statistics.median(ours), statistics.median(native)
        print(f"inventory (ours):            median {o * 1000:7.1f} ms  (min {min(ours) * 1000:.1f})")
        print(f"pkcs11-tool --list-objects:  median {n * 1000:7.1f} ms  (min {min(native) * 1000:.1f})")
        print(
            f"ratio ours / pkcs11-tool: {o / n:.2f}x   goal: <= 1.5x and <= 1000 ms -> "
            f"{'met' if o / n <= 1.5 and o <= 1.0 else 'NOT met'}"
        )
        print(f"cpu: {os.cpu_count()} cores, python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
