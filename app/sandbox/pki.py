"""A small PKI built with `cryptography`: the sandbox's server certificates and test/demo client certificates.

Certificates follow what cryptography's WebPKI verifier accepts: CA with critical basicConstraints
CA:TRUE and keyCertSign; leaf certificates with non-critical SAN and EKU.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


def new_key(kind: str = "rsa2048") -> PrivateKey:
    """'rsa2048', 'rsa3072', 'rsa4096', 'p256', 'p384' or 'p521'."""
    if kind.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    curve = {"p256": ec.SECP256R1(), "p384": ec.SECP384R1(), "p521": ec.SECP521R1()}[kind]
    return ec.generate_private_key(curve)


def _name(cn: str, org: str = "OUTSCALE Trusted Login test") -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


@dataclass
class Issued:
    """A certificate and (when we hold it) its private key."""

    certificate: x509.Certificate
    key: PrivateKey | None = None
    chain: list[x509.Certificate] = field(default_factory=list)

    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def key_pem(self, password: bytes | None = None) -> bytes:
        assert self.key is not None
        enc: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        )
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)

    def write(self, cert_path: Path, key_path: Path | None = None) -> None:
        """Write PEM files (key owner-only). For test and sandbox material only."""
        cert_path.write_bytes(self.cert_pem() + b"".join(
            c.public_bytes(serialization.Encoding.PEM) for c in self.chain))
        if key_path is not None:
            key_path.write_bytes(self.key_pem())
            key_path.chmod(0o600)

    def pkcs12(self, password: bytes | None, name: bytes = b"client") -> bytes:
        from cryptography.hazmat.primitives.serialization import pkcs12

        enc: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        )
        return pkcs12.serialize_key_and_certificates(name, self.key, self.certificate,
                                                     self.chain or None, enc)


class CertificateAuthority:
    """A CA that issues server and client certificates."""

    key: PrivateKey
    certificate: x509.Certificate
    issuer: CertificateAuthority | None

    def __init__(self, cn: str = "Test Root CA", key_kind: str = "p256",
                 issuer: CertificateAuthority | None = None, days: int = 3650) -> None:
        self.key = new_key(key_kind)
        now = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(issuer.certificate.subject if issuer else _name(cn))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _dt.timedelta(days=1))
            .not_valid_after(now + _dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
        )
        if issuer:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
        signer = issuer.key if issuer else self.key
        self.certificate = builder.sign(signer, hashes.SHA256())
        self.issuer = issuer

    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        """The CA's private key in unencrypted PKCS#8 PEM (sandbox/test material only)."""
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    @classmethod
    def from_pem(cls, cert_pem: bytes, key_pem: bytes) -> CertificateAuthority:
        """A root CA loaded back from the PEM files written earlier (no new key generated)."""
        ca = cls.__new__(cls)
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ValueError("unsupported CA key type")
        ca.key = key
        ca.certificate = x509.load_pem_x509_certificate(cert_pem)
        ca.issuer = None
        return ca

    def _leaf(self, cn: str, public_key: PublicKey, *, eku: list[x509.ObjectIdentifier] | None,
              san: list[x509.GeneralName] | None, not_before: _dt.datetime | None,
              not_after: _dt.datetime | None, key_usage: bool = True) -> x509.Certificate:
        now = _now()
        b = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - _dt.timedelta(days=1))
            .not_valid_after(not_after or now + _dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        )
        if key_usage:
            is_rsa = isinstance(public_key, rsa.RSAPublicKey)
            b = b.add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                              key_encipherment=is_rsa, data_encipherment=False,
                                              key_agreement=False, key_cert_sign=False, crl_sign=False,
                                              encipher_only=False, decipher_only=False), critical=True)
        if eku:
            b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
        if san:
            b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return b.sign(self.key, hashes.SHA256())

    def chain(self) -> list[x509.Certificate]:
        """Intermediates between a leaf of this CA and the root (this CA included when not a root)."""
        out: list[x509.Certificate] = []
        ca: CertificateAuthority | None = self
        while ca is not None and ca.issuer is not None:
            out.append(ca.certificate)
            ca = ca.issuer
        return out

    def issue_server(self, hosts: tuple[str, ...] = ("localhost", "127.0.0.1"), key_kind: str = "p256",
                     *, not_before: _dt.datetime | None = None, not_after: _dt.datetime | None = None,
                     eku: list[x509.ObjectIdentifier] | None = None) -> Issued:
        """A TLS server certificate for `hosts` (DNS names or IP addresses)."""
        key = new_key(key_kind)
        san: list[x509.GeneralName] = []
        for h in hosts:
            try:
                san.append(x509.IPAddress(ipaddress.ip_address(h)))
            except ValueError:
                san.append(x509.DNSName(h))
        cert = self._leaf(hosts[0], key.public_key(),
                          eku=eku if eku is not None else [ExtendedKeyUsageOID.SERVER_AUTH],
                          san=san, not_before=not_before, not_after=not_after)
        return Issued(cert, key, self.chain())

    def issue_client(self, cn: str, key_kind: str = "rsa2048", *, public_key: PublicKey | None = None,
                     client_auth: bool = True, not_before: _dt.datetime | None = None,
                     not_after: _dt.datetime | None = None) -> Issued:
        """A client certificate; pass `public_key` to certify a key generated elsewhere (on a card)."""
        key = None
        if public_key is None:
            key = new_key(key_kind)
            public_key = key.public_key()
        eku = [ExtendedKeyUsageOID.CLIENT_AUTH] if client_auth else [ExtendedKeyUsageOID.EMAIL_PROTECTION]
        cert = self._leaf(cn, public_key, eku=eku, san=None, not_before=not_before, not_after=not_after)
        return Issued(cert, key, self.chain())
