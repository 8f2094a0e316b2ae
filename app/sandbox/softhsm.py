"""Private SoftHSM2 installations for the demo card and the tests (never registered system-wide).

A `SoftHsm` is a folder with its own `softhsm2.conf` and token directory. Tokens are initialised with
`softhsm2-util`; key pairs are generated ON the token (sensitive, non-extractable) through our one
PKCS#11 wrapper (`app.tokens.p11.provisioning`); certificates are written as CKO_CERTIFICATE objects
with the key's CKA_ID. It lives beside the demo PKI (app.sandbox.pki) that certifies its keys.

SoftHSM2 reads its configuration (SOFTHSM2_CONF) and its token list only at C_Initialize, and a
library is loaded once per process. So: one `SoftHsm` can hold many tokens; initialising a token
after the module was loaded re-scans the module (which drops the sessions of that module); a second
`SoftHsm` in the same process gets its own copy of the library file, so both can live side by side.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.sandbox.pki import CertificateAuthority, new_key
from app.tokens.errors import TokenError
from app.tokens.p11.module import Pkcs11Module
from app.tokens.p11.provisioning import ProvisioningSession
from app.tokens.p11.registry import load_module, rescan_module

SOFTHSM_MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",
)
DEFAULT_SO_PIN = "12345678"
DEFAULT_USER_PIN = "123456"

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


class SoftHsmUnavailable(TokenError):
    """SoftHSM2 (the library or softhsm2-util) is not installed."""


def find_softhsm_module() -> str | None:
    """Path of libsofthsm2.so on this machine, or None."""
    env = os.environ.get("OTL_SOFTHSM2_MODULE")
    if env and os.path.exists(env):
        return env
    return next((p for p in SOFTHSM_MODULE_CANDIDATES if os.path.exists(p)), None)


def softhsm_available() -> bool:
    """True when both the library and softhsm2-util are installed."""
    return find_softhsm_module() is not None and shutil.which("softhsm2-util") is not None


@dataclass(frozen=True)
class SoftHsmToken:
    """An initialised token of a SoftHsm. PINs are test/demo values, kept out of reprs anyway."""

    label: str
    serial: str
    module_path: str
    user_pin: str = field(default=DEFAULT_USER_PIN, repr=False)
    so_pin: str = field(default=DEFAULT_SO_PIN, repr=False)


@dataclass(frozen=True)
class ProvisionedKey:
    """A key pair (on the token, or in software for a certificate without key) and its certificate."""

    token: SoftHsmToken
    cka_id: bytes
    label: str
    kind: str  # "rsa2048", "p256", ...
    public_key: PublicKey
    certificate: x509.Certificate | None
    on_token: bool = True  # False: the certificate's key is NOT on the card
    always_authenticate: bool = False

    @property
    def fingerprint_sha256(self) -> str | None:
        from cryptography.hazmat.primitives import hashes

        return self.certificate.fingerprint(hashes.SHA256()).hex() if self.certificate else None


def public_key_from_reading(reading: dict[str, object]) -> PublicKey:
    """Build a cryptography public key from what ProvisioningSession.generate_keypair returned."""
    if reading["kind"] == "rsa":
        n, e = reading["n"], reading["e"]
        assert isinstance(n, int) and isinstance(e, int)
        return rsa.RSAPublicNumbers(e, n).public_key()
    point = reading["point"]
    assert isinstance(point, bytes)
    # CKA_EC_POINT is a DER OCTET STRING wrapping the uncompressed point (SoftHSM2, OpenSC);
    # some modules give the raw point.
    if point[:1] == b"\x04" and len(point) > 2 and point[1] in (len(point) - 2, 0x81, 0x82):
        if point[1] == 0x81:
            point = point[3:]
        elif point[1] == 0x82:
            point = point[4:]
        elif point[1] == len(point) - 2 and point[2:3] == b"\x04":
            point = point[2:]
    curve = {"p256": ec.SECP256R1(), "p384": ec.SECP384R1(), "p521": ec.SECP521R1()}[str(reading["curve"])]
    return ec.EllipticCurvePublicKey.from_encoded_point(curve, point)


# Which SOFTHSM2_CONF owns which library file in this process (see the module docstring).
_CLAIMS: dict[str, str] = {}
_CLAIMS_LOCK = threading.Lock()


class SoftHsm:
    """A private SoftHSM2: `<root>/softhsm2.conf` and `<root>/tokens/`. Nothing system-wide."""

    def __init__(self, root: Path | str, module_path: str | None = None) -> None:
        self.root = Path(root)
        system_module = module_path or find_softhsm_module()
        if system_module is None or shutil.which("softhsm2-util") is None:
            raise SoftHsmUnavailable("SoftHSM2 is not installed (Debian: apt-get install softhsm2).")
        self.root.mkdir(parents=True, exist_ok=True)
        self.token_dir = self.root / "tokens"
        self.token_dir.mkdir(exist_ok=True)
        self.conf_path = self.root / "softhsm2.conf"
        if not self.conf_path.exists():
            self.conf_path.write_text(
                f"directories.tokendir = {self.token_dir}\n"
                "objectstore.backend = file\n"
                "log.level = ERROR\n"
                "slots.removable = false\n",
                encoding="utf-8",
            )
        self.system_module_path = system_module
        self.module_path = self._claim_library(system_module)
        self._tokens: dict[str, SoftHsmToken] = {}
        self._next_id = 1

    def __repr__(self) -> str:
        return f"SoftHsm({str(self.root)!r}, module={self.module_path!r})"

    def _claim_library(self, system_module: str) -> str:
        conf = str(self.conf_path)
        with _CLAIMS_LOCK:
            key = os.path.realpath(system_module)
            owner = _CLAIMS.get(key)
            if owner is None or owner == conf:
                _CLAIMS[key] = conf
                return system_module
            # Another SoftHsm owns the system library in this process: use our own copy of the file
            # (a distinct file is a distinct library instance with its own configuration).
            lib_dir = self.root / "lib"
            lib_dir.mkdir(exist_ok=True)
            copy = lib_dir / os.path.basename(system_module)
            if not copy.exists():
                shutil.copy2(system_module, copy)
            _CLAIMS[os.path.realpath(copy)] = conf
            return str(copy)

    @property
    def env(self) -> dict[str, str]:
        """Environment for processes (and C_Initialize) that should see this SoftHSM2."""
        return {"SOFTHSM2_CONF": str(self.conf_path)}

    def subprocess_env(self) -> dict[str, str]:
        """os.environ plus SOFTHSM2_CONF, for softhsm2-util, pkcs11-tool, p11-kit server."""
        return {**os.environ, **self.env}

    def module(self) -> Pkcs11Module:
        """The loaded PKCS#11 module of this SoftHSM2 (C_Initialize sees our SOFTHSM2_CONF)."""
        return load_module(self.module_path, init_env=self.env)

    def rescan(self) -> None:
        """Make a loaded module see tokens created since it was initialised (drops its sessions)."""
        rescan_module(self.module_path)

    # -- tokens ---------------------------------------------------------------------------------

    @property
    def tokens(self) -> tuple[SoftHsmToken, ...]:
        return tuple(self._tokens.values())

    def init_token(
        self, label: str, *, user_pin: str = DEFAULT_USER_PIN, so_pin: str = DEFAULT_SO_PIN
    ) -> SoftHsmToken:
        """Initialise a new token in the free slot (softhsm2-util) and return it with its serial."""
        if label in self._tokens:
            raise ValueError(f"token {label!r} already exists")
        self._softhsm2_util("--init-token", "--free", "--label", label, "--so-pin", so_pin, "--pin", user_pin)
        serial = self._serial_of(label)
        tok = SoftHsmToken(
            label=label, serial=serial, module_path=self.module_path, user_pin=user_pin, so_pin=so_pin
        )
        self._tokens[label] = tok
        self.rescan()
        return tok

    def _softhsm2_util(self, *args: str) -> str:
        proc = subprocess.run(
            ["softhsm2-util", *args],
            env=self.subprocess_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if proc.returncode != 0:
            # never echo the arguments: they hold PINs
            raise TokenError(f"softhsm2-util {args[0]} failed: {proc.stderr.strip() or proc.stdout.strip()}")
        return proc.stdout

    def _serial_of(self, label: str) -> str:
        out = self._softhsm2_util("--show-slots")
        serial = None
        for line in out.splitlines():
            line = line.strip()
            if line.startswith("Serial number:"):
                serial = line.split(":", 1)[1].strip()
            elif line.startswith("Label:") and line.split(":", 1)[1].strip() == label and serial:
                return serial
        raise TokenError(f"softhsm2-util did not list the token {label!r}")

    def token(self, label: str) -> SoftHsmToken:
        """A token of this SoftHSM by label."""
        return self._tokens[label]

    # -- keys and certificates -----------------------------------------------------------------

    def _writer(self, token: SoftHsmToken) -> ProvisioningSession:
        """A read-write session on `token`, logged in with its (test/demo) user PIN."""
        return ProvisioningSession(self.module(), token.serial, token.user_pin)

    def _new_id(self) -> bytes:
        i = self._next_id
        self._next_id += 1
        return i.to_bytes(2, "big")

    def generate_key(
        self,
        token: SoftHsmToken,
        kind: str = "rsa2048",
        *,
        cka_id: bytes | None = None,
        label: str | None = None,
        always_authenticate: bool = False,
        private: bool = True,
    ) -> tuple[bytes, PublicKey]:
        """Generate a signing key pair ON the token; returns (CKA_ID, public key)."""
        cka_id = cka_id if cka_id is not None else self._new_id()
        with self._writer(token) as s:
            reading = s.generate_keypair(
                kind,
                cka_id,
                label or f"key {cka_id.hex()}",
                always_authenticate=always_authenticate,
                private=private,
            )
        return cka_id, public_key_from_reading(reading)

    def write_certificate(
        self, token: SoftHsmToken, certificate: x509.Certificate, cka_id: bytes, label: str
    ) -> None:
        """Write a CKO_CERTIFICATE with CKA_SUBJECT/ISSUER/SERIAL_NUMBER filled in."""
        self.write_certificates(token, [(certificate, cka_id, label)])

    def write_raw_certificate(
        self, token: SoftHsmToken, value: bytes, cka_id: bytes | None = None, label: str = "garbage"
    ) -> bytes:
        """Write a certificate object whose CKA_VALUE is `value` as is (tests: garbage DER)."""
        cka_id = cka_id if cka_id is not None else self._new_id()
        with self._writer(token) as s:
            s.create_certificate(value, cka_id, label)
        return cka_id

    def write_certificates(
        self, token: SoftHsmToken, items: list[tuple[x509.Certificate, bytes, str]]
    ) -> None:
        """Write many certificates in one session (benchmarks)."""
        with self._writer(token) as s:
            for cert, cka_id, label in items:
                s.create_certificate(
                    cert.public_bytes(serialization.Encoding.DER),
                    cka_id,
                    label,
                    subject=cert.subject.public_bytes(),
                    issuer=cert.issuer.public_bytes(),
                    serial=_der_integer(cert.serial_number),
                )

    def add_client_certificate(
        self,
        token: SoftHsmToken,
        ca: CertificateAuthority,
        cn: str,
        kind: str = "rsa2048",
        *,
        cka_id: bytes | None = None,
        label: str | None = None,
        always_authenticate: bool = False,
        private: bool = True,
        client_auth: bool = True,
        key_on_token: bool = True,
        not_before: _dt.datetime | None = None,
        not_after: _dt.datetime | None = None,
    ) -> ProvisionedKey:
        """Generate a key on the token (or, with key_on_token=False, in software: a certificate
        without key), certify it with `ca`, write the
        certificate with the same CKA_ID."""
        label = label or cn
        if key_on_token:
            cka_id, public = self.generate_key(
                token,
                kind,
                cka_id=cka_id,
                label=label,
                always_authenticate=always_authenticate,
                private=private,
            )
        else:
            cka_id = cka_id if cka_id is not None else self._new_id()
            public = new_key(kind).public_key()
        issued = ca.issue_client(
            cn,
            public_key=public,
            client_auth=client_auth,
            not_before=not_before,
            not_after=not_after,
        )
        cert: x509.Certificate = issued.certificate
        self.write_certificate(token, cert, cka_id, label)
        return ProvisionedKey(
            token=token,
            cka_id=cka_id,
            label=label,
            kind=kind,
            public_key=public,
            certificate=cert,
            on_token=key_on_token,
            always_authenticate=always_authenticate,
        )


def _der_integer(value: int) -> bytes:
    body = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=False)
    if len(body) > 1 and body[0] == 0 and not body[1] & 0x80:
        body = body[1:]
    if len(body) < 0x80:
        return b"\x02" + bytes([len(body)]) + body
    n = len(body).to_bytes((len(body).bit_length() + 7) // 8, "big")
    return b"\x02" + bytes([0x80 | len(n)]) + n + body
