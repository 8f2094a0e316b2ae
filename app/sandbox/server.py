"""The sandbox's HTTPS server (Python ``ssl``, threaded) and the in-process `Sandbox` API.

TLS: the server certificate comes from a small PKI generated once in ``<state>/pki``. Client
certificates are requested but optional: every CA uploaded to the sandbox (CreateCa, ``--client-ca``)
is added to the server's trust store, so a certificate issued by one of them completes the handshake
and the API access rules decide (Code 14, OUTSCALE's answer); a certificate from a CA the sandbox has
never seen is refused by the TLS layer itself (alert ``unknown_ca``), since Python's ``ssl`` has no
verify callback. TLS 1.3 session tickets are issued (OpenSSL's default), and the client certificate
stays known on resumed connections (OpenSSL keeps it in the session; tested).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from app.sandbox.pki import CertificateAuthority
from app.sandbox.records import KeyRecord
from app.sandbox.state import SandboxState
from app.sandbox.wire import ApiFault, SandboxRequest, ServedCall

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1/"
MAX_BODY = 1 << 20
LOG_LIMIT = 10_000  # connections and calls remembered for the tests (oldest forgotten first)


@dataclass(frozen=True)
class TlsRecord:
    """One accepted TLS connection (for tests of resumption and client identity)."""

    version: str | None
    resumed: bool
    client_certificate: bool
    client_cn: str | None


@dataclass(frozen=True)
class SandboxInfo:
    """What a started sandbox tells its users. The credentials are throwaway demo values."""

    endpoint: str  # https://127.0.0.1:PORT/api/v1
    host: str
    port: int
    region: str
    ca_file: str  # the CA that signs the server certificate (trust it for the endpoint)
    state_dir: str
    account_id: str
    login: str
    password: str
    access_key: str
    secret_key: str
    client_ca_id: str | None = None
    trusted_env: bool = False

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the ``--json`` line)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


# --- PKI -------------------------------------------------------------------------------------------


def ensure_server_pki(state_dir: Path, hosts: Sequence[str]) -> tuple[Path, Path, Path]:
    """(ca.pem, server.pem, server-key.pem) in ``state_dir/pki``; generated once (EC P-256), and the
    server certificate re-issued only when it expires soon or lacks one of `hosts`."""
    pki = state_dir / "pki"
    pki.mkdir(parents=True, exist_ok=True)
    ca_file, ca_key = pki / "ca.pem", pki / "ca-key.pem"
    srv_file, srv_key = pki / "server.pem", pki / "server-key.pem"
    if ca_file.exists() and ca_key.exists():
        ca = CertificateAuthority.from_pem(ca_file.read_bytes(), ca_key.read_bytes())
    else:
        ca = CertificateAuthority("OUTSCALE Trusted Login sandbox CA", key_kind="p256")
        ca_key.write_bytes(ca.key_pem())
        ca_key.chmod(0o600)
        ca_file.write_bytes(ca.cert_pem())
    if not _server_cert_ok(srv_file, srv_key, hosts):
        issued = ca.issue_server(tuple(hosts), key_kind="p256")
        issued.write(srv_file, srv_key)
    return ca_file, srv_file, srv_key


def _server_cert_ok(cert_file: Path, key_file: Path, hosts: Sequence[str]) -> bool:
    if not (cert_file.exists() and key_file.exists()):
        return False
    try:
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    names = {str(v) for v in san.get_values_for_type(x509.DNSName)}
    names |= {str(v) for v in san.get_values_for_type(x509.IPAddress)}
    fresh = cert.not_valid_after_utc - _dt.datetime.now(_dt.UTC) > _dt.timedelta(days=7)
    return fresh and all(h in names for h in hosts)


# --- HTTP ----------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 60  # idle keep-alive connections are closed after this
    # head and body leave in one write (so one TLS record), as a real API front sends a small answer;
    # http.server flushes after each request
    wbufsize = 64 * 1024

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("sandbox %s: " + format, self.client_address[0], *args)

    def _reply(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        if self.server.latency > 0:
            time.sleep(self.server.latency)  # the network's round trip, for bench/login.py (--latency-ms)
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a malformed request line or header) in OUTSCALE's form, not HTML."""
        self.close_connection = True
        details = message or explain or "The request could not be read."
        with contextlib.suppress(OSError):
            self._reply(code, {"Errors": [{"Code": "0", "Type": "DefaultError", "Details": details}],
                               "ResponseContext": {"RequestId": "none"}})

    def _handle(self, method: str) -> None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            # a body whose end we would not find: refuse it rather than read the next request from it
            self.close_connection = True
            self._reply(411, {"Errors": [{"Code": "0", "Type": "DefaultError",
                                          "Details": "A Content-Length is required (no chunked bodies)."}]})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            self._reply(
                413, {"Errors": [{"Code": "0", "Type": "DefaultError", "Details": "Body too large."}]}
            )
            return
        body = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path
        if not path.startswith(API_PREFIX) or "/" in path[len(API_PREFIX) :]:
            self._reply(
                404,
                {
                    "Errors": [{"Code": "0", "Type": "DefaultError", "Details": "Not an API call path."}],
                    "ResponseContext": {"RequestId": "none"},
                },
            )
            return
        conn = self.connection
        peer = conn.getpeercert(binary_form=True) if isinstance(conn, ssl.SSLSocket) else None
        req = SandboxRequest(
            call=path[len(API_PREFIX) :],
            method=method,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            client_ip=self.client_address[0],
            peer_cert_der=peer or None,
            path=path,
        )
        resp = self.server.state.handle(req)
        self._reply(resp.status, resp.body, dict(resp.headers))

    def do_POST(self) -> None:
        self._handle("POST")

    def do_GET(self) -> None:
        self._handle("GET")

    def do_PUT(self) -> None:
        self._handle("PUT")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Seconds each answer is delayed by (the TLS server flight too): a slow network for bench/login.py.
    latency: float = 0.0
    handshake_timeout: float = 15.0  # a stalled handshake must not hold a thread forever

    def __init__(self, address: tuple[str, int], ssl_context: ssl.SSLContext, state: SandboxState) -> None:
        self.ssl_context = ssl_context
        self.state = state
        # Bounded: the sandbox also runs all day as the demo's API.
        self.tls_log: deque[TlsRecord] = deque(maxlen=LOG_LIMIT)
        self._open: set[ssl.SSLSocket] = set()
        self._open_lock = threading.Lock()
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.address_family = family
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(self.handshake_timeout)
        if self.latency > 0:
            time.sleep(self.latency)  # the round trip before the server's handshake flight
        # Headers and body go out as separate TLS records: without this, Nagle + delayed ACK add 40 ms.
        with contextlib.suppress(OSError):
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            log.debug("sandbox: TLS handshake with %s failed: %s", client_address[0], e)
            request.close()
            return
        with self._open_lock:
            self._open.add(tls)
        try:
            der = tls.getpeercert(binary_form=True)
            cn = None
            if der:
                attrs = x509.load_der_x509_certificate(der).subject.get_attributes_for_oid(
                    x509.NameOID.COMMON_NAME
                )
                cn = str(attrs[0].value) if attrs else None
            self.tls_log.append(TlsRecord(tls.version(), bool(tls.session_reused), der is not None, cn))
            _Handler(tls, client_address, self)
        except (OSError, ssl.SSLError) as e:
            log.debug("sandbox: connection from %s ended: %s", client_address[0], e)
        finally:
            with self._open_lock:
                self._open.discard(tls)
            with contextlib.suppress(OSError):
                tls.close()

    def shutdown_request(self, request: Any) -> None:
        # The TLS socket took over the descriptor and was closed in finish_request.
        with contextlib.suppress(OSError):
            request.close()

    def close_connections(self) -> None:
        """Shut every open TLS connection down (stop() must not wait for idle keep-alive clients)."""
        with self._open_lock:
            socks = list(self._open)
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


# --- the in-process API --------------------------------------------------------------------------------


class Sandbox:
    """A local OUTSCALE API emulator. ``start()`` -> SandboxInfo; ``stop()``; state helpers for tests.

    `client_ca_pem`: a CA to upload; it then becomes required (a rule naming it replaces the default
    "allow all IPv4" rule). `trusted_env`: turn RequireTrustedEnv on (with MaxAccessKeyExpirationSeconds
    of `max_key_seconds`, forced even if keys or rules would not allow it through the API).
    `clock`: the sandbox's wall clock (tests move it with `advance`). `key_lifetime_seconds`: keys made by
    CreateAccessKey expire at most that long after creation (the key renewal test).
    """

    def __init__(
        self,
        state_dir: Path | str,
        *,
        client_ca_pem: bytes | str | None = None,
        trusted_env: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = "eu-west-2",
        clock: Callable[[], float] = time.time,
        max_key_seconds: int = 7 * 24 * 3600,
        client_cns: Sequence[str] = (),
        key_lifetime_seconds: float | None = None,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.host, self.port, self.region = host, port, region
        self._client_ca_pem = client_ca_pem.decode() if isinstance(client_ca_pem, bytes) else client_ca_pem
        self._client_cns = tuple(client_cns)
        self._trusted_env = trusted_env
        self._max_key_seconds = max_key_seconds
        self._key_lifetime = key_lifetime_seconds
        self._clock = clock
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._ctx: ssl.SSLContext | None = None
        self._state: SandboxState | None = None
        self.info: SandboxInfo | None = None

    # life ---------------------------------------------------------------------------------------

    @property
    def state(self) -> SandboxState:
        """The account data and API behaviour (made on first use, before or after `start`)."""
        if self._state is None:
            self._state = SandboxState(self.state_dir, clock=self._clock, on_ca_added=self._trust_ca)
        return self._state

    def _trust_ca(self, pem: str) -> None:
        if self._ctx is not None:
            self._ctx.load_verify_locations(cadata=pem)
            self._ctx.verify_mode = ssl.CERT_OPTIONAL

    def _ssl_context(self, cert: Path, key: Path) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(cert, key)
        ctx.set_alpn_protocols(["http/1.1"])
        cas = list(self.state.access.cas.values())
        for ca in cas:
            ctx.load_verify_locations(cadata=ca.pem)
        ctx.verify_mode = ssl.CERT_OPTIONAL if cas else ssl.CERT_NONE
        return ctx

    def set_latency(self, seconds: float) -> None:
        """Delay every answer (and the TLS server flight) by `seconds`: one simulated round trip each."""
        self._latency = seconds
        if self._server is not None:
            self._server.latency = seconds

    def set_log_limit(self, entries: int) -> None:
        """Keep only the last `entries` TLS connections and calls (the soak tests keep a few, so that the
        sandbox's own records do not count as the client's growth)."""
        self.state.served = deque(self.state.served, maxlen=entries)
        if self._server is not None:
            self._server.tls_log = deque(self._server.tls_log, maxlen=entries)

    def set_handshake_timeout(self, seconds: float) -> None:
        """How long the server waits for a TLS handshake to finish (15 s by default)."""
        self._handshake_timeout = seconds
        if self._server is not None:
            self._server.handshake_timeout = seconds

    def start(self) -> SandboxInfo:
        """Generate the PKI if needed, apply the options, listen, and serve in a background thread."""
        if self._server is not None:
            assert self.info is not None
            return self.info
        hosts = ["localhost", "127.0.0.1", "::1"]
        if self.host not in hosts and self.host not in ("0.0.0.0", "::"):  # noqa: S104 - just a comparison
            hosts.insert(0, self.host)
        ca_file, srv_cert, srv_key = ensure_server_pki(self.state_dir, hosts)
        state = self.state
        client_ca_id = self._apply_client_ca() if self._client_ca_pem else None
        if self._trusted_env:
            self._apply_trusted_env()
        state.book.key_lifetime_cap = self._key_lifetime
        demo_key = state.book.demo_key()
        self._ctx = self._ssl_context(srv_cert, srv_key)
        self._server = _Server((self.host, self.port), self._ctx, state)
        self._server.latency = getattr(self, "_latency", 0.0)
        self._server.handshake_timeout = getattr(self, "_handshake_timeout", 15.0)
        port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"sandbox-{port}",
            daemon=True,
        )
        self._thread.start()
        acc = state.book.demo()
        url_host = f"[{self.host}]" if ":" in self.host else self.host
        self.info = SandboxInfo(
            endpoint=f"https://{url_host}:{port}/api/v1",
            host=self.host,
            port=port,
            region=self.region,
            ca_file=str(ca_file),
            state_dir=str(self.state_dir),
            account_id=acc.account_id,
            login=acc.login,
            password=acc.password,
            access_key=demo_key.access_key_id,
            secret_key=demo_key.secret_key,
            client_ca_id=client_ca_id,
            trusted_env=acc.require_trusted_env,
        )
        return self.info

    def stop(self) -> None:
        """Stop serving and close every open connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # options --------------------------------------------------------------------------------------

    def _apply_client_ca(self) -> str:
        assert self._client_ca_pem is not None
        ca_id, _ = self.add_ca_rule(self._client_ca_pem, cns=self._client_cns, exclusive=True)
        return ca_id

    def _apply_trusted_env(self) -> None:
        st = self.state
        acc = st.book.demo()
        with st.lock:
            st.book.cap_key_lifetimes(
                acc.account_id, st.now_dt() + _dt.timedelta(seconds=self._max_key_seconds)
            )
            st.access.set_policy(
                acc.account_id,
                max_access_key_expiration_seconds=self._max_key_seconds,
                require_trusted_env=True,
                force=True,
            )

    # helpers for tests and the demo ---------------------------------------------------------------

    @property
    def account_id(self) -> str:
        """The demo account's id."""
        return self.state.book.demo().account_id

    def access_keys(self) -> list[KeyRecord]:
        """The demo account's access keys (copies of the records, secrets included)."""
        with self.state.lock:
            return [KeyRecord(**vars(k)) for k in self.state.keys.values() if k.account_id == self.account_id]

    def create_access_key(
        self,
        *,
        expires_in: float | None = None,
        tag: str | None = None,
        created_with_certificate: bool = False,
    ) -> KeyRecord:
        """Add an access key to the demo account directly (no quota, no policy check)."""
        exp = self.state.now_dt() + _dt.timedelta(seconds=expires_in) if expires_in is not None else None
        return self.state.book.create_key(
            self.account_id, expiration=exp, tag=tag, created_with_certificate=created_with_certificate
        )

    def set_policy(
        self,
        *,
        max_access_key_expiration_seconds: int | None = None,
        require_trusted_env: bool | None = None,
        force: bool = False,
    ) -> None:
        """Change the demo account's API access policy (validated as the API does unless `force`)."""
        self.state.access.set_policy(
            self.account_id,
            max_access_key_expiration_seconds=max_access_key_expiration_seconds,
            require_trusted_env=require_trusted_env,
            force=force,
        )

    def add_ca(self, ca_pem: bytes | str, description: str | None = None) -> str:
        """Upload a CA (reusing an identical one); returns its CaId. Also trusted by the TLS layer."""
        pem = ca_pem.decode() if isinstance(ca_pem, bytes) else ca_pem
        der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)
        for ca in self.state.access.cas.values():
            if (
                ca.account_id == self.account_id
                and x509.load_pem_x509_certificate(ca.pem.encode()).public_bytes(serialization.Encoding.DER)
                == der
            ):
                self._trust_ca(ca.pem)
                return ca.ca_id
        return self.state.access.add_ca(self.account_id, pem, description or "sandbox client CA").ca_id

    def add_ca_rule(
        self,
        ca_pem: bytes | str,
        *,
        cns: Sequence[str] = (),
        ip_ranges: Sequence[str] = ("0.0.0.0/0",),
        exclusive: bool = True,
        description: str | None = None,
    ) -> tuple[str, str]:
        """Upload `ca_pem` and add a rule requiring it (and `cns` if given); `exclusive` removes the
        rules that name no CA, so the certificate becomes required. Returns (CaId, ApiAccessRuleId)."""
        ca_id = self.add_ca(ca_pem)
        access = self.state.access
        with self.state.lock:
            existing = next(
                (
                    r
                    for r in access.rules.values()
                    if r.account_id == self.account_id
                    and r.ca_ids == [ca_id]
                    and r.cns == list(cns)
                    and r.ip_ranges == list(ip_ranges)
                ),
                None,
            )
            rule = existing or access.add_rule(
                self.account_id,
                ip_ranges=ip_ranges,
                ca_ids=[ca_id],
                cns=cns,
                description=description or "Requires the sandbox client CA",
            )
            if exclusive:
                for r in list(access.rules.values()):
                    if r.account_id == self.account_id and not r.ca_ids:
                        access.remove_rule(r.rule_id)
        return ca_id, rule.rule_id

    def set_rules(self, rules: Sequence[dict[str, Sequence[str]]]) -> list[str]:
        """Replace every rule: each dict may have IpRanges, CaIds, Cns. Returns the new ids."""
        access = self.state.access
        with self.state.lock:
            for r in list(access.rules.values()):
                if r.account_id == self.account_id:
                    access.remove_rule(r.rule_id)
            return [
                access.add_rule(
                    self.account_id,
                    ip_ranges=r.get("IpRanges", ()),
                    ca_ids=r.get("CaIds", ()),
                    cns=r.get("Cns", ()),
                ).rule_id
                for r in rules
            ]

    def set_password_expired(self, expired: bool = True) -> None:
        """Make Basic logins of the demo account answer Code 20."""
        with self.state.lock:
            self.state.book.demo().password_expired = expired
            self.state.save()

    def advance(self, seconds: float) -> None:
        """Move the sandbox clock forward (lock and key expiry)."""
        self.state.advance(seconds)

    def throttle_next(self, count: int, code: str = "25") -> None:
        """Answer the next `count` authenticated calls with HTTP 429 / this Code."""
        self.state.throttle.next(count, code)

    def fail_after(self, call: str, *, count: int = 1, status: int = 503, code: str = "2000",
                   type_: str = "ServiceUnavailable", details: str = "Injected failure.") -> None:
        """Once `call` has succeeded, answer the next `count` requests with this OUTSCALE error."""
        self.state.faults.fail_after(call, count=count, fault=ApiFault(status, code, type_, details))

    def fail_next(self, *, count: int = 1, status: int = 503, code: str = "2000",
                  type_: str = "ServiceUnavailable", details: str = "Injected failure.") -> None:
        """Answer the next `count` requests, whatever they are, with this OUTSCALE error."""
        self.state.faults.fail_next(count=count, fault=ApiFault(status, code, type_, details))

    def lock_state(self) -> tuple[int, float, bool]:
        """(failed authentications, seconds left locked, permanently locked) of the demo account."""
        return self.state.lockout.state(self.account_id)

    @property
    def tls_log(self) -> list[TlsRecord]:
        """Accepted TLS connections, oldest first (version, resumed, client cert present, CN)."""
        return list(self._server.tls_log) if self._server else []

    @property
    def served_calls(self) -> list[ServedCall]:
        """The call log: every request answered (call, status, access key, error Code, body), oldest first."""
        return list(self.state.served)

    @property
    def request_count(self) -> int:
        """API requests answered so far (throttled and refused ones included)."""
        return self.state.requests_seen
