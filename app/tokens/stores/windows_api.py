"""The thin OS class of the Windows store: `Win32CryptApi` (ctypes to crypt32, ncrypt and advapi32)
and the plain values it hands out. Nothing else in the project calls these DLLs; the tests fake the
`CryptApi` protocol. Importable anywhere: the DLLs are loaded when a Win32CryptApi is made.
"""

from __future__ import annotations

import ctypes
from ctypes import POINTER, Structure, byref, c_size_t, c_ubyte, c_ulong, c_void_p, c_wchar_p
from dataclasses import dataclass
from typing import Any, Protocol

# HRESULTs / SECURITY_STATUS values the store answers with (winerror.h, scarderr.h)
NTE_BAD_KEYSET = 0x80090016
NTE_SILENT_CONTEXT = 0x80090022
NTE_NOT_SUPPORTED = 0x80090029
NTE_BAD_TYPE = 0x8009000A  # a CSP asked for a parameter it does not have (PP_SMARTCARD_READER, software)
NTE_INVALID_PARAMETER = 0x80090027
_NO_SUCH_PROPERTY = (NTE_NOT_SUPPORTED, NTE_BAD_TYPE, NTE_INVALID_PARAMETER)
CRYPT_E_NOT_FOUND = 0x80092004
SCARD_E_NO_SMARTCARD = 0x8010000C
SCARD_W_REMOVED_CARD = 0x80100069
SCARD_W_WRONG_CHV = 0x8010006B
SCARD_W_CHV_BLOCKED = 0x8010006C
SCARD_W_CANCELLED_BY_USER = 0x8010006E
HRESULT_ERROR_CANCELLED = 0x800704C7

# a key whose provider is one of these lives on a card (possession), else in software (knowledge)
CARD_PROVIDER_WORDS = ("smart card", "smartcard", "minidriver")


class WinApiError(Exception):
    """An OS call failed with this HRESULT / SECURITY_STATUS (`code`, unsigned 32 bits)."""

    def __init__(self, code: int, call: str = "") -> None:
        super().__init__(f"{call} failed: 0x{code & 0xFFFFFFFF:08X}")
        self.code = code & 0xFFFFFFFF
        self.call = call


@dataclass(frozen=True)
class WinCertificate:
    """A certificate of CurrentUser\\My that has a key (read from CERT_KEY_PROV_INFO_PROP_ID)."""

    thumbprint: str  # SHA-1 of the DER, upper-case hex: the store's own handle
    der: bytes
    friendly_name: str
    provider: str  # "Microsoft Software Key Storage Provider", "Microsoft Smart Card Key Storage Provider"...
    legacy: bool  # a CryptoAPI provider (dwProvType != 0), not CNG
    container: str = ""  # the key container's name in its provider (read with the provider's name)

    @property
    def on_card(self) -> bool:
        """Whether the provider is a smart card's (the built-in PIV minidriver, a vendor's)."""
        return any(w in self.provider.lower() for w in CARD_PROVIDER_WORDS)


@dataclass
class WinKey:
    """A private key handle: an NCRYPT_KEY_HANDLE (cng) or an HCRYPTPROV with its key spec."""

    handle: int
    cng: bool
    key_spec: int
    owned: bool  # we free it (CryptAcquireCertificatePrivateKey's pfCallerFreeProvOrNCryptKey)


class CryptApi(Protocol):
    """The Windows calls the store makes (Win32CryptApi; a fake in the tests)."""

    def list_my(self) -> list[WinCertificate]:
        """CurrentUser\\My's certificates that have a key, without opening any key."""
        ...

    def acquire_key(self, thumbprint: str, hwnd: int | None, silent: bool) -> WinKey:
        """CryptAcquireCertificatePrivateKey (CNG preferred) of the certificate with this thumbprint."""
        ...

    def ncrypt_sign(self, key: WinKey, digest: bytes, padding: str | None, alg: str, salt: int) -> bytes:
        """NCryptSignHash: padding "pss" / "pkcs1" for RSA, None for ECDSA (raw r||s comes back)."""
        ...

    def capi_sign(self, key: WinKey, digest: bytes, hash_name: str) -> bytes:
        """CryptCreateHash + CryptSetHashParam(HP_HASHVAL) + CryptSignHash: little-endian PKCS#1."""
        ...

    def release(self, key: WinKey) -> None:
        """NCryptFreeObject / CryptReleaseContext when we own the handle."""
        ...

    def key_reader(self, thumbprint: str) -> str | None:
        """The smart card reader of a card key (NCryptGetProperty "SmartCardReader" / the CSP's
        PP_SMARTCARD_READER), opened silently: never a PIN. None for a software key."""
        ...

    def card_certificate(self, thumbprint: str) -> bytes | None:
        """The certificate the card in that reader holds for this key container (NCryptGetProperty
        "SmartCardKeyCertificate" / KP_CERTIFICATE), read silently: tells the same card from another."""
        ...


_DWORD = c_ulong
CERT_STORE_PROV_SYSTEM_W = 10
CERT_SYSTEM_STORE_CURRENT_USER = 1 << 16
CERT_STORE_READONLY_FLAG = 0x8000
CERT_STORE_OPEN_EXISTING_FLAG = 0x4000
X509_PKCS7_ENCODING = 0x00010001
CERT_FIND_SHA1_HASH = 0x10000
CERT_KEY_PROV_INFO_PROP_ID = 2
CERT_SHA1_HASH_PROP_ID = 3
CERT_FRIENDLY_NAME_PROP_ID = 11
CRYPT_ACQUIRE_SILENT_FLAG = 0x40
CRYPT_ACQUIRE_WINDOW_HANDLE_FLAG = 0x80
CRYPT_ACQUIRE_PREFER_NCRYPT_KEY_FLAG = 0x20000
CERT_NCRYPT_KEY_SPEC = 0xFFFFFFFF
BCRYPT_PAD_PKCS1 = 0x2
BCRYPT_PAD_PSS = 0x8
HP_HASHVAL = 0x2
NCRYPT_SILENT_FLAG = 0x40
CRYPT_SILENT = 0x40
PP_SMARTCARD_READER = 43
KP_CERTIFICATE = 26
CALG = {"SHA256": 0x800C, "SHA384": 0x800D, "SHA512": 0x800E}


class _CertContext(Structure):
    _fields_ = [("dwCertEncodingType", _DWORD), ("pbCertEncoded", POINTER(c_ubyte)),
                ("cbCertEncoded", _DWORD), ("pCertInfo", c_void_p), ("hCertStore", c_void_p)]


class _KeyProvInfo(Structure):
    _fields_ = [("pwszContainerName", c_wchar_p), ("pwszProvName", c_wchar_p), ("dwProvType", _DWORD),
                ("dwFlags", _DWORD), ("cProvParam", _DWORD), ("rgProvParam", c_void_p),
                ("dwKeySpec", _DWORD)]


class _HashBlob(Structure):
    _fields_ = [("cbData", _DWORD), ("pbData", POINTER(c_ubyte))]


class _Pkcs1Info(Structure):
    _fields_ = [("pszAlgId", c_wchar_p)]


class _PssInfo(Structure):
    _fields_ = [("pszAlgId", c_wchar_p), ("cbSalt", c_ulong)]


_PCTX = POINTER(_CertContext)


class Win32CryptApi:
    """CryptApi over the real DLLs (Windows only: ctypes.WinDLL does not exist elsewhere)."""

    def __init__(self) -> None:
        windll: Any = getattr(ctypes, "WinDLL")  # noqa: B009 - absent on Linux; mypy sees no WinDLL there
        self._c = windll("crypt32", use_last_error=True)
        self._n = windll("ncrypt")
        self._a = windll("advapi32", use_last_error=True)
        c, n, a = self._c, self._n, self._a
        c.CertOpenStore.restype = c_void_p
        c.CertOpenStore.argtypes = [c_void_p, _DWORD, c_void_p, _DWORD, c_wchar_p]
        c.CertEnumCertificatesInStore.restype = _PCTX
        c.CertEnumCertificatesInStore.argtypes = [c_void_p, _PCTX]
        c.CertFindCertificateInStore.restype = _PCTX
        c.CertFindCertificateInStore.argtypes = [c_void_p, _DWORD, _DWORD, _DWORD, c_void_p, _PCTX]
        c.CertGetCertificateContextProperty.argtypes = [_PCTX, _DWORD, c_void_p, POINTER(_DWORD)]
        c.CertFreeCertificateContext.argtypes = [_PCTX]
        c.CertCloseStore.argtypes = [c_void_p, _DWORD]
        c.CryptAcquireCertificatePrivateKey.argtypes = [_PCTX, _DWORD, c_void_p, POINTER(c_size_t),
                                                        POINTER(_DWORD), POINTER(ctypes.c_int)]
        n.NCryptSignHash.restype = ctypes.c_long
        n.NCryptSignHash.argtypes = [c_size_t, c_void_p, c_void_p, _DWORD, c_void_p, _DWORD,
                                     POINTER(_DWORD), _DWORD]
        n.NCryptFreeObject.argtypes = [c_size_t]
        a.CryptCreateHash.argtypes = [c_size_t, _DWORD, c_size_t, _DWORD, POINTER(c_size_t)]
        a.CryptSetHashParam.argtypes = [c_size_t, _DWORD, c_void_p, _DWORD]
        a.CryptSignHashW.argtypes = [c_size_t, _DWORD, c_void_p, _DWORD, c_void_p, POINTER(_DWORD)]
        a.CryptDestroyHash.argtypes = [c_size_t]
        a.CryptReleaseContext.argtypes = [c_size_t, _DWORD]
        n.NCryptOpenStorageProvider.argtypes = [POINTER(c_size_t), c_wchar_p, _DWORD]
        n.NCryptOpenKey.argtypes = [c_size_t, POINTER(c_size_t), c_wchar_p, _DWORD, _DWORD]
        n.NCryptGetProperty.argtypes = [c_size_t, c_wchar_p, c_void_p, _DWORD, POINTER(_DWORD), _DWORD]
        a.CryptAcquireContextW.argtypes = [POINTER(c_size_t), c_wchar_p, c_wchar_p, _DWORD, _DWORD]
        a.CryptGetProvParam.argtypes = [c_size_t, _DWORD, c_void_p, POINTER(_DWORD), _DWORD]
        a.CryptGetUserKey.argtypes = [c_size_t, _DWORD, POINTER(c_size_t)]
        a.CryptGetKeyParam.argtypes = [c_size_t, _DWORD, c_void_p, POINTER(_DWORD), _DWORD]
        a.CryptDestroyKey.argtypes = [c_size_t]

    def _open(self) -> int:
        flags = CERT_SYSTEM_STORE_CURRENT_USER | CERT_STORE_READONLY_FLAG | CERT_STORE_OPEN_EXISTING_FLAG
        store = self._c.CertOpenStore(CERT_STORE_PROV_SYSTEM_W, 0, None, flags, "My")
        if not store:
            raise WinApiError(ctypes.get_last_error(), "CertOpenStore")  # type: ignore[attr-defined]
        return int(store)

    def _prop(self, ctx: Any, prop: int) -> Any:
        size = _DWORD(0)
        if not self._c.CertGetCertificateContextProperty(ctx, prop, None, byref(size)):
            return None
        buf = ctypes.create_string_buffer(size.value)
        if not self._c.CertGetCertificateContextProperty(ctx, prop, buf, byref(size)):
            return None
        return buf

    def list_my(self) -> list[WinCertificate]:
        """CurrentUser\\My's certificates that have a key (the key itself is not opened)."""
        store = self._open()
        out: list[WinCertificate] = []
        ctx = None
        try:
            while True:
                ctx = self._c.CertEnumCertificatesInStore(store, ctx)
                if not ctx:
                    break
                prov = self._prop(ctx, CERT_KEY_PROV_INFO_PROP_ID)
                if prov is None:
                    continue  # no key: not an identity
                info = ctypes.cast(prov, POINTER(_KeyProvInfo)).contents
                der = ctypes.string_at(ctx.contents.pbCertEncoded, ctx.contents.cbCertEncoded)
                sha1 = self._prop(ctx, CERT_SHA1_HASH_PROP_ID)
                name = self._prop(ctx, CERT_FRIENDLY_NAME_PROP_ID)
                out.append(WinCertificate(
                    sha1.raw.hex().upper() if sha1 is not None else "",
                    der,
                    name.raw.decode("utf-16-le", "replace").rstrip("\0") if name is not None else "",
                    info.pwszProvName or "",
                    int(info.dwProvType) != 0,
                    info.pwszContainerName or "",
                ))
        finally:
            self._c.CertCloseStore(store, 0)
        return out

    def _find(self, store: int, thumbprint: str) -> Any:
        """The certificate context of `thumbprint` (SHA-1 hex) in `store`, or NULL; the caller frees it."""
        raw = bytes.fromhex(thumbprint)
        data = (c_ubyte * len(raw)).from_buffer_copy(raw)  # alive for the call: the blob points into it
        blob = _HashBlob(len(raw), ctypes.cast(data, POINTER(c_ubyte)))
        return self._c.CertFindCertificateInStore(store, X509_PKCS7_ENCODING, 0, CERT_FIND_SHA1_HASH,
                                                  byref(blob), None)

    def acquire_key(self, thumbprint: str, hwnd: int | None, silent: bool) -> WinKey:
        """CryptAcquireCertificatePrivateKey preferring CNG, parented to `hwnd`."""
        store = self._open()
        ctx = self._find(store, thumbprint)
        try:
            if not ctx:
                raise WinApiError(CRYPT_E_NOT_FOUND, "CertFindCertificateInStore")
            flags = CRYPT_ACQUIRE_PREFER_NCRYPT_KEY_FLAG | (CRYPT_ACQUIRE_SILENT_FLAG if silent else 0)
            window = c_void_p(hwnd) if hwnd else None
            if window is not None:
                flags |= CRYPT_ACQUIRE_WINDOW_HANDLE_FLAG
            handle, spec, free = c_size_t(0), _DWORD(0), ctypes.c_int(0)
            ok = self._c.CryptAcquireCertificatePrivateKey(
                ctx, flags, byref(window) if window is not None else None, byref(handle), byref(spec),
                byref(free))
            if not ok:
                raise WinApiError(ctypes.get_last_error(), "CryptAcquireCertificatePrivateKey")  # type: ignore[attr-defined]
            return WinKey(handle.value, spec.value == CERT_NCRYPT_KEY_SPEC, spec.value, bool(free.value))
        finally:
            if ctx:
                self._c.CertFreeCertificateContext(ctx)
            self._c.CertCloseStore(store, 0)

    def ncrypt_sign(self, key: WinKey, digest: bytes, padding: str | None, alg: str, salt: int) -> bytes:
        """NCryptSignHash twice: the size, then the signature."""
        info: Any = None
        flags = 0
        if padding == "pss":
            info, flags = _PssInfo(alg, salt), BCRYPT_PAD_PSS
        elif padding == "pkcs1":
            info, flags = _Pkcs1Info(alg), BCRYPT_PAD_PKCS1
        pinfo = byref(info) if info is not None else None
        size = _DWORD(0)
        st = self._n.NCryptSignHash(key.handle, pinfo, digest, len(digest), None, 0, byref(size), flags)
        if st != 0:
            raise WinApiError(st, "NCryptSignHash")
        out = ctypes.create_string_buffer(size.value)
        st = self._n.NCryptSignHash(key.handle, pinfo, digest, len(digest), out, size, byref(size), flags)
        if st != 0:
            raise WinApiError(st, "NCryptSignHash")
        return out.raw[: size.value]

    def capi_sign(self, key: WinKey, digest: bytes, hash_name: str) -> bytes:
        """A legacy CryptoAPI key: PKCS#1 v1.5 over the given hash value (little-endian result)."""
        a = self._a
        h = c_size_t(0)
        if not a.CryptCreateHash(key.handle, CALG[hash_name], 0, 0, byref(h)):
            raise WinApiError(ctypes.get_last_error(), "CryptCreateHash")  # type: ignore[attr-defined]
        try:
            if not a.CryptSetHashParam(h, HP_HASHVAL, digest, 0):
                raise WinApiError(ctypes.get_last_error(), "CryptSetHashParam")  # type: ignore[attr-defined]
            size = _DWORD(0)
            if not a.CryptSignHashW(h, key.key_spec, None, 0, None, byref(size)):
                raise WinApiError(ctypes.get_last_error(), "CryptSignHash")  # type: ignore[attr-defined]
            out = ctypes.create_string_buffer(size.value)
            if not a.CryptSignHashW(h, key.key_spec, None, 0, out, byref(size)):
                raise WinApiError(ctypes.get_last_error(), "CryptSignHash")  # type: ignore[attr-defined]
            return out.raw[: size.value]
        finally:
            a.CryptDestroyHash(h)

    def release(self, key: WinKey) -> None:
        """Free a handle we own."""
        if key.owned:
            if key.cng:
                self._n.NCryptFreeObject(key.handle)
            else:
                self._a.CryptReleaseContext(key.handle, 0)

    # -- the card behind a key: opened silently (no PIN), for the card watch and "listed is not present"

    def _prov_info(self, thumbprint: str) -> tuple[str, str, int, int]:
        """(container, provider, provider type, key spec) of the certificate's key."""
        store = self._open()
        ctx = self._find(store, thumbprint)
        try:
            prov = self._prop(ctx, CERT_KEY_PROV_INFO_PROP_ID) if ctx else None
            if prov is None:
                raise WinApiError(CRYPT_E_NOT_FOUND, "CertGetCertificateContextProperty")
            i = ctypes.cast(prov, POINTER(_KeyProvInfo)).contents
            return i.pwszContainerName or "", i.pwszProvName or "", int(i.dwProvType), int(i.dwKeySpec)
        finally:
            if ctx:
                self._c.CertFreeCertificateContext(ctx)
            self._c.CertCloseStore(store, 0)

    def _ncrypt_prop(self, thumbprint: str, name: str) -> bytes:
        container, provider, _type, spec = self._prov_info(thumbprint)
        prov, key = c_size_t(0), c_size_t(0)
        st = self._n.NCryptOpenStorageProvider(byref(prov), provider, 0)
        if st != 0:
            raise WinApiError(st, "NCryptOpenStorageProvider")
        try:
            st = self._n.NCryptOpenKey(prov, byref(key), container, spec, NCRYPT_SILENT_FLAG)
            if st != 0:
                raise WinApiError(st, "NCryptOpenKey")
            size = _DWORD(0)
            st = self._n.NCryptGetProperty(key, name, None, 0, byref(size), NCRYPT_SILENT_FLAG)
            if st == 0:
                buf = ctypes.create_string_buffer(size.value)
                st = self._n.NCryptGetProperty(key, name, buf, size, byref(size), NCRYPT_SILENT_FLAG)
            self._n.NCryptFreeObject(key)
            if st != 0:
                raise WinApiError(st, "NCryptGetProperty")
            return buf.raw[: size.value]
        finally:
            self._n.NCryptFreeObject(prov)

    def _capi(self, thumbprint: str, read: Any) -> bytes:
        container, provider, ptype, spec = self._prov_info(thumbprint)
        h = c_size_t(0)
        if not self._a.CryptAcquireContextW(byref(h), container, provider, ptype, CRYPT_SILENT):
            raise WinApiError(ctypes.get_last_error(), "CryptAcquireContext")  # type: ignore[attr-defined]
        try:
            return bytes(read(h, spec))
        finally:
            self._a.CryptReleaseContext(h, 0)

    def _capi_reader(self, h: c_size_t, _spec: int) -> bytes:
        size = _DWORD(0)
        if not self._a.CryptGetProvParam(h, PP_SMARTCARD_READER, None, byref(size), 0):
            raise WinApiError(ctypes.get_last_error(), "CryptGetProvParam")  # type: ignore[attr-defined]
        buf = ctypes.create_string_buffer(size.value)
        if not self._a.CryptGetProvParam(h, PP_SMARTCARD_READER, buf, byref(size), 0):
            raise WinApiError(ctypes.get_last_error(), "CryptGetProvParam")  # type: ignore[attr-defined]
        return buf.raw[: size.value]

    def _capi_cert(self, h: c_size_t, spec: int) -> bytes:
        k = c_size_t(0)
        if not self._a.CryptGetUserKey(h, spec, byref(k)):
            raise WinApiError(ctypes.get_last_error(), "CryptGetUserKey")  # type: ignore[attr-defined]
        try:
            size = _DWORD(0)
            if not self._a.CryptGetKeyParam(k, KP_CERTIFICATE, None, byref(size), 0):
                raise WinApiError(ctypes.get_last_error(), "CryptGetKeyParam")  # type: ignore[attr-defined]
            buf = ctypes.create_string_buffer(size.value)
            if not self._a.CryptGetKeyParam(k, KP_CERTIFICATE, buf, byref(size), 0):
                raise WinApiError(ctypes.get_last_error(), "CryptGetKeyParam")  # type: ignore[attr-defined]
            return buf.raw[: size.value]
        finally:
            self._a.CryptDestroyKey(k)

    def key_reader(self, thumbprint: str) -> str | None:
        """The reader name of a card key; None when the provider has no such property (software)."""
        legacy = self._prov_info(thumbprint)[2] != 0
        try:
            if legacy:
                return self._capi(thumbprint, self._capi_reader).rstrip(b"\0").decode("mbcs") or None
            raw = self._ncrypt_prop(thumbprint, "SmartCardReader")
        except WinApiError as e:
            if e.code in _NO_SUCH_PROPERTY:  # a software provider: no reader
                return None
            raise
        return raw.decode("utf-16-le", "replace").rstrip("\0") or None

    def card_certificate(self, thumbprint: str) -> bytes | None:
        """The certificate the card holds for this container (DER), or None when it has none."""
        legacy = self._prov_info(thumbprint)[2] != 0
        try:
            if legacy:
                return self._capi(thumbprint, self._capi_cert) or None
            return self._ncrypt_prop(thumbprint, "SmartCardKeyCertificate") or None
        except WinApiError as e:
            if e.code in _NO_SUCH_PROPERTY:
                return None
            raise
