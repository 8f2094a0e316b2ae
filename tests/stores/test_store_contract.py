"""One contract for every store of this computer, run on each backend:

- here: the real NSS backend (databases made by certutil/pk12util) and the fakes of the Windows and
  macOS thin OS classes (tests/stores/fakes.py, native signature formats);
- on hosted Windows and macOS runners (.github/workflows/stores-*.yml): the real Windows store and
  keychain. Those two cases are skipped here; the workflows set OTL_STORE_CONTRACT to
  "windows" / "macos" and OTL_STORE_CONTRACT_EXPECT to "FINGERPRINT:KEYTYPE:FACTOR,..." for what
  they put in the store (they were written to pass there and were not run from this machine).
  The card-watch cases at the end check, on those runners, that software keys get no card watch and
  that the platform's PC/SC library (winscard.dll, PCSC.framework) loads with the layout we give it;
  they have no card reader, so the card side runs here on the PC/SC rig (test_store_card_watch.py).
"""


from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from app.sandbox.pki import CertificateAuthority
from app.tokens.model import CertificateEntry, CertificateSource, KeyFactor, Problem
from app.tokens.p11.pcsc import ReaderStates, entry_points, platform_abi
from app.tokens.pin import Pin, PinRequest
from app.tokens.signer import KeyType, SignatureScheme, verify_signature
from app.tokens.stores.base import ComputerStore
from app.tokens.stores.computer import find_fingerprint, scan_stores
from app.tokens.stores.macos import KeychainStore
from app.tokens.stores.nss import stores as nss_stores
from app.tokens.stores.windows import WindowsStore
from tests.rigs.nss import NssHome, fingerprint, nss_ca, nss_home  # noqa: F401 - fixtures
from tests.stores.fakes import FakeCryptApi, FakeMacItem, FakeSecurityApi, FakeWinItem, der_of


@dataclass
class StoreCase:
    """A backend under the contract: its stores, what they must list, how a PIN/password is answered."""

    stores: list[ComputerStore]
    expected: dict[str, tuple[KeyType, KeyFactor]]  # fingerprint -> key type, factor
    answer: Callable[[PinRequest], Pin | None] = lambda r: None
    key_calls: Callable[[], int] = lambda: 0  # key operations made so far (fakes count them)
    extra: dict[str, object] = field(default_factory=dict)


def _fake_windows() -> StoreCase:
    ca = CertificateAuthority("contract Windows CA")
    soft, card, legacy = (ca.issue_client("win soft rsa"), ca.issue_client("win card p256", key_kind="p256"),
                          ca.issue_client("win legacy rsa"))
    api = FakeCryptApi([
        FakeWinItem(der_of(soft), soft.key, friendly_name="soft"),
        FakeWinItem(der_of(card), card.key, "Microsoft Smart Card Key Storage Provider",
                    needs_pin=True),
        FakeWinItem(der_of(legacy), legacy.key,
                    "Microsoft Enhanced RSA and AES Cryptographic Provider", legacy=True),
    ])
    fp = lambda i: hashlib.sha256(der_of(i)).hexdigest()  # noqa: E731
    return StoreCase([WindowsStore(api)], {fp(soft): (KeyType.RSA, KeyFactor.KNOWLEDGE),
                                           fp(card): (KeyType.EC, KeyFactor.POSSESSION),
                                           fp(legacy): (KeyType.RSA, KeyFactor.KNOWLEDGE)},
                     key_calls=lambda: api.key_calls, extra={"api": api})


def _fake_macos() -> StoreCase:
    ca = CertificateAuthority("contract macOS CA")
    soft, token = ca.issue_client("mac soft rsa"), ca.issue_client("mac piv p256", key_kind="p256")
    api = FakeSecurityApi([
        FakeMacItem(der_of(soft), soft.key, "soft"),
        FakeMacItem(der_of(token), token.key, "PIV", token_id="com.apple.pivtoken:4D2A"),
    ])
    fp = lambda i: hashlib.sha256(der_of(i)).hexdigest()  # noqa: E731
    return StoreCase([KeychainStore(api)], {fp(soft): (KeyType.RSA, KeyFactor.KNOWLEDGE),
                                            fp(token): (KeyType.EC, KeyFactor.POSSESSION)},
                     key_calls=lambda: api.key_calls, extra={"api": api})


def _nss(h: NssHome) -> StoreCase:
    return StoreCase(list(nss_stores(h.home)), {fingerprint(h.rsa): (KeyType.RSA, KeyFactor.KNOWLEDGE),
                                                fingerprint(h.ec): (KeyType.EC, KeyFactor.KNOWLEDGE)},
                     answer=lambda r: Pin(h.password))


def _real(platform: str) -> StoreCase:
    if os.environ.get("OTL_STORE_CONTRACT") != platform or not sys.platform.startswith(
            "win" if platform == "windows" else "darwin"):
        pytest.skip(f"the real {platform} store runs in .github/workflows/stores-{platform}.yml")
    expected = {}
    for item in os.environ["OTL_STORE_CONTRACT_EXPECT"].split(","):
        fp, kind, factor = item.strip().split(":")
        expected[fp.lower()] = (KeyType(kind), KeyFactor(factor))
    store: ComputerStore = WindowsStore() if platform == "windows" else KeychainStore()
    return StoreCase([store], expected)


@pytest.fixture(params=["nss", "windows-fake", "macos-fake", "windows-real", "macos-real"])
def case(request: pytest.FixtureRequest) -> StoreCase:
    if request.param == "nss":
        return _nss(request.getfixturevalue("nss_home"))
    if request.param == "windows-fake":
        return _fake_windows()
    if request.param == "macos-fake":
        return _fake_macos()
    return _real(request.param.split("-")[0])


def _listing(case: StoreCase) -> dict[str, CertificateEntry]:
    inv = scan_stores(case.stores)
    assert inv.errors == (), inv.errors
    return {c.fingerprint_sha256: c for c in inv.certificates}


def test_every_identity_is_listed_with_its_key_type_store_and_factor(case: StoreCase) -> None:
    listed = _listing(case)
    assert set(case.expected) <= set(listed)
    for fp, (key_type, factor) in case.expected.items():
        entry = listed[fp]
        assert entry.source is CertificateSource.STORE
        assert entry.store_name
        assert (entry.key_type, entry.factor) == (key_type, factor)
        assert entry.usable and entry.has_private_key, entry.problem_messages


def test_listing_opens_no_key_and_asks_nothing(case: StoreCase) -> None:
    before = case.key_calls()
    _listing(case)
    _listing(case)
    assert case.key_calls() == before


def test_each_key_signs_every_scheme_it_offers_in_the_format_tls_wants(case: StoreCase) -> None:
    listed = _listing(case)
    for fp, (key_type, _factor) in case.expected.items():
        entry = listed[fp]
        store = next(s for s in case.stores if s.info.name == entry.store_name)
        signer = store.open_signer(entry, case.answer)
        try:
            schemes = signer.supported_schemes()
            must = SignatureScheme.RSA_PKCS1_SHA256 if key_type is KeyType.RSA else \
                SignatureScheme.ECDSA_SECP256R1_SHA256
            assert must in schemes, schemes
            for scheme in schemes:
                message = f"contract {scheme}".encode()
                digest = hashlib.new(scheme.hash_name, message).digest()
                verify_signature(signer.certificate, message, signer.sign_digest(digest, scheme), scheme)
        finally:
            signer.close()


def test_a_fingerprint_in_any_spelling_selects_the_identity(case: StoreCase) -> None:
    inv = scan_stores(case.stores)
    for fp in case.expected:
        spelled = ":".join(fp[i:i + 2] for i in range(0, 64, 2)).upper()
        assert find_fingerprint(inv, spelled).fingerprint_sha256 == fp


# -- the card watch of store keys (issue 19: "listed" is not "present"). The hosted runners have no card
# reader, so what they check for real is the software side and the platform's PC/SC library; the card
# side runs here on the PC/SC rig (tests/stores/test_store_card_watch.py).


def test_a_software_key_has_no_card_to_watch(case: StoreCase) -> None:
    listed = _listing(case)
    for fp, (_key_type, factor) in case.expected.items():
        if factor is not KeyFactor.KNOWLEDGE:
            continue
        entry = listed[fp]
        assert Problem.CARD_NOT_PRESENT not in entry.problems
        store = next(s for s in case.stores if s.info.name == entry.store_name)
        signer = store.open_signer(entry, case.answer)
        try:
            assert getattr(signer, "card_place", None) is None  # the session starts no watch for it
        finally:
            signer.close()
        if isinstance(store, WindowsStore) and entry.store_ref:
            assert store.api().key_reader(entry.store_ref) is None  # a software provider names no reader


def test_the_platform_pc_sc_library_loads_with_its_layout(case: StoreCase) -> None:
    abi = platform_abi()
    assert entry_points(abi)  # every name resolves in winscard.dll / PCSC.framework / libpcsclite
    try:
        states = ReaderStates(abi)
    except OSError as e:  # no smart card service on this machine (a hosted Windows runner): still loaded
        assert "SCardEstablishContext" in str(e), e
        return
    try:
        assert states.status("OTL contract: no such reader") is None
    finally:
        states.close()
