"""Property tests (Hypothesis) of every parser of local input: `pkcs11:` URIs, PEM and PKCS#12 files,
the OUTSCALE config file and the app's settings. Whatever the bytes, the only exceptions are the
project's own typed errors (UriError, TokenError, ConfigError), never a KeyError or a traceback."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.sandbox.pki import CertificateAuthority
from app.session.config import load_osc_config, load_settings, resolve_profile
from app.session.errors import ConfigError
from app.tokens.der import pkcs12_damage
from app.tokens.errors import TokenError
from app.tokens.filestore import load_credential, read_file_entries
from app.tokens.uri import Pkcs11Uri, UriError, certificate_uri

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

URI_CHARS = st.sampled_from(list("abcdefghijklmnopqrstuvwxyz0123456789-_.~%;=?&/:@!$'()*+,[] \x00\u00e9"))
ATTRS = ["token", "serial", "id", "object", "type", "slot-id", "module-path", "module-name", "pin-value",
         "pin-source", "x-vendor", "manufacturer", "library-version", "bogus"]


@st.composite
def pkcs11_like(draw: st.DrawFn) -> str:
    """Mostly well-formed attribute lists with hostile values, sometimes plain noise."""
    if draw(st.booleans()):
        return "pkcs11:" + draw(st.text(URI_CHARS, max_size=80))
    parts = [f"{draw(st.sampled_from(ATTRS))}={draw(st.text(URI_CHARS, max_size=20))}"
             for _ in range(draw(st.integers(0, 6)))]
    query = [f"{draw(st.sampled_from(ATTRS))}={draw(st.text(URI_CHARS, max_size=20))}"
             for _ in range(draw(st.integers(0, 3)))]
    return "pkcs11:" + ";".join(parts) + ("?" + "&".join(query) if query else "")


@FAST
@given(st.one_of(pkcs11_like(), st.text(max_size=60)))
def test_uri_parser_raises_only_uri_error(text: str) -> None:
    try:
        uri = Pkcs11Uri.parse(text)
    except UriError:
        return
    again = Pkcs11Uri.parse(str(uri))  # what we build, we read back the same
    assert again == uri
    assert "pin-value" not in [name for name, _ in uri.vendor_query]  # a PIN in a URI is never kept
    certificate_uri(str(uri))


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Real credential files to mutate: a PKCS#12 (encrypted, and not) and a PEM certificate + key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    ca = CertificateAuthority("Property CA")
    leaf = ca.issue_client("prop@example.com", "p256")
    assert leaf.key is not None
    enc = pkcs12.serialize_key_and_certificates(b"p", leaf.key, leaf.certificate, None,  # type: ignore[arg-type]
                                                serialization.BestAvailableEncryption(b"pw"))
    plain = pkcs12.serialize_key_and_certificates(b"p", leaf.key, leaf.certificate, None,  # type: ignore[arg-type]
                                                  serialization.NoEncryption())
    return {"p12_enc": enc, "p12_plain": plain, "pem": leaf.cert_pem() + leaf.key_pem()}


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


@st.composite
def mutated(draw: st.DrawFn, base: bytes) -> bytes:
    """`base` truncated, with bytes flipped, or with a run inserted."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        how = draw(st.sampled_from(["cut", "flip", "insert"]))
        i = draw(st.integers(0, max(0, len(data) - 1)))
        if how == "cut":
            del data[i:]
        elif how == "flip" and data:
            data[i] ^= draw(st.integers(1, 255))
        else:
            data[i:i] = draw(st.binary(max_size=8))
    return bytes(data)


def _read_both(path: Path) -> None:
    with contextlib.suppress(TokenError):
        read_file_entries(path)
    for pw in (None, "pw"):
        with contextlib.suppress(TokenError):
            load_credential(path, pw)


@FAST
@given(data=st.data())
def test_credential_files_raise_only_token_errors(data: st.DataObject, samples: dict[str, bytes],
                                                  scratch: Path) -> None:
    kind = data.draw(st.sampled_from(["p12_enc", "p12_plain", "pem", "noise"]))
    blob = data.draw(st.binary(max_size=300)) if kind == "noise" else data.draw(mutated(samples[kind]))
    suffix = ".pem" if kind == "pem" or (kind == "noise" and data.draw(st.booleans())) else ".p12"
    path = scratch / f"cred{suffix}"
    path.write_bytes(blob)
    assert pkcs12_damage(blob) is None or isinstance(pkcs12_damage(blob), str)
    _read_both(path)


def test_every_truncation_of_a_real_pkcs12_is_called_damaged(samples: dict[str, bytes]) -> None:
    for kind in ("p12_enc", "p12_plain"):
        whole = samples[kind]
        assert pkcs12_damage(whole) is None
        assert all(pkcs12_damage(whole[:n]) for n in range(len(whole)))


JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                      st.text(max_size=12))
JSON = st.recursive(
    JSON_LEAF,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
PROFILE_KEYS = ["access_key", "secret_key", "login", "email", "password", "region", "endpoints",
                "x509_client_cert", "x509_client_key", "api"]


@st.composite
def osc_configs(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=120))
    profiles = draw(st.dictionaries(st.sampled_from(["default", "p", ""]),
                                    st.one_of(JSON, st.dictionaries(st.sampled_from(PROFILE_KEYS), JSON)),
                                    max_size=3))
    text = json.dumps(profiles)
    if draw(st.booleans()):
        text = text[: draw(st.integers(0, len(text)))]
    return text.encode()


@FAST
@given(blob=osc_configs(), profile=st.sampled_from([None, "default", "p"]))
def test_osc_config_raises_only_config_error(blob: bytes, profile: str | None, scratch: Path) -> None:
    path = scratch / "config.json"
    path.write_bytes(blob)
    os.chmod(path, 0o600)
    try:
        load_osc_config(path)
        p = resolve_profile(profile, env={}, config_file=path)
        _ = (p.certificate_ref, p.client_cert_is_pkcs11, p.has_login, p.has_access_key)
    except ConfigError:
        pass


def _json_bytes(value: object) -> bytes:
    return json.dumps(value).encode()


SETTINGS_KEYS = ["pkcs11_modules", "store_folders", "extra_ca_bundle", "language", "remember_login",
                 "grace_override_seconds", "remembered_certificate", "unknown"]


@FAST
@given(blob=st.one_of(st.binary(max_size=80),
                      st.dictionaries(st.sampled_from(SETTINGS_KEYS), JSON).map(_json_bytes),
                      st.just(b"[" * 100_000)))
def test_settings_raise_only_config_error(blob: bytes, scratch: Path) -> None:
    path = scratch / "settings.json"
    path.write_bytes(blob)
    os.chmod(path, 0o600)
    with contextlib.suppress(ConfigError):
        load_settings(path)
