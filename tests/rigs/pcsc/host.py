"""The PC/SC rig's host process: runs INSIDE a private network + mount namespace (see rig.py).

    unshare [-r] -m -n python -m tests.rigs.pcsc.host WORKDIR

It brings the namespace's loopback up, puts a tmpfs on /run/pcscd (so the system's pcscd, if any, is
never touched), starts `pcscd -f -c WORKDIR/reader.conf.d` as its child, and serves the emulated PIV
cards to vpcd: one TCP connection per inserted card (connect = insert, close = remove). vpcd listens
on 0.0.0.0, which is why all of this lives in a network namespace of its own: nothing outside the
machine, or outside this namespace, can reach those ports.

The tests drive it through WORKDIR/control.sock (a Unix socket, one JSON object per line each way).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tests.rigs.pcsc.piv import ATR, PivCard

VPCD_LIB = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
BASE_PORT = 0x8C7B  # vpcd's default; each reader.conf entry serves two readers (port, port + 1)


def _quickack(sock: socket.socket) -> None:
    # Without it every APDU waits for the delayed ACK (~40-48 ms): vpcd writes the length and the body
    # in two send()s.
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        _quickack(sock)
        if not chunk:
            return None
        buf += chunk
    return buf


class Slot:
    """One vpcd reader: the card in it (if any) and the connection that makes it "inserted"."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.port = BASE_PORT + index
        self.card: PivCard | None = None
        self.sock: socket.socket | None = None
        self.thread: threading.Thread | None = None

    def insert(self, card: PivCard, timeout: float = 10.0) -> None:
        if self.card is card and self.sock is not None:
            return  # already in: a re-insert would be a removal the tests did not ask for
        self.remove()
        deadline = time.monotonic() + timeout
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=1.0)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)  # pcscd (re)starting: vpcd is not listening yet
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _quickack(sock)
        card.power_reset()
        self.card, self.sock = card, sock
        self.thread = threading.Thread(target=self._serve, args=(sock, card), daemon=True)
        self.thread.start()

    def remove(self) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if self.card is not None:
            self.card.power_reset()
        self.card = None

    @staticmethod
    def _serve(sock: socket.socket, card: PivCard) -> None:
        try:
            while True:
                head = _recv_exact(sock, 2)
                if head is None:
                    return
                msg = _recv_exact(sock, int.from_bytes(head, "big"))
                if msg is None:
                    return
                if len(msg) == 1:  # control: 0 power off, 1 power on, 2 reset, 4 get ATR
                    if msg[0] == 4:
                        sock.sendall(len(ATR).to_bytes(2, "big") + ATR)
                    elif msg[0] in (0, 2):
                        card.power_reset()
                    continue
                answer = card.answer(msg)
                sock.sendall(len(answer).to_bytes(2, "big") + answer)
        except OSError:
            return


class Host:
    """pcscd + the readers + the cards, driven by control commands."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.confdir = workdir / "reader.conf.d"
        self.confdir.mkdir(parents=True, exist_ok=True)
        self.cards: dict[str, PivCard] = {}
        self.slots: dict[int, Slot] = {}
        self.entries = 1
        self.pcscd: subprocess.Popen[bytes] | None = None

    def write_conf(self) -> None:
        for f in self.confdir.iterdir():
            f.unlink()
        for e in range(self.entries):
            port = BASE_PORT + 2 * e
            # vpcd keeps its readers in static variables: a second entry needs its own copy of the
            # library (another path, another instance), or both entries drive the same two readers
            lib = VPCD_LIB if e == 0 else str(self.workdir / f"libifdvpcd{e}.so")
            if e and not os.path.exists(lib):
                shutil.copy2(VPCD_LIB, lib)
            (self.confdir / f"vpcd{e}").write_text(
                f'FRIENDLYNAME "Virtual PCD {e}"\nDEVICENAME /dev/null:0x{port:04X}\n'
                f"LIBPATH {lib}\nCHANNELID 0x{port:04X}\n")

    def start_pcscd(self) -> None:
        self.write_conf()
        log = open(self.workdir / "pcscd.log", "ab")  # noqa: SIM115 - the child keeps it
        self.pcscd = subprocess.Popen(["pcscd", "-f", "-c", str(self.confdir)], stdout=log, stderr=log,
                                      preexec_fn=_die_with_parent)
        deadline = time.monotonic() + 10
        while not os.path.exists("/run/pcscd/pcscd.comm"):
            if self.pcscd.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("pcscd did not start (see pcscd.log)")
            time.sleep(0.02)

    def stop_pcscd(self) -> None:
        if self.pcscd is not None and self.pcscd.poll() is None:
            self.pcscd.terminate()
            try:
                self.pcscd.wait(10)
            except subprocess.TimeoutExpired:
                self.pcscd.kill()
                self.pcscd.wait()
        with contextlib.suppress(OSError):
            os.unlink("/run/pcscd/pcscd.comm")

    def set_entries(self, entries: int) -> None:
        """'Plug' or 'unplug' readers: pcsc-lite 1.9.9 has no hotplug for serial (vpcd) readers, so
        pcscd restarts with the new reader.conf; cards stay in the readers that still exist."""
        inserted = {i: s.card for i, s in self.slots.items() if s.card is not None}
        for s in self.slots.values():
            s.remove()
        self.stop_pcscd()
        self.entries = entries
        self.start_pcscd()
        for i, card in inserted.items():
            if i < 2 * entries:
                self.slot(i).insert(card)

    def slot(self, index: int) -> Slot:
        if index not in self.slots:
            self.slots[index] = Slot(index)
        return self.slots[index]

    def handle(self, req: dict[str, Any]) -> dict[str, Any]:
        op = req["op"]
        if op == "ping":
            return {"pid": os.getpid()}
        if op == "load":
            spec = json.loads(Path(req["spec"]).read_text())
            self.cards[req["card"]] = PivCard.from_spec(spec)
            return {}
        if op == "insert":
            self.slot(req["reader"]).insert(self.cards[req["card"]])
            return {}
        if op == "remove":
            self.slot(req["reader"]).remove()
            return {}
        if op == "apdus":
            card = self.cards[req["card"]]
            with card.lock:
                log = list(card.apdus)
            return {"log": log}
        if op == "state":
            card = self.cards[req["card"]]
            return {"tries": card.tries}
        if op == "tries":
            self.cards[req["card"]].set_tries(req["n"])
            return {}
        if op == "entries":
            self.set_entries(req["n"])
            return {}
        if op == "stop":
            return {"stop": True}
        raise ValueError(f"unknown op {op!r}")


def _die_with_parent() -> None:
    # The rig must never outlive the test process that started it (a killed pytest, a crash).
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _setup_namespace() -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    target = "/run/pcscd"
    if not os.path.isdir(target):  # no systemd: the package did not create it; hide /run instead
        target = "/run"
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", target], check=True)
    os.makedirs("/run/pcscd", exist_ok=True)


def main() -> int:
    workdir = Path(sys.argv[1])
    parent = os.getppid()
    _die_with_parent()
    if os.getppid() != parent:
        return 1
    _setup_namespace()
    host = Host(workdir)
    host.start_pcscd()
    done = threading.Event()
    lock = threading.Lock()

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            for line in self.rfile:
                try:
                    with lock:
                        out = {"ok": True, **host.handle(json.loads(line))}
                except Exception as e:  # reported to the test, which fails with it
                    out = {"ok": False, "error": f"{type(e).__name__}: {e}"}
                self.wfile.write(json.dumps(out).encode() + b"\n")
                self.wfile.flush()
                if out.get("stop"):
                    done.set()
                    return

    ctl = workdir / "control.sock"
    if ctl.exists():
        ctl.unlink()
    server = socketserver.ThreadingUnixStreamServer(str(ctl), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    (workdir / "ready").write_text(str(os.getpid()))
    done.wait()
    server.shutdown()
    for s in host.slots.values():
        s.remove()
    host.stop_pcscd()
    return 0


if __name__ == "__main__":
    sys.exit(main())
