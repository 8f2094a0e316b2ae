"""`osc-trusted-login mfa-setup`: set up certificate login (API access rules naming a CA) on an account
without locking it out; `--dry-run` prints the plan and changes nothing; `--remove` undoes.

Credentials, certificate and endpoint are given as for `login --headless` (flags, OSC_* environment,
osc profile; the PIN on the terminal or with --pin-stdin). The CA to upload is the issuer of the
certificate, taken from the card or file, or from --issuer-ca when they hold only the certificate.

Exit codes: 0 done (or the dry run's plan can be applied); 1 failed and undone; 2 usage error; 3 refused
before any change (wrong CA, a precondition); 4 failed and NOT entirely undone (the report says what is left).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any, TextIO

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED, EXIT_HALF_DONE = 0, 1, 2, 3, 4


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of the `mfa-setup` command."""
    who = parser.add_argument_group("credentials (default: OSC_* environment, then the osc profile)")
    who.add_argument("--profile", help="osc profile name (default: OSC_PROFILE or 'default')")
    who.add_argument("--config-file", help="osc config file (default: OSC_CONFIG_FILE or ~/.osc/config.json)")
    who.add_argument("--login", help="login (email, or AccountId/username for EIM users)")
    who.add_argument("--password", help=argparse.SUPPRESS)  # discouraged: visible in the process list
    who.add_argument("--access-key", help="access key id (instead of a login)")
    who.add_argument("--secret-key", help=argparse.SUPPRESS)
    cert = parser.add_argument_group("certificate")
    cert.add_argument("--cert", help="pkcs11: URI of a card certificate, or a PKCS#12/PEM file")
    cert.add_argument("--module", help="PKCS#11 module for the card (default: found from the URI/system)")
    cert.add_argument("--pin-stdin", action="store_true", help="read the PIN from standard input")
    cert.add_argument("--issuer-ca", metavar="FILE",
                      help="the CA that issued the certificate (PEM), when the card or file holds only the "
                           "certificate; a CA that did not issue it is refused")
    where = parser.add_argument_group("endpoint")
    where.add_argument("--region", help="Region (default: OSC_REGION, the profile, or eu-west-2)")
    where.add_argument("--endpoint", help="custom API endpoint URL (private Regions, the sandbox)")
    where.add_argument("--ca-file", help="extra trust anchors (PEM) for the endpoint's certificate")
    rule = parser.add_argument_group("the rule")
    rule.add_argument("--no-cn", action="store_true",
                      help="do not pin the certificate's common name (any certificate of the CA passes)")
    rule.add_argument("--ip-range", action="append", metavar="CIDR",
                      help="addresses the rule allows (repeatable; default: those of the IP-only rules it "
                           "replaces)")
    rule.add_argument("--keep-ip-rules", action="store_true",
                      help="keep the IP-only rules (then the certificate is not required from their "
                           "addresses)")
    rule.add_argument("--trusted-session", type=int, metavar="SECONDS",
                      help="activate a trusted session with this maximum access key lifetime")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    parser.add_argument("--remove", action="store_true", help="undo what previous runs created")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more (never secrets)")
    parser.set_defaults(grace_seconds=None)


def _print_lines(out: TextIO, title: str, lines: list[str]) -> None:
    out.write(f"{title}\n" + "".join(f"  {line}\n" for line in lines))


def _issuer_certs(path: str | None) -> list[Any]:
    if not path:
        return []
    from app.session.setup import load_pem_certificates

    with open(os.path.expanduser(path), "rb") as f:
        return load_pem_certificates(f.read())


def _connector(request: Any, signer: Any) -> Any:
    from app.session.regions import resolve_endpoint
    from app.session.setup import MtlsConnector

    endpoint = resolve_endpoint(request.region, request.endpoint)
    return MtlsConnector(signer, endpoint, request.credentials, ca_file=request.ca_file)


def _run_remove(args: argparse.Namespace, connector: Any, out: TextIO, result: dict[str, Any]) -> int:
    from app.session.setup import Remover, describe_account, removal_steps

    remover = Remover(connector, on_step=None if args.json else _progress(out))
    if args.dry_run:
        snapshot = remover.read_account()
        steps = removal_steps(snapshot)
        result.update(account=snapshot.to_json(), removal=steps)
        if not args.json:
            _print_lines(out, "The account now:", describe_account(snapshot))
            _print_lines(out, "--remove would:", steps or ["nothing: no rule or CA of this tool was found"])
        return EXIT_OK
    report = remover.remove()
    result["report"] = report.to_json()
    if not args.json:
        _print_lines(out, "Result:", report.lines())
    return _exit_for(report)


def _exit_for(report: Any) -> int:
    if report.ok:
        return EXIT_OK
    return EXIT_HALF_DONE if report.not_undone else EXIT_FAILED


def _progress(out: TextIO) -> Any:
    def show(step: Any) -> None:
        out.write(("  ok    " if step.ok else "  FAIL  ") + step.name + "\n")
        out.flush()
    return show


def _run_setup(args: argparse.Namespace, connector: Any, signer: Any, out: TextIO,
               result: dict[str, Any]) -> int:
    from app.session.setup import Runner, SetupOptions, describe_account

    options = SetupOptions(pin_cn=not args.no_cn,
                           ip_ranges=tuple(args.ip_range) if args.ip_range else None,
                           keep_ip_rules=args.keep_ip_rules, trusted_session_seconds=args.trusted_session)
    runner = Runner(connector, on_step=None if args.json else _progress(out))
    plan = runner.plan(signer, options, _issuer_certs(args.issuer_ca))
    assert plan.snapshot is not None
    result.update(account=plan.snapshot.to_json(), plan=plan.to_json())
    if not args.json:
        _print_lines(out, "The account now:", describe_account(plan.snapshot))
        _print_lines(out, "The plan:", plan.steps())
        if plan.notes:
            _print_lines(out, "What it means:", list(plan.notes))
        if plan.problems:
            _print_lines(out, "Refused (nothing was changed):", list(plan.problems))
    if not plan.ok:
        return EXIT_REFUSED
    if args.dry_run:
        if not args.json:
            out.write("Dry run: nothing was changed.\n")
        return EXIT_OK
    if not plan.changes_anything:
        if not args.json:
            out.write("Everything is already in place: nothing to do.\n")
        return EXIT_OK
    report = runner.apply(plan)
    result["report"] = report.to_json()
    if not args.json:
        _print_lines(out, "Result:", report.lines())
    return _exit_for(report)


def run(args: argparse.Namespace, *, env: dict[str, str] | None = None, stdin: TextIO | None = None,
        out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Set up (or remove, or plan) certificate login; returns the exit code."""
    from app.cli.login import PinSource, UsageError, build_request

    env = dict(os.environ if env is None else env)
    stdin, out, err = stdin or sys.stdin, out or sys.stdout, err or sys.stderr
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=err,
                        format="%(levelname)s %(name)s: %(message)s")

    def prompt(text: str) -> str:
        import getpass

        if args.pin_stdin and not stdin.isatty():
            raise UsageError("no password/secret key given and standard input carries the PIN: set "
                             "OSC_PASSWORD / OSC_SECRET_KEY or use a profile")
        return getpass.getpass(text, stream=err)

    try:
        request = build_request(args, env, prompt=prompt, warn=lambda t: print(f"warning: {t}", file=err),
                                read_line=lambda: stdin.readline().rstrip("\r\n"))
    except Exception as e:  # a usage error or a broken profile: say which
        print(f"mfa-setup: {e}", file=err)
        if args.json:
            out.write(json.dumps({"error": str(e), "exit_code": EXIT_USAGE}) + "\n")
        return EXIT_USAGE
    return _run_with_certificate(args, request, PinSource(from_stdin=args.pin_stdin, stdin=stdin, err=err),
                                 out, err)


def _run_with_certificate(args: argparse.Namespace, request: Any, pins: Any, out: TextIO, err: TextIO) -> int:
    from app.session.backend import RealBackend
    from app.session.setup import SetupRefused, explain

    backend = RealBackend()
    result: dict[str, Any] = {"action": "remove" if args.remove else "setup", "dry_run": args.dry_run}
    code = EXIT_FAILED
    opened = None
    try:
        opened = backend.open_certificate(request, pins)
        connector = _connector(request, opened.signer)
        if args.remove:
            code = _run_remove(args, connector, out, result)
        else:
            code = _run_setup(args, connector, opened.signer, out, result)
    except SetupRefused as e:
        code, result["error"] = EXIT_REFUSED, str(e)
        print(f"mfa-setup: refused, nothing was changed: {e}", file=err)
    except Exception as e:  # the certificate or the account could not be opened or read: nothing changed
        code, result["error"] = EXIT_FAILED, explain(e)
        print(f"mfa-setup: {explain(e)} Nothing was changed.", file=err)
    finally:
        if opened is not None:
            backend.release_certificate(opened)
    result["exit_code"] = code
    if args.json:
        out.write(json.dumps(result) + "\n")
    return code
