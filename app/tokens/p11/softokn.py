"""NSS's PKCS#11 softoken (libsoftokn3.so) opened on given databases: C_Initialize with its parameter
string in pReserved, done here by a small ctypes call, then the library handed to python-pkcs11.

Why ctypes: python-pkcs11 0.10.1 (and PyKCS11 1.5.20) call C_Initialize(NULL), which softokn refuses
with CKR_ARGUMENTS_BAD (measured on NSS 3.87); NSS_LIB_PARAMS exists only from NSS 3.95 and p11-kit's
x-init-reserved would mean writing the user's p11-kit configuration. Both the binding's dlopen and
ctypes' share one loaded copy of the library, so the binding sees the initialised softokn; its own
initialise step is overridden (`_SoftoknLib.initialize`) to run ours instead.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any

from pkcs11 import _pkcs11

from app.tokens.errors import ModuleLoadFailed

CKR_OK = 0
CKR_CRYPTOKI_ALREADY_INITIALIZED = 0x191
CKR_CRYPTOKI_NOT_INITIALIZED = 0x190
CKF_OS_LOCKING_OK = 0x2
# NSS vendor codes (CKR_VENDOR_DEFINED | NSSCK_VENDOR_NSS + n): a database that cannot be opened
CKR_NSS_CERTDB_FAILED = 0xCE534351
CKR_NSS_KEYDB_FAILED = 0xCE534352

_RV_NAMES = {
    0x7: "CKR_ARGUMENTS_BAD",
    CKR_NSS_CERTDB_FAILED: "CKR_NSS_CERTDB_FAILED",
    CKR_NSS_KEYDB_FAILED: "CKR_NSS_KEYDB_FAILED",
    0x5: "CKR_GENERAL_ERROR",
    0x6: "CKR_FUNCTION_FAILED",
}

_CK_RV = ctypes.c_ulong
_INIT_FN = ctypes.CFUNCTYPE(_CK_RV, ctypes.c_void_p)


class _InitArgs(ctypes.Structure):
    """CK_C_INITIALIZE_ARGS (NSS reads its parameter string from pReserved)."""

    _fields_ = [
        ("CreateMutex", ctypes.c_void_p),
        ("DestroyMutex", ctypes.c_void_p),
        ("LockMutex", ctypes.c_void_p),
        ("UnlockMutex", ctypes.c_void_p),
        ("flags", ctypes.c_ulong),
        ("pReserved", ctypes.c_void_p),
    ]


class _FunctionListHead(ctypes.Structure):
    """The first entries of CK_FUNCTION_LIST: version, C_Initialize, C_Finalize."""

    _fields_ = [
        ("major", ctypes.c_ubyte),
        ("minor", ctypes.c_ubyte),
        ("C_Initialize", _INIT_FN),
        ("C_Finalize", _INIT_FN),
    ]


def rv_name(rv: int) -> str:
    """A CK_RV in words (hex when unknown)."""
    return _RV_NAMES.get(rv, f"CKR 0x{rv:x}")


class SoftoknInitFailed(ModuleLoadFailed):
    """C_Initialize with the parameter string failed; `rv` is the CK_RV (NSS's codes for a bad database)."""

    def __init__(self, path: str, rv: int) -> None:
        super().__init__(path, rv_name(rv))
        self.rv = rv


class _Functions:
    """C_Initialize / C_Finalize of one loaded softokn, called through ctypes."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self._dll = ctypes.CDLL(path)
        except OSError as e:
            raise ModuleLoadFailed(path, f"cannot load: {e}") from e
        get = self._dll.C_GetFunctionList
        get.argtypes = [ctypes.POINTER(ctypes.POINTER(_FunctionListHead))]
        get.restype = _CK_RV
        self._list = ctypes.POINTER(_FunctionListHead)()
        rv = int(get(ctypes.byref(self._list)))
        if rv != CKR_OK:
            raise ModuleLoadFailed(path, f"C_GetFunctionList: {rv_name(rv)}")

    def initialize(self, params: str) -> int:
        # the buffer lives for the duration of the call: softokn copies what it parses
        buf = ctypes.create_string_buffer(params.encode("utf-8"))
        args = _InitArgs(None, None, None, None, CKF_OS_LOCKING_OK, ctypes.cast(buf, ctypes.c_void_p))
        return int(self._list.contents.C_Initialize(ctypes.addressof(args)))

    def finalize(self) -> int:
        return int(self._list.contents.C_Finalize(None))


class _SoftoknLib(_pkcs11.lib):
    """python-pkcs11's lib whose initialise/finalise steps are ours (with the parameter string).

    The binding's `initialized` attribute is read-only and stays False: `active` is the real state.
    """

    functions: _Functions
    params: str
    active: bool

    def initialize(self) -> None:
        if self.active:
            return
        rv = self.functions.initialize(self.params)
        if rv not in (CKR_OK, CKR_CRYPTOKI_ALREADY_INITIALIZED):
            raise SoftoknInitFailed(self.functions.path, rv)
        self.active = True

    def finalize(self) -> None:
        if self.active:
            self.active = False
            rv = self.functions.finalize()
            if rv not in (CKR_OK, CKR_CRYPTOKI_NOT_INITIALIZED):
                raise SoftoknInitFailed(self.functions.path, rv)

    def reinitialize(self) -> None:
        self.finalize()
        self.initialize()


_LOCK = threading.Lock()
_FUNCTIONS: dict[str, _Functions] = {}


def open_softokn(path: str, params: str) -> Any:
    """A python-pkcs11 lib of softokn at `path`, C_Initialize'd with `params` (SoftoknInitFailed if not).

    The caller owns the result: one per process (softokn is a single library instance), re-initialised
    with other parameters by setting `params` then `reinitialize()`.
    """
    with _LOCK:
        fns = _FUNCTIONS.get(path)
        if fns is None:
            fns = _FUNCTIONS[path] = _Functions(path)
    # __cinit__ dlopens the same file (the loader hands back the copy ctypes opened); it takes the
    # path only, so the attributes are set between it and the binding's __init__, which calls
    # self.initialize() (ours) and then C_GetInfo.
    lib = _SoftoknLib.__new__(_SoftoknLib, path)  # type: ignore[call-arg]
    lib.functions, lib.params, lib.active = fns, params, False
    _pkcs11.lib.__init__(lib, path)
    return lib


def initialize_with(path: str, params: str) -> int:
    """One raw C_Initialize with `params` then C_Finalize when it worked; the CK_RV (probing a database).

    Only for a softokn nobody else in the process has initialised (it is one library instance).
    """
    with _LOCK:
        fns = _FUNCTIONS.get(path)
        if fns is None:
            fns = _FUNCTIONS[path] = _Functions(path)
    rv = fns.initialize(params)
    if rv == CKR_OK:
        fns.finalize()
    return rv
