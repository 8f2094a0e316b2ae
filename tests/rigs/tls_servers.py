"""Independent TLS peers for the mTLS tests: a Python-`ssl` HTTPS server in a thread that records the
client certificate it saw, an `openssl s_server -Verify 1 -www` runner, and a server that never answers.

Also runnable as a process (for benchmarks, so the server does not share the client's GIL):
`python -m tests.rigs.tls_servers CERT KEY CA` prints the port, then serves until stdin closes.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509


@dataclass
class SeenConnection:
    """One TLS connection as the server saw it."""

    client_subject: str | None
    version: str | None
    cipher: str | None
    resumed: bool
    error: str | None = None


@dataclass
class PythonTlsServer:
    """HTTPS/1.1 (keep-alive) on 127.0.0.1 with Python's ssl; requires a client certificate by default.

    Paths: GET /hello -> "hello"; GET /whoami -> JSON of what the server saw; GET /bytes/N -> N bytes.
    """

    cert: Path
    key: Path
    client_ca: Path | None
    require_client_cert: bool = True
    tls_max: ssl.TLSVersion | None = None
    seen: list[SeenConnection] = field(default_factory=list)

    def __post_init__(self) -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        if self.client_ca:
            ctx.load_verify_locations(self.client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED if self.require_client_cert else ssl.CERT_OPTIONAL
        if self.tls_max:
            ctx.maximum_version = self.tls_max
        self.context = ctx
        rig = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                conn: ssl.SSLSocket = self.request
                try:
                    conn.do_handshake()
                except (ssl.SSLError, OSError) as e:
                    rig.seen.append(SeenConnection(None, None, None, False, error=str(e)))
                    raise
                der = conn.getpeercert(binary_form=True)
                subject = x509.load_der_x509_certificate(der).subject.rfc4514_string() if der else None
                self.tls = SeenConnection(subject, conn.version(), (conn.cipher() or ("",))[0],
                                          bool(conn.session_reused))
                rig.seen.append(self.tls)
                super().setup()

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.startswith("/bytes/"):
                    body = b"x" * int(self.path.rsplit("/", 1)[1])
                    ctype = "application/octet-stream"
                elif self.path == "/whoami":
                    body = json.dumps(self.tls.__dict__).encode()
                    ctype = "application/json"
                else:
                    body = b"hello"
                    ctype = "text/plain"
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self) -> tuple[socket.socket, object]:
                sock, addr = self.socket.accept()
                return ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

            def handle_error(self, request: object, client_address: object) -> None:
                pass

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> PythonTlsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str = "/hello", host: str = "localhost") -> str:
        return f"https://{host}:{self.port}{path}"

    def wait_seen(self, count: int = 1, timeout: float = 5.0) -> list[SeenConnection]:
        """The connections seen so far, once at least `count` were recorded (handler threads lag)."""
        deadline = time.monotonic() + timeout
        while len(self.seen) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.seen


class OpenSslServer:
    """`openssl s_server -Verify 1 -www` (a peer nobody here wrote). `-www` pages tell what it saw."""

    def __init__(self, cert: Path, key: Path, ca: Path, *extra: str, verify: bool = True) -> None:
        exe = shutil.which("openssl")
        if not exe:
            raise RuntimeError("openssl is not installed")
        args = [exe, "s_server", "-accept", "127.0.0.1:0", "-cert", str(cert), "-key", str(key),
                "-CAfile", str(ca), "-www", "-no_dhe", *extra]
        if verify:
            args[2:2] = ["-Verify", "1"]
        self.args = args
        self._proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True)
        self.port = 0
        deadline = time.monotonic() + 10
        assert self._proc.stdout is not None
        while time.monotonic() < deadline:
            line = self._proc.stdout.readline().decode(errors="replace")
            if not line:
                break
            m = re.search(r"ACCEPT .*:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        if not self.port:
            self.close()
            raise RuntimeError(f"openssl s_server did not start: {' '.join(args)}")
        # Drain its log so it never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self._proc.stdout is not None
        for _ in self._proc.stdout:
            pass

    def url(self, path: str = "/", host: str = "localhost") -> str:
        return f"https://{host}:{self.port}{path}"

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def __enter__(self) -> OpenSslServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def page_client_subject(page: str) -> str | None:
    """The client certificate subject on an `s_server -www` page (None: 'no client certificate')."""
    m = re.search(r"Client certificate.*?Subject: ([^\n]+)", page, re.S)
    return m.group(1).strip() if m else None


def page_reused(page: str) -> bool:
    """Whether the `-www` page says the session was resumed."""
    return bool(re.search(r"^Reused, ", page, re.M))


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A TCP server that accepts and never answers (for timeouts). Yields its port."""
    srv = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except (TimeoutError, OSError):
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        t.join(2)
        for s in held:
            s.close()
        srv.close()


def _main(argv: list[str]) -> int:
    cert, key, ca = (Path(a) for a in argv[:3])
    with PythonTlsServer(cert, key, ca) as server:
        print(server.port, flush=True)
        sys.stdin.read()  # serve until the parent closes our stdin
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(_main(sys.argv[1:]))
