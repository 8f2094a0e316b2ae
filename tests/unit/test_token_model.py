"""Certificate parsing, problems and scheme selection without a module."""

from __future__ import annotations

import datetime as dt

from app.sandbox.pki import CertificateAuthority
from app.tokens.card import schemes_for
from app.tokens.model import CertificateEntry, CertificateSource, Problem, parse_certificate
from app.tokens.signer import KeyType, SignatureScheme

CA = CertificateAuthority("Model CA")


def _der(issued) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return issued.certificate.public_bytes(Encoding.DER)


def test_good_certificate() -> None:
    p = parse_certificate(_der(CA.issue_client("ok", "rsa2048")))
    assert p.problems == () and p.key_type is KeyType.RSA and p.key_size == 2048
    assert "clientAuth" in p.extended_key_usage


def test_problems() -> None:
    now = dt.datetime.now(dt.UTC)
    assert parse_certificate(_der(CA.issue_client("x", "p256", client_auth=False))).problems == (
        Problem.NOT_FOR_CLIENT_AUTH,
    )
    future = CA.issue_client(
        "f", "p256", not_before=now + dt.timedelta(days=2), not_after=now + dt.timedelta(days=9)
    )
    assert parse_certificate(_der(future)).problems == (Problem.NOT_YET_VALID,)
    assert parse_certificate(b"\x30\x03\x02\x01\x00").problems == (Problem.UNPARSABLE,)
    assert parse_certificate(b"").error


def test_entry_json_has_the_documented_fields() -> None:
    e = CertificateEntry(
        source=CertificateSource.FILE, uri="/x.p12", label="x", der=b"", problems=(Problem.NO_PRIVATE_KEY,)
    )
    j = e.to_json()
    assert j["usable"] is False and j["problems"] == ["no_private_key"]
    assert "der" not in repr(e)


def test_schemes_follow_mechanisms() -> None:
    rsa_all = schemes_for(KeyType.RSA, 2048, {"RSA_PKCS", "RSA_PKCS_PSS"})
    assert rsa_all[0].is_pss and rsa_all[-1].is_pkcs1
    assert all(s.is_pkcs1 for s in schemes_for(KeyType.RSA, 2048, {"RSA_PKCS"}))
    assert SignatureScheme.RSA_PSS_RSAE_SHA512 not in schemes_for(KeyType.RSA, 1024, {"RSA_PKCS_PSS"})
    assert schemes_for(KeyType.EC, 384, {"ECDSA"}, "secp384r1")[0] is SignatureScheme.ECDSA_SECP384R1_SHA384
    assert schemes_for(KeyType.EC, 256, {"RSA_PKCS"}) == ()


def test_flags_have_the_binding_values() -> None:
    import pkcs11

    from app.tokens.flags import SlotFlags, TokenFlags

    for ours, theirs in ((TokenFlags, pkcs11.TokenFlag), (SlotFlags, pkcs11.SlotFlag)):
        names = {n for n in theirs.__members__ if theirs[n].value}
        assert names and names <= set(ours.__members__)
        assert {n: int(ours[n]) for n in names} == {n: int(theirs[n]) for n in names}


def test_pin_and_secret_share_one_secret_wrapper() -> None:
    import pickle

    import pytest

    from app.session.model import Secret
    from app.tokens.pin import Pin
    from app.tokens.secret import SecretValue

    for cls, word in ((Pin, "PIN"), (Secret, "secret")):
        value = cls("1234")
        assert isinstance(value, SecretValue)
        assert repr(value) == str(value) == f"{cls.__name__}(***)" and "1234" not in repr(value)
        with pytest.raises(TypeError, match=f"a {word} cannot be serialised"):
            pickle.dumps(value)
        assert value.reveal() == "1234"
        value.wipe()
        assert value.wiped
        with pytest.raises(ValueError, match=f"this {word} was wiped"):
            value.reveal()
