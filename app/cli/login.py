"""`osc-trusted-login login --headless`: a trusted session without a window, until it ends or Ctrl-C.

Credentials come from flags, an osc profile (~/.osc/config.json or OSC_CONFIG_FILE) or the OSC_*
environment; secrets are best given through the environment, a profile or the terminal prompt (a
secret on the command line is visible to other users of the machine, so it is accepted with a warning).
The certificate is an RFC 7512 `pkcs11:` URI (a card) or a PKCS#12/PEM file path. The PIN is asked on
the terminal, or read from standard input with --pin-stdin (one line per PIN request).

Exit codes: 0 logged out (Ctrl-C, SIGTERM); 1 login failed; 2 usage error; 3 ended because the card
stayed out; 4 ended because the temporary key expired; 5 ended after an error.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from app.session.model import (
    AuthMethod,
    CertificateChoice,
    Credentials,
    EndReason,
    EventKind,
    LoginRequest,
    Secret,
    SessionEvent,
    SessionState,
)
from app.tokens.pin import Pin, PinRequest

if TYPE_CHECKING:  # the model loads cryptography: only when a fingerprint is looked up
    from app.tokens.model import CertificateEntry

EXIT_OK, EXIT_LOGIN_FAILED, EXIT_USAGE, EXIT_CARD_REMOVED, EXIT_KEY_EXPIRED, EXIT_ERROR = 0, 1, 2, 3, 4, 5


class UsageError(Exception):
    """Bad or missing arguments (exit code 2)."""


class _Stop(BaseException):
    """Raised in the main thread by SIGTERM/SIGINT: log out cleanly."""

    def __init__(self, reason: EndReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of the `login` command."""
    parser.add_argument("--headless", action="store_true",
                        help="run without a window (required: the window is `osc-trusted-login` alone)")
    who = parser.add_argument_group("credentials (default: OSC_* environment, then the osc profile)")
    who.add_argument("--profile", help="osc profile name (default: OSC_PROFILE or 'default')")
    who.add_argument("--config-file", help="osc config file (default: OSC_CONFIG_FILE or ~/.osc/config.json)")
    who.add_argument("--login", help="login (email, or AccountId/username for EIM users)")
    who.add_argument("--password", help=argparse.SUPPRESS)  # discouraged: visible in the process list
    who.add_argument("--access-key", help="access key id (instead of a login)")
    who.add_argument("--secret-key", help=argparse.SUPPRESS)  # discouraged, as --password
    cert = parser.add_argument_group("certificate")
    cert.add_argument("--cert", help="pkcs11: URI of a card certificate, or a PKCS#12/PEM file "
                                     "(default: OSC_X509_CLIENT_CERT or the profile's x509_client_cert)")
    cert.add_argument("--module", help="PKCS#11 module for the card (default: found from the URI/system)")
    cert.add_argument("--pin-stdin", action="store_true",
                      help="read the PIN from standard input (one line per request) instead of the terminal")
    where = parser.add_argument_group("endpoint")
    where.add_argument("--region", help="Region (default: OSC_REGION, the profile, or eu-west-2)")
    where.add_argument("--endpoint", help="custom API endpoint URL (private Regions, the sandbox)")
    where.add_argument("--ca-file", help="extra trust anchors (PEM) for the endpoint's certificate")
    parser.add_argument("--grace-seconds", type=float,
                        help="end the session this many seconds after the card is removed (only shortens "
                             "the policy's 5 minutes / 1 hour)")
    agent = parser.add_argument_group("local API agent (your own OUTSCALE tools through this session)")
    agent.add_argument("--no-agent", action="store_true",
                       help="do not start the local API agent (exec/env then find no session)")
    agent.add_argument("--publish-profile", metavar="NAME",
                       help="while the session lives, add profiles NAME and NAME-osc-cli to OSC_CONFIG_FILE "
                            "or ~/.osc/config.json (removed at the end)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per event")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more (never secrets)")


# --- building the request --------------------------------------------------------------------------


def _profile(args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    """The osc profile's fields merged with OSC_* variables (app.session.config), as a plain dict."""
    from app.session.config import resolve_profile

    prof = resolve_profile(args.profile, env=env, config_file=args.config_file)
    out: dict[str, Any] = {
        "access_key": prof.access_key, "secret_key": prof.secret_key, "login": prof.login,
        "password": prof.password, "region": prof.region, "endpoint": prof.endpoint_api,
        "x509_client_cert": prof.x509_client_cert, "x509_client_key": prof.x509_client_key,
        "certificate_ref": prof.certificate_ref,
    }
    return {k: v for k, v in out.items() if v is not None}


def _secret_value(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, Secret):
        return v.reveal()
    return str(v)


def _file_needs_password(path: str) -> bool:
    try:
        from app.tokens.filestore import read_file_entries

        return any(e.needs_password for e in read_file_entries(path))
    except Exception:  # unreadable here: opening it at login says why, plainly
        return False


def build_request(args: argparse.Namespace, env: dict[str, str], *, prompt: Callable[[str], str],
                  warn: Callable[[str], None], read_line: Callable[[], str] | None = None) -> LoginRequest:
    """The LoginRequest from flags, then OSC_* variables, then the osc profile (then a prompt for secrets)."""
    prof = _profile(args, env)  # ConfigError for a named profile/file that is missing or broken
    if args.password:
        warn("a password on the command line is visible to other users; prefer OSC_PASSWORD or the prompt")
    if args.secret_key:
        warn("a secret key on the command line is visible to other users; prefer OSC_SECRET_KEY or a profile")

    login = args.login or (None if args.access_key else env.get("OSC_LOGIN"))
    access_key = args.access_key or (None if args.login else env.get("OSC_ACCESS_KEY"))
    if not login and not access_key:
        login = prof.get("login")
        access_key = None if login else prof.get("access_key")
    if login:
        secret = args.password or env.get("OSC_PASSWORD") or _secret_value(prof.get("password"))
        if not secret:
            secret = prompt(f"Password for {login}: ")
        creds = Credentials(AuthMethod.PASSWORD, login, Secret(secret))
    elif access_key:
        secret = args.secret_key or env.get("OSC_SECRET_KEY") or _secret_value(prof.get("secret_key"))
        if not secret:
            secret = prompt(f"Secret key for {access_key}: ")
        creds = Credentials(AuthMethod.ACCESS_KEY, access_key, Secret(secret))
    else:
        raise UsageError("no credentials: give --login or --access-key, set OSC_LOGIN / OSC_ACCESS_KEY, "
                         "or use an osc profile")
    del secret
    if not creds.secret.reveal():
        raise UsageError("an empty password or secret key cannot log in")

    cert_ref = args.cert or prof.get("certificate_ref")  # the profile's, or OSC_X509_CLIENT_CERT/KEY
    if not cert_ref:
        raise UsageError("no certificate: give --cert with a pkcs11: URI or a PKCS#12/PEM file")
    cert_ref = str(cert_ref)
    entry = _by_fingerprint(cert_ref, args.module)
    if entry is not None:
        cert_ref = entry.uri
    elif not cert_ref.startswith("pkcs11:"):
        cert_ref = os.path.expanduser(cert_ref)
        if not os.path.exists(cert_ref):
            raise UsageError(f"the certificate file {cert_ref} does not exist")
        if not os.path.isfile(cert_ref):  # a FIFO or a device is never read (it would block or never end)
            raise UsageError(f"the certificate file {cert_ref} is not a regular file, so it was not read")
    file_password = None
    if entry is None and not cert_ref.startswith("pkcs11:") and _file_needs_password(cert_ref):
        # the file's password plays the PIN's part: asked the same way (terminal, or a stdin line)
        value = read_line() if args.pin_stdin and read_line is not None else prompt(
            f"Password of {os.path.basename(cert_ref)}: ")
        file_password = Secret(value) if value else None
    choice = CertificateChoice(ref=cert_ref, module_path=(entry.module_path if entry else None) or args.module
                               or None, file_password=file_password, entry=entry,
                               module_from_user=entry is None and bool(args.module))

    region = args.region or env.get("OSC_REGION") or prof.get("region")
    endpoint = args.endpoint or env.get("OSC_ENDPOINT_API") or prof.get("endpoint")
    region, endpoint = _policy_endpoint(region, endpoint)
    ca_file = args.ca_file or prof.get("ca_file")
    if ca_file and not os.path.isfile(ca_file):
        raise UsageError(f"the CA file {ca_file} does not exist")
    if args.grace_seconds is not None and args.grace_seconds < 0:
        raise UsageError("--grace-seconds must be zero or more")
    return LoginRequest(credentials=creds, region=region, endpoint=endpoint, certificate=choice,
                        ca_file=ca_file, grace_override_seconds=args.grace_seconds)


def _policy_endpoint(region: str | None, endpoint: str | None) -> tuple[str, str | None]:
    """The organisation's endpoint when the user named none (or named only a fixed one's Region);
    anything else the user named is kept, and the core refuses it if the policy fixes the endpoints."""
    from app.policy import current

    policy = current()
    fixed = policy.fixed_endpoints or []
    if endpoint is None:
        by_region = next((e for e in fixed if e["region"] == region), None)
        chosen = by_region if region else policy.default_endpoint
        if chosen is not None:
            return chosen["region"], chosen["api"]
    return region or "eu-west-2", endpoint


def _by_fingerprint(ref: str, module: str | None) -> CertificateEntry | None:
    """The listed certificate (card, store of this computer) whose SHA-256 fingerprint `ref` is, or None
    when `ref` is no fingerprint; UsageError when nothing listed has it."""
    from app.tokens.errors import KeyNotFound
    from app.tokens.modules import discover
    from app.tokens.stores.computer import find_fingerprint, is_fingerprint, scan_everything

    if not is_fingerprint(ref):
        return None
    inv = scan_everything([c.path for c in discover([module] if module else [])])
    try:
        return find_fingerprint(inv, ref)
    except KeyNotFound as e:
        raise UsageError(f"{e} See `osc-trusted-login certs`.") from None


# --- PIN -------------------------------------------------------------------------------------------


class PinSource:
    """Answers the session's PIN requests from the terminal (getpass) or from standard input."""

    def __init__(self, *, from_stdin: bool, stdin: TextIO, err: TextIO) -> None:
        self._from_stdin = from_stdin
        self._stdin = stdin
        self._err = err
        self._lock = threading.Lock()

    def __call__(self, request: PinRequest) -> Pin | None:
        with self._lock:
            what = {"login": "PIN", "relogin": "PIN (the card is back)",
                    "signature": "PIN for this signature"}.get(request.purpose.value, "PIN")
            if request.database_password:  # an NSS database: its password, no lockout to warn of
                what = "Database password"
            notes = []
            if request.final_try:
                notes.append("one more wrong PIN locks the card")
            elif request.tries_left is not None:
                notes.append(f"{request.tries_left} tries left")
            elif request.count_low:
                notes.append("a wrong PIN was typed since the last good one")
            if request.last_error:
                notes.append(request.last_error)
            suffix = f" ({'; '.join(notes)})" if notes else ""
            if request.protected_path:
                print(f"Enter the {what} of '{request.token_label}' on the reader{suffix}.", file=self._err,
                      flush=True)
                return None
            if self._from_stdin:
                line = self._stdin.readline()
                if not line:
                    return None  # no more PINs: the request is cancelled
                return Pin(line.rstrip("\r\n"))
            try:
                value = getpass.getpass(f"{what} of '{request.token_label}'{suffix}: ", stream=self._err)
            except (EOFError, OSError):
                return None
            return Pin(value) if value else None


# --- output ----------------------------------------------------------------------------------------


class Printer:
    """Writes session events: JSON lines, or one plain line each (ticks thinned out)."""

    def __init__(self, out: TextIO, *, as_json: bool) -> None:
        self._out = out
        self._json = as_json
        self._lock = threading.Lock()
        self._last_tick: int | None = None

    def __call__(self, event: SessionEvent) -> None:
        if event.kind is EventKind.TICK:
            if not self._tick_worth_printing(event):
                return
        else:
            self._last_tick = None  # a new countdown prints its ticks afresh
        with self._lock:
            line = json.dumps(event.to_json()) if self._json else self._plain(event)
            self._out.write(line + "\n")
            self._out.flush()

    def _tick_worth_printing(self, event: SessionEvent) -> bool:
        left = event.seconds_left
        if left is None:
            return False
        whole = int(left + 0.999)
        step = 1 if whole <= 10 else (10 if whole <= 120 else 60)
        if whole % step != 0 or whole == self._last_tick:
            return False
        self._last_tick = whole
        return True

    def error(self, error: BaseException) -> None:
        """Report a failure (also as a JSON line with --json)."""
        with self._lock:
            if self._json:
                self._out.write(json.dumps({"event": "error", "error": type(error).__name__,
                                            "message": str(error) or type(error).__name__}) + "\n")
                self._out.flush()

    @staticmethod
    def _plain(e: SessionEvent) -> str:
        if e.kind is EventKind.TICK:
            left = int((e.seconds_left or 0) + 0.999)
            return f"grace: the session ends in {left // 60}:{left % 60:02d} unless the card comes back"
        head = e.state.value if e.kind is EventKind.STATE else e.kind.value.replace("_", " ")
        parts = [head]
        if e.reason is not None:
            parts.append(f"({e.reason.value})")
        if e.message:
            parts.append(f"- {e.message}")
        if e.kind is EventKind.STATE and e.state is SessionState.GRACE and e.seconds_left is not None:
            left = int(e.seconds_left + 0.999)
            parts.append(f"- the session ends in {left // 60}:{left % 60:02d}"
                         + (f" (at {e.data['deadline']})" if "deadline" in e.data else "")
                         + " unless the same card is inserted again")
        if e.kind is EventKind.STATE and e.state is SessionState.ACTIVE and "grace_seconds" in e.data:
            parts.append(f"[grace {e.data['grace_seconds']:g} s, trusted env: {e.data.get('trusted_env')}]")
        return " ".join(parts)


# --- run -------------------------------------------------------------------------------------------


def _exit_code(reason: EndReason | None) -> int:
    return {
        EndReason.LOGOUT: EXIT_OK,
        EndReason.QUIT: EXIT_OK,
        EndReason.CARD_REMOVED: EXIT_CARD_REMOVED,
        EndReason.KEY_EXPIRED: EXIT_KEY_EXPIRED,
        EndReason.LOGIN_FAILED: EXIT_LOGIN_FAILED,
        EndReason.ERROR: EXIT_ERROR,
    }.get(reason or EndReason.ERROR, EXIT_ERROR)


def run(args: argparse.Namespace, *, env: dict[str, str] | None = None, stdin: TextIO | None = None,
        out: TextIO | None = None, err: TextIO | None = None, session_factory: Any = None) -> int:
    """Run a headless trusted session; returns the exit code."""
    from app.session.hardening import no_core_dumps

    no_core_dumps()  # first: this process will hold the PIN, the password and the temporary key
    env = dict(os.environ if env is None else env)
    stdin = stdin or sys.stdin
    out = out or sys.stdout
    err = err or sys.stderr
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=err,
                        format="%(levelname)s %(name)s: %(message)s")
    if not args.headless:
        print("login: the window is `osc-trusted-login` alone; add --headless to log in here", file=err)
        return EXIT_USAGE

    def warn(text: str) -> None:
        print(f"warning: {text}", file=err, flush=True)

    prompt = _secret_prompt(args, err)

    try:
        request = build_request(args, env, prompt=prompt, warn=warn,
                                read_line=lambda: stdin.readline().rstrip("\r\n"))
    except UsageError as e:
        print(f"login: {e}", file=err)
        return EXIT_USAGE
    except Exception as e:  # a broken profile: say which, plainly
        print(f"login: {e}", file=err)
        return EXIT_USAGE

    from app.session.lifecycle import SessionSettings, TrustedSession

    printer = Printer(out, as_json=args.json)
    pins = PinSource(from_stdin=args.pin_stdin, stdin=stdin, err=err)
    factory = session_factory or TrustedSession
    session = factory(request, pin_callback=pins, on_event=printer, settings=SessionSettings())

    return _run_session(session, args, printer, err, env=env)


def _secret_prompt(args: argparse.Namespace, err: TextIO) -> Callable[[str], str]:
    """Ask for a missing password/secret key on the terminal (never on a stdin that carries the PIN)."""

    def prompt(text: str) -> str:
        if args.pin_stdin and not sys.stdin.isatty():
            # stdin carries the PIN; a secret must then come from the environment or a profile
            raise UsageError("no password/secret key given and standard input is reserved for the PIN "
                             "(--pin-stdin): set OSC_PASSWORD / OSC_SECRET_KEY or use a profile")
        try:
            return getpass.getpass(text, stream=err)
        except (EOFError, OSError) as e:
            raise UsageError("no password/secret key given and no terminal to ask for it") from e

    return prompt


def _run_session(session: Any, args: argparse.Namespace, printer: Printer, err: TextIO,
                 env: dict[str, str] | None = None) -> int:
    """Log in, then wait until the session ends (Ctrl-C / SIGTERM log out); returns the exit code."""

    def stop(signum: int, frame: FrameType | None) -> None:
        # From the first signal on, the session is ending: a second Ctrl-C must not cut the key's
        # revocation short (during login the cleanup runs inside login() itself, before we see _Stop).
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        raise _Stop(EndReason.LOGOUT if signum == signal.SIGINT else EndReason.QUIT)

    in_main = threading.current_thread() is threading.main_thread()
    old = {}
    if in_main:
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, stop)
    agent = None
    try:
        try:
            info = session.login()
            agent = start_agent(session, info, args, err, env)
        except _Stop as s:
            print(file=err, flush=True)  # end the prompt line the interrupt left open
            session.logout(s.reason)
            session.wait_ended(30)
            _drain(session)
            return EXIT_OK
        except Exception as e:
            session.wait_ended(30)
            _drain(session)  # the final state line first, then the error that caused it
            printer.error(e)
            from app.cli.policy import support_suffix

            print(f"login failed: {e}{'' if 'help:' in str(e) else support_suffix()}", file=err)
            return EXIT_LOGIN_FAILED
        if not args.json:
            who = info.account_email or info.account_id or info.identity
            print(f"logged in as {who} with {info.certificate_subject or 'no certificate'}; "
                  f"temporary key {info.temporary_key_id or '(none)'}; Ctrl-C logs out", file=err, flush=True)
        try:
            while not session.wait_ended(0.5):
                pass
        except _Stop as s:
            if in_main:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not cut the revocation short
            session.logout(s.reason)
            session.wait_ended(60)
        _drain(session)
        return _exit_code(session.end_reason)
    finally:
        if agent is not None:
            agent.close()
        if in_main:
            for sig, handler in old.items():
                signal.signal(sig, handler)


def _drain(session: Any) -> None:
    """Let the event dispatcher print the final events before the process exits."""
    t = getattr(session, "_dispatcher", None)
    if isinstance(t, threading.Thread):
        t.join(5)


def start_agent(session: Any, info: Any, args: argparse.Namespace, err: TextIO,
                env: dict[str, str] | None) -> Any:
    """Start the local API agent for a live session (unless --no-agent); a failure only warns."""
    if getattr(args, "no_agent", False) or not isinstance(getattr(type(session), "client", None), property):
        return None  # turned off, or a stand-in session with no API client to forward through
    from app.policy import NOT_ALLOWED, current

    if not current().allows_local_agent:
        print(f"the local API agent is off: it is {NOT_ALLOWED} (local_agent)", file=err, flush=True)
        return None
    from app.session.agent.attach import AgentOptions, attach_agent

    try:
        handle = attach_agent(session, region=info.region, account_id=info.account_id, env=env,
                              options=AgentOptions(publish_profile=getattr(args, "publish_profile", None)))
    except Exception as e:  # the session itself is fine: the tools just cannot use it
        print(f"warning: the local API agent did not start: {e}", file=err, flush=True)
        return None
    if handle is not None:
        where = f"; profiles in {handle.profile_file}" if handle.profile_file else ""
        print(f"local API agent on {handle.endpoint} (access key {handle.access_key}){where}; "
              "`osc-trusted-login env` prints the variables", file=err, flush=True)
    return handle
