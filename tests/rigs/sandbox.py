"""Pytest fixtures and helpers that run the sandbox OUTSCALE API, in-process or as a subprocess.

Use from a test module (fixtures are plain imports; no conftest change needed)::

    from tests.rigs.sandbox import (  # noqa: F401 - fixtures (and the one `sandbox` depends on)
        _shared_server_pki, client_pki, sandbox, sandbox_http, sandbox_info)

(and ``# ruff: noqa: F811`` at the top of the module, since the fixtures reappear as arguments.)

- ``client_pki`` (session): a client CA and client certificates written to files (EC P-256; RSA
  for "bob"): ``.ca_pem``, ``.cert("alice")`` -> (cert_file, key_file), ``.other_ca_pem`` (a second
  CA, also known to the sandbox in tests that upload it), ``.issued[...]``.
- ``sandbox`` (function): a started ``app.sandbox.Sandbox`` on 127.0.0.1, port 0, fresh state in a
  temporary folder (the server PKI is copied from a session-wide one, so starting costs ~15 ms).
- ``sandbox_info``: its SandboxInfo (endpoint, ca_file, demo login/password/access_key/secret_key).
- ``sandbox_http``: a ``requests.Session`` trusting the sandbox CA (no client certificate).
- ``make_sandbox(tmp_path, **kw)``: build (not start) a Sandbox with the shared PKI.
- ``run_sandbox_process(state_dir, *args)``: context manager running ``python -m app.sandbox --json``
  and yielding the decoded start line.

Beware: ``requests`` lets ``REQUESTS_CA_BUNDLE`` (set on these machines) override a session-level
``verify``; pass ``verify=`` per request, or use ``OutscaleClient`` (which does).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from app.sandbox.pki import CertificateAuthority, Issued
from app.sandbox.server import Sandbox, SandboxInfo, ensure_server_pki

ROOT = Path(__file__).resolve().parents[2]
_HOSTS = ["localhost", "127.0.0.1", "::1"]


@dataclass
class ClientPki:
    """Client-side test PKI written to `folder`."""

    folder: Path
    ca: CertificateAuthority
    other_ca: CertificateAuthority
    issued: dict[str, Issued] = field(default_factory=dict)

    @property
    def ca_pem(self) -> bytes:
        return self.ca.cert_pem()

    @property
    def other_ca_pem(self) -> bytes:
        return self.other_ca.cert_pem()

    def cert(self, name: str) -> tuple[str, str]:
        """(certificate file, key file) for a client name issued at set-up."""
        return str(self.folder / f"{name}.pem"), str(self.folder / f"{name}.key")


def build_client_pki(folder: Path) -> ClientPki:
    folder.mkdir(parents=True, exist_ok=True)
    pki = ClientPki(
        folder, CertificateAuthority("Sandbox test client CA"), CertificateAuthority("Another client CA")
    )
    for name, ca, kind in [
        ("alice", pki.ca, "p256"),
        ("bob", pki.ca, "rsa2048"),
        ("mallory", pki.other_ca, "p256"),
    ]:
        issued = ca.issue_client(name, key_kind=kind)
        issued.write(folder / f"{name}.pem", folder / f"{name}.key")
        pki.issued[name] = issued
    (folder / "ca.pem").write_bytes(pki.ca_pem)
    (folder / "other-ca.pem").write_bytes(pki.other_ca_pem)
    return pki


@pytest.fixture(scope="session")
def client_pki(tmp_path_factory: pytest.TempPathFactory) -> ClientPki:
    """Client CA + certificates alice (EC), bob (RSA) from one CA, mallory from another."""
    return build_client_pki(tmp_path_factory.mktemp("client-pki"))


@pytest.fixture(scope="session")
def _shared_server_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    state = tmp_path_factory.mktemp("sandbox-pki")
    ensure_server_pki(state, _HOSTS)
    return state / "pki"


def make_sandbox(state_dir: Path, pki_dir: Path | None = None, **kwargs: Any) -> Sandbox:
    """A Sandbox (not started) whose state folder reuses an existing server PKI when given."""
    state_dir.mkdir(parents=True, exist_ok=True)
    if pki_dir is not None and not (state_dir / "pki").exists():
        shutil.copytree(pki_dir, state_dir / "pki")
    return Sandbox(state_dir, **kwargs)


@pytest.fixture
def sandbox(tmp_path: Path, _shared_server_pki: Path) -> Iterator[Sandbox]:
    """A started sandbox with fresh state (stopped after the test)."""
    sb = make_sandbox(tmp_path / "sandbox", _shared_server_pki)
    sb.start()
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture
def sandbox_info(sandbox: Sandbox) -> SandboxInfo:
    assert sandbox.info is not None
    return sandbox.info


@pytest.fixture
def sandbox_http(sandbox_info: SandboxInfo) -> Iterator[requests.Session]:
    """A requests.Session that trusts the sandbox's server CA."""
    s = requests.Session()
    s.verify = sandbox_info.ca_file
    try:
        yield s
    finally:
        s.close()


@contextlib.contextmanager
def run_sandbox_process(state_dir: Path, *args: str, timeout: float = 30.0) -> Iterator[dict[str, Any]]:
    """Run ``python -m app.sandbox --json --state DIR ARGS`` and yield its start line (decoded)."""
    cmd = [sys.executable, "-m", "app.sandbox", "--json", "--state", str(state_dir), *args]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            err = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"the sandbox did not start: {err}")
        yield json.loads(line)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
