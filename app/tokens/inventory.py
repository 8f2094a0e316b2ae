"""Inventory: every token of every module and every certificate on them and in local stores.

Nothing here logs in: the listing reads what a card shows without a PIN. Certificates that cannot be
used are listed with their problems; one bad object, token, module or file never breaks the listing
(its error goes to `Inventory.errors`).
"""

from __future__ import annotations

import concurrent.futures
import datetime as _dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.tokens.errors import KeyNotFound, ModuleLoadFailed, TokenError, TokenNotPresent
from app.tokens.flags import TokenFlags
from app.tokens.model import (
    PROBLEM_TEXT,
    CertificateEntry,
    CertificateSource,
    ParsedCertificate,
    Problem,
    TokenInfo,
    parse_certificate,
)
from app.tokens.p11.module import Pkcs11Module
from app.tokens.p11.readings import ObjectReading, TokenObjects
from app.tokens.p11.registry import load_module, rescan_module
from app.tokens.uri import Pkcs11Uri

__all__ = [
    "PROBLEM_TEXT",
    "CertificateEntry",
    "CertificateSource",
    "Inventory",
    "Problem",
    "TokenInfo",
    "entries_from_token_objects",
    "find_certificate",
    "rescan",
    "scan",
    "scan_module",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Inventory:
    """The result of a scan: tokens, certificates (usable or not) and the errors met on the way."""

    tokens: tuple[TokenInfo, ...] = ()
    certificates: tuple[CertificateEntry, ...] = ()
    errors: tuple[TokenError, ...] = ()

    @property
    def usable(self) -> tuple[CertificateEntry, ...]:
        return tuple(c for c in self.certificates if c.usable)

    def merged(self, other: Inventory) -> Inventory:
        return Inventory(
            self.tokens + other.tokens, self.certificates + other.certificates, self.errors + other.errors
        )

    def find(self, fingerprint_sha256: str) -> CertificateEntry | None:
        fp = fingerprint_sha256.lower().replace(":", "")
        return next((c for c in self.certificates if c.fingerprint_sha256 == fp), None)


def certificate_uri(token: TokenInfo, label: str, cka_id: bytes) -> str:
    """RFC 7512 URI of a certificate object on a token."""
    return str(
        Pkcs11Uri(
            token=token.label,
            manufacturer=token.manufacturer,
            model=token.model,
            serial=token.serial,
            object=label or None,
            type="cert",
            id=cka_id,
        )
    )


def _entry(
    token: TokenInfo,
    obj: ObjectReading,
    parsed: ParsedCertificate | None,
    privs: Mapping[bytes, ObjectReading],
    pub_ids: set[bytes],
) -> CertificateEntry:
    problems: list[Problem] = []
    details: list[str] = []
    if obj.error is not None or obj.value is None:
        problems.append(Problem.UNREADABLE)
        details.append(obj.error or "the certificate object has no value")
    elif parsed is not None:
        problems += parsed.problems
        if parsed.error:
            details.append(parsed.error)
    priv = privs.get(obj.cka_id) if obj.cka_id else None
    visible = priv is not None
    # a private key hidden until login is inferred from its public key on a card that wants a login
    hidden = bool(obj.cka_id) and obj.cka_id in pub_ids and TokenFlags.LOGIN_REQUIRED in token.flags
    has_key = visible or hidden
    if not has_key:
        problems.append(Problem.NO_PRIVATE_KEY)
    elif priv is not None and priv.can_sign is False:
        problems.append(Problem.KEY_CANNOT_SIGN)
    uri = certificate_uri(token, obj.label, obj.cka_id)
    p = parsed
    return CertificateEntry(
        source=CertificateSource.PKCS11,
        uri=uri,
        label=obj.label,
        der=obj.value or b"",
        **(p.entry_fields() if p else {}),
        has_private_key=has_key,
        private_key_visible=visible,
        always_authenticate=priv.always_authenticate if priv else None,
        problems=tuple(dict.fromkeys(problems)),
        details=tuple(details),
        cka_id=obj.cka_id,
        token=token,
        module_path=token.module_path,
    )


def entries_from_token_objects(
    module_path: str, objs: TokenObjects, now: _dt.datetime | None = None
) -> tuple[TokenInfo, list[CertificateEntry]]:
    """Turn one token's reading into a TokenInfo and its CertificateEntry-s."""
    token = TokenInfo.from_reading(module_path, objs.token, objs.mechanisms)
    privs = {k.cka_id: k for k in objs.private_keys if k.error is None and k.cka_id}
    pub_ids = {k.cka_id for k in objs.public_keys if k.error is None and k.cka_id}
    entries = []
    for obj in objs.certificates:
        try:
            parsed = (
                parse_certificate(obj.value, now) if obj.value is not None and obj.error is None else None
            )
            entries.append(_entry(token, obj, parsed, privs, pub_ids))
        except Exception as e:  # one bad object never breaks the listing
            log.debug("certificate object on %s skipped: %s", token.label, e)
            entries.append(
                CertificateEntry(
                    source=CertificateSource.PKCS11,
                    uri=certificate_uri(token, obj.label, obj.cka_id),
                    label=obj.label,
                    der=obj.value or b"",
                    problems=(Problem.UNREADABLE,),
                    details=(f"{type(e).__name__}",),
                    cka_id=obj.cka_id,
                    token=token,
                    module_path=module_path,
                )
            )
    entries.sort(key=lambda e: (e.cka_id, e.label, e.fingerprint_sha256))  # cards return objects in any order
    return token, entries


def scan_module(
    module_path: str,
    *,
    init_env: Mapping[str, str] | None = None,
    now: _dt.datetime | None = None,
    module: Pkcs11Module | None = None,
) -> Inventory:
    """Tokens and certificates of one module. Never raises for a token error: see `errors`."""
    try:
        mod = module or load_module(module_path, init_env=init_env)
    except TokenError as e:
        return Inventory(errors=(e,))
    except Exception as e:
        return Inventory(errors=(ModuleLoadFailed(module_path, f"{type(e).__name__}: {e}"),))
    tokens: list[TokenInfo] = []
    certs: list[CertificateEntry] = []
    errors: list[TokenError] = []
    try:
        slots = mod.slots()
    except TokenError as e:
        return Inventory(errors=(e,))
    for slot in slots:
        if slot.token is None:  # empty slot, or an uninitialised token (SoftHSM2's free slot)
            continue
        try:
            objs = mod.read_objects(slot.slot_id)
        except TokenError as e:
            errors.append(e)
            tokens.append(TokenInfo.from_reading(mod.path, slot.token))
            continue
        token, entries = entries_from_token_objects(mod.path, objs, now)
        tokens.append(token)
        certs += entries
    return Inventory(tuple(tokens), tuple(certs), tuple(errors))


def rescan(module_path: str) -> Inventory | None:
    """Re-scan a loaded module (C_Finalize + C_Initialize) and read it again: a card re-inserted behind
    p11-kit, and some readers, show up only then. None when the module is not loaded or failed in an
    unexpected way (a broken module must not break the listing); a token error is in `errors`."""
    try:
        mod = rescan_module(module_path)
        if mod is None:
            return None
        return scan_module(module_path, module=mod)
    except TokenError as e:
        return Inventory(errors=(e,))
    except Exception as e:
        log.debug("re-scan of %s failed: %s", module_path, type(e).__name__)
        return None


def find_certificate(module: Pkcs11Module, uri: Pkcs11Uri) -> CertificateEntry:
    """The certificate a PKCS#11 URI names in this module (the usable one first when several match).

    TokenNotPresent when no token matches, KeyNotFound when the token has no such certificate, or the
    first error met while scanning when that hid it.
    """
    inv = scan_module(module.path, module=module)
    matches = [
        c
        for c in inv.certificates
        if c.token is not None
        and uri.matches_token(
            label=c.token.label, serial=c.token.serial, manufacturer=c.token.manufacturer, model=c.token.model
        )
        and uri.matches_slot(slot_id=c.token.slot_id, description=c.token.slot_description)
        and uri.matches_object(cka_id=c.cka_id, label=c.label)
    ]
    if not matches:
        if inv.errors:
            raise inv.errors[0]
        tokens = [
            t
            for t in inv.tokens
            if uri.matches_token(label=t.label, serial=t.serial, manufacturer=t.manufacturer, model=t.model)
        ]
        if not tokens:
            raise TokenNotPresent(f"No card matches {uri} in {module.path}.", token_label=uri.token)
        raise KeyNotFound(f"No certificate matches {uri}.", token_label=tokens[0].label)
    usable = [c for c in matches if c.usable] or matches
    return usable[0]


def scan(
    module_paths: Sequence[str] = (),
    store_paths: Sequence[str] = (),
    *,
    now: _dt.datetime | None = None,
    init_envs: Mapping[str, Mapping[str, str]] | None = None,
) -> Inventory:
    """The full inventory: modules are read in parallel (each on its own worker), then local stores."""
    from app.tokens.filestore import scan_store

    result = Inventory()
    paths = list(dict.fromkeys(module_paths))
    if paths:
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, len(paths))) as pool:
            futures = [pool.submit(scan_module, p, init_env=(init_envs or {}).get(p), now=now) for p in paths]
            for f in futures:
                result = result.merged(f.result())
    if store_paths:
        entries, errors = scan_store(store_paths, now=now)
        result = result.merged(Inventory((), tuple(entries), tuple(errors)))
    return result
