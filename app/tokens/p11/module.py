"""The loaded PKCS#11 module (`Pkcs11Module`) and the logins on its tokens (`CardLogin`).

Each module runs every call on its own serial worker (app.tokens.p11.executor). Nothing from the
binding leaves this package: callers get plain values (app.tokens.p11.readings) and typed errors
(app.tokens.errors, through app.tokens.p11.ckr). Get a module with app.tokens.p11.registry.load_module.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from types import MappingProxyType
from typing import Any, TypeVar

import pkcs11 as _p11
from pkcs11 import Attribute, ObjectClass
from pkcs11 import exceptions as _x

from app.tokens.errors import (
    ModuleLoadFailed,
    PinCancelled,
    PinIncorrect,
    PinLocked,
    TokenError,
    TokenNotPresent,
    TokenOperationFailed,
)
from app.tokens.flags import SlotFlags, TokenFlags, pin_state_from_flags
from app.tokens.p11.ckr import NOT_PRESENT, REMOVED, ckr_name, map_error
from app.tokens.p11.events import EventPump, SlotEvents
from app.tokens.p11.executor import SerialExecutor
from app.tokens.p11.login import CardLogin, LoginState
from app.tokens.p11.objects import find_objects, mech_name, read_class, text
from app.tokens.p11.pcsc import ReaderStates
from app.tokens.p11.readings import (
    MechanismReading,
    Presence,
    SlotReading,
    TokenObjects,
    TokenReading,
)
from app.tokens.pin import Pin, PinCallback, PinPurpose, PinRequest

log = logging.getLogger(__name__)
T = TypeVar("T")

# Environment variables that some modules read at C_Initialize (process-wide): applied under a lock
# around every C_Initialize of a module that was loaded with `init_env`.
_ENV_LOCK = threading.Lock()


@contextmanager
def _env(values: Mapping[str, str] | None) -> Iterator[None]:
    if not values:
        yield
        return
    with _ENV_LOCK:
        saved = {k: os.environ.get(k) for k in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


# ---------------------------------------------------------------------------------------------
# Loaded modules
# ---------------------------------------------------------------------------------------------


class Pkcs11Module:
    """One loaded PKCS#11 library and the worker thread that owns every call to it.

    Get one with `load_module(path)`: a library is loaded (and C_Initialize'd) once per process.
    """

    # Class-level defaults (a card module's): set per instance only for NSS's softokn (see __init__).
    slot_serials: Mapping[int, str] = MappingProxyType({})
    password_named: bool = False

    def __init__(
        self,
        path: str,
        init_env: Mapping[str, str] | None = None,
        *,
        opener: Callable[[], Any] | None = None,
        slot_serials: Mapping[int, str] | None = None,
        password_named: bool = False,
    ) -> None:
        self.path = path
        self.init_env = dict(init_env or {})
        # A library that is not initialised the binding's way (NSS's softokn: app.tokens.p11.softokn)
        # comes from `opener`; its tokens all report the same serial, so `slot_serials` names them.
        self._opener = opener
        self.slot_serials = dict(slot_serials or {})
        # a software database's password (NSS): no lockout, and a database without one needs no login
        self.password_named = password_named
        self.executor = SerialExecutor(f"pkcs11:{os.path.basename(path)}")
        self.generation = 0  # bumped by every reinitialize(): sessions from an older generation are gone
        self._lib: Any = None
        self._logins: dict[str, LoginState] = {}
        self._closed = False
        self._slot_cache: dict[str, tuple[int, Any]] = {}  # serial -> (generation, slot) for still_present
        self._events: SlotEvents | None = None
        self.pump: EventPump | None = None  # set when the module has working slot events (OpenSC)
        self.executor.call(self._load)

    def __repr__(self) -> str:
        return f"Pkcs11Module({self.path!r}, generation={self.generation})"

    @property
    def closed(self) -> bool:
        """True once `close()` ran: the registry then loads the library again on demand."""
        return self._closed

    # -- life cycle ---------------------------------------------------------------------------

    def _load(self) -> None:
        if not os.path.exists(self.path):
            raise ModuleLoadFailed(self.path, "no such file")
        try:
            with _env(self.init_env):
                # pkcs11.lib() caches per path and C_Initialize's; we keep one Pkcs11Module per path.
                self._lib = self._opener() if self._opener is not None else _p11.lib(self.path)
                if not self._lib.initialized:
                    self._lib.initialize()
        except TokenError:
            raise
        except Exception as e:
            raise ModuleLoadFailed(self.path, ckr_name(e) or f"{type(e).__name__}: {e}") from e
        if self._opener is None:  # an opener initialises its own way (NSS): leave it alone
            self._open_events()

    def _open_events(self) -> None:
        # A module with C_WaitForSlotEvent (OpenSC) on a machine with pcscd gets an event pump: the card
        # watch then sleeps on PC/SC reader state instead of polling the card (see events.py).
        events = SlotEvents.open(self.path)
        if events is None or not ReaderStates.available():
            return
        self._events = events
        self.pump = EventPump(events, self.call, os.path.basename(self.path), rescan=self._reinitialize)

    def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run `fn` on this module's worker thread (binding objects must only be touched there)."""
        if self._closed:
            raise TokenOperationFailed(f"the module {self.path} was unloaded")
        return self.executor.call(fn, *args, **kwargs)

    @property
    def library_description(self) -> str:
        """CK_INFO manufacturer and description."""
        lib = self._lib
        return f"{lib.manufacturer_id} {lib.library_description}".strip()

    def reinitialize(self) -> None:
        """Re-scan: C_Finalize + C_Initialize. Drops every session and login of this module.

        Safe to call repeatedly on a back-off: a failing C_Initialize raises (TokenNotPresent for a
        module that has no device to talk to, else TokenOperationFailed) and the next call tries again.
        """
        self.call(self._reinitialize)

    def _reinitialize(self) -> None:
        self._invalidate_logins()
        self.generation += 1
        lib = self._lib
        try:
            lib.finalize()
        except Exception as e:  # a dead device may refuse C_Finalize; we initialise again anyway
            log.debug("C_Finalize on %s: %s", self.path, ckr_name(e) or e)
        try:
            with _env(self.init_env):
                lib.initialize()
        except Exception as e:
            raise map_error(e, during="C_Initialize") from e
        if self.pump is not None:
            self.pump.drain()  # the cards present now are no news to the watch

    def _ensure_initialized(self) -> None:
        if not self._lib.initialized:
            with _env(self.init_env):
                self._lib.initialize()

    def _invalidate_logins(self) -> None:
        for login in self._logins.values():
            login.valid = False
        self._logins.clear()

    def close(self) -> None:
        """Close sessions, C_Finalize and stop the worker. The module object is unusable afterwards."""
        if self._closed:
            return

        def _close() -> None:
            for login in list(self._logins.values()):
                try:
                    login.session.close()
                except Exception:
                    log.debug("closing a session on %s failed", self.path)
            self._invalidate_logins()
            # C_Finalize but never dlclose: some modules (opencryptoki) register pthread_atfork
            # handlers, and the next fork() would jump into the unmapped library. python-pkcs11
            # keeps the library object; a later load_module() C_Initialize's it again.
            if self.pump is not None:
                self.pump.close()  # cancels its PC/SC wait
            try:
                self._lib.finalize()
            except Exception:
                log.debug("C_Finalize of %s failed", self.path)

        try:
            self.executor.call(_close)
        finally:
            self._closed = True
            self.executor.shutdown(wait=True)
            if self.pump is not None:
                self.pump.join(2.0)

    # -- reading ------------------------------------------------------------------------------

    def slots(self) -> list[SlotReading]:
        """Every slot, with token info where a token is present and initialised."""
        return self.call(self._slots)

    def _slots(self) -> list[SlotReading]:
        self._ensure_initialized()
        try:
            slots = self._lib.get_slots(token_present=False)
        except Exception as e:
            raise map_error(e, during="C_GetSlotList") from e
        out = []
        for slot in slots:
            sflags = SlotFlags(int(slot.flags))
            token = None
            initialized = False
            if SlotFlags.TOKEN_PRESENT in sflags:
                try:
                    tok = slot.get_token()
                    initialized = TokenFlags.TOKEN_INITIALIZED in TokenFlags(int(tok.flags))
                    if initialized:
                        token = self._token_reading(slot, tok)
                except (_x.TokenNotPresent, _x.TokenNotRecognised, _x.SlotIDInvalid):
                    pass
                except Exception as e:
                    log.debug("C_GetTokenInfo on slot %s of %s: %s", slot.slot_id, self.path, ckr_name(e))
            out.append(
                SlotReading(int(slot.slot_id), text(slot.slot_description), sflags, token, initialized)
            )
        return out

    def _serial(self, slot: Any, tok: Any) -> str:
        return self.slot_serials.get(int(slot.slot_id)) or text(tok.serial)

    def _token_reading(self, slot: Any, tok: Any) -> TokenReading:
        return TokenReading(
            slot_id=int(slot.slot_id),
            slot_description=text(slot.slot_description),
            slot_flags=SlotFlags(int(slot.flags)),
            label=text(tok.label),
            serial=self._serial(slot, tok),
            manufacturer=text(tok.manufacturer_id),
            model=text(tok.model),
            flags=TokenFlags(int(tok.flags)),
            hardware_version=tuple(tok.hardware_version),
            firmware_version=tuple(tok.firmware_version),
        )

    def tokens(self) -> list[TokenReading]:
        """Initialised tokens only (empty slots and SoftHSM2's free slot are left out)."""
        return [s.token for s in self.slots() if s.token is not None]

    def _find_token(self, serial: str) -> tuple[Any, Any] | None:
        for slot in self._lib.get_slots(token_present=True):
            try:
                tok = slot.get_token()
            except (_x.TokenNotPresent, _x.TokenNotRecognised, _x.SlotIDInvalid):
                continue
            if self._serial(slot, tok) == serial and TokenFlags.TOKEN_INITIALIZED & int(tok.flags):
                return slot, tok
        return None

    def _require_token(self, serial: str) -> tuple[Any, Any]:
        self._ensure_initialized()
        try:
            found = self._find_token(serial)
        except Exception as e:
            raise map_error(e, during="looking for the card") from e
        if found is None:
            raise TokenNotPresent(f"No card with serial {serial} in {os.path.basename(self.path)}.")
        return found

    def flags_on_worker(self, serial: str) -> int | None:
        """The token's flags now, or None when it is gone (on the worker thread only: after a refused PIN)."""
        found = self._find_token(serial)
        return int(found[1].flags) if found else None

    def token_flags(self, serial: str) -> TokenFlags:
        """Current CK_TOKEN_INFO flags of the token (fresh C_GetTokenInfo)."""
        return self.call(lambda: TokenFlags(int(self._require_token(serial)[1].flags)))

    def token(self, serial: str) -> TokenReading:
        """Fresh info about one token."""

        def _read() -> TokenReading:
            slot, tok = self._require_token(serial)
            return self._token_reading(slot, tok)

        return self.call(_read)

    def mechanisms(self, serial: str) -> dict[str, MechanismReading]:
        """C_GetMechanismList + C_GetMechanismInfo of the token's slot."""

        def _read() -> dict[str, MechanismReading]:
            slot, _tok = self._require_token(serial)
            out: dict[str, MechanismReading] = {}
            try:
                for m in slot.get_mechanisms():
                    try:
                        info = slot.get_mechanism_info(m)
                        out[mech_name(m)] = MechanismReading(
                            mech_name(m), int(info.min_key_length), int(info.max_key_length), int(info.flags)
                        )
                    except Exception:
                        out[mech_name(m)] = MechanismReading(mech_name(m), 0, 0, 0)
            except Exception as e:
                raise map_error(e, token_label=text(_tok.label), during="C_GetMechanismList") from e
            return out

        return self.call(_read)

    def read_objects(self, slot_id: int) -> TokenObjects:
        """Certificates and keys visible without logging in, plus the mechanism names, for one slot.

        One unreadable object never breaks the reading: it comes back with `error` set.
        """
        return self.call(self._read_objects, slot_id)

    def _read_objects(self, slot_id: int) -> TokenObjects:
        self._ensure_initialized()
        try:
            slot = next(
                (s for s in self._lib.get_slots(token_present=True) if int(s.slot_id) == slot_id), None
            )
            if slot is None:
                raise TokenNotPresent(f"slot {slot_id} has no card")
            tok = slot.get_token()
        except TokenError:
            raise
        except Exception as e:
            raise map_error(e, during="C_GetTokenInfo") from e
        reading = self._token_reading(slot, tok)
        errors: list[str] = []
        try:
            mechs = frozenset(mech_name(m) for m in slot.get_mechanisms())
        except Exception as e:
            mechs = frozenset()
            errors.append(f"mechanism list: {ckr_name(e) or e}")
        try:
            session = tok.open()
        except Exception as e:
            raise map_error(e, token_label=reading.label, during="C_OpenSession") from e
        try:
            certs = read_class(session, ObjectClass.CERTIFICATE, errors)
            privs = read_class(session, ObjectClass.PRIVATE_KEY, errors)
            pubs = read_class(session, ObjectClass.PUBLIC_KEY, errors)
        finally:
            try:
                session.close()
            except Exception:
                log.debug("C_CloseSession failed on %s", self.path)
        return TokenObjects(reading, certs, privs, pubs, mechs, tuple(errors))


    # -- presence -----------------------------------------------------------------------------

    def probe(self, serial: str) -> Presence:
        """Cheap presence check of one token: REMOVED, PRESENT_LOGGED_OUT or PRESENT_LOGGED_IN.

        A card that came back after removal is PRESENT_LOGGED_OUT until someone logs in again. A
        module that cannot see a re-inserted card until re-scanned (p11-kit remoting, SoftHSM2)
        keeps saying REMOVED: call `reinitialize()` on a back-off, then probe again.
        """
        return self.call(self._probe, serial)

    def _probe(self, serial: str) -> Presence:
        try:
            self._ensure_initialized()
            found = self._find_token(serial)
        except (*REMOVED, *NOT_PRESENT):
            return Presence.REMOVED
        except _x.PKCS11Error as e:
            if ckr_name(e) in (None, "CKR_GENERAL_ERROR") or "not initialized" in str(e):
                return Presence.REMOVED
            raise map_error(e, during="presence probe") from e
        if found is None:
            login = self._logins.pop(serial, None)
            if login is not None:
                login.valid = False
            return Presence.REMOVED
        login = self._logins.get(serial)
        if login is None or not login.valid:
            return Presence.PRESENT_LOGGED_OUT
        if login.alive():
            return Presence.PRESENT_LOGGED_IN
        login.valid = False
        self._logins.pop(serial, None)
        return Presence.PRESENT_LOGGED_OUT

    def still_present(self, serial: str) -> bool:
        """The cheapest presence check (added for the card watch): one C_GetTokenInfo on the slot
        where this token was last found. False when that slot no longer holds it or the module
        reports the device gone. Says nothing about the login state: use probe() for that."""
        return self.call(self._still_present, serial)

    def _still_present(self, serial: str) -> bool:
        cached = self._slot_cache.get(serial)
        try:
            if cached is None or cached[0] != self.generation:
                # no slot known for this generation (first poll, or after a re-scan): look it up
                self._ensure_initialized()
                found = self._find_token(serial)
                if found is None:
                    self._slot_cache.pop(serial, None)
                    return False
                self._slot_cache[serial] = (self.generation, found[0])
                return True
            if self._serial(cached[1], cached[1].get_token()) == serial:
                return True
        except (*REMOVED, *NOT_PRESENT):
            pass
        except _x.PKCS11Error as e:
            if not (ckr_name(e) in (None, "CKR_GENERAL_ERROR") or "not initialized" in str(e)):
                raise map_error(e, during="presence probe") from e
        self._slot_cache.pop(serial, None)
        return False

    def slot_present(self, serial: str) -> bool | None:
        """C_GetSlotInfo's token-present flag of the slot where this token was last found (no card
        traffic with OpenSC). None when unknown: no slot known yet for this generation, or no slot events."""
        return self.call(self._slot_present, serial)

    def cached_slot_id(self, serial: str) -> int | None:
        """The slot where this token was last found in this generation (None when not known); no call."""
        cached = self._slot_cache.get(serial)
        return int(cached[1].slot_id) if cached is not None and cached[0] == self.generation else None

    def _slot_present(self, serial: str) -> bool | None:
        cached = self._slot_cache.get(serial)
        if self._events is None or cached is None or cached[0] != self.generation:
            return None
        return self._events.token_present(int(cached[1].slot_id))

    # The TokenProbe protocol of app.tokens.watch (the card watch polls through these).

    def is_present(self, serial: str) -> bool:
        """Whether the token with this serial is in a slot now."""
        return self.probe(serial).present

    def present_serials(self) -> frozenset[str]:
        """Serials of the initialised tokens present now (empty when the module reports the device gone)."""

        def _read() -> frozenset[str]:
            try:
                self._ensure_initialized()
                out = set()
                for slot in self._lib.get_slots(token_present=True):
                    try:
                        tok = slot.get_token()
                    except (*NOT_PRESENT, *REMOVED):
                        continue
                    if TokenFlags.TOKEN_INITIALIZED & int(tok.flags):
                        out.add(self._serial(slot, tok))
                return frozenset(out)
            except (*REMOVED, *NOT_PRESENT):
                return frozenset()
            except Exception as e:
                raise map_error(e, during="C_GetSlotList") from e

        return self.call(_read)

    def rescan(self) -> None:
        """Same as reinitialize() (C_Finalize + C_Initialize)."""
        self.reinitialize()

    def holds_certificate(self, serial: str, fingerprint: str) -> bool:
        """Whether the token holds a certificate whose DER has this SHA-256 (hex, any case, ':' allowed)."""
        want = fingerprint.lower().replace(":", "")

        def _read() -> bool:
            _slot, tok = self._require_token(serial)
            try:
                session = tok.open()
            except Exception as e:
                raise map_error(e, token_label=text(tok.label), during="C_OpenSession") from e
            try:
                for obj in list(session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE})):
                    try:
                        if hashlib.sha256(bytes(obj[Attribute.VALUE])).hexdigest() == want:
                            return True
                    except (*REMOVED,) as e:
                        raise map_error(e, token_label=text(tok.label)) from e
                    except Exception as e:  # an unreadable object is not ours; look at the next
                        log.debug("certificate value unreadable: %s", ckr_name(e))
                return False
            except TokenError:
                raise
            except Exception as e:
                raise map_error(e, token_label=text(tok.label), during="C_FindObjects") from e
            finally:
                try:
                    session.close()
                except Exception:
                    log.debug("C_CloseSession failed on %s", self.path)

        return self.call(_read)

    # -- login --------------------------------------------------------------------------------

    def login(
        self,
        serial: str,
        pin_callback: PinCallback,
        *,
        purpose: PinPurpose = PinPurpose.LOGIN,
        last_error: str | None = None,
    ) -> CardLogin:
        """Log in to a token (asking the PIN through `pin_callback` on the CALLING thread).

        A PIN is never retried: a refused PIN raises PinIncorrect (with the flags read after the
        failure) and the caller decides whether to ask again. A token with a protected
        authentication path logs in with no PIN from us (the callback is told, protected_path=True).
        If this process is already logged in to the token, the login is shared and no PIN is asked.
        """
        existing = self.call(self._reuse_login, serial)
        if existing is not None:
            return CardLogin(self, existing)
        info = self.token(serial)
        if self.password_named:
            return self._database_login(serial, info, pin_callback, purpose, last_error)
        if pin_state_from_flags(info.flags).locked:
            raise PinLocked(f"The PIN of '{info.label}' is locked.", token_label=info.label)
        protected = TokenFlags.PROTECTED_AUTHENTICATION_PATH in info.flags
        request = PinRequest.for_token(
            info.label, purpose, info.flags, protected_path=protected, last_error=last_error
        )
        pin: Pin | None = None
        if protected:
            pin_callback(request)  # "enter the PIN on the reader"; the answer is ignored
        else:
            pin = pin_callback(request)
            if pin is None:
                raise PinCancelled("The PIN prompt was cancelled.", token_label=info.label)
        try:
            login = self.call(self._open_login, serial, info.label, pin)
        finally:
            if pin is not None:
                pin.wipe()
        return CardLogin(self, login)

    def _database_login(
        self,
        serial: str,
        info: TokenReading,
        pin_callback: PinCallback,
        purpose: PinPurpose,
        last_error: str | None,
    ) -> CardLogin:
        """A software database (NSS): its password is asked under its name, with nothing about tries
        (there is no lockout); a database without a password opens without a login."""
        if TokenFlags.LOGIN_REQUIRED not in info.flags:
            return CardLogin(self, self.call(self._open_login, serial, info.label, None, plain=True))
        request = PinRequest(info.label, purpose, last_error=last_error, database_password=True)
        pin = pin_callback(request)
        if pin is None:
            raise PinCancelled("The password prompt was cancelled.", token_label=info.label)
        try:
            login = self.call(self._open_login, serial, info.label, pin)
        except PinIncorrect as e:
            raise PinIncorrect(
                f"The password of '{info.label}' is incorrect.", token_label=info.label
            ) from e
        finally:
            pin.wipe()
        return CardLogin(self, login)

    def _reuse_login(self, serial: str) -> LoginState | None:
        login = self._logins.get(serial)
        if login is None or not login.valid or login.generation != self.generation:
            return None
        if not login.alive():
            login.valid = False
            self._logins.pop(serial, None)
            return None
        login.refs += 1
        return login

    def _open_login(self, serial: str, label: str, pin: Pin | None, plain: bool = False) -> LoginState:
        _slot, tok = self._require_token(serial)

        try:
            if plain:  # a database without a password: its keys are readable without C_Login
                session = tok.open()
            elif pin is None:
                session = tok.open(user_pin=_p11.PROTECTED_AUTH)
            else:
                session = tok.open(user_pin=pin.reveal())
        except _x.UserAlreadyLoggedIn:
            # Another session of this process is logged in (the login state is per token): share it.
            try:
                session = tok.open()
            except Exception as e:
                raise map_error(e, token_label=label, during="C_OpenSession") from e
        except Exception as e:
            flags_now = partial(self.flags_on_worker, serial)  # read after the refusal
            raise map_error(e, token_label=label, read_flags=flags_now, during="C_Login") from None
        login = LoginState(session, serial, label, self.generation)
        try:
            wanted = {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.PRIVATE: True}
            found = find_objects(session, wanted)
            login.witness = found[0] if found else None
        except Exception:
            login.witness = None
        self._logins[serial] = login
        return login

    def release_login(self, login: LoginState) -> None:
        """Give one reference back; the last one logs out (on the worker thread only)."""
        login.refs -= 1
        if login.refs > 0:
            return
        if self._logins.get(login.serial) is login:
            del self._logins[login.serial]
        if login.valid and login.generation == self.generation:
            # the session that did C_Login closes last: its close() is the C_Logout
            sessions = sorted(
                [login.session, *login.stale],
                key=lambda s: getattr(s, "user_type", None) == _p11.UserType.USER,
            )
            for s in sessions:
                try:
                    s.close()
                except Exception:
                    log.debug("closing a session on '%s' failed", login.label)
        login.stale.clear()
        login.valid = False
