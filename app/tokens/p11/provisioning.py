"""Writing keys and certificates to test and demo tokens (SoftHSM2). Never on the product's path:
only app.sandbox.softhsm (demo card, test rigs, benchmarks) uses it; nothing in app.tokens imports it.
"""

from __future__ import annotations

import logging
from typing import Any

import pkcs11 as _p11
from pkcs11 import Attribute, ObjectClass
from pkcs11 import exceptions as _x

from app.tokens.p11.ckr import map_error
from app.tokens.p11.module import Pkcs11Module
from app.tokens.p11.objects import text

log = logging.getLogger(__name__)


class ProvisioningSession:
    """Writes keys and objects to a test/demo token. Test/demo tokens only; never a real card."""

    def __init__(self, module: Pkcs11Module, serial: str, pin: str) -> None:
        self._module = module
        self._serial = serial
        self._pin = pin
        self._session: Any = None

    def __enter__(self) -> ProvisioningSession:
        def _open() -> Any:
            _slot, tok = self._module._require_token(self._serial)
            try:
                return tok.open(rw=True, user_pin=self._pin)
            except _x.UserAlreadyLoggedIn:
                return tok.open(rw=True)
            except Exception as e:
                raise map_error(e, token_label=text(tok.label), during="C_Login") from None

        self._session = self._module.call(_open)
        return self

    def __exit__(self, *exc: object) -> None:
        s = self._session
        self._session = None

        def _close() -> None:
            # Never C_Logout a login that a CardLogin of this process shares.
            if s is not None and self._serial not in self._module._logins:
                try:
                    s.close()
                except Exception:
                    log.debug("closing the provisioning session failed")

        self._module.call(_close)

    def generate_keypair(
        self, kind: str, cka_id: bytes, label: str, *, always_authenticate: bool = False, private: bool = True
    ) -> dict[str, Any]:
        """Generate a non-extractable signing key pair ON the token.

        `kind`: "rsa2048", "rsa3072", "rsa4096", "p256", "p384", "p521". Returns the public key as
        {"kind": "rsa", "n": int, "e": int} or {"kind": "ec", "curve": kind, "point": bytes}.
        `private=False` makes the private key visible (not usable) before login, as OpenSC shows
        PIV / PKCS#15 cards.
        """
        from pkcs11.util.ec import encode_named_curve_parameters

        def _gen() -> dict[str, Any]:
            s = self._session
            priv_tpl = {
                Attribute.TOKEN: True,
                Attribute.PRIVATE: private,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.SIGN: True,
                Attribute.DECRYPT: False,
                Attribute.UNWRAP: False,
                Attribute.DERIVE: False,
                Attribute.ALWAYS_AUTHENTICATE: always_authenticate,
                Attribute.ID: cka_id,
                Attribute.LABEL: label,
            }
            pub_tpl = {
                Attribute.TOKEN: True,
                Attribute.PRIVATE: False,
                Attribute.VERIFY: True,
                Attribute.ENCRYPT: False,
                Attribute.WRAP: False,
                Attribute.ID: cka_id,
                Attribute.LABEL: label,
            }
            try:
                if kind.startswith("rsa"):
                    pub_tpl[Attribute.PUBLIC_EXPONENT] = b"\x01\x00\x01"
                    pub_tpl[Attribute.MODULUS_BITS] = int(kind[3:])
                    pub, _priv = s.generate_keypair(
                        _p11.KeyType.RSA,
                        int(kind[3:]),
                        store=True,
                        public_template=pub_tpl,
                        private_template=priv_tpl,
                    )
                    return {
                        "kind": "rsa",
                        "n": int.from_bytes(pub[Attribute.MODULUS], "big"),
                        "e": int.from_bytes(pub[Attribute.PUBLIC_EXPONENT], "big"),
                    }
                curve = {"p256": "secp256r1", "p384": "secp384r1", "p521": "secp521r1"}[kind]
                params = s.create_domain_parameters(
                    _p11.KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters(curve)}, local=True
                )
                pub, _priv = params.generate_keypair(
                    store=True, public_template=pub_tpl, private_template=priv_tpl
                )
                return {"kind": "ec", "curve": kind, "point": bytes(pub[Attribute.EC_POINT])}
            except Exception as e:
                raise map_error(e, during="C_GenerateKeyPair") from e

        return self._module.call(_gen)

    def create_certificate(
        self,
        der: bytes,
        cka_id: bytes,
        label: str,
        *,
        subject: bytes | None = None,
        issuer: bytes | None = None,
        serial: bytes | None = None,
    ) -> None:
        """Write a CKO_CERTIFICATE (X.509) object. `der` may be anything: tests write garbage too."""
        tpl: dict[Any, Any] = {
            Attribute.CLASS: ObjectClass.CERTIFICATE,
            Attribute.CERTIFICATE_TYPE: _p11.CertificateType.X_509,
            Attribute.TOKEN: True,
            Attribute.PRIVATE: False,
            Attribute.VALUE: der,
            Attribute.ID: cka_id,
            Attribute.LABEL: label,
            Attribute.SUBJECT: subject or b"\x30\x00",
        }
        if issuer is not None:
            tpl[Attribute.ISSUER] = issuer
        if serial is not None:
            tpl[Attribute.SERIAL_NUMBER] = serial

        def _create() -> None:
            try:
                self._session.create_object(tpl)
            except Exception as e:
                raise map_error(e, during="C_CreateObject") from e

        self._module.call(_create)
