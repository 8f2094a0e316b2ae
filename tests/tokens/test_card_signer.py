"""Card signers on SoftHSM2: every scheme verified with `cryptography`, logins, always-authenticate."""

from __future__ import annotations

import threading

import pytest

from app.tokens.card import Pkcs11Signer, open_card_signer
from app.tokens.errors import (
    CertificateUnusable,
    MechanismUnsupported,
    PinCancelled,
    PinIncorrect,
    TokenNotPresent,
    TokenRemoved,
)
from app.tokens.inventory import scan_module
from app.tokens.p11.readings import Presence
from app.tokens.pin import Pin, PinPurpose, PinRequest
from app.tokens.signer import CardSigner, SignatureScheme, Signer, sign_message, verify_signature
from app.tokens.uri import build_uri
from tests.rigs.p11kit import P11KitCard
from tests.rigs.softhsm import SoftHsmRig


class Prompt:
    """A PinCallback that records what it was asked."""

    def __init__(self, pin: str | None) -> None:
        self.pin = pin
        self.requests: list[PinRequest] = []
        self.threads: list[str] = []

    def __call__(self, req: PinRequest) -> Pin | None:
        self.requests.append(req)
        self.threads.append(threading.current_thread().name)
        return Pin(self.pin) if self.pin is not None else None

    @property
    def purposes(self) -> list[PinPurpose]:
        return [r.purpose for r in self.requests]


def _entry(rig: SoftHsmRig, name: str):
    inv = scan_module(rig.module_path, module=rig.module())
    return next(c for c in inv.certificates if c.label == f"test {name}")


def _open(rig: SoftHsmRig, name: str, prompt: Prompt, **kw) -> Pkcs11Signer:
    return open_card_signer(rig.module_path, _entry(rig, name), prompt, **kw)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "rsa2048",
            {
                "rsa_pss_rsae_sha256",
                "rsa_pss_rsae_sha384",
                "rsa_pss_rsae_sha512",
                "rsa_pkcs1_sha256",
                "rsa_pkcs1_sha384",
                "rsa_pkcs1_sha512",
            },
        ),
        ("rsa3072", {"rsa_pss_rsae_sha256", "rsa_pkcs1_sha256"}),
        ("p256", {"ecdsa_secp256r1_sha256"}),
        ("p384", {"ecdsa_secp384r1_sha384"}),
    ],
)
def test_every_scheme_verifies(softhsm_rig: SoftHsmRig, name: str, expected: set[str]) -> None:
    prompt = Prompt(softhsm_rig.card.user_pin)
    signer = _open(softhsm_rig, name, prompt)
    try:
        assert isinstance(signer, Signer)
        schemes = signer.supported_schemes()
        assert expected <= {str(s) for s in schemes}
        if name.startswith("p"):
            assert str(schemes[0]) in expected  # the curve's own scheme first
        for scheme in schemes:
            msg = f"message for {scheme}".encode()
            sig = sign_message(signer, msg, scheme)
            verify_signature(signer.certificate, msg, sig, scheme)  # raises InvalidSignature
        assert prompt.purposes == [PinPurpose.LOGIN]
        assert prompt.threads[0] != f"pkcs11:{signer.module_path}"  # asked on the calling thread
    finally:
        signer.close()


def test_signer_identity_and_description(softhsm_rig: SoftHsmRig) -> None:
    signer = _open(softhsm_rig, "p256", Prompt(softhsm_rig.card.user_pin))
    try:
        ident = signer.identity
        assert ident.module_path == softhsm_rig.module_path
        assert ident.serial == softhsm_rig.card.serial
        assert ident.cert_fingerprint == softhsm_rig.keys["p256"].fingerprint_sha256
        assert signer.token_label == softhsm_rig.card.label
        assert softhsm_rig.card.user_pin not in repr(signer)
        assert signer.presence() is Presence.PRESENT_LOGGED_IN
    finally:
        signer.close()


def test_open_by_uri(softhsm_rig: SoftHsmRig) -> None:
    key = softhsm_rig.keys["rsa2048"]
    uri = build_uri(token=softhsm_rig.card.label, id=key.cka_id, type="cert")
    signer = open_card_signer(softhsm_rig.module_path, uri, Prompt(softhsm_rig.card.user_pin))
    try:
        assert signer.fingerprint_sha256 == key.fingerprint_sha256
    finally:
        signer.close()
    with pytest.raises(TokenNotPresent):
        open_card_signer(softhsm_rig.module_path, build_uri(token="no such card"), Prompt("x"))


def test_always_authenticate_asks_the_pin_before_each_signature(softhsm_rig: SoftHsmRig) -> None:
    for name, scheme in (
        ("always_auth", SignatureScheme.RSA_PSS_RSAE_SHA256),
        ("always_auth_ec", SignatureScheme.ECDSA_SECP256R1_SHA256),
    ):
        prompt = Prompt(softhsm_rig.card.user_pin)
        signer = _open(softhsm_rig, name, prompt)
        try:
            assert signer.always_authenticate
            for i in range(2):
                sig = sign_message(signer, b"m%d" % i, scheme)
                verify_signature(signer.certificate, b"m%d" % i, sig, scheme)
            assert prompt.purposes == [PinPurpose.LOGIN, PinPurpose.SIGNATURE, PinPurpose.SIGNATURE]
            prompt.pin = None
            with pytest.raises(PinCancelled):
                sign_message(signer, b"x", scheme)
        finally:
            signer.close()


def test_always_authenticate_wrong_pin_is_not_retried(softhsm_rig: SoftHsmRig) -> None:
    prompt = Prompt(softhsm_rig.card.user_pin)
    signer = _open(softhsm_rig, "always_auth_ec", prompt)
    try:
        prompt.pin = "000000"
        with pytest.raises(PinIncorrect):
            sign_message(signer, b"x", SignatureScheme.ECDSA_SECP256R1_SHA256)
        assert prompt.purposes.count(PinPurpose.SIGNATURE) == 1
        prompt.pin = softhsm_rig.card.user_pin
        sig = sign_message(signer, b"y", SignatureScheme.ECDSA_SECP256R1_SHA256)
        verify_signature(signer.certificate, b"y", sig, SignatureScheme.ECDSA_SECP256R1_SHA256)
    finally:
        signer.close()


def test_a_card_without_pss(softhsm_rig: SoftHsmRig) -> None:
    signer = _open(softhsm_rig, "rsa2048", Prompt(softhsm_rig.card.user_pin), disable_pss=True)
    try:
        assert all(s.is_pkcs1 for s in signer.supported_schemes())
        with pytest.raises(MechanismUnsupported):
            sign_message(signer, b"x", SignatureScheme.RSA_PSS_RSAE_SHA256)
    finally:
        signer.close()
    only = _open(
        softhsm_rig, "rsa2048", Prompt(softhsm_rig.card.user_pin), mechanisms_filter={"RSA_PKCS_PSS"}
    )
    try:
        assert all(s.is_pss for s in only.supported_schemes())
    finally:
        only.close()


def test_wrong_pin_raises_pin_incorrect_and_is_never_retried(fresh_softhsm, test_ca) -> None:
    tok = fresh_softhsm.init_token("wrong pin card")
    key = fresh_softhsm.add_client_certificate(tok, test_ca, "wp", "p256")
    inv = scan_module(fresh_softhsm.module_path, module=fresh_softhsm.module())
    [entry] = inv.certificates
    prompt = Prompt("999999")
    with pytest.raises(PinIncorrect) as ei:
        open_card_signer(fresh_softhsm.module_path, entry, prompt)
    assert len(prompt.requests) == 1
    assert ei.value.count_low  # SoftHSM2 sets CKF_USER_PIN_COUNT_LOW after a wrong PIN
    assert "999999" not in str(ei.value) + repr(ei.value)
    # the next prompt shows what the card says now
    prompt.pin = tok.user_pin
    signer = open_card_signer(fresh_softhsm.module_path, entry, prompt)
    assert prompt.requests[1].count_low
    assert signer.fingerprint_sha256 == key.fingerprint_sha256
    signer.close()


def test_cancelled_prompt(softhsm_rig: SoftHsmRig) -> None:
    with pytest.raises(PinCancelled):
        _open(softhsm_rig, "p256", Prompt(None))


def test_unusable_certificates_are_refused(softhsm_rig: SoftHsmRig) -> None:
    for name in ("expired", "no_key"):
        with pytest.raises(CertificateUnusable):
            _open(softhsm_rig, name, Prompt(softhsm_rig.card.user_pin))


def test_two_signers_on_one_card_share_the_login(softhsm_rig: SoftHsmRig) -> None:
    p1, p2 = Prompt(softhsm_rig.card.user_pin), Prompt(softhsm_rig.card.user_pin)
    a = _open(softhsm_rig, "p256", p1)
    b = _open(softhsm_rig, "rsa2048", p2)
    try:
        assert p2.requests == []  # already logged in: no PIN asked
        a.close()
        sig = sign_message(b, b"x", SignatureScheme.RSA_PKCS1_SHA256)  # b still logged in
        verify_signature(b.certificate, b"x", sig, SignatureScheme.RSA_PKCS1_SHA256)
    finally:
        b.close()


def test_removal_and_relogin_through_p11kit(softhsm_rig: SoftHsmRig, p11kit_card: P11KitCard) -> None:
    mod = p11kit_card.module()
    inv = scan_module(p11kit_card.client_module_path, module=mod)
    [entry] = inv.certificates
    prompt = Prompt(softhsm_rig.second.user_pin)
    signer = open_card_signer(p11kit_card.client_module_path, entry, prompt)
    scheme = SignatureScheme.ECDSA_SECP256R1_SHA256
    verify_signature(signer.certificate, b"a", sign_message(signer, b"a", scheme), scheme)
    p11kit_card.remove()
    assert signer.presence() is Presence.REMOVED
    with pytest.raises(TokenRemoved):
        sign_message(signer, b"b", scheme)
    p11kit_card.insert()
    mod.reinitialize()
    assert signer.presence() is Presence.PRESENT_LOGGED_OUT
    assert not signer.logged_in
    with pytest.raises(TokenRemoved):
        sign_message(signer, b"c", scheme)
    signer.relogin()
    assert prompt.purposes == [PinPurpose.LOGIN, PinPurpose.RELOGIN]
    verify_signature(signer.certificate, b"d", sign_message(signer, b"d", scheme), scheme)
    signer.close()



@pytest.fixture
def resolved(monkeypatch) -> list[object]:
    """The URIs the card module resolves to an entry through the inventory (each one is a scan)."""
    from app.tokens import card

    seen: list[object] = []
    real = card.find_certificate

    def counting(module, uri):
        seen.append(uri)
        return real(module, uri)

    monkeypatch.setattr(card, "find_certificate", counting)
    return seen


def test_an_entry_opens_without_scanning_the_module_again(softhsm_rig: SoftHsmRig, resolved) -> None:
    entry = _entry(softhsm_rig, "p256")
    signer = open_card_signer(softhsm_rig.module_path, entry, Prompt(softhsm_rig.card.user_pin))
    try:
        assert isinstance(signer, CardSigner) and signer.logged_in
        assert signer.fingerprint_sha256 == entry.fingerprint_sha256
    finally:
        signer.close()
    assert resolved == []  # the picker's entry is used as it is: no second scan of the module
    open_card_signer(softhsm_rig.module_path, entry.uri, Prompt(softhsm_rig.card.user_pin)).close()
    assert len(resolved) == 1  # a URI is resolved by the inventory (the counter does see it)


def test_the_session_opens_the_pickers_entry_without_a_scan(softhsm_rig: SoftHsmRig, resolved) -> None:
    from app.session.backend import RealBackend
    from app.session.model import AuthMethod, CertificateChoice, Credentials, LoginRequest, Secret

    entry = _entry(softhsm_rig, "p256")
    creds = Credentials(AuthMethod.ACCESS_KEY, "AK", Secret("SK"))
    backend = RealBackend()
    for choice, scans in (
        (CertificateChoice(entry.uri, module_path=entry.module_path, entry=entry), 0),
        (CertificateChoice(entry.uri, module_path=entry.module_path), 1),  # a URI alone: one scan
    ):
        request = LoginRequest(creds, certificate=choice)
        opened = backend.open_certificate(request, Prompt(softhsm_rig.card.user_pin))
        try:
            assert opened.fingerprint == entry.fingerprint_sha256
        finally:
            backend.release_certificate(opened)
        assert len(resolved) == scans
