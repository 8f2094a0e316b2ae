"""The only module that imports the PKCS#11 binding (python-pkcs11); every call to a module goes through here.

Each loaded module gets ONE worker thread (a serial executor) that owns every call to it: PKCS#11
libraries are not all thread-safe, a PIN-pad login blocks for as long as the user types, and a serial
queue keeps the order of login / sign / probe obvious. python-pkcs11 releases the GIL during calls, so
a blocked card call never freezes the other threads.

Nothing from the binding leaves this module: callers get plain values (`SlotReading`, `TokenReading`,
`ObjectReading`, `Presence`) and typed errors from `app.tokens.errors`.
"""

from __future__ import annotations

import concurrent.futures
import enum
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pkcs11 as _p11
from pkcs11 import Attribute, Mechanism, ObjectClass, SlotFlag, TokenFlag
from pkcs11 import exceptions as _x

from app.tokens.errors import (
    KeyNotFound,
    MechanismUnsupported,
    ModuleLoadFailed,
    PinCancelled,
    PinIncorrect,
    PinInvalid,
    PinLocked,
    TokenError,
    TokenNotPresent,
    TokenOperationFailed,
    TokenRemoved,
)
from app.tokens.pin import Pin, PinCallback, PinPurpose, PinRequest

log = logging.getLogger(__name__)
T = TypeVar("T")

# ---------------------------------------------------------------------------------------------
# Error mapping
# ---------------------------------------------------------------------------------------------

# python-pkcs11 exception class -> the CKR_ name (kept on TokenOperationFailed.ckr for diagnostics)
CKR_NAMES: dict[type[BaseException], str] = {
    _x.DeviceRemoved: "CKR_DEVICE_REMOVED",
    _x.DeviceError: "CKR_DEVICE_ERROR",
    _x.TokenNotPresent: "CKR_TOKEN_NOT_PRESENT",
    _x.TokenNotRecognised: "CKR_TOKEN_NOT_RECOGNIZED",
    _x.SessionHandleInvalid: "CKR_SESSION_HANDLE_INVALID",
    _x.SessionClosed: "CKR_SESSION_CLOSED",
    _x.SlotIDInvalid: "CKR_SLOT_ID_INVALID",
    _x.PinIncorrect: "CKR_PIN_INCORRECT",
    _x.PinLocked: "CKR_PIN_LOCKED",
    _x.PinLenRange: "CKR_PIN_LEN_RANGE",
    _x.PinInvalid: "CKR_PIN_INVALID",
    _x.PinExpired: "CKR_PIN_EXPIRED",
    _x.UserNotLoggedIn: "CKR_USER_NOT_LOGGED_IN",
    _x.UserAlreadyLoggedIn: "CKR_USER_ALREADY_LOGGED_IN",
    _x.UserPinNotInitialized: "CKR_USER_PIN_NOT_INITIALIZED",
    _x.MechanismInvalid: "CKR_MECHANISM_INVALID",
    _x.MechanismParamInvalid: "CKR_MECHANISM_PARAM_INVALID",
    _x.KeyTypeInconsistent: "CKR_KEY_TYPE_INCONSISTENT",
    _x.FunctionRejected: "CKR_FUNCTION_REJECTED",
    _x.FunctionCancelled: "CKR_FUNCTION_CANCELED",
    _x.FunctionFailed: "CKR_FUNCTION_FAILED",
    _x.FunctionNotSupported: "CKR_FUNCTION_NOT_SUPPORTED",
    _x.GeneralError: "CKR_GENERAL_ERROR",
    _x.ObjectHandleInvalid: "CKR_OBJECT_HANDLE_INVALID",
    _x.KeyHandleInvalid: "CKR_KEY_HANDLE_INVALID",
    _x.DataLenRange: "CKR_DATA_LEN_RANGE",
    _x.DataInvalid: "CKR_DATA_INVALID",
    _x.OperationActive: "CKR_OPERATION_ACTIVE",
    _x.HostMemory: "CKR_HOST_MEMORY",
    _x.DeviceMemory: "CKR_DEVICE_MEMORY",
    _x.SessionCount: "CKR_SESSION_COUNT",
    _x.AttributeSensitive: "CKR_ATTRIBUTE_SENSITIVE",
    _x.AttributeTypeInvalid: "CKR_ATTRIBUTE_TYPE_INVALID",
    _x.TemplateIncomplete: "CKR_TEMPLATE_INCOMPLETE",
    _x.TemplateInconsistent: "CKR_TEMPLATE_INCONSISTENT",
    _x.TokenWriteProtected: "CKR_TOKEN_WRITE_PROTECTED",
    _x.SessionReadOnly: "CKR_SESSION_READ_ONLY",
    _x.ArgumentsBad: "CKR_ARGUMENTS_BAD",
}

# Real readers report a pulled card in several ways; p11-kit remoting says CKR_DEVICE_ERROR.
_REMOVED = (_x.DeviceRemoved, _x.DeviceError, _x.SessionHandleInvalid, _x.SessionClosed)
_NOT_PRESENT = (_x.TokenNotPresent, _x.SlotIDInvalid, _x.TokenNotRecognised)

# Token flag bits (PKCS#11 values; kept here so callers need not import the binding)
CKF_LOGIN_REQUIRED = int(TokenFlag.LOGIN_REQUIRED)
CKF_USER_PIN_INITIALIZED = int(TokenFlag.USER_PIN_INITIALIZED)
CKF_PROTECTED_AUTHENTICATION_PATH = int(TokenFlag.PROTECTED_AUTHENTICATION_PATH)
CKF_TOKEN_INITIALIZED = int(TokenFlag.TOKEN_INITIALIZED)
CKF_WRITE_PROTECTED = int(TokenFlag.WRITE_PROTECTED)
CKF_USER_PIN_COUNT_LOW = int(TokenFlag.USER_PIN_COUNT_LOW)
CKF_USER_PIN_FINAL_TRY = int(TokenFlag.USER_PIN_FINAL_TRY)
CKF_USER_PIN_LOCKED = int(TokenFlag.USER_PIN_LOCKED)
CKF_USER_PIN_TO_BE_CHANGED = int(TokenFlag.USER_PIN_TO_BE_CHANGED)
CKF_TOKEN_PRESENT = int(SlotFlag.TOKEN_PRESENT)
CKF_REMOVABLE_DEVICE = int(SlotFlag.REMOVABLE_DEVICE)
CKF_HW_SLOT = int(SlotFlag.HW_SLOT)


def ckr_name(exc: BaseException) -> str | None:
    """The CKR_ name of a binding exception, when known."""
    for cls in type(exc).__mro__:
        if cls in CKR_NAMES:
            return CKR_NAMES[cls]
    text = str(exc)
    if "Unmapped error code" in text:
        return text.rsplit(" ", 1)[-1]
    return None


def pin_state_from_flags(flags: int | None) -> tuple[int | None, bool, bool, bool]:
    """(tries_left, count_low, final_try, locked) from CK_TOKEN_INFO flags.

    PKCS#11 gives no exact counter: FINAL_TRY means one try left, LOCKED none; otherwise unknown.
    """
    if flags is None:
        return None, False, False, False
    locked = bool(flags & CKF_USER_PIN_LOCKED)
    final = bool(flags & CKF_USER_PIN_FINAL_TRY)
    low = bool(flags & CKF_USER_PIN_COUNT_LOW)
    tries = 0 if locked else (1 if final else None)
    return tries, low, final, locked


def map_error(
    exc: BaseException,
    *,
    token_label: str | None = None,
    read_flags: Callable[[], int | None] | None = None,
    during: str = "",
) -> TokenError:
    """Translate a binding exception into the TokenError family (the caller raises it `from exc`).

    `read_flags` is called only after a refused PIN, to read the token's PIN flags as they are AFTER
    the failure (count low / final try / locked).
    """
    if isinstance(exc, TokenError):
        return exc
    what = f" during {during}" if during else ""
    name = ckr_name(exc)
    who = f"'{token_label}'" if token_label else "the card"
    if isinstance(exc, _REMOVED):
        return TokenRemoved(
            f"{who} was removed or stopped answering{what} ({name}).", token_label=token_label
        )
    if isinstance(exc, _NOT_PRESENT):
        return TokenNotPresent(f"{who} is not in the reader{what} ({name}).", token_label=token_label)
    if isinstance(exc, _x.PinIncorrect):
        flags: int | None = None
        if read_flags is not None:
            try:
                flags = read_flags()
            except Exception:  # the card may be gone by now; the PIN error is what matters
                flags = None
        tries, low, final, locked = pin_state_from_flags(flags)
        if locked:
            return PinLocked(f"The PIN is incorrect and {who} is now locked.", token_label=token_label)
        if final:
            msg = "The PIN is incorrect. One more wrong PIN will lock the card."
        elif low:
            msg = "The PIN is incorrect. The card counts wrong PINs: check it before trying again."
        else:
            msg = "The PIN is incorrect."
        return PinIncorrect(msg, token_label=token_label, tries_left=tries, count_low=low, final_try=final)
    if isinstance(exc, _x.PinLocked):
        return PinLocked(f"The PIN of {who} is locked.", token_label=token_label)
    if isinstance(exc, (_x.PinLenRange, _x.PinInvalid)):
        return PinInvalid(
            f"{who} does not accept a PIN of that length or with those characters ({name}).",
            token_label=token_label,
        )
    if isinstance(exc, _x.FunctionCancelled):
        return PinCancelled(f"The operation was cancelled on {who}.", token_label=token_label)
    if isinstance(exc, (_x.MechanismInvalid, _x.MechanismParamInvalid)):
        return MechanismUnsupported(
            f"{who} cannot do this signature mechanism ({name}).", token_label=token_label
        )
    if isinstance(exc, _x.PKCS11Error):
        return TokenOperationFailed(
            f"The card operation failed{what} ({name or type(exc).__name__}).",
            ckr=name,
            token_label=token_label,
        )
    return TokenOperationFailed(
        f"The card operation failed{what}: {type(exc).__name__}: {exc}", token_label=token_label
    )


# ---------------------------------------------------------------------------------------------
# Serial executor
# ---------------------------------------------------------------------------------------------


class SerialExecutor:
    """One worker thread that runs submitted calls one after another (Qt-free)."""

    def __init__(self, name: str) -> None:
        self._ident: int | None = None
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=name, initializer=self._remember_thread
        )
        self.name = name

    def _remember_thread(self) -> None:
        self._ident = threading.get_ident()

    @property
    def on_worker(self) -> bool:
        """True when called from the worker thread itself."""
        return self._ident == threading.get_ident()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        """Queue a call; returns its future."""
        return self._pool.submit(fn, *args, **kwargs)

    def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run `fn` on the worker and wait for its result (inline when already on the worker)."""
        if self.on_worker:
            return fn(*args, **kwargs)
        return self._pool.submit(fn, *args, **kwargs).result()

    def shutdown(self, wait: bool = True) -> None:
        """Stop accepting calls; finish the queued ones when `wait`."""
        self._pool.shutdown(wait=wait, cancel_futures=not wait)


# ---------------------------------------------------------------------------------------------
# Plain readings handed to the rest of app.tokens
# ---------------------------------------------------------------------------------------------


class Presence(enum.StrEnum):
    """What a presence probe found for one token (module path + token serial)."""

    PRESENT_LOGGED_IN = "present_logged_in"  # present and our login on it is still valid
    PRESENT_LOGGED_OUT = "present_logged_out"  # present, but we hold no valid login (lost or never made)
    REMOVED = "removed"  # not in any slot, or the module reports the device gone

    @property
    def present(self) -> bool:
        return self is not Presence.REMOVED


@dataclass(frozen=True)
class TokenReading:
    """CK_SLOT_INFO + CK_TOKEN_INFO of one slot with an initialised token."""

    slot_id: int
    slot_description: str
    slot_flags: int
    label: str
    serial: str
    manufacturer: str
    model: str
    flags: int
    hardware_version: tuple[int, int] = (0, 0)
    firmware_version: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class SlotReading:
    """One slot; `token` is None for an empty slot or an uninitialised token."""

    slot_id: int
    description: str
    flags: int
    token: TokenReading | None
    token_initialized: bool = False


@dataclass(frozen=True)
class ObjectReading:
    """The attributes we read from one object; `error` says why some could not be read."""

    object_class: str  # "certificate", "private_key", "public_key"
    cka_id: bytes = b""
    label: str = ""
    value: bytes | None = field(default=None, repr=False)  # CKA_VALUE of a certificate
    key_type: str | None = None  # "RSA", "EC", ...
    key_bits: int | None = None  # RSA modulus bits (when the token says)
    always_authenticate: bool | None = None
    can_sign: bool | None = None
    private: bool | None = None
    error: str | None = None


@dataclass(frozen=True)
class TokenObjects:
    """Everything the inventory needs from one token, read in one pass without logging in."""

    token: TokenReading
    certificates: tuple[ObjectReading, ...]
    private_keys: tuple[ObjectReading, ...]
    public_keys: tuple[ObjectReading, ...]
    mechanisms: frozenset[str]
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class MechanismReading:
    """C_GetMechanismInfo of one mechanism."""

    name: str
    min_key_size: int
    max_key_size: int
    flags: int


def _mech_name(m: Any) -> str:
    return m.name if isinstance(m, Mechanism) else f"0x{int(m):08x}"


def _text(b: Any) -> str:
    if isinstance(b, bytes):
        return b.decode("utf-8", "replace").strip()
    return str(b).strip()


def _find(session: Any, attrs: dict[Any, Any]) -> list[Any]:
    """C_FindObjects*, materialised; checks the token first.

    python-pkcs11 leaves its search marked active when C_FindObjectsInit fails, and then raises
    from a finaliser (an "exception ignored" on a dead device); C_GetTokenInfo fails cleanly first.
    """
    session.token.slot.get_token()
    return list(session.get_objects(attrs))


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


class _Login:
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
            found = _find(self.session, {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.ID: cka_id})
            if not found:
                return None
            self.keys[cka_id] = found[0]
        return self.keys[cka_id]


class Pkcs11Module:
    """One loaded PKCS#11 library and the worker thread that owns every call to it.

    Get one with `load_module(path)`: a library is loaded (and C_Initialize'd) once per process.
    """

    def __init__(self, path: str, init_env: Mapping[str, str] | None = None) -> None:
        self.path = path
        self.init_env = dict(init_env or {})
        self.executor = SerialExecutor(f"pkcs11:{os.path.basename(path)}")
        self.generation = 0  # bumped by every reinitialize(): sessions from an older generation are gone
        self._lib: Any = None
        self._logins: dict[str, _Login] = {}
        self._closed = False
        self._slot_cache: dict[str, tuple[int, Any]] = {}  # serial -> (generation, slot) for still_present
        self.executor.call(self._load)

    def __repr__(self) -> str:
        return f"Pkcs11Module({self.path!r}, generation={self.generation})"

    # -- life cycle ---------------------------------------------------------------------------

    def _load(self) -> None:
        if not os.path.exists(self.path):
            raise ModuleLoadFailed(self.path, "no such file")
        try:
            with _env(self.init_env):
                # pkcs11.lib() caches per path and C_Initialize's; we keep one Pkcs11Module per path.
                self._lib = _p11.lib(self.path)
                if not self._lib.initialized:
                    self._lib.initialize()
        except TokenError:
            raise
        except Exception as e:
            raise ModuleLoadFailed(self.path, ckr_name(e) or f"{type(e).__name__}: {e}") from e

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
            try:
                self._lib.finalize()
            except Exception:
                log.debug("C_Finalize of %s failed", self.path)

        try:
            self.executor.call(_close)
        finally:
            self._closed = True
            self.executor.shutdown(wait=True)

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
            sflags = int(slot.flags)
            token = None
            initialized = False
            if sflags & CKF_TOKEN_PRESENT:
                try:
                    tok = slot.get_token()
                    initialized = bool(int(tok.flags) & CKF_TOKEN_INITIALIZED)
                    if initialized:
                        token = self._token_reading(slot, tok)
                except (_x.TokenNotPresent, _x.TokenNotRecognised, _x.SlotIDInvalid):
                    pass
                except Exception as e:
                    log.debug("C_GetTokenInfo on slot %s of %s: %s", slot.slot_id, self.path, ckr_name(e))
            out.append(
                SlotReading(int(slot.slot_id), _text(slot.slot_description), sflags, token, initialized)
            )
        return out

    @staticmethod
    def _token_reading(slot: Any, tok: Any) -> TokenReading:
        return TokenReading(
            slot_id=int(slot.slot_id),
            slot_description=_text(slot.slot_description),
            slot_flags=int(slot.flags),
            label=_text(tok.label),
            serial=_text(tok.serial),
            manufacturer=_text(tok.manufacturer_id),
            model=_text(tok.model),
            flags=int(tok.flags),
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
            if _text(tok.serial) == serial and int(tok.flags) & CKF_TOKEN_INITIALIZED:
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

    def token_flags(self, serial: str) -> int:
        """Current CK_TOKEN_INFO flags of the token (fresh C_GetTokenInfo)."""
        return self.call(lambda: int(self._require_token(serial)[1].flags))

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
                        out[_mech_name(m)] = MechanismReading(
                            _mech_name(m), int(info.min_key_length), int(info.max_key_length), int(info.flags)
                        )
                    except Exception:
                        out[_mech_name(m)] = MechanismReading(_mech_name(m), 0, 0, 0)
            except Exception as e:
                raise map_error(e, token_label=_text(_tok.label), during="C_GetMechanismList") from e
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
            mechs = frozenset(_mech_name(m) for m in slot.get_mechanisms())
        except Exception as e:
            mechs = frozenset()
            errors.append(f"mechanism list: {ckr_name(e) or e}")
        try:
            session = tok.open()
        except Exception as e:
            raise map_error(e, token_label=reading.label, during="C_OpenSession") from e
        try:
            certs = self._read_class(session, ObjectClass.CERTIFICATE, errors)
            privs = self._read_class(session, ObjectClass.PRIVATE_KEY, errors)
            pubs = self._read_class(session, ObjectClass.PUBLIC_KEY, errors)
        finally:
            try:
                session.close()
            except Exception:
                log.debug("C_CloseSession failed on %s", self.path)
        return TokenObjects(reading, certs, privs, pubs, mechs, tuple(errors))

    _CERT_ATTRS = (Attribute.ID, Attribute.LABEL, Attribute.VALUE)
    _KEY_ATTRS = (
        Attribute.ID,
        Attribute.LABEL,
        Attribute.KEY_TYPE,
        Attribute.ALWAYS_AUTHENTICATE,
        Attribute.SIGN,
        Attribute.PRIVATE,
    )
    _PUB_ATTRS = (Attribute.ID, Attribute.LABEL, Attribute.KEY_TYPE, Attribute.MODULUS_BITS)

    def _read_class(self, session: Any, cls: ObjectClass, errors: list[str]) -> tuple[ObjectReading, ...]:
        kind = {
            ObjectClass.CERTIFICATE: "certificate",
            ObjectClass.PRIVATE_KEY: "private_key",
            ObjectClass.PUBLIC_KEY: "public_key",
        }[cls]
        try:
            # materialise the search first: no other operation may run while C_FindObjects is active
            objs = list(session.get_objects({Attribute.CLASS: cls}))
        except _REMOVED as e:
            raise map_error(e, during="C_FindObjects") from e
        except Exception as e:
            errors.append(f"{kind} search: {ckr_name(e) or e}")
            return ()
        wanted = {
            "certificate": self._CERT_ATTRS,
            "private_key": self._KEY_ATTRS,
            "public_key": self._PUB_ATTRS,
        }[kind]
        out = []
        for obj in objs:
            try:
                attrs = obj.get_attributes(list(wanted))
            except _REMOVED as e:
                raise map_error(e, during="C_GetAttributeValue") from e
            except Exception as e:
                out.append(ObjectReading(kind, error=f"attributes unreadable ({ckr_name(e) or e})"))
                continue
            kt = attrs.get(Attribute.KEY_TYPE)
            out.append(
                ObjectReading(
                    object_class=kind,
                    cka_id=bytes(attrs.get(Attribute.ID) or b""),
                    label=_text(attrs.get(Attribute.LABEL) or ""),
                    value=bytes(attrs[Attribute.VALUE]) if attrs.get(Attribute.VALUE) is not None else None,
                    key_type=getattr(kt, "name", None) if kt is not None else None,
                    key_bits=int(attrs[Attribute.MODULUS_BITS])
                    if attrs.get(Attribute.MODULUS_BITS)
                    else None,
                    always_authenticate=(
                        bool(attrs[Attribute.ALWAYS_AUTHENTICATE])
                        if Attribute.ALWAYS_AUTHENTICATE in attrs
                        else None
                    ),
                    can_sign=bool(attrs[Attribute.SIGN]) if Attribute.SIGN in attrs else None,
                    private=bool(attrs[Attribute.PRIVATE]) if Attribute.PRIVATE in attrs else None,
                )
            )
        return tuple(out)

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
        except (*_REMOVED, *_NOT_PRESENT):
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
        if self._login_alive(login):
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
            if _text(cached[1].get_token().serial) == serial:
                return True
        except (*_REMOVED, *_NOT_PRESENT):
            pass
        except _x.PKCS11Error as e:
            if not (ckr_name(e) in (None, "CKR_GENERAL_ERROR") or "not initialized" in str(e)):
                raise map_error(e, during="presence probe") from e
        self._slot_cache.pop(serial, None)
        return False

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
                    except (*_NOT_PRESENT, *_REMOVED):
                        continue
                    if int(tok.flags) & CKF_TOKEN_INITIALIZED:
                        out.add(_text(tok.serial))
                return frozenset(out)
            except (*_REMOVED, *_NOT_PRESENT):
                return frozenset()
            except Exception as e:
                raise map_error(e, during="C_GetSlotList") from e

        return self.call(_read)

    def rescan(self) -> None:
        """Same as reinitialize() (C_Finalize + C_Initialize)."""
        self.reinitialize()

    def holds_certificate(self, serial: str, fingerprint: str) -> bool:
        """Whether the token holds a certificate whose DER has this SHA-256 (hex, any case, ':' allowed)."""
        import hashlib

        want = fingerprint.lower().replace(":", "")

        def _read() -> bool:
            _slot, tok = self._require_token(serial)
            try:
                session = tok.open()
            except Exception as e:
                raise map_error(e, token_label=_text(tok.label), during="C_OpenSession") from e
            try:
                for obj in list(session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE})):
                    try:
                        if hashlib.sha256(bytes(obj[Attribute.VALUE])).hexdigest() == want:
                            return True
                    except (*_REMOVED,) as e:
                        raise map_error(e, token_label=_text(tok.label)) from e
                    except Exception as e:  # an unreadable object is not ours; look at the next
                        log.debug("certificate value unreadable: %s", ckr_name(e))
                return False
            except TokenError:
                raise
            except Exception as e:
                raise map_error(e, token_label=_text(tok.label), during="C_FindObjects") from e
            finally:
                try:
                    session.close()
                except Exception:
                    log.debug("C_CloseSession failed on %s", self.path)

        return self.call(_read)

    @staticmethod
    def _login_alive(login: _Login) -> bool:
        try:
            if login.witness is not None:
                login.witness[Attribute.CLASS]
            elif login.keys:
                next(iter(login.keys.values()))[Attribute.CLASS]
            else:
                _find(login.session, {Attribute.CLASS: ObjectClass.PRIVATE_KEY})
            return True
        except Exception:
            return False

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
        tries, low, final, locked = pin_state_from_flags(info.flags)
        if locked:
            raise PinLocked(f"The PIN of '{info.label}' is locked.", token_label=info.label)
        protected = bool(info.flags & CKF_PROTECTED_AUTHENTICATION_PATH)
        request = PinRequest(
            token_label=info.label,
            purpose=purpose,
            tries_left=tries,
            count_low=low,
            final_try=final,
            protected_path=protected,
            last_error=last_error,
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

    def _reuse_login(self, serial: str) -> _Login | None:
        login = self._logins.get(serial)
        if login is None or not login.valid or login.generation != self.generation:
            return None
        if not self._login_alive(login):
            login.valid = False
            self._logins.pop(serial, None)
            return None
        login.refs += 1
        return login

    def _open_login(self, serial: str, label: str, pin: Pin | None) -> _Login:
        _slot, tok = self._require_token(serial)

        def flags_now() -> int | None:
            found = self._find_token(serial)
            return int(found[1].flags) if found else None

        try:
            if pin is None:
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
            raise map_error(e, token_label=label, read_flags=flags_now, during="C_Login") from None
        login = _Login(session, serial, label, self.generation)
        try:
            found = _find(session, {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.PRIVATE: True})
            login.witness = found[0] if found else None
        except Exception:
            login.witness = None
        self._logins[serial] = login
        return login

    def _release_login(self, login: _Login) -> None:
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

    # -- provisioning (SoftHSM2 test and demo tokens; never used on a user's card) --------------

    def open_rw_session(self, serial: str, pin: str) -> ProvisioningSession:
        """A read-write user session for writing objects (test / demo tokens only)."""
        return ProvisioningSession(self, serial, pin)


class CardLogin:
    """A logged-in session on one token, as handed to a card signer. Use from any thread."""

    def __init__(self, module: Pkcs11Module, login: _Login) -> None:
        self._module = module
        self._login = login
        self._closed = False

    def __repr__(self) -> str:
        return f"CardLogin({self._login.label!r}, serial={self._login.serial!r}, valid={self.valid})"

    @property
    def module(self) -> Pkcs11Module:
        return self._module

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

    def find_private_key(self, cka_id: bytes, spki_der: bytes | None = None) -> ObjectReading:
        """The private key with this CKA_ID (KeyNotFound if none); `spki_der` is unused for now."""

        def _find() -> ObjectReading:
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
                label=_text(attrs.get(Attribute.LABEL) or ""),
                key_type=getattr(kt, "name", None),
                always_authenticate=bool(attrs.get(Attribute.ALWAYS_AUTHENTICATE, False)),
                can_sign=bool(attrs.get(Attribute.SIGN, True)),
            )

        return self._module.call(_find)

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
                found = self._module._find_token(self.serial)
                return int(found[1].flags) if found else None

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

    def alive(self) -> bool:
        """True while the login still works (checks the card)."""
        return self.valid and self._module.call(self._module._login_alive, self._login)

    def close(self) -> None:
        """Give the login back; the last holder logs out and closes the session."""
        if self._closed:
            return
        self._closed = True
        with suppress(TokenError):
            self._module.call(self._module._release_login, self._login)


class ProvisioningSession:
    """Writes keys and objects to a test/demo token. Used by app.tokens.softhsm; not for real cards."""

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
                raise map_error(e, token_label=_text(tok.label), during="C_Login") from None

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

    def destroy_objects(self, cka_id: bytes) -> int:
        """Delete every object with this CKA_ID; returns how many."""

        def _destroy() -> int:
            objs = _find(self._session, {Attribute.ID: cka_id})
            for o in objs:
                o.destroy()
            return len(objs)

        return self._module.call(_destroy)


# ---------------------------------------------------------------------------------------------
# Module registry: one Pkcs11Module per library file per process
# ---------------------------------------------------------------------------------------------

_REGISTRY: dict[str, Pkcs11Module] = {}
_REGISTRY_LOCK = threading.Lock()


def _key(path: str) -> str:
    return os.path.realpath(path)


def load_module(path: str, *, init_env: Mapping[str, str] | None = None) -> Pkcs11Module:
    """The loaded module for `path` (loaded and C_Initialize'd on first use; ModuleLoadFailed if not).

    `init_env` is set in the process environment around every C_Initialize of this module (for
    modules configured by environment, e.g. SOFTHSM2_CONF or P11_KIT_SERVER_ADDRESS), under a lock.
    Two paths to the same file share one module (the dynamic loader shares it too).
    """
    key = _key(path)
    with _REGISTRY_LOCK:
        mod = _REGISTRY.get(key)
        if mod is not None and not mod._closed:
            if init_env:
                mod.init_env = dict(init_env)
            return mod
        try:
            mod = Pkcs11Module(path, init_env)
        except ModuleLoadFailed:
            raise
        except TokenError as e:
            raise ModuleLoadFailed(path, str(e)) from e
        _REGISTRY[key] = mod
        return mod


def loaded_module(path: str) -> Pkcs11Module | None:
    """The module for `path` if it is loaded, else None (never loads)."""
    with _REGISTRY_LOCK:
        mod = _REGISTRY.get(_key(path))
        return mod if mod is not None and not mod._closed else None


def unload_module(path: str) -> None:
    """Close sessions and C_Finalize (the library stays mapped; no-op when not loaded)."""
    with _REGISTRY_LOCK:
        mod = _REGISTRY.pop(_key(path), None)
    if mod is not None:
        mod.close()


def unload_all() -> None:
    """Unload every module (process exit, tests)."""
    with _REGISTRY_LOCK:
        mods = list(_REGISTRY.values())
        _REGISTRY.clear()
    for m in mods:
        try:
            m.close()
        except Exception:
            log.debug("unloading %s failed", m.path)


def binding_info() -> str:
    """'python-pkcs11 VERSION (EXTENSION FILE)': proves the compiled binding loads (selftest)."""
    from importlib.metadata import PackageNotFoundError, version

    import pkcs11._pkcs11 as ext

    try:
        v = version("python-pkcs11")
    except PackageNotFoundError:
        v = "?"
    return f"python-pkcs11 {v} ({os.path.basename(ext.__file__ or '?')})"
