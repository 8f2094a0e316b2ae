"""The PC/SC rig, test side: a private pcscd with vpcd readers and emulated PIV cards (TESTING.md s. 7).

    rig = PcscRig(workdir); rig.start()          # pcscd in its own network + mount namespace
    card = rig.new_card("alice", ca)             # keys + certificates for 9A/9C/9D/9E, issued by `ca`
    rig.insert(card, reader=0); rig.remove(0)    # vpcd connection made / closed (pcscd sees it <= 400 ms)
    rig.apdu_count(card)                         # every APDU the card answered so far
    rig.set_readers(2)                           # 2 reader.conf entries = 4 readers (pcscd restarts)

The test process (and every child, e.g. pkcs11-tool) reaches the private pcscd through
PCSCLITE_CSOCK_NAME: the client library reads it ONCE per process (at its first SCardEstablishContext,
which any test scanning the default modules may trigger through OpenSC), so `claim_socket_name()` sets
it as early as possible to a path of ours, and `start()` makes that path a symlink to
/proc/HOSTPID/root/run/pcscd/pcscd.comm. Before the rig starts, PC/SC clients see no service.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.sandbox.pki import CertificateAuthority, new_key
from tests.rigs.pcsc.pcsclite import PcscClient
from tests.rigs.pcsc.piv import make_spec

ROOT = Path(__file__).resolve().parents[3]
OPENSC_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib64/opensc-pkcs11.so",
    "/usr/lib/opensc-pkcs11.so",
)
VPCD_LIB = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
SLOT_KINDS = {"9A": "rsa2048", "9C": "p256", "9D": "p384", "9E": "p256"}


def claim_socket_name() -> str:
    """Point this process's PC/SC clients at the rig (before anything loads libpcsclite)."""
    name = os.environ.get("PCSCLITE_CSOCK_NAME", "")
    if not name.endswith("/otl-pcsc.comm"):
        name = os.path.join(tempfile.mkdtemp(prefix="otl-pcsc-"), "otl-pcsc.comm")
        os.environ["PCSCLITE_CSOCK_NAME"] = name
    return name


def find_opensc() -> str | None:
    """Path of opensc-pkcs11.so, or None."""
    return next((p for p in OPENSC_CANDIDATES if os.path.exists(p)), None)


def unavailable_reason() -> str | None:
    """Why this machine cannot run the rig (None when it can)."""
    missing = [name for name, ok in (
        ("pcscd", shutil.which("pcscd")), ("vsmartcard-vpcd", os.path.exists(VPCD_LIB)),
        ("opensc-pkcs11", find_opensc()), ("unshare", shutil.which("unshare")),
        ("iproute2", shutil.which("ip")),
    ) if not ok]
    if missing:
        return f"the PC/SC rig needs {', '.join(missing)} (scripts/setup.sh installs them)"
    probe = ["unshare", "-m", "-n", "true"] if os.geteuid() == 0 else ["unshare", "-r", "-m", "-n", "true"]
    if subprocess.run(probe, capture_output=True).returncode != 0:
        return "this machine does not allow private network/mount namespaces (unshare -m -n)"
    return None


@dataclass
class RigCard:
    """One emulated card as the tests know it: its id on the rig, serial, PIN, certificates."""

    name: str
    serial: str  # what OpenSC reports: the CHUID GUID in hex
    pin: str
    certs: dict[str, Any] = field(default_factory=dict)  # slot -> cryptography x509.Certificate
    fingerprints: dict[str, str] = field(default_factory=dict)  # slot -> SHA-256 hex of the DER


class PcscRig:
    """A private pcscd + vpcd readers + PIV cards, controlled through the host process."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._file: Any = None
        self.cards: dict[str, RigCard] = {}
        self.module_path = find_opensc() or ""
        self.entries = 1
        self.ca: CertificateAuthority | None = None

    def start(self, timeout: float = 20.0) -> None:
        """Start the host (and pcscd) in a private namespace and point this process's PC/SC at it."""
        prefix = ["unshare", "-m", "-n"] if os.geteuid() == 0 else ["unshare", "-r", "-m", "-n"]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        log = open(self.workdir / "host.log", "ab")  # noqa: SIM115 - the child keeps it
        cmd = [*prefix, sys.executable, "-m", "tests.rigs.pcsc.host", str(self.workdir)]
        self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log, cwd=ROOT)
        ready = self.workdir / "ready"
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = (self.workdir / "host.log").read_text()[-2000:]
                raise RuntimeError(f"the PC/SC rig did not start: {tail}")
            time.sleep(0.05)
        self._sock = socket.socket(socket.AF_UNIX)
        self._sock.connect(str(self.workdir / "control.sock"))
        self._file = self._sock.makefile("rwb")
        link = claim_socket_name()
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(self.socket_name, link)

    @property
    def socket_name(self) -> str:
        """PCSCLITE_CSOCK_NAME for clients of this rig's pcscd."""
        assert self.proc is not None
        return f"/proc/{self.proc.pid}/root/run/pcscd/pcscd.comm"

    def _call(self, **req: Any) -> dict[str, Any]:
        self._file.write(json.dumps(req).encode() + b"\n")
        self._file.flush()
        out: dict[str, Any] = json.loads(self._file.readline())
        if not out.get("ok"):
            raise RuntimeError(f"rig: {req.get('op')}: {out.get('error')}")
        return out

    def stop(self) -> None:
        """Stop pcscd and the host (cards removed)."""
        if self.proc is None:
            return
        try:
            if self._file is not None:
                self._call(op="stop")
        except (OSError, ValueError, RuntimeError):
            pass
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self._sock is not None:
            self._sock.close()
        self.proc = None

    # -- cards -------------------------------------------------------------------------------

    def new_card(self, name: str, ca: CertificateAuthority, *, pin: str = "123456", tries: int = 3,
                 kinds: dict[str, str] | None = None) -> RigCard:
        """A new card with a key and a certificate (issued by `ca`) in each PIV slot of `kinds`."""
        import hashlib

        from cryptography.hazmat.primitives import serialization

        guid = hashlib.sha256(name.encode()).digest()[:16]
        material = {}
        card = RigCard(name, guid.hex()[16:], pin)  # OpenSC 0.23 shows the last 8 bytes of the GUID
        for slot, kind in (kinds or SLOT_KINDS).items():
            key = new_key(kind)
            cert = ca.issue_client(f"{name} {slot}", public_key=key.public_key()).certificate
            material[slot] = (key, cert)
            card.certs[slot] = cert
            der = cert.public_bytes(serialization.Encoding.DER)
            card.fingerprints[slot] = hashlib.sha256(der).hexdigest()
        spec = self.workdir / f"card-{name}.json"
        spec.write_text(json.dumps(make_spec(guid, pin, material, tries=tries)))
        spec.chmod(0o600)
        self._call(op="load", card=name, spec=str(spec))
        self.cards[name] = card
        return card

    def insert(self, card: RigCard, reader: int = 0, *, wait: bool = True) -> None:
        """Put the card in a reader; with `wait`, return once pcscd sees it (its poll is 400 ms)."""
        self._call(op="insert", reader=reader, card=card.name)
        if wait:
            wait_until(lambda: self.card_present(reader), what=f"pcscd seeing the card in reader {reader}")

    def remove(self, reader: int = 0, *, wait: bool = False) -> None:
        """Pull the card out of a reader; with `wait`, return once pcscd sees it gone."""
        self._call(op="remove", reader=reader)
        if wait:
            wait_until(lambda: not self.card_present(reader), what=f"pcscd seeing reader {reader} empty")

    def reader_names(self) -> list[str]:
        """The readers pcscd has now, in its order (reader index -> name)."""
        client = PcscClient()
        try:
            return client.readers()
        finally:
            client.close()

    def card_present(self, reader: int) -> bool:
        """Whether pcscd sees a card in the reader now (a bare PC/SC status call, no APDU)."""
        client = PcscClient()
        try:
            names = client.readers()
            return reader < len(names) and client.present(names[reader])
        finally:
            client.close()

    def apdu_log(self, card: RigCard) -> list[tuple[float, str]]:
        """Every APDU the card answered: (time.monotonic() in the host, CLA INS P1 P2 hex)."""
        return [(t, h) for t, h in self._call(op="apdus", card=card.name)["log"]]

    def apdu_count(self, card: RigCard) -> int:
        """How many APDUs the card answered so far."""
        return len(self.apdu_log(card))

    def tries(self, card: RigCard) -> int:
        """The PIN tries left on the card now."""
        return int(self._call(op="state", card=card.name)["tries"])

    def set_tries(self, card: RigCard, n: int) -> None:
        """Set the PIN tries left (0 = blocked)."""
        self._call(op="tries", card=card.name, n=n)

    def set_readers(self, entries: int) -> None:
        """Plug/unplug vpcd readers: `entries` reader.conf entries (two readers each); pcscd restarts."""
        self._call(op="entries", n=entries)
        self.entries = entries

    def set_readers_if(self, entries: int) -> None:
        """set_readers only when the count differs (a pcscd restart is a removal for every client)."""
        if self.entries != entries:
            self.set_readers(entries)


def wait_until(predicate: Any, timeout: float = 15.0, what: str = "the condition") -> Any:
    """Poll `predicate` until it returns something truthy (pcscd polls vpcd every 400 ms)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)


def idle_apdus(rig: PcscRig, card: RigCard, seconds: float) -> int:
    """APDUs the card answers over `seconds` of idleness, counted once the traffic of what came before
    (a login, an insertion seen by the watch) has died down: at most 10 s for 0.5 s of silence."""
    deadline = time.monotonic() + 10
    last = rig.apdu_count(card)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = rig.apdu_count(card)
        if now == last:
            break
        last = now
    time.sleep(seconds)  # the idle period being counted (not a wait for a result)
    return rig.apdu_count(card) - last
