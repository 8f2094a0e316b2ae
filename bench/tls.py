"""TLS engine benchmark: our mTLS (tlslite-ng + cryptography, key through a Signer) vs Python's ssl with
a PEM key of the same type, against the same server, in the same run.

    .venv/bin/python -m bench.tls [--rounds N] [--no-card] [--profile]

Prints, per key: full handshake with client auth (median ms, ours / ssl ratio, goal <= 2.0), resumed
handshake (ms), and a cProfile summary of our full handshake; then a 1 MiB response over the requests
adapter vs requests with ssl (goal <= 1.5). Servers run in other processes so they do not share our GIL:
`openssl s_server -Verify 1` for handshakes, the Python-ssl test server for the 1 MiB body.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.sandbox.pki import CertificateAuthority, Issued  # noqa: E402
from app.session import tls  # noqa: E402
from app.tokens.signer import Signer, SoftwareSigner  # noqa: E402
from tests.rigs.tls_servers import OpenSslServer  # noqa: E402


def median_ms(fn: Callable[[], object], rounds: int) -> float:
    """Median wall time of fn(); a fn returning a float reports its own (partial) duration."""
    fn()  # warm up
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        own = fn()
        times.append(own if isinstance(own, float) else time.perf_counter() - t)
    return statistics.median(times) * 1000


def paired_medians_ms(a: Callable[[], object], b: Callable[[], object], rounds: int) -> tuple[float, float]:
    """Medians of a() and b() measured alternately, so machine noise hits both alike."""
    a()
    b()
    ta, tb = [], []
    for _ in range(rounds):
        for fn, out in ((a, ta), (b, tb)):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
    return statistics.median(ta) * 1000, statistics.median(tb) * 1000


class Bench:
    def __init__(self, d: Path, ca: CertificateAuthority) -> None:
        self.d = d
        self.ca = ca
        self.ca_file = d / "ca.pem"
        self.ca_file.write_bytes(ca.cert_pem())
        ca.issue_server().write(d / "srv.pem", d / "srv.key")
        self.trust = tls.TrustConfig(str(self.ca_file))
        self.trust.store()

    def pem_pair(self, name: str, issued: Issued) -> tuple[Path, Path]:
        cert, key = self.d / f"{name}.pem", self.d / f"{name}.key"
        issued.write(cert, key)
        return cert, key

    def ours_full(self, signer: Signer, port: int) -> Callable[[], None]:
        identity = tls.TlsIdentity(signer)

        def run() -> None:
            ctx = tls.TlsContext(identity, self.trust, tls.TicketStore())  # no tickets: a full handshake
            raw = socket.create_connection(("127.0.0.1", port))
            s = ctx.wrap_socket(raw, server_hostname="localhost")
            s.close()
        return run

    def ours_resumed(self, signer: Signer, port: int) -> Callable[[], float]:
        identity = tls.TlsIdentity(signer)
        ctx = tls.TlsContext(identity, self.trust, tls.TicketStore())
        raw = socket.create_connection(("127.0.0.1", port))
        first = ctx.wrap_socket(raw, server_hostname="localhost")
        first.sendall(b"GET / HTTP/1.0\r\n\r\n")
        while first.recv(65536):  # reads the NewSessionTickets, then the page
            pass
        first.close()

        def run() -> float:
            t = time.perf_counter()
            raw = socket.create_connection(("127.0.0.1", port))
            s = ctx.wrap_socket(raw, server_hostname="localhost")
            elapsed = time.perf_counter() - t
            assert s.connection_info.resumed, "expected a resumed handshake"
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")  # (untimed) read the new tickets: the store stays fresh
            while s.recv(65536):
                pass
            s.close()
            return elapsed
        return run

    def ssl_full(self, cert: Path, key: Path, port: int) -> Callable[[], None]:
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        ctx.load_cert_chain(cert, key)

        def run() -> None:
            raw = socket.create_connection(("127.0.0.1", port))
            s = ctx.wrap_socket(raw, server_hostname="localhost")
            s.close()
        return run


def profile_summary(fn: Callable[[], None], rounds: int, top: int = 12) -> str:
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(rounds):
        fn()
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    lines = [ln for ln in out.getvalue().splitlines() if ln.strip()]
    start = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls"))
    return "\n".join("    " + ln.replace(str(ROOT) + "/", "").replace(sys.prefix + "/", "")
                     for ln in lines[start:])


def card_signers(d: Path, ca: CertificateAuthority) -> dict[str, Signer]:
    try:
        from app.sandbox.softhsm import softhsm_available
        from app.tokens.card import open_card_signer
        from app.tokens.inventory import scan_module
        from app.tokens.pin import Pin
        from tests.rigs.softhsm import build_standard_rig
    except ImportError as e:
        print(f"(card signers unavailable: {e})")
        return {}
    if not softhsm_available():
        print("(SoftHSM2 not installed: no card rows)")
        return {}
    rig = build_standard_rig(d / "softhsm", ca)
    inv = scan_module(rig.module_path, module=rig.module())
    out: dict[str, Signer] = {}
    for name, label in (("SoftHSM2 RSA-2048", "test rsa2048"), ("SoftHSM2 EC P-256", "test p256")):
        entry = next(c for c in inv.certificates if c.label == label)
        out[name] = open_card_signer(rig.module_path, entry, lambda _r: Pin(rig.card.user_pin))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--no-card", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        ca = CertificateAuthority("Bench Root")
        b = Bench(d, ca)
        rsa_issued = ca.issue_client("bench-rsa", "rsa2048")
        ec_issued = ca.issue_client("bench-p256", "p256")
        rows: list[tuple[str, Signer, Issued]] = [
            ("file RSA-2048", SoftwareSigner(rsa_issued.key, rsa_issued.certificate), rsa_issued),  # type: ignore[arg-type]
            ("file EC P-256", SoftwareSigner(ec_issued.key, ec_issued.certificate), ec_issued),  # type: ignore[arg-type]
        ]
        if not args.no_card:
            cards = card_signers(d, ca)
            for name, signer in cards.items():
                ref = rsa_issued if "RSA" in name else ec_issued
                rows.append((name, signer, ref))
        srv = OpenSslServer(d / "srv.pem", d / "srv.key", b.ca_file, "-tls1_3")
        try:
            print(f"Full TLS 1.3 handshake with client auth vs Python ssl (PEM key of the same type), "
                  f"openssl s_server -Verify 1, median of {args.rounds}:")
            print(f"  {'key':<20} {'ours ms':>8} {'ssl ms':>8} {'ratio':>6} {'resumed ms':>11}")
            profiles = {}
            for name, signer, issued in rows:
                cert, key = b.pem_pair(name.replace(" ", "_"), issued)
                ours, ref = paired_medians_ms(b.ours_full(signer, srv.port), b.ssl_full(cert, key, srv.port),
                                              args.rounds)
                resumed = median_ms(b.ours_resumed(signer, srv.port), args.rounds)
                print(f"  {name:<20} {ours:8.2f} {ref:8.2f} {ours / ref:6.2f} {resumed:11.2f}")
                if name.startswith("file"):
                    profiles[name] = profile_summary(b.ours_full(signer, srv.port), 20)
            for name, text in profiles.items():
                print(f"\nProfile of 20 full handshakes ({name}), top by own time:\n{text}")
        finally:
            srv.close()
        one_mib(b, d, rsa_issued, rows[0][1], args.rounds)
    return 0


class _SslAdapter(requests.adapters.HTTPAdapter):
    """requests with Python's ssl and a client certificate from PEM files (the reference)."""

    def __init__(self, ctx: ssl.SSLContext) -> None:
        self._ctx = ctx
        super().__init__()

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        kwargs["ssl_context"] = self._ctx
        super().init_poolmanager(*args, **kwargs)  # type: ignore[arg-type]


def one_mib(b: Bench, d: Path, issued: Issued, signer: Signer, rounds: int) -> None:
    cert, key = b.pem_pair("mib", issued)
    proc = subprocess.Popen([sys.executable, "-m", "tests.rigs.tls_servers", str(d / "srv.pem"),
                             str(d / "srv.key"), str(b.ca_file)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        url = f"https://127.0.0.1:{port}/bytes/1048576"
        ours = tls.make_session(signer, b.trust, timeout=30)
        ref = requests.Session()
        ctx = ssl.create_default_context(cafile=str(b.ca_file))
        ctx.load_cert_chain(cert, key)
        ref.mount("https://", _SslAdapter(ctx))

        def get(s: requests.Session) -> Callable[[], None]:
            def run() -> None:
                r = s.get(url)
                assert len(r.content) == 1048576
            return run
        n = max(10, rounds // 2)
        t_ours, t_ref = paired_medians_ms(get(ours), get(ref), n)
        print(f"\n1 MiB response on a pooled connection, median of {n}: ours {t_ours:.2f} ms, "
              f"requests+ssl {t_ref:.2f} ms, ratio {t_ours / t_ref:.2f} (goal <= 1.5); "
              f"cipher {ours.connection_info.cipher if ours.connection_info else '?'} "
              f"({ours.connection_info.cipher_implementation if ours.connection_info else '?'})")
        ours.close()
        ref.close()
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(10)


if __name__ == "__main__":
    sys.exit(main())
