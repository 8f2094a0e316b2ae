"""An osc profile fills the whole form: a card URI in x509_client_key chooses that card's certificate, and
the profile selector shows the profile in use (issue 20: it said "No certificate chosen" and "(none)")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

KEY_URI = "pkcs11:token=OTL%20Demo%20Card;id=%01;object=demo%20operator;type=private"
CERT_URI = "pkcs11:token=OTL%20Demo%20Card;object=demo%20operator;type=cert;id=%01"  # canonical order


@pytest.mark.parametrize(
    ("fields", "ref", "title"),
    [
        (
            {"x509_client_key": KEY_URI},
            CERT_URI,
            "demo operator",
        ),
        ({"x509_client_cert": "/srv/me.p12"}, "/srv/me.p12", "me.p12"),
    ],
)
def test_a_profile_chooses_its_certificate_and_shows_its_name(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fields: dict[str, str], ref: str, title: str
) -> None:
    from app.ui.app import AppOptions, TrustedLoginApp

    config = tmp_path / "config.json"
    profile = {"access_key": "AK" * 10, "secret_key": "S" * 40, "region": "eu-west-2", **fields}
    config.write_text(json.dumps({"default": {"access_key": "X" * 20}, "work": profile}))
    monkeypatch.setenv("OSC_CONFIG_FILE", str(config))
    for var in ("OSC_PROFILE", "OSC_X509_CLIENT_CERT", "OSC_X509_CLIENT_KEY", "OSC_ACCESS_KEY"):
        monkeypatch.delenv(var, raising=False)
    controller = TrustedLoginApp(
        AppOptions(profiles=("default", "work"), profile="work", use_keyring=False, quit_on_close=False)
    )
    qtbot.addWidget(controller.login_window)
    try:
        controller.start()
        w = controller.login_window
        qtbot.waitUntil(lambda: w.certificate is not None, timeout=5000)
        assert w.certificate.choice.ref == ref
        assert w.certificate.title == title
        assert w.profile_combo.currentText() == "work"
        assert w.identity_edit.text() == "AK" * 10
        assert "No certificate chosen" not in w.cert_value.text()
    finally:
        controller.shutdown()


def test_the_headless_login_takes_the_card_named_by_the_key_uri(tmp_path: Path) -> None:
    from app.session.config import resolve_profile

    config = tmp_path / "config.json"
    config.write_text(json.dumps({"default": {"login": "me", "x509_client_key": KEY_URI}}))
    prof = resolve_profile(env={}, config_file=config)
    assert prof.certificate_ref == CERT_URI
    config.write_text(
        json.dumps({"default": {"login": "me", "x509_client_cert": "/a.pem", "x509_client_key": "/a.key"}})
    )
    assert resolve_profile(env={}, config_file=config).certificate_ref == "/a.pem"
