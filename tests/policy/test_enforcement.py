"""Each policy rule enforced in the core, by the real `login --headless` against the sandbox, with the
policy in real files (OTL_POLICY_ROOT): cards only, the module list (a real library that leaves a
mark when loaded), fixed endpoints against --endpoint / OSC_ENDPOINT_API / a profile, the grace
shortened but never lengthened, a broken and a user-writable policy file, issuers, the agent."""

# ruff: noqa: F811
from __future__ import annotations

import hashlib
import json
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from app.sandbox.server import Sandbox
from tests.policy.conftest import cli_env, run_cli, write_policy
from tests.rigs.sandbox import ClientPki, _shared_server_pki, client_pki, make_sandbox  # noqa: F401

NOT_ALLOWED = "not allowed by your organisation"
CONSTRUCTOR_C = r"""
#include <stdio.h>
#include <stdlib.h>
__attribute__((constructor)) static void mark(void) {
    const char *p = getenv("POLICY_MARK");
    if (p) { FILE *f = fopen(p, "w"); if (f) { fputs("loaded\n", f); fclose(f); } }
}
"""


@pytest.fixture(scope="module")
def api(
    tmp_path_factory: pytest.TempPathFactory, _shared_server_pki: Path, client_pki: ClientPki
) -> Iterator[Sandbox]:
    sb = make_sandbox(
        tmp_path_factory.mktemp("policy-sandbox"), _shared_server_pki, client_ca_pem=client_pki.ca_pem
    )
    sb.start()
    yield sb
    sb.stop()


@pytest.fixture(scope="module")
def key_file(client_pki: ClientPki) -> str:
    """alice's certificate and key in one PEM file (a key in a file)."""
    cert, key = client_pki.cert("alice")
    both = Path(cert).with_name("alice-both.pem")
    both.write_bytes(Path(cert).read_bytes() + Path(key).read_bytes())
    return str(both)


@pytest.fixture(scope="module")
def marking_module(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A shared library whose constructor writes $POLICY_MARK: loading it is visible."""
    folder = tmp_path_factory.mktemp("native")
    (folder / "mark.c").write_text(CONSTRUCTOR_C)
    out = folder / "libmark-pkcs11.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(out), str(folder / "mark.c")], check=True)
    return out


def _env(tmp_path: Path, root: Path | None, api: Sandbox, **extra: str) -> dict[str, str]:
    assert api.info is not None
    return cli_env(tmp_path / "home", root, OSC_LOGIN=api.info.login, OSC_PASSWORD=api.info.password, **extra)


def _login_args(api: Sandbox, key_file: str, *extra: str, endpoint: bool = True) -> list[str]:
    assert api.info is not None
    where = ["--endpoint", api.info.endpoint, "--region", api.info.region] if endpoint else []
    return [
        "login",
        "--headless",
        "--json",
        "--no-agent",
        "--cert",
        key_file,
        "--ca-file",
        api.info.ca_file,
        *where,
        *extra,
    ]


def _until_active(args: list[str], env: dict[str, str], wait_for: str | None = None) -> dict[str, Any]:
    """Run the login until its ACTIVE state line, log out with Ctrl-C; the ACTIVE event, with the
    command's stderr under "_stderr" (read once it shows `wait_for`)."""
    err_path = Path(env["HOME"]) / "stderr.log"
    with err_path.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", *args],
            cwd=env["HOME"],
            env=env,
            text=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
        )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    active: dict[str, Any] | None = None
    try:
        while active is None:
            line = lines.get(timeout=60)
            if line is None:
                raise AssertionError(f"ended before ACTIVE ({proc.wait(10)}): {err_path.read_text()}")
            event = json.loads(line)
            if event.get("event") == "state" and event.get("state") == "active":
                active = event
        while wait_for and wait_for not in err_path.read_text() and proc.poll() is None:
            threading.Event().wait(0.05)  # the agent's line comes just after ACTIVE (not a timing assertion)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    active["_stderr"] = err_path.read_text()
    return active


# -- certificate sources ------------------------------------------------------------------------------


def test_a_file_key_is_refused_under_cards_only(
    tmp_path: Path, policy_root: Path, api: Sandbox, key_file: str
) -> None:
    write_policy(
        policy_root,
        {
            "version": 1,
            "certificate_sources": ["card"],
            "support": {"text": "Call the service desk, ext. 4242"},
        },
    )
    calls_before = len(api.state.call_log) if hasattr(api.state, "call_log") else None
    ran = run_cli(*_login_args(api, key_file), env=_env(tmp_path, policy_root, api))
    assert ran.returncode == 1, ran.stderr
    assert f"Keys in files are {NOT_ALLOWED}" in ran.stderr and "ext. 4242" in ran.stderr
    if calls_before is not None:
        assert len(api.state.call_log) == calls_before  # refused before any call


def test_the_same_file_key_logs_in_with_card_and_file(
    tmp_path: Path, policy_root: Path, api: Sandbox, key_file: str
) -> None:
    write_policy(policy_root, {"certificate_sources": ["card", "file"]})
    event = _until_active(_login_args(api, key_file), _env(tmp_path, policy_root, api))
    assert event["grace_seconds"] == 300


# -- grace ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "flag", "grace"),
    [
        ({"max_grace_seconds": 120}, None, 120),  # shortened
        ({"max_grace_seconds": 99999}, None, 300),  # never lengthened past the API's 5 minutes
        ({"max_grace_seconds": 120}, "30", 30),  # the user may shorten it further
        ({"max_grace_seconds": 120}, "200", 120),  # ...but not lengthen the organisation's
        ({"end_on_removal": True}, None, 0),  # ends the moment the card leaves
    ],
)
def test_the_grace_is_shortened_never_lengthened(
    tmp_path: Path,
    policy_root: Path,
    api: Sandbox,
    key_file: str,
    policy: dict[str, Any],
    flag: str | None,
    grace: float,
) -> None:
    write_policy(policy_root, policy)
    extra = ["--grace-seconds", flag] if flag else []
    event = _until_active(_login_args(api, key_file, *extra), _env(tmp_path, policy_root, api))
    assert event["grace_seconds"] == grace


# -- endpoints ------------------------------------------------------------------------------------------


def _fixed(api: Sandbox) -> dict[str, Any]:
    assert api.info is not None
    return {"endpoints": {"fixed": [{"region": api.info.region, "api": api.info.endpoint}]}}


@pytest.mark.parametrize("how", ["--endpoint", "OSC_ENDPOINT_API", "profile"])
def test_a_fixed_endpoint_cannot_be_overridden(
    tmp_path: Path, policy_root: Path, api: Sandbox, key_file: str, how: str
) -> None:
    write_policy(policy_root, _fixed(api))
    elsewhere = "https://127.0.0.1:9/api/v1"
    env = _env(tmp_path, policy_root, api)
    args = _login_args(api, key_file, endpoint=False)
    if how == "--endpoint":
        args += ["--endpoint", elsewhere]
    elif how == "OSC_ENDPOINT_API":
        env["OSC_ENDPOINT_API"] = elsewhere
    else:
        osc = Path(env["HOME"]) / ".osc"
        osc.mkdir(mode=0o700)
        (osc / "config.json").write_text(json.dumps({"default": {"endpoints": {"api": elsewhere}}}))
        (osc / "config.json").chmod(0o600)
        env["OSC_CONFIG_FILE"] = str(osc / "config.json")
    ran = run_cli(*args, env=env)
    assert ran.returncode == 1, ran.stderr
    assert f"The endpoint {elsewhere} is {NOT_ALLOWED}" in ran.stderr


def test_a_fixed_endpoint_is_used_when_none_is_given(
    tmp_path: Path, policy_root: Path, api: Sandbox, key_file: str
) -> None:
    write_policy(policy_root, _fixed(api))
    event = _until_active(_login_args(api, key_file, endpoint=False), _env(tmp_path, policy_root, api))
    assert event["state"] == "active"


# -- PKCS#11 modules -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("user_may_add", "loaded"), [(False, False), (True, True)])
def test_a_module_outside_the_list_is_not_loaded(
    tmp_path: Path, policy_root: Path, api: Sandbox, marking_module: Path, user_may_add: bool, loaded: bool
) -> None:
    write_policy(
        policy_root,
        {"pkcs11_modules": {"allowed": ["/usr/lib/*/opensc-pkcs11.so"], "user_may_add": user_may_add}},
    )
    mark = tmp_path / "mark"
    env = _env(tmp_path, policy_root, api, POLICY_MARK=str(mark))
    ran = run_cli(
        "login",
        "--headless",
        "--pin-stdin",
        "--cert",
        "pkcs11:token=Any;object=x;type=cert",
        "--module",
        str(marking_module),
        "--endpoint",
        "https://127.0.0.1:9/api/v1",
        env=env,
        stdin="1234\n",
    )
    assert ran.returncode == 1
    assert mark.exists() is loaded  # the library's code ran only when the policy let the user add it
    assert (NOT_ALLOWED in ran.stderr) is not loaded, ran.stderr


def test_a_module_uri_is_held_to_the_list_too(
    tmp_path: Path, policy_root: Path, api: Sandbox, marking_module: Path
) -> None:
    write_policy(policy_root, {"pkcs11_modules": {"allowed": ["/usr/lib/*/opensc-pkcs11.so"]}})
    mark = tmp_path / "mark"
    env = _env(tmp_path, policy_root, api, POLICY_MARK=str(mark), OTL_PKCS11_MODULE=str(marking_module))
    ran = run_cli("certs", "--json", env=env)
    assert not mark.exists(), ran.stdout + ran.stderr


# -- broken or untrusted policy ------------------------------------------------------------------------


def test_a_broken_policy_blocks_login_and_explains(
    tmp_path: Path, policy_root: Path, api: Sandbox, key_file: str
) -> None:
    write_policy(policy_root, {"support": {"url": "https://intranet.example/help"}})
    write_policy(policy_root, "{ not json", "policy.d/10-broken.json")
    env = _env(tmp_path, policy_root, api)
    shown = run_cli("policy", env=env)
    assert shown.returncode == 1 and "10-broken.json cannot be parsed" in shown.stdout
    assert "Login: BLOCKED" in shown.stdout and "https://intranet.example/help" in shown.stdout
    ran = run_cli(*_login_args(api, key_file), env=env)
    assert ran.returncode == 1 and "logging in is blocked" in ran.stderr
    assert "https://intranet.example/help" in ran.stderr


def test_a_user_writable_policy_is_refused(
    tmp_path: Path, policy_root: Path, api: Sandbox, key_file: str
) -> None:
    path = write_policy(policy_root, {"certificate_sources": ["card", "file"]})
    path.chmod(0o666)
    env = _env(tmp_path, policy_root, api)
    shown = json.loads(run_cli("policy", "--json", env=env).stdout)
    assert "can be written by other users" in shown["login_blocked"] and shown["policy"] == {}
    ran = run_cli(*_login_args(api, key_file), env=env)
    assert ran.returncode == 1 and "can be written by other users" in ran.stderr


def test_policy_command_shows_values_and_origins(tmp_path: Path, policy_root: Path, api: Sandbox) -> None:
    main = write_policy(policy_root, {"version": 1, "remember_me": False, "max_grace_seconds": 200, "x": 1})
    later = write_policy(policy_root, {"max_grace_seconds": 60}, "policy.d/50-site.json")
    env = _env(tmp_path, policy_root, api)
    shown = json.loads(run_cli("policy", "--json", env=env).stdout)
    assert shown["policy"] == {"version": 1, "remember_me": False, "max_grace_seconds": 60}
    assert shown["origins"]["max_grace_seconds"] == str(later) and shown["origins"]["remember_me"] == str(
        main
    )
    assert shown["unknown_keys"] == [f"{main}: x"] and shown["login_blocked"] is None
    plain = run_cli("policy", env=env)
    assert plain.returncode == 0 and f"max_grace_seconds = 60.0    (from {later})" in plain.stdout


def test_no_policy_changes_nothing(tmp_path: Path, api: Sandbox, key_file: str) -> None:
    shown = run_cli("policy", env=_env(tmp_path, tmp_path / "empty-root", api))
    assert shown.returncode == 0 and "No managed policy" in shown.stdout


# -- issuers -------------------------------------------------------------------------------------------


def _sha(pem: bytes) -> str:
    return hashlib.sha256(x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)).hexdigest()


@pytest.mark.parametrize("allowed", [False, True])
def test_certificates_of_other_issuers_are_refused(
    tmp_path: Path, policy_root: Path, api: Sandbox, key_file: str, client_pki: ClientPki, allowed: bool
) -> None:
    ca_file = client_pki.folder / "ca.pem"  # the issuing CA, where the organisation deploys it
    issuer = client_pki.ca_pem if allowed else client_pki.other_ca_pem
    write_policy(policy_root, {"allowed_issuers_sha256": [_sha(issuer)], "extra_ca_file": str(ca_file)})
    env = _env(tmp_path, policy_root, api)
    if allowed:
        assert _until_active(_login_args(api, key_file), env)["state"] == "active"
    else:
        ran = run_cli(*_login_args(api, key_file), env=env)
        assert ran.returncode == 1 and "Certificates issued by CN=Sandbox test client CA" in ran.stderr
        assert NOT_ALLOWED in ran.stderr


# -- the local agent -----------------------------------------------------------------------------------


@pytest.mark.parametrize("allowed", [False, True])
def test_the_local_agent_is_off_when_forbidden(
    tmp_path: Path, policy_root: Path, api: Sandbox, key_file: str, allowed: bool
) -> None:
    write_policy(policy_root, {"local_agent": allowed})
    args = [a for a in _login_args(api, key_file) if a != "--no-agent"]
    err = _until_active(args, _env(tmp_path, policy_root, api), wait_for="local API agent")["_stderr"]
    assert ("local API agent on" in err) is allowed, err
    assert (f"the local API agent is off: it is {NOT_ALLOWED}" in err) is not allowed, err


# -- selftest --------------------------------------------------------------------------------------------


def test_selftest_checks_the_policy(tmp_path: Path, policy_root: Path, api: Sandbox) -> None:
    env = _env(tmp_path, policy_root, api)
    write_policy(policy_root, {"remember_me": False})
    ok = run_cli("selftest", "--check", "policy", "--json", env=env)
    assert ok.returncode == 0 and "1 setting(s)" in ok.stdout, ok.stdout + ok.stderr
    write_policy(policy_root, "[1, 2", "policy.d/10.json")
    bad = run_cli("selftest", "--check", "policy", env=env)
    assert bad.returncode == 1 and "10.json cannot be parsed" in bad.stdout + bad.stderr


# -- the policy's CA file beside the operator's own --------------------------------------------------


@pytest.mark.parametrize("policy_has_the_server_ca", [True, False])
def test_the_policys_ca_file_is_trusted_beside_the_operators_own(
    tmp_path: Path, policy_root: Path, api: Sandbox, key_file: str, client_pki: ClientPki,
    policy_has_the_server_ca: bool,
) -> None:
    assert api.info is not None
    unrelated = str(client_pki.folder / "ca.pem")  # a CA that never signed the API's server certificate
    server_ca = api.info.ca_file
    policy_file, own_file = (server_ca, unrelated) if policy_has_the_server_ca else (unrelated, server_ca)
    write_policy(policy_root, {"extra_ca_file": policy_file})
    args = _login_args(api, key_file)
    args[args.index("--ca-file") + 1] = own_file
    # the operator's --ca-file used to replace the policy's: a fleet's proxy or private CA was then lost
    assert _until_active(args, _env(tmp_path, policy_root, api))["state"] == "active"


def test_trust_for_keeps_both_files_once() -> None:
    from app.policy import Policy
    from app.session.policy_gate import trust_for

    policy = Policy(values={"extra_ca_file": "/corp/proxy.pem"}, sources=("test",))
    assert trust_for("/me/ca.pem", policy).extra_ca_file == "/me/ca.pem"
    assert trust_for("/me/ca.pem", policy).more_ca_files == ("/corp/proxy.pem",)
    assert trust_for(None, policy).extra_ca_file == "/corp/proxy.pem"
    assert trust_for("/corp/proxy.pem", policy).more_ca_files == ()
    assert trust_for("/me/ca.pem", Policy()).more_ca_files == ()


@pytest.mark.parametrize("rule,refusal", [
    ({}, None),
    ({"allowed_issuers_sha256": ["own"]}, None),
    ({"allowed_issuers_sha256": ["other"]}, "not allowed by your organisation (issuer)"),
    ({"certificate_sources": ["card"]}, "not allowed by your organisation (smart cards only)"),
])
def test_certs_marks_what_the_organisation_refuses(
    tmp_path: Path, policy_root: Path, api: Sandbox, key_file: str, client_pki: ClientPki,
    rule: dict[str, Any], refusal: str | None,
) -> None:
    if "allowed_issuers_sha256" in rule:
        pem = client_pki.ca_pem if rule["allowed_issuers_sha256"] == ["own"] else client_pki.other_ca_pem
        rule = {"allowed_issuers_sha256": [_sha(pem)], "extra_ca_file": str(client_pki.folder / "ca.pem")}
    write_policy(policy_root, rule)
    env = _env(tmp_path, policy_root, api)
    listed = run_cli("certs", "--json", "--no-modules", "--store", key_file, env=env)
    assert listed.returncode == 0, listed.stderr
    (cert,) = json.loads(listed.stdout)["certificates"]
    assert cert["usable"] is True and cert.get("policy_refusal") == refusal
    table = run_cli("certs", "--no-modules", "--store", key_file, env=env).stdout
    row = next(line for line in table.splitlines() if "alice" in line)
    assert row.startswith("-" if refusal else "*") and (refusal or "usable") in row, table
