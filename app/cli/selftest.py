"""`osc-trusted-login selftest [--json]`: check that this installation (bundle or source) has everything.

Each check exercises a real part the way the application uses it — Qt and its plugins, the login window,
the PKCS#11 binding and the modules on this machine, the trust store, and a mutual-TLS handshake with a
freshly generated key against the built-in sandbox API — and reports pass / fail / warn in plain words.
"warn" marks something about this machine (no card module installed, no OS keyring), not the installation;
only "fail" makes the exit code non-zero. Nothing is written outside a temporary folder; no PIN is asked.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import platform
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from app import APP_NAME, __version__

PASS, FAIL, WARN = "pass", "fail", "warn"
# A check that takes longer than this is reported failed (a PKCS#11 module or the network stack hanging).
CHECK_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check, in words a user can act on."""

    name: str
    status: str
    detail: str
    seconds: float = 0.0


class CheckFailed(Exception):
    """A check found a problem; the message says what, in plain words."""


class CheckWarning(Exception):
    """A check found something about this machine worth knowing, not a broken installation."""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the selftest options."""
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--offscreen", action="store_true",
                        help="do not show anything on screen (the default when there is no display)")
    parser.add_argument("--check", action="append", choices=CHECK_IDS, metavar="ID",
                        help=f"run only this check (repeatable): {', '.join(CHECK_IDS)}")


def is_frozen() -> bool:
    """True inside a PyInstaller bundle."""
    return bool(getattr(sys, "frozen", False))


def bundle_root() -> Path:
    """Where the bundled data lives: the bundle's _internal folder, or the source checkout."""
    if is_frozen():
        return Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent))
    return Path(__file__).resolve().parents[2]


def has_display() -> bool:
    """Whether a desktop session is reachable (always true on Windows and macOS)."""
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


# --- checks ------------------------------------------------------------------------------------------------


def check_runtime() -> str:
    """The Python runtime, and that the GPL test-only PKCS#11 binding is not part of an installed bundle."""
    kind = "installed bundle" if is_frozen() else "source checkout"
    if is_frozen():
        import importlib.util

        if importlib.util.find_spec("PyKCS11") is not None:
            raise CheckFailed("this bundle contains PyKCS11, a test-only GPL library that must not ship")
    return (f"{kind} at {bundle_root()}, Python {platform.python_version()} "
            f"on {platform.system()} {platform.machine()}")


class QtChecks:
    """The Qt checks, which live in app/ui (Qt stays there): imported when the first one runs, so that a
    missing or broken PySide6 becomes a failed check instead of a crash of the whole self-test."""

    def __init__(self, offscreen: bool) -> None:
        self.offscreen = offscreen
        self._impl: object | None = None

    def check(self, name: str) -> Callable[[], str]:
        """The check `name` of app.ui.selftest_qt.QtChecks, its failures turned into CheckFailed."""

        def run() -> str:
            if self._impl is None:
                if name != "load":
                    raise CheckFailed("Qt did not start (see the check above)")
                try:
                    from app.ui.selftest_qt import QtChecks as Impl
                except ImportError as e:
                    raise CheckFailed(f"Qt cannot be loaded ({e})") from e
                self._impl = Impl(self.offscreen, has_display(), bundle_root())
            from app.ui.selftest_qt import QtCheckFailed, QtCheckWarning

            try:
                return str(getattr(self._impl, name)())
            except QtCheckFailed as e:
                raise CheckFailed(str(e)) from e
            except QtCheckWarning as e:
                raise CheckWarning(str(e)) from e

        return run


def check_pkcs11_binding() -> str:
    """The PKCS#11 binding's compiled extension loads (python-pkcs11, never PyKCS11)."""
    # The binding is imported in app/tokens/p11/ only (a house rule enforced by test_layers).
    from app.tokens.p11.registry import binding_info

    return f"{binding_info()} loads"


def check_pkcs11_modules() -> Iterator[str]:
    """List the PKCS#11 modules this machine offers (as the app finds them) and load each one."""
    from app.tokens.modules import discover
    from app.tokens.p11.registry import load_module

    found = discover()
    if not found:
        raise CheckWarning("no PKCS#11 module found (p11-kit registry, OTL_PKCS11_MODULE(S), OpenSC's "
                           "default paths); for PIV smart cards install OpenSC")
    bad = 0
    for c in found:
        try:
            mod = load_module(c.path)
            try:
                slots = mod.slots()
                desc = mod.library_description
            finally:
                mod.close()
            yield f"{c.path} ({c.origin}): loads - {desc}; {len(slots)} slot(s)"
        except Exception as e:  # one broken module must not hide the others
            bad += 1
            yield f"{c.path} ({c.origin}): does NOT load - {e}"
    if bad:
        raise CheckWarning(f"{bad} of {len(found)} PKCS#11 module(s) could not be loaded")


def check_trust_store() -> str:
    """certifi's CA bundle is present and parses (the real API's server is verified against it)."""
    import certifi
    from cryptography import x509

    path = Path(certifi.where())
    if not path.is_file():
        raise CheckFailed(f"the CA bundle is missing ({path})")
    with warnings.catch_warnings():
        # A few old Mozilla roots have non-positive serial numbers; cryptography warns, and that is fine here.
        warnings.simplefilter("ignore")
        n = len(x509.load_pem_x509_certificates(path.read_bytes()))
    if n < 50:
        raise CheckFailed(f"the CA bundle has only {n} certificates ({path})")
    return f"{n} root certificates (certifi)"


def check_tls_handshake() -> str:
    """A mutual-TLS API call, with a key generated now, against the built-in sandbox API.

    The sandbox requires a certificate from a CA made here, so the call only succeeds if the client
    certificate went through tlslite-ng with the SoftwareSigner, and the sandbox's server certificate
    was verified (against its own CA only: nothing here can turn verification off).
    """
    import tempfile

    from app.sandbox import Sandbox
    from app.sandbox.pki import CertificateAuthority
    from app.session.api import OutscaleClient
    from app.session.model import Secret
    from app.session.regions import resolve_endpoint
    from app.session.tls import TrustConfig, make_session
    from app.tokens.signer import SoftwareSigner

    with tempfile.TemporaryDirectory(prefix="otl-selftest-") as tmp:
        ca = CertificateAuthority("OUTSCALE Trusted Login selftest CA")
        client = ca.issue_client("selftest", key_kind="p256")
        assert client.key is not None
        signer = SoftwareSigner(client.key, client.certificate, description="selftest key (generated now)")
        sandbox = Sandbox(Path(tmp) / "sandbox", client_ca_pem=ca.cert_pem())
        info = sandbox.start()
        try:
            session = make_session(signer, TrustConfig(extra_ca_file=info.ca_file, include_defaults=False),
                                   timeout=20)
            try:
                api = OutscaleClient(session, resolve_endpoint(info.region, info.endpoint), timeout=20)
                accounts = api.with_access_key(info.access_key, Secret(info.secret_key)).read_accounts()
                conn = session.connection_info
            finally:
                session.close()
        finally:
            sandbox.stop()
    if not accounts:
        raise CheckFailed("the sandbox answered, but with no account")
    if conn is None or not conn.client_cert_subject:
        raise CheckFailed("the call succeeded without sending the client certificate")
    return (f"API call over mutual TLS accepted ({conn.summary()}; "
            f"records: {conn.cipher_implementation or 'pure Python'})")


def check_keyring() -> str:
    """Which OS keyring 'remember my login' would use (read-only: nothing is stored)."""
    import keyring
    from keyring.errors import KeyringError

    try:
        backend = keyring.get_keyring()
    except KeyringError as e:
        raise CheckWarning(f"no OS keyring is available ({e}); 'remember my login' is off") from e
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    if name.startswith(("keyring.backends.fail", "keyring.backends.null")):
        raise CheckWarning(f"no usable OS keyring ({name}); 'remember my login' is off")
    return f"OS keyring: {name}"


def check_policy() -> str:
    """The organisation's managed policy (issue 16): where it was read, and whether it can be used."""
    from app.policy import current

    policy = current()
    blocked = policy.login_blocked()
    if blocked:
        raise CheckFailed(blocked)
    if not policy.present:
        return "no managed policy: every setting is the user's"
    notes = [*policy.problems, *(f"unknown key (ignored): {k}" for k in policy.unknown)]
    where = f"managed policy from {', '.join(policy.sources)}: {len(policy.values)} setting(s)"
    if notes:
        raise CheckWarning("\n".join([where, *notes]))
    return where


# --- running ---------------------------------------------------------------------------------------------


def _run_one(name: str, fn: Callable[[], object], *, threaded: bool) -> CheckResult:
    start = time.monotonic()

    lines: list[str] = []

    def collecting() -> str:
        out = fn()
        if isinstance(out, str):
            return out
        for line in out:  # type: ignore[attr-defined]
            lines.append(str(line))
        return "\n".join(lines)

    try:
        if threaded:
            # Card modules and sockets run off the main thread so that a hang becomes a failed check.
            pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"selftest-{name}")
            try:
                detail = pool.submit(collecting).result(timeout=CHECK_TIMEOUT_S)
            finally:
                pool.shutdown(wait=False)
        else:
            detail = collecting()
        status = PASS
    except concurrent.futures.TimeoutError:
        status, detail = FAIL, f"did not finish within {CHECK_TIMEOUT_S:.0f} s"
    except CheckWarning as e:
        status, detail = WARN, "\n".join([*lines, str(e)])
    except CheckFailed as e:
        status, detail = FAIL, "\n".join([*lines, str(e)])
    except Exception as e:  # a crash inside a check is a failed check, described
        status, detail = FAIL, "\n".join([*lines, f"{type(e).__name__}: {e}"])
        if os.environ.get("OTL_SELFTEST_TRACEBACK"):
            traceback.print_exc()
    return CheckResult(name, status, detail, round(time.monotonic() - start, 3))


# (id for --check, name shown, function, needs Qt started first, run off the main thread)
CHECK_IDS = ("runtime", "qt", "qt-binding", "login-window", "app-icon", "x11", "pkcs11-binding",
             "pkcs11-modules", "trust-store", "tls", "keyring", "policy")


def run_checks(offscreen: bool = False, only: Sequence[str] = ()) -> list[CheckResult]:
    """Run the checks (all, or those whose ids are in `only`) in order and return their results."""
    qt = QtChecks(offscreen)
    checks: list[tuple[str, str, Callable[[], object], bool, bool]] = [
        ("runtime", "runtime", check_runtime, False, False),
        ("qt", "Qt", qt.check("load"), False, False),
        ("qt-binding", "Qt binding", qt.check("binding"), True, False),
        ("login-window", "login window", qt.check("login_window"), True, False),
        ("app-icon", "app icon", qt.check("icon"), True, False),
    ]
    if sys.platform.startswith("linux"):
        checks.append(("x11", "X11 display plugin", qt.check("native_display_plugin"), True, False))
    checks += [
        ("pkcs11-binding", "PKCS#11 binding", check_pkcs11_binding, False, False),
        ("pkcs11-modules", "PKCS#11 modules", check_pkcs11_modules, False, True),
        ("trust-store", "trust store", check_trust_store, False, False),
        ("tls", "mutual TLS", check_tls_handshake, False, True),
        ("keyring", "OS keyring", check_keyring, False, False),
        ("policy", "managed policy", check_policy, False, False),
    ]
    if only:
        wanted = set(only)
        # The Qt checks need Qt started: selecting one of them selects "qt" too.
        if any(needs_qt for cid, _, _, needs_qt, _ in checks if cid in wanted):
            wanted.add("qt")
        checks = [c for c in checks if c[0] in wanted]
    return [_run_one(name, fn, threaded=threaded) for _, name, fn, _, threaded in checks]


def run(args: argparse.Namespace) -> int:
    """Run the self-test; exit code 0 when nothing failed, 1 otherwise."""
    started = time.monotonic()
    results = run_checks(offscreen=bool(args.offscreen), only=args.check or ())
    failed = [r for r in results if r.status == FAIL]
    if args.json:
        print(json.dumps({
            "app": APP_NAME, "version": __version__, "frozen": is_frozen(),
            "platform": f"{platform.system()} {platform.machine()}", "python": platform.python_version(),
            "ok": not failed, "seconds": round(time.monotonic() - started, 3),
            "checks": [asdict(r) for r in results],
        }, indent=2))
    else:
        print(f"{APP_NAME} {__version__} self-test")
        for r in results:
            first, *rest = r.detail.splitlines() or [""]
            print(f"  {r.status.upper():4}  {r.name}: {first}")
            for line in rest:
                print(f"        {line}")
        warned = sum(r.status == WARN for r in results)
        if failed:
            print(f"{len(failed)} of {len(results)} checks FAILED: {', '.join(r.name for r in failed)}")
        else:
            noun = "check" if len(results) == 1 else "checks"
            print(f"All {len(results)} {noun} passed" + (f" ({warned} warning(s))." if warned else "."))
    sys.stdout.flush()
    if any(r.detail.startswith("did not finish") for r in results):
        # A hung check's thread (stuck in a card module or a socket) would keep the process alive.
        sys.stderr.flush()
        os._exit(1)
    return 1 if failed else 0
