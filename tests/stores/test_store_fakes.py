"""What only the fakes can show: the OS error codes as the token layer's errors, native formats, and
a card certificate seen in a store and on the card as one entry."""


from __future__ import annotations

import hashlib

import pytest

from app.sandbox.pki import CertificateAuthority
from app.tokens.errors import PinCancelled, TokenRemoved
from app.tokens.inventory import scan_module
from app.tokens.model import CertificateSource, KeyFactor
from app.tokens.signer import RSA_PKCS1_SCHEMES, SignatureScheme
from app.tokens.stores.base import StoreInteractionRefused, StoreUnavailable
from app.tokens.stores.computer import merge_duplicates, scan_everything, scan_stores
from app.tokens.stores.macos import KeychainStore
from app.tokens.stores.windows import WindowsStore, set_parent_window
from app.tokens.stores.windows_api import NTE_SILENT_CONTEXT
from tests.rigs.softhsm import SoftHsmRig
from tests.stores.fakes import (
    MACOS_CODES,
    WINDOWS_CODES,
    FakeCryptApi,
    FakeMacItem,
    FakeSecurityApi,
    FakeWinItem,
    der_of,
)

CA = CertificateAuthority("fakes CA")
RSA_ID = CA.issue_client("fake rsa")
EC_ID = CA.issue_client("fake p256", key_kind="p256")


def _windows(**kw: object) -> tuple[WindowsStore, FakeCryptApi]:
    api = FakeCryptApi([FakeWinItem(der_of(EC_ID), EC_ID.key, "Microsoft Smart Card Key Storage Provider",
                                    needs_pin=True, **kw)])
    return WindowsStore(api), api


def _open(store: WindowsStore | KeychainStore):  # type: ignore[no-untyped-def]
    entries, errors = store.list_entries()
    assert errors == []
    return store.open_signer(entries[0], lambda r: None)


@pytest.mark.parametrize(("event", "error"), [("silent context refused", StoreInteractionRefused),
                                              ("user cancelled", PinCancelled),
                                              ("card removed", TokenRemoved)])
def test_windows_codes_become_the_token_layer_errors(event: str, error: type[Exception]) -> None:
    store, api = _windows()
    signer = _open(store)
    api.fail_next["ncrypt_sign"] = WINDOWS_CODES[event]
    digest = hashlib.sha256(b"x").digest()
    with pytest.raises(error):
        signer.sign_digest(digest, SignatureScheme.ECDSA_SECP256R1_SHA256)
    signer.sign_digest(digest, SignatureScheme.ECDSA_SECP256R1_SHA256)  # the next one works again
    signer.close()
    assert api.released == [1]


def test_windows_key_is_acquired_loudly_on_our_window_and_a_silent_refusal_is_said() -> None:
    store, api = _windows()
    set_parent_window(0x1234)
    try:
        _open(store).close()
    finally:
        set_parent_window(None)
    assert api.hwnds == [0x1234]
    api.fail_next["acquire_key"] = NTE_SILENT_CONTEXT
    with pytest.raises(StoreInteractionRefused):
        _open(store)


def test_a_legacy_cryptoapi_key_offers_pkcs1_only() -> None:
    provider = "Microsoft Enhanced RSA and AES Cryptographic Provider"
    api = FakeCryptApi([FakeWinItem(der_of(RSA_ID), RSA_ID.key, provider, legacy=True)])
    signer = _open(WindowsStore(api))
    assert signer.supported_schemes() == RSA_PKCS1_SCHEMES
    signer.sign_digest(hashlib.sha256(b"x").digest(), SignatureScheme.RSA_PKCS1_SHA256)
    assert "capi_sign" in api.calls and "ncrypt_sign" not in api.calls


def test_a_cryptoapi_key_behind_a_cng_handle_still_offers_no_pss() -> None:
    provider = "Microsoft Enhanced RSA and AES Cryptographic Provider"
    api = FakeCryptApi([FakeWinItem(der_of(RSA_ID), RSA_ID.key, provider, legacy=True, cng_handle=True)])
    signer = WindowsStore(api).open_signer(WindowsStore(api).list_entries()[0][0], lambda r: None)
    assert signer.supported_schemes() == RSA_PKCS1_SCHEMES
    signer.sign_digest(hashlib.sha256(b"x").digest(), SignatureScheme.RSA_PKCS1_SHA256)
    assert "ncrypt_sign" in api.calls and "capi_sign" not in api.calls


def test_a_store_that_cannot_be_read_is_reported_not_raised() -> None:
    store, api = _windows()
    api.fail_next["list_my"] = 0x80070005
    inv = scan_stores([store])
    assert inv.certificates == () and isinstance(inv.errors[0], StoreUnavailable)
    mac = KeychainStore(FakeSecurityApi([]))
    mac.api().fail_next["identities"] = -25308  # type: ignore[attr-defined]
    assert isinstance(scan_stores([mac]).errors[0], StoreUnavailable)


@pytest.mark.parametrize(("event", "error"), [("user cancelled", PinCancelled),
                                              ("interaction not allowed", StoreInteractionRefused),
                                              ("card removed", TokenRemoved)])
def test_macos_codes_become_the_token_layer_errors(event: str, error: type[Exception]) -> None:
    api = FakeSecurityApi([FakeMacItem(der_of(EC_ID), EC_ID.key, "PIV", token_id="com.apple.pivtoken:1")])
    signer = _open(KeychainStore(api))
    api.fail_next["sign"] = MACOS_CODES[event]
    with pytest.raises(error):
        signer.sign_digest(hashlib.sha256(b"x").digest(), SignatureScheme.ECDSA_SECP256R1_SHA256)


def test_macos_offers_only_what_the_key_supports() -> None:
    pss = "kSecKeyAlgorithmRSASignatureDigestPSSSHA256"
    api = FakeSecurityApi([FakeMacItem(der_of(RSA_ID), RSA_ID.key, unsupported=(pss,))])
    schemes = _open(KeychainStore(api)).supported_schemes()
    assert SignatureScheme.RSA_PSS_RSAE_SHA256 not in schemes
    assert SignatureScheme.RSA_PKCS1_SHA256 in schemes and SignatureScheme.RSA_PSS_RSAE_SHA384 in schemes


def test_a_card_certificate_also_in_the_store_is_one_entry_with_both_sources(softhsm_rig: SoftHsmRig) -> None:
    card_inv = scan_module(softhsm_rig.module_path, module=softhsm_rig.module())
    on_card = next(c for c in card_inv.certificates if c.usable)
    # Windows' PIV minidriver copies a card's certificate into CurrentUser\My, key reference and all
    api = FakeCryptApi([FakeWinItem(on_card.der, None, "Microsoft Smart Card Key Storage Provider")])
    inv = scan_everything([softhsm_rig.module_path], stores=[WindowsStore(api)])
    same = [c for c in inv.certificates if c.fingerprint_sha256 == on_card.fingerprint_sha256]
    assert len(same) == 1
    assert same[0].source is CertificateSource.PKCS11 and same[0].factor is KeyFactor.POSSESSION
    assert same[0].sources == (f"card '{on_card.token_label}'", "Windows")
    assert inv.find(on_card.fingerprint_sha256) is same[0]
    # two cards holding one certificate (a spare) are not merged: only a store's copy is
    doubled = merge_duplicates(card_inv.merged(card_inv))
    assert len(doubled.certificates) == 2 * len(card_inv.certificates)
