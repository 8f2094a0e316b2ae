"""`osc-trusted-login exec [login options] -- COMMAND [ARGS...]`: run an OUTSCALE tool through the
trusted session's local API agent.

With a running session of this user (window or headless), COMMAND gets its agent; otherwise this logs
in headless first (the same options as `login --headless`: PIN on the terminal or --pin-stdin) and
logs out when COMMAND exits. COMMAND runs with OSC_ENDPOINT_API, OSC_ACCESS_KEY, OSC_SECRET_KEY and
OSC_REGION set for the agent, OSC_CONFIG_FILE / OSC_PROFILE naming a per-session profile that agrees
(osc-sdk-python would otherwise let the user's own `default` profile override the variables), and the
OSC_X509_* and login variables removed. Exit status: COMMAND's (128+N when a signal N ended it; 127 when
it cannot be started); 1 when the login failed, 2 on a usage error. Ctrl-C reaches COMMAND (same process
group); this process waits for it, then logs out.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from typing import Any, TextIO

from app.cli import login as login_cli
from app.session.agent.runtime import (
    AgentInfo,
    RuntimeFileRejected,
    child_environment,
    read_runtime,
    runtime_dir,
)

EXIT_NOT_FOUND = 127


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of the `exec` command: the login options, then -- COMMAND [ARGS...]."""
    login_cli.configure(parser)
    # dest "argv": "command" is the name of the chosen sub-command in app/__main__.py
    parser.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- COMMAND [ARGS...]",
                        help="the command to run and its arguments")


def run(args: argparse.Namespace, *, env: dict[str, str] | None = None, stdin: TextIO | None = None,
        err: TextIO | None = None) -> int:
    """Run COMMAND through the running session's agent, or through a headless session of its own."""
    env = dict(os.environ if env is None else env)
    err = err or sys.stderr
    command = list(args.argv or [])
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        print("exec: give the command to run after --, e.g. exec -- osc-cli api ReadVms", file=err)
        return login_cli.EXIT_USAGE
    try:
        info = read_runtime(runtime_dir(env))
    except (RuntimeFileRejected, OSError) as e:
        print(f"exec: the session's runtime file was not used: {e}", file=err)
        return login_cli.EXIT_USAGE
    if info is not None:
        return run_child(command, info, env, err)
    return _with_own_session(args, command, env, stdin or sys.stdin, err)


def _with_own_session(args: argparse.Namespace, command: list[str], env: dict[str, str], stdin: TextIO,
                      err: TextIO) -> int:
    """Log in headless, run COMMAND through this session's agent, log out."""
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=err,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        request = login_cli.build_request(
            args, env, prompt=login_cli._secret_prompt(args, err),
            warn=lambda text: print(f"warning: {text}", file=err, flush=True),
            read_line=lambda: stdin.readline().rstrip("\r\n"))
    except Exception as e:  # UsageError, a broken profile: say which, plainly
        print(f"exec: {e}", file=err)
        return login_cli.EXIT_USAGE
    from app.session.lifecycle import SessionSettings, TrustedSession

    printer = login_cli.Printer(err, as_json=args.json)  # stdout is COMMAND's
    pins = login_cli.PinSource(from_stdin=args.pin_stdin, stdin=stdin, err=err)
    session = TrustedSession(request, pin_callback=pins, on_event=printer, settings=SessionSettings())
    try:
        info = session.login()
    except KeyboardInterrupt:
        session.logout()
        session.wait_ended(30)
        return 130
    except Exception as e:
        session.wait_ended(30)
        print(f"exec: login failed: {e}", file=err)
        return login_cli.EXIT_LOGIN_FAILED
    handle: Any = None
    try:
        args.no_agent = False  # exec exists for the agent
        handle = login_cli.start_agent(session, info, args, err, env)
        if handle is None:
            return login_cli.EXIT_ERROR
        return run_child(command, handle.info, env, err)
    finally:
        session.logout()
        session.wait_ended(60)
        if handle is not None:
            handle.close()


def run_child(command: list[str], info: AgentInfo, env: Mapping[str, str], err: TextIO) -> int:
    """Run COMMAND with the agent's variables; its exit status (128+N for a signal N)."""
    in_main = threading.current_thread() is threading.main_thread()
    children: list[subprocess.Popen[bytes]] = []
    old: dict[int, Any] = {}
    if in_main:
        # Ctrl-C reaches COMMAND from the terminal (same process group): this process waits for it to
        # finish, then logs out. A SIGTERM sent to this process alone is passed on to COMMAND.
        # Installed before COMMAND starts (a Ctrl-C in between must not end this process first), as
        # handlers, not SIG_IGN: a handler is reset to the default in the child, an ignored signal
        # would stay ignored there (and a shell could not even trap it).
        old[signal.SIGINT] = signal.signal(signal.SIGINT, lambda s, f: None)
        old[signal.SIGTERM] = signal.signal(
            signal.SIGTERM, lambda s, f: [c.send_signal(signal.SIGTERM) for c in children])
    try:
        try:
            proc = subprocess.Popen(command, env=child_environment(info, env))
        except OSError as e:
            print(f"exec: {command[0]}: {e.strerror or e}", file=err)
            return EXIT_NOT_FOUND
        children.append(proc)
        rc = proc.wait()
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    return rc if rc >= 0 else 128 - rc
