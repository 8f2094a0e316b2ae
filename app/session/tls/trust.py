"""Server verification for the mTLS engine: trust anchors and chain + host name checks (no TLS engine here).

Verification uses `cryptography.x509.verification` (the WebPKI rules: EKU serverAuth, validity, SAN
match). There is deliberately no switch to turn it off: `TrustConfig` can only ADD anchors.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import ipaddress
import ssl
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from app.session.errors import ConfigError, ServerNotTrusted
from app.tokens.errors import FileRefused
from app.tokens.safefile import read_bounded

_PEM_END = b"-----END CERTIFICATE-----"


def _load_pem_bundle(data: bytes) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle; one unparsable entry (old system stores have some) is skipped."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # old roots with non-positive serials: not ours to fix
        return _load_pem_bundle_quiet(data)


def _load_pem_bundle_quiet(data: bytes) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        out: list[x509.Certificate] = []
        for block in data.split(_PEM_END)[:-1]:
            try:
                out.append(x509.load_pem_x509_certificate(block + _PEM_END))
            except ValueError:
                continue
        return out


def _default_anchor_files() -> list[str]:
    import certifi

    files = [certifi.where()]
    paths = ssl.get_default_verify_paths()
    for f in (paths.cafile, paths.openssl_cafile):
        if f and Path(f).is_file() and f not in files:
            files.append(f)
    return files


_cache_lock = threading.Lock()
CA_FILE_LIMIT = 4 << 20  # bytes

_default_anchors: list[x509.Certificate] | None = None
_store_cache: dict[tuple[str, tuple[float, ...]], Store] = {}


def _default_certs() -> list[x509.Certificate]:
    global _default_anchors
    if _default_anchors is None:
        seen: dict[bytes, x509.Certificate] = {}
        for f in _default_anchor_files():
            try:
                data = Path(f).read_bytes()
            except OSError:  # an unreadable system store is not fatal: certifi is always there
                continue
            for c in _load_pem_bundle(data):
                seen.setdefault(c.fingerprint(_SHA256), c)
        _default_anchors = list(seen.values())
    return _default_anchors


_SHA256 = hashes.SHA256()


@dataclass(frozen=True)
class TrustConfig:
    """Trust anchors for the server: certifi + the system store, plus an optional extra PEM bundle.

    The extra bundle is for the sandbox and for enterprise TLS inspection. Nothing here can disable
    verification.
    """

    extra_ca_file: str | None = None
    include_defaults: bool = True  # False only narrows trust (tests, pinning to a private CA)
    #: further bundles trusted as well (a managed policy's extra_ca_file beside the operator's own)
    more_ca_files: tuple[str, ...] = ()

    def _files(self) -> list[str]:
        files = [self.extra_ca_file] if self.extra_ca_file else []
        return files + [f for f in self.more_ca_files if f and f not in files]

    def anchors_key(self) -> tuple[str, tuple[float, ...]]:
        """Which anchors are in force: changes when an extra CA file changes (TLS resumption state
        verified under other anchors must not be reused)."""
        mtimes = []
        for path in self._files():
            try:
                mtimes.append(Path(path).stat().st_mtime)
            except OSError as e:
                raise ConfigError(f"Cannot read the CA file {path}: {e.strerror}", path=path) from e
        return (f"{'|'.join(self._files())}|{self.include_defaults}", tuple(mtimes))

    def store(self) -> Store:
        """The verification store (built once per file content and cached)."""
        key = self.anchors_key()
        with _cache_lock:
            store = _store_cache.get(key)
            if store is None:
                certs = list(_default_certs()) if self.include_defaults else []
                for path in self._files():
                    certs += _extra_certs(path)
                if not certs:
                    raise ConfigError("No trust anchors: give a CA file", path=self.extra_ca_file)
                store = Store(certs)
                _store_cache[key] = store
        return store


def _extra_certs(path: str) -> list[x509.Certificate]:
    try:
        # Bounded like every outside input: a CA bundle is a few hundred KiB at most (the whole
        # Mozilla store is ~220 KiB); /dev/zero or a FIFO named here must not hang or fill memory.
        data = read_bounded(path, CA_FILE_LIMIT, what="CA file")
    except FileRefused as e:
        raise ConfigError(str(e), path=path) from e
    except OSError as e:
        raise ConfigError(f"Cannot read the CA file {path}: {e.strerror}", path=path) from e
    certs = _load_pem_bundle(data)
    if not certs:
        try:
            certs = [x509.load_der_x509_certificate(data)]
        except ValueError:
            raise ConfigError(f"The CA file {path} holds no certificate", path=path) from None
    return certs


@dataclass(frozen=True)
class ServerCertificate:
    """What we learned about a verified server certificate (kept for resumed connections too)."""

    subject: str
    issuer: str
    not_after: _dt.datetime
    fingerprint_sha256: str


def _subject_alt_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [str(v) for v in san.get_values_for_type(x509.DNSName)] + [
        str(v) for v in san.get_values_for_type(x509.IPAddress)]


def verify_server(ders: Sequence[bytes], host: str, trust: TrustConfig,
                  now: _dt.datetime | None = None) -> tuple[ServerCertificate, x509.Certificate]:
    """Verify a server chain (leaf first, DER) for `host`; raise ServerNotTrusted with a plain reason."""
    if not ders:
        raise ServerNotTrusted(f"The server {host} sent no certificate.", host=host, reason="no certificate")
    try:
        leaf = x509.load_der_x509_certificate(bytes(ders[0]))
        intermediates = [x509.load_der_x509_certificate(bytes(d)) for d in ders[1:]]
    except ValueError as e:
        raise ServerNotTrusted(f"The server {host} sent a certificate that cannot be read.", host=host,
                               reason=f"unreadable certificate: {e}") from e
    now = now or _dt.datetime.now(_dt.UTC)
    subject = leaf.subject.rfc4514_string()
    if now > leaf.not_valid_after_utc:
        reason = f"its certificate ({subject}) expired on {leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
        raise ServerNotTrusted(f"The server {host} is not trusted: {reason}.", host=host, reason=reason)
    if now < leaf.not_valid_before_utc:
        reason = f"its certificate ({subject}) is not valid before {leaf.not_valid_before_utc:%Y-%m-%d} UTC"
        raise ServerNotTrusted(f"The server {host} is not trusted: {reason}.", host=host, reason=reason)
    name: x509.GeneralName
    try:
        name = x509.IPAddress(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        name = x509.DNSName(host.rstrip(".").lower())
    verifier = PolicyBuilder().store(trust.store()).time(now).build_server_verifier(name)
    try:
        verifier.verify(leaf, intermediates)
    except VerificationError as e:
        detail = str(e)
        if "subjectAltName" in detail or "SAN" in detail:
            names = ", ".join(_subject_alt_names(leaf)) or "none"
            reason = f"its certificate is for {names}, not {host}"
        elif "candidates exhausted" in detail or "issuer" in detail.lower():
            reason = (f"its certificate ({subject}) was issued by {leaf.issuer.rfc4514_string()}, "
                      f"which is not a trusted certificate authority ({detail})")
        else:
            reason = f"its certificate ({subject}) was refused: {detail}"
        raise ServerNotTrusted(f"The server {host} is not trusted: {reason}.", host=host,
                               reason=reason) from e
    facts = ServerCertificate(
        subject=subject,
        issuer=leaf.issuer.rfc4514_string(),
        not_after=leaf.not_valid_after_utc,
        fingerprint_sha256=hashlib.sha256(bytes(ders[0])).hexdigest(),
    )
    return facts, leaf
