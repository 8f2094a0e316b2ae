"""NSS databases (Chrome's ~/.pki/nssdb, Firefox's profiles) read-only through NSS's own softoken.

softokn is one library instance per process: every database is one of its tokens, named in the
`tokens=` part of one parameter string (app.tokens.p11.softokn initialises it). The set only grows;
a new database means C_Finalize + C_Initialize with the longer string (logins on the others are
dropped then). One missing or corrupt database fails the whole C_Initialize (CKR_NSS_CERTDB_FAILED,
measured on NSS 3.87), so on a failure each database is tried alone and the bad ones are reported
and left out.
"""

from __future__ import annotations

import ctypes.util
import datetime as _dt
import hashlib
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.tokens.errors import TokenError
from app.tokens.model import CertificateEntry, Problem
from app.tokens.p11.module import Pkcs11Module
from app.tokens.pin import PinCallback
from app.tokens.signer import CardSigner
from app.tokens.stores.base import Listing, StoreInfo, StoreUnavailable, as_store_entry
from app.tokens.stores.nss_paths import NssDatabase, nss_databases

log = logging.getLogger(__name__)

SOFTOKN_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/libsoftokn3.so",
    "/usr/lib/aarch64-linux-gnu/libsoftokn3.so",
    "/usr/lib64/libsoftokn3.so",
    "/usr/lib/libsoftokn3.so",
)
FIRST_SLOT, LAST_SLOT = 4, 100  # softokn's user slot ids (SFTK_MIN/MAX_USER_SLOT_ID)
_FORBIDDEN = set("'\"[]<>")  # would break the parameter string's quoting


def softokn_path() -> str | None:
    """libsoftokn3.so of this system (OTL_SOFTOKN names another), or None."""
    env = os.environ.get("OTL_SOFTOKN")
    if env:
        return env
    found = next((p for p in SOFTOKN_CANDIDATES if os.path.exists(p)), None)
    if found:
        return found
    name = ctypes.util.find_library("softokn3")
    return name


def serial_of(db: NssDatabase) -> str:
    """The serial we give the database's token (softokn says 0000000000000000 for all of them)."""
    return "nss-" + hashlib.sha256(os.path.realpath(db.path).encode()).hexdigest()[:12]


def _label(name: str) -> str:
    return "".join(" " if c in _FORBIDDEN else c for c in name)[:32]


def parameters(dbs: Sequence[tuple[int, NssDatabase]]) -> str:
    """softokn's parameter string opening `dbs` read-only, one token per (slot id, database)."""
    tokens = " ".join(
        f"0x{slot:02x}=[configdir='sql:{db.path}' certPrefix='' keyPrefix='' "
        f"tokenDescription='{_label(db.name)}' flags=readOnly]"
        for slot, db in dbs
    )
    return f"flags=readOnly,noCertDB,noModDB tokens=<{tokens}>"


@dataclass
class _Failure:
    reason: str
    stamp: float  # cert9.db's mtime when it failed: tried again once the file changes


def _stamp(db: NssDatabase) -> float:
    try:
        return max(os.stat(db.path / f).st_mtime for f in ("cert9.db", "key4.db") if (db.path / f).exists())
    except (OSError, ValueError):
        return 0.0


class _Runtime:
    """The process's softokn: which databases it has open, in which slot, and which failed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.module: Pkcs11Module | None = None
        self.path: str | None = None
        self.slots: dict[str, int] = {}  # realpath -> slot id (stable for the process)
        self.active: dict[str, NssDatabase] = {}
        self.failed: dict[str, _Failure] = {}

    def _slot(self, key: str) -> int:
        if key not in self.slots:
            used = set(self.slots.values())
            free = next((s for s in range(FIRST_SLOT, LAST_SLOT + 1) if s not in used), None)
            if free is None:
                raise StoreUnavailable(key, "too many NSS databases in one process")
            self.slots[key] = free
        return self.slots[key]

    def ensure(self, dbs: Sequence[NssDatabase]) -> tuple[Pkcs11Module | None, dict[str, TokenError]]:
        """softokn with at least `dbs` open (those that can be); the errors of the others, by path."""
        with self.lock:
            errors: dict[str, TokenError] = {}
            new: list[NssDatabase] = []
            for db in dbs:
                key = os.path.realpath(db.path)
                problem = self._problem(db)
                if problem:
                    errors[key] = StoreUnavailable(db.name, problem)
                elif key in self.failed and self.failed[key].stamp == _stamp(db):
                    errors[key] = StoreUnavailable(db.name, self.failed[key].reason)
                elif key not in self.active:
                    self.failed.pop(key, None)
                    new.append(db)
            if new:
                self._open([*self.active.values(), *new], errors)
            return self.module, errors

    def _problem(self, db: NssDatabase) -> str | None:
        if self.path is None:
            self.path = softokn_path()
        if self.path is None:
            return "NSS's libsoftokn3.so is not installed"
        if not db.path.is_dir():
            return f"no database folder {db.path}"
        if not db.present:
            return f"no NSS database (cert9.db) in {db.path}" + (
                " (an old cert8.db database is not read)" if (db.path / "cert8.db").exists() else ""
            )
        if _FORBIDDEN & set(str(db.path)):
            return f"the folder name {db.path} has quotes or brackets"
        return None

    def _open(self, dbs: list[NssDatabase], errors: dict[str, TokenError]) -> None:
        from app.tokens.p11.softokn import initialize_with, rv_name

        rv = self._initialize(dbs)
        if rv is None:
            return
        # one bad database fails them all: try each alone (softokn is finalised after a failure)
        good = []
        for db in dbs:
            key = os.path.realpath(db.path)
            alone = initialize_with(self._lib_path(), parameters([(self._slot(key), db)]))
            if alone == 0:
                good.append(db)
            else:
                reason = f"softokn refused it ({rv_name(alone)}): missing, corrupt or locked database"
                self.failed[key] = _Failure(reason, _stamp(db))
                self.active.pop(key, None)
                errors[key] = StoreUnavailable(db.name, reason)
        if good:
            again = self._initialize(good)
            if again is not None:  # changed under our feet between the two calls
                for db in good:
                    errors[os.path.realpath(db.path)] = StoreUnavailable(db.name, rv_name(again))

    def _lib_path(self) -> str:
        assert self.path is not None
        return self.path

    def _initialize(self, dbs: list[NssDatabase]) -> int | None:
        """C_Initialize softokn on `dbs` (first load or re-initialise); None when it worked, else CK_RV."""
        from app.tokens.p11.registry import load_module_with
        from app.tokens.p11.softokn import SoftoknInitFailed, open_softokn

        pairs = [(self._slot(os.path.realpath(db.path)), db) for db in dbs]
        params = parameters(pairs)
        serials = {slot: serial_of(db) for slot, db in pairs}
        path = self._lib_path()
        try:
            if self.module is None or self.module.closed:
                self.module = load_module_with(
                    path,
                    lambda: Pkcs11Module(
                        path,
                        opener=lambda: open_softokn(path, params),
                        slot_serials=serials,
                        password_named=True,
                    ),
                )
            else:
                self.module.call(self._set_params, self.module, params, serials)
                self.module.reinitialize()
        except SoftoknInitFailed as e:
            self.active.clear()
            return e.rv
        except TokenError as e:
            cause = e.__cause__
            self.active.clear()
            return cause.rv if isinstance(cause, SoftoknInitFailed) else 5
        self.active = {os.path.realpath(db.path): db for db in dbs}
        return None

    @staticmethod
    def _set_params(module: Pkcs11Module, params: str, serials: dict[int, str]) -> None:
        lib = module._lib  # the softokn lib this runtime opened (its params are ours to set)
        lib.params = params
        module.slot_serials = dict(serials)


_RUNTIME = _Runtime()


def scan_databases(dbs: Sequence[NssDatabase], now: _dt.datetime | None = None) -> Listing:
    """Identities (certificates with a key) of the databases, each shown as its store's entry."""
    from app.tokens.inventory import scan_module

    module, errors = _RUNTIME.ensure(dbs)
    wanted = {serial_of(db): db for db in dbs if os.path.realpath(db.path) not in errors}
    out: list[CertificateEntry] = []
    errs: list[TokenError] = list(errors.values())
    if module is None or not wanted:
        return out, errs
    inv = scan_module(module.path, module=module, now=now)
    errs += inv.errors
    for entry in inv.certificates:
        db = wanted.get(entry.token_serial or "")
        # a database also caches CA and other people's certificates: only identities are listed
        if db is None or Problem.NO_PRIVATE_KEY in entry.problems:
            continue
        out.append(as_store_entry(entry, StoreInfo("nss", db.name, str(db.path))))
    return out, errs


class NssStore:
    """One NSS database as a store of this computer (ComputerStore)."""

    def __init__(self, db: NssDatabase) -> None:
        self.db = db

    @property
    def info(self) -> StoreInfo:
        """Kind "nss", the browser's name for it, the folder."""
        return StoreInfo("nss", self.db.name, str(self.db.path))

    def list_entries(self, now: _dt.datetime | None = None) -> Listing:
        """The database's identities; nothing is asked (a password only hides keys, not certificates)."""
        return scan_databases([self.db], now)

    def open_signer(self, entry: CertificateEntry, pin_callback: PinCallback) -> CardSigner:
        """Log in to the database (its password, when it has one, asked under its name) and sign there."""
        return open_nss_signer(entry, pin_callback)


def open_nss_signer(entry: CertificateEntry, pin_callback: PinCallback) -> CardSigner:
    """A signer on the NSS database the entry came from (softokn must have it open: list it first)."""
    from app.tokens.card import open_card_signer

    module = _RUNTIME.module
    if module is None or entry.module_path is None or entry.token is None:
        raise StoreUnavailable(entry.store_name or "the NSS database", "it was not listed in this process")
    return open_card_signer(module.path, entry, pin_callback)


def stores(home: Path | str | None = None) -> list[NssStore]:
    """One NssStore per database of the user (Chrome's, every Firefox profile)."""
    return [NssStore(db) for db in nss_databases(home)]
