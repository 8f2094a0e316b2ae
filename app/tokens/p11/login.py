"""A login on one token: its state on the module's worker (`LoginState`) and the handle a signer
holds (`CardLogin`): find the private key, sign (with the context-specific login of an
always-authenticate key), give the login back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import suppress
from typing import Any, Protocol, TypeVar

import pkcs11 as _p11
from pkcs11 import Attribute, Mechanism, ObjectClass

from app.tokens.errors import KeyNotFound, MechanismUnsupported, TokenError, TokenRemoved
from app.tokens.p11.ckr import map_error
from app.tokens.p11.objects import find_objects, text
from app.tokens.p11.readings import ObjectReading
from app.tokens.pin import Pin

log = logging.getLogger(__name__)
T = TypeVar("T")


class LoginState:
    """A logged-in session on one token (the login state is per token per process in PKCS#11)."""

    def __init__(self, session: Any, serial: str, label: str, generation: int) -> None:
        self.session = session
        self.serial = serial
        self.label = label
        self.generation = generation
        self.refs = 1
        self.valid = True
        self.witness: Any = None  # a private object: readable only while logged in
        self.stale: list[Any] = []  # sessions left with a stuck operation; closed when the login ends
        self.keys: dict[bytes, Any] = {}  # CKA_ID -> private key object found in `session`

    def key(self, cka_id: bytes) -> Any | None:
        """The private key object with this CKA_ID (searched once per session)."""
        if cka_id not in self.keys:
            wanted = {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.ID: cka_id}
            found = find_objects(self.session, wanted)
            if not found:
                return None
            self.keys[cka_id] = found[0]
        return self.keys[cka_id]

    def alive(self) -> bool:
        """Whether the login still works: reads a private object (only readable while logged in)."""
        try:
            if self.witness is not None:
                self.witness[Attribute.CLASS]
            elif self.keys:
                next(iter(self.keys.values()))[Attribute.CLASS]
            else:
                find_objects(self.session, {Attribute.CLASS: ObjectClass.PRIVATE_KEY})
            return True
        except Exception:
            return False


class LoginHost(Protocol):
    """What a CardLogin needs from the module that made it (Pkcs11Module implements it)."""

    path: str
    generation: int  # bumped by every re-scan: logins of an older generation are gone

    def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run `fn` on the module's worker thread."""
        ...

    def flags_on_worker(self, serial: str) -> int | None:
        """The token's flags now, or None when it is gone (on the worker thread only)."""
        ...

    def release_login(self, login: LoginState) -> None:
        """Give one reference back; the last one logs out (on the worker thread only)."""
        ...


class CardLogin:
    """A logged-in session on one token, as handed to a card signer. Use from any thread."""

    def __init__(self, module: LoginHost, login: LoginState) -> None:
        self._module = module
        self._login = login
        self._closed = False

    def __repr__(self) -> str:
        return f"CardLogin({self._login.label!r}, serial={self._login.serial!r}, valid={self.valid})"

    @property
    def serial(self) -> str:
        return self._login.serial

    @property
    def token_label(self) -> str:
        return self._login.label

    @property
    def valid(self) -> bool:
        """False once the card was removed, the module re-scanned, or this login closed."""
        return not self._closed and self._login.valid and self._login.generation == self._module.generation

    def _check(self) -> None:
        if not self.valid:
            raise TokenRemoved(
                f"The login to '{self.token_label}' was lost; log in again.", token_label=self.token_label
            )

    def find_private_key(self, cka_id: bytes) -> ObjectReading:
        """The private key with this CKA_ID (KeyNotFound if none)."""

        def _read() -> ObjectReading:
            self._check()
            try:
                key = self._login.key(cka_id)
            except Exception as e:
                raise map_error(e, token_label=self.token_label, during="C_FindObjects") from e
            if key is None:
                raise KeyNotFound(
                    f"No private key with ID {cka_id.hex()} on '{self.token_label}'.",
                    token_label=self.token_label,
                )
            try:
                attrs = key.get_attributes(
                    [
                        Attribute.ID,
                        Attribute.LABEL,
                        Attribute.KEY_TYPE,
                        Attribute.ALWAYS_AUTHENTICATE,
                        Attribute.SIGN,
                    ]
                )
            except Exception as e:
                raise map_error(e, token_label=self.token_label, during="C_GetAttributeValue") from e
            kt = attrs.get(Attribute.KEY_TYPE)
            return ObjectReading(
                "private_key",
                cka_id=bytes(attrs.get(Attribute.ID) or b""),
                label=text(attrs.get(Attribute.LABEL) or ""),
                key_type=getattr(kt, "name", None),
                always_authenticate=bool(attrs.get(Attribute.ALWAYS_AUTHENTICATE, False)),
                can_sign=bool(attrs.get(Attribute.SIGN, True)),
            )

        return self._module.call(_read)

    def sign(
        self,
        cka_id: bytes,
        mechanism: str,
        data: bytes,
        *,
        pss_hash: str | None = None,
        salt_length: int = 0,
        context_pin: Pin | None = None,
        context_protected: bool = False,
    ) -> bytes:
        """C_SignInit + [C_Login(CKU_CONTEXT_SPECIFIC)] + C_Sign with the private key of this CKA_ID.

        `mechanism` is a PKCS#11 name without the CKM_ prefix ("RSA_PKCS", "RSA_PKCS_PSS", "ECDSA").
        For RSA_PKCS_PSS give `pss_hash` ("sha256"...) and `salt_length`. `context_pin` (or
        `context_protected` for a PIN pad) performs the context-specific login of an
        always-authenticate key between C_SignInit and C_Sign.
        """
        try:
            mech = Mechanism[mechanism]
        except KeyError:
            raise MechanismUnsupported(f"unknown mechanism {mechanism}") from None
        param: Any = None
        if mech is Mechanism.RSA_PKCS_PSS:
            h = {
                "sha256": (Mechanism.SHA256, _p11.MGF.SHA256),
                "sha384": (Mechanism.SHA384, _p11.MGF.SHA384),
                "sha512": (Mechanism.SHA512, _p11.MGF.SHA512),
            }[pss_hash or "sha256"]
            param = (h[0], h[1], salt_length)

        def _sign() -> bytes:
            self._check()
            label = self.token_label
            try:
                key = self._login.key(cka_id)
            except Exception as e:
                err = map_error(e, token_label=label, during="C_FindObjects")
                if isinstance(err, TokenRemoved):
                    self._login.valid = False
                raise err from e
            if key is None:
                raise KeyNotFound(f"No private key with ID {cka_id.hex()} on '{label}'.", token_label=label)
            kwargs: dict[str, Any] = {"mechanism": mech}
            if param is not None:
                kwargs["mechanism_param"] = param
            if context_pin is not None:
                kwargs["pin"] = context_pin.reveal()
            elif context_protected:
                kwargs["pin"] = ""  # PIN pad: the reader collects it (python-pkcs11 sends a zero-length PIN)

            def flags_now() -> int | None:
                return self._module.flags_on_worker(self.serial)

            try:
                return bytes(key.sign(data, **kwargs))
            except Exception as e:
                err = map_error(e, token_label=label, read_flags=flags_now, during="C_Sign")
                if isinstance(err, TokenRemoved):
                    self._login.valid = False
                elif "pin" in kwargs:
                    self._replace_session()
                raise err from (None if context_pin is not None else e)

        try:
            return self._module.call(_sign)
        finally:
            if context_pin is not None:
                context_pin.wipe()

    def _replace_session(self) -> None:
        # A refused context-specific login leaves C_SignInit's operation active on some modules
        # (SoftHSM2), and PKCS#11 2.x has no way to cancel it: continue on a fresh session of the
        # same login (the login state is per token) and close the stuck one when the login ends.
        login = self._login
        try:
            fresh = login.session.token.open()
        except Exception:
            log.debug("could not open a fresh session on '%s'", login.label)
            return
        login.stale.append(login.session)
        login.session = fresh
        login.witness = None
        login.keys = {}

    def close(self) -> None:
        """Give the login back; the last holder logs out and closes the session."""
        if self._closed:
            return
        self._closed = True
        with suppress(TokenError):
            self._module.call(self._module.release_login, self._login)
