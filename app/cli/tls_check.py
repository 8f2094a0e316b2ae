"""`osc-trusted-login tls-check URL [--cert URI|PATH] [--module PATH] [--ca-file F] [--pin-stdin] [--json]`.

The operator's first diagnostic when the API refuses them (like `openssl s_client`, with the card):
opens a mutual-TLS connection, sends one GET of the URL's path, prints what was negotiated and the
HTTP status. Exit codes: 0 the handshake completed (whatever the HTTP status), 1 the connection or the
handshake failed, 2 the certificate/card/file could not be opened or the arguments are wrong.
PINs and file passwords are asked on the terminal, or read one per line from standard input with
--pin-stdin; they are never printed.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any, TextIO

from app.session.errors import SessionError
from app.tokens.errors import StorePasswordIncorrect, TokenError
from app.tokens.signer import CardSigner

EXIT_OK, EXIT_CONNECTION, EXIT_CERTIFICATE = 0, 1, 2


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's options."""
    parser.add_argument("url", help="https:// URL to GET (e.g. the API endpoint)")
    parser.add_argument("--cert", metavar="URI|PATH",
                        help="client certificate: an RFC 7512 pkcs11: URI (card) or a PKCS#12/PEM file; "
                             "without it, connect with no client certificate")
    parser.add_argument("--module", metavar="PATH",
                        help="the PKCS#11 module of the card (default: discovered)")
    parser.add_argument("--ca-file", metavar="F",
                        help="extra trusted CA certificates (PEM), e.g. the sandbox's")
    parser.add_argument("--pin-stdin", action="store_true",
                        help="read the PIN / file password from standard input (one line each)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds (default 15)")


class _Secrets:
    """PINs and passwords from the terminal or from stdin; never echoed."""

    def __init__(self, from_stdin: bool, stdin: TextIO, err: TextIO) -> None:
        self.from_stdin = from_stdin
        self.stdin = stdin
        self.err = err

    def ask(self, prompt: str) -> str | None:
        if self.from_stdin:
            line = self.stdin.readline()
            return line.rstrip("\r\n") if line else None
        try:
            return getpass.getpass(prompt, stream=self.err) or None
        except (EOFError, OSError):
            return None


def _open_signer(args: argparse.Namespace, secrets: _Secrets) -> Any:
    from app.tokens.uri import is_pkcs11_uri

    if is_pkcs11_uri(args.cert):
        return _open_card(args, secrets)
    from app.tokens.filestore import open_file_signer

    try:
        return open_file_signer(args.cert)
    except StorePasswordIncorrect:
        password = secrets.ask(f"Password of {args.cert}: ")
        if password is None:
            raise
        return open_file_signer(args.cert, password)


def _open_card(args: argparse.Namespace, secrets: _Secrets) -> Any:
    from app.cli.login import PinSource
    from app.tokens.card import open_card_signer
    from app.tokens.errors import KeyNotFound, ModuleLoadFailed, TokenNotPresent
    from app.tokens.modules import module_paths

    pins = PinSource(from_stdin=secrets.from_stdin, stdin=secrets.stdin, err=secrets.err)
    modules = [args.module] if args.module else module_paths()
    if not modules:
        raise TokenNotPresent("No PKCS#11 module was found: give one with --module PATH.")
    last: TokenError | None = None
    for path in modules:
        try:
            return open_card_signer(path, args.cert, pins)
        except (TokenNotPresent, KeyNotFound, ModuleLoadFailed) as e:
            last = e  # maybe on another module's card
    assert last is not None
    raise last


def _plain(info: Any, status: int | None, url: str) -> str:
    lines = [f"Connected to {info.host}:{info.port} ({url})",
             f"  TLS:          {info.tls_version}, {info.cipher}"
             + (f", key exchange {info.key_exchange}" if info.key_exchange else ""),
             f"  Resumed:      {'yes' if info.resumed else 'no'}"]
    if info.client_cert_subject:
        how = f", signed with {info.signature_scheme}" if info.signature_scheme else ""
        lines.append(f"  Client cert:  {info.client_cert_subject}{how}")
    else:
        lines.append("  Client cert:  none sent")
    if info.note:
        lines.append(f"  Note:         {info.note}")
    lines += [f"  Server cert:  {info.server_cert_subject}",
              f"  Issued by:    {info.server_cert_issuer}",
              f"  Valid until:  {info.server_cert_not_after:%Y-%m-%d %H:%M} UTC",
              f"  HTTP status:  {status}"]
    return "\n".join(lines)


def run(args: argparse.Namespace, *, stdin: TextIO | None = None, out: TextIO | None = None,
        err: TextIO | None = None) -> int:
    """Run the check; returns the exit code."""
    from app.session.tls import TrustConfig, make_session

    stdin, out, err = stdin or sys.stdin, out or sys.stdout, err or sys.stderr
    secrets = _Secrets(args.pin_stdin, stdin, err)

    def fail(code: int, e: BaseException) -> int:
        if args.json:
            print(json.dumps({"ok": False, "error": type(e).__name__, "message": str(e)}), file=out)
        else:
            print(f"tls-check: {e}", file=err)
        return code

    if not args.url.lower().startswith("https://"):
        return fail(EXIT_CERTIFICATE, ValueError(f"{args.url} is not an https:// URL"))
    signer = None
    try:
        if args.cert:
            signer = _open_signer(args, secrets)
        session = make_session(signer, TrustConfig(args.ca_file), timeout=args.timeout)
    except (TokenError, SessionError, ValueError, OSError) as e:
        return fail(EXIT_CERTIFICATE, e)
    try:
        with session:
            try:
                response = session.get(args.url, allow_redirects=False)
                status: int | None = response.status_code
            except (TokenError, SessionError) as e:
                return fail(EXIT_CONNECTION, e)
            info = session.connection_info
    finally:
        if isinstance(signer, CardSigner):
            signer.close()
    if info is None:  # cannot happen after a response over https
        return fail(EXIT_CONNECTION, RuntimeError("no TLS connection was made"))
    if args.json:
        doc = {"ok": True, **info.to_json(), "http_status": status}
        print(json.dumps(doc), file=out)
    else:
        print(_plain(info, status, args.url), file=out)
    return EXIT_OK
