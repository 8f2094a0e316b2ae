"""The PIN in place (app.session.deferred): a prompt that asks a person is asked again after a wrong PIN
with the error shown; a PIN given once is never re-sent; the card opens at the first signature; the
first call is made once more when the server dropped the handshake during the PIN."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography import x509

from app.session.deferred import (
    CertificatePreview,
    DeferredCardSigner,
    PinRetry,
    through_first_handshake,
    with_pin_retries,
)
from app.session.errors import EndpointUnreachable, ServerNotTrusted
from app.tokens.errors import PinIncorrect, PinLocked
from app.tokens.pin import Pin, PinPurpose, PinRequest
from app.tokens.signer import KeyType, SignatureScheme


class _Person:
    asks_the_user = True

    def __init__(self, *pins: str) -> None:
        self.pins = list(pins)
        self.requests: list[PinRequest] = []
        self.settled = 0

    def pin_settled(self) -> None:
        self.settled += 1

    def __call__(self, request: PinRequest) -> Pin | None:
        self.requests.append(request)
        return Pin(self.pins.pop(0)) if self.pins else None


def _card(right: str, tries: list[str]) -> Any:
    def attempt(callback: Any) -> str:
        pin = callback(PinRequest("Card", PinPurpose.LOGIN, tries_left=3 - len(tries)))
        tries.append(pin.reveal() if pin is not None else "")
        if pin is None or pin.reveal() != right:
            raise PinIncorrect("The PIN is incorrect.", tries_left=3 - len(tries))
        return "opened"
    return attempt


def test_a_wrong_pin_is_asked_again_with_its_error_and_each_try_is_typed() -> None:
    person, tries = _Person("0000", "1234"), []
    assert with_pin_retries(_card("1234", tries), person, lambda: None, str) == "opened"
    assert tries == ["0000", "1234"]  # one wrong try spent, then the right one: nothing re-sent
    assert person.requests[0].last_error is None and person.requests[1].last_error == "The PIN is incorrect."
    assert person.settled == 1  # told once the card answered, so the prompt kept open can close


def test_a_pin_given_once_is_never_sent_twice() -> None:
    tries: list[str] = []

    def script(request: PinRequest) -> Pin:
        return Pin("0000")  # a script's PIN: asking again would send it again and lock the card

    with pytest.raises(PinIncorrect):
        with_pin_retries(_card("1234", tries), script, lambda: None, str)
    assert tries == ["0000"]


def test_a_locked_card_or_a_cancelled_login_ends_the_loop() -> None:
    def locked(callback: Any) -> None:
        callback(PinRequest("Card", PinPurpose.LOGIN))
        raise PinLocked("locked")

    with pytest.raises(PinLocked):
        with_pin_retries(locked, _Person("1", "2"), lambda: None, str)

    def cancel() -> None:
        raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError):
        with_pin_retries(_card("1234", []), _Person("0", "1234"), cancel, str)


def test_the_error_is_shown_on_a_login_prompt_only() -> None:
    person = _Person("1", "2")
    retry = PinRetry(person)
    retry.last_error = "wrong"
    retry(PinRequest("Card", PinPurpose.SIGNATURE))
    assert person.requests[0].last_error is None and retry.last_error is None


def _preview() -> CertificatePreview:
    from cryptography.hazmat.primitives.asymmetric import ec

    from app.sandbox.pki import CertificateAuthority

    issued = CertificateAuthority("Deferred test CA").issue_client("op", key_kind="p256")
    cert: x509.Certificate = issued.certificate
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    schemes = (SignatureScheme.ECDSA_SECP256R1_SHA256,)
    return CertificatePreview(cert, (), KeyType.EC, 256, schemes, "card 'x'")


class _Inner:
    def __init__(self) -> None:
        self.signed = 0

    def sign_digest(self, digest: bytes, scheme: SignatureScheme) -> bytes:
        self.signed += 1
        return b"sig"


def test_the_card_opens_at_the_first_signature_only() -> None:
    inner, opens = _Inner(), []
    signer = DeferredCardSigner(_preview(), lambda: opens.append(1) or inner)  # type: ignore[func-returns-value]
    assert not signer.opened and signer.supported_schemes() == (SignatureScheme.ECDSA_SECP256R1_SHA256,)
    assert signer.sign_digest(b"x" * 32, SignatureScheme.ECDSA_SECP256R1_SHA256) == b"sig"
    signer.sign_digest(b"y" * 32, SignatureScheme.ECDSA_SECP256R1_SHA256)
    assert opens == [1] and inner.signed == 2 and signer.opened


def test_the_first_call_is_made_again_only_when_the_card_opened_during_it() -> None:
    inner = _Inner()
    signer = DeferredCardSigner(_preview(), lambda: inner)  # type: ignore[arg-type,return-value]
    calls: list[int] = []

    def dropped() -> str:
        calls.append(1)
        if len(calls) == 1:
            signer.open()  # the PIN was typed inside this handshake, then the server gave up
            raise EndpointUnreachable("reset")
        return "policy"

    assert through_first_handshake(dropped, signer) == "policy" and calls == [1, 1]

    def unreachable() -> str:
        raise EndpointUnreachable("refused")

    fresh = DeferredCardSigner(_preview(), lambda: inner)  # type: ignore[arg-type,return-value]
    with pytest.raises(EndpointUnreachable):
        through_first_handshake(unreachable, fresh)  # no card opened: the error is the answer
    assert not fresh.opened

    def untrusted() -> str:
        fresh2.open()
        raise ServerNotTrusted("bad chain")

    fresh2 = DeferredCardSigner(_preview(), lambda: inner)  # type: ignore[arg-type,return-value]
    with pytest.raises(ServerNotTrusted):
        through_first_handshake(untrusted, fresh2)
