"""The policy seen in the windows: the real app under an installed policy shows fixed fields
read-only with "Set by your organisation", Settings names the policy's source, errors carry the
support line, and "Remember my login" stores nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import app.policy
from app.policy import SourceDoc, merge

POLICY = {
    "version": 1,
    "endpoints": {"fixed": [{"region": "eu-west-2", "api": "https://api.eu-west-2.outscale.com/api/v1"}]},
    "remember_me": False,
    "local_agent": False,
    "pkcs11_modules": {"allowed": ["/usr/lib/*/opensc-pkcs11.so"]},
    "certificate_sources": ["card"],
    "support": {"text": "Call the service desk, ext. 4242"},
}


@pytest.fixture
def policy() -> Iterator[app.policy.Policy]:
    p = merge([SourceDoc("/etc/osc-trusted-login/policy.json", POLICY)])
    app.policy.install(p)
    yield p
    app.policy.install(None)


def test_the_app_shows_what_the_organisation_fixed(qtbot: Any, tmp_path: Path, policy: Any) -> None:
    from app.ui.app import AppOptions, TrustedLoginApp
    from app.ui.i18n import install_language
    from app.ui.settings import SettingsStore

    install_language("en")
    ui = TrustedLoginApp(
        AppOptions(settings_store=SettingsStore(tmp_path / "s.json"), use_keyring=False, quit_on_close=False)
    )
    w = ui.login_window
    qtbot.addWidget(w)
    try:
        _check_marks(ui, qtbot)
    finally:
        ui.shutdown()


def _check_marks(ui: Any, qtbot: Any) -> None:
    w = ui.login_window
    assert not w.region_combo.isEnabled() and w.region_combo.toolTip() == "Set by your organisation"
    assert w.region_code() == "eu-west-2"
    assert not w.remember_check.isEnabled() and not w.remember_check.isChecked()
    note = w.findChild(type(w.note), "policyNote")
    assert (
        note is not None and "set by your organisation" in note.text() and "Smart cards only" in note.text()
    )

    ui.open_settings()
    dlg = ui.settings_dialog
    assert dlg is not None
    qtbot.addWidget(dlg)
    source = dlg.findChild(type(w.note), "policySource")
    assert source is not None and "/etc/osc-trusted-login/policy.json" in source.text()
    assert not dlg.local_agent.isEnabled() and not dlg.local_agent.isChecked()
    assert not dlg.add_module.isEnabled() and not dlg.publish_profile.isEnabled()
    dlg.reject()


def test_without_a_policy_nothing_is_locked(qtbot: Any, tmp_path: Path) -> None:
    from app.ui.app import AppOptions, TrustedLoginApp
    from app.ui.settings import SettingsStore

    app.policy.install(merge([]))
    try:
        ui = TrustedLoginApp(
            AppOptions(
                settings_store=SettingsStore(tmp_path / "s.json"), use_keyring=False, quit_on_close=False
            )
        )
        w = ui.login_window
        qtbot.addWidget(w)
        assert w.region_combo.isEnabled() and w.remember_check.isEnabled()
        assert w.findChild(type(w.note), "policyNote") is None
        ui.shutdown()
    finally:
        app.policy.install(None)


def test_errors_carry_the_support_line_and_policy_refusals_say_so(qapp: Any, policy: Any) -> None:
    from app.session.errors import EndpointUnreachable
    from app.session.policy_gate import PolicyError
    from app.ui.errors import describe

    title, text = describe(EndpointUnreachable("the server at x did not answer"))
    assert text.endswith("Help: Call the service desk, ext. 4242")
    title, text = describe(
        PolicyError(str(policy.refuse("Keys in files are not allowed by your organisation")))
    )
    assert title == "Not allowed by your organisation" and text.count("4242") == 1


def test_remember_me_stores_nothing_under_the_policy(policy: Any) -> None:
    from app.ui import remember

    problem = remember.save("password", "ops@example.com", "eu-west-2", None, "pw")
    assert problem == "remembering the login is not allowed by your organisation"
    assert remember.load() is None


@pytest.mark.parametrize(
    ("doc", "usable", "words"),
    [
        ({"certificate_sources": ["card"]}, False, "not allowed by your organisation (smart cards only)"),
        ({"allowed_issuers_sha256": ["00" * 32]}, False, "not allowed by your organisation (issuer)"),
        ({"certificate_sources": ["card", "file"]}, True, None),
    ],
)
def test_the_picker_greys_what_the_organisation_refuses(
    qapp: Any, tmp_path: Path, doc: dict[str, Any], usable: bool, words: str | None
) -> None:
    from app.sandbox.pki import CertificateAuthority
    from app.ui.inventory import read_file

    issued = CertificateAuthority("Picker test CA").issue_client("alice", key_kind="p256")
    issued.write(tmp_path / "alice.pem", tmp_path / "alice.key")
    both = tmp_path / "alice-both.pem"
    both.write_bytes((tmp_path / "alice.pem").read_bytes() + (tmp_path / "alice.key").read_bytes())
    app.policy.install(merge([SourceDoc("policy.json", doc)]))
    try:
        (row,) = read_file(str(both), None)
    finally:
        app.policy.install(None)
    assert row.usable is usable
    assert (words in row.problems) if words else row.problems == ()


def test_a_default_endpoint_is_preset_but_stays_the_user_s_choice(qapp: Any) -> None:
    from app.ui.login import CUSTOM, LoginPrefill, LoginWindow
    from app.ui.policy_marks import mark_login_window

    p = merge([SourceDoc("policy.json", {"endpoints": {"default": {"region": "us-east-2"}}})])
    fresh = LoginWindow()
    mark_login_window(fresh, p)
    assert fresh.region_code() == "us-east-2" and fresh.region_combo.isEnabled()
    chosen = LoginWindow()
    chosen.prefill(LoginPrefill(endpoint="https://api.private.example/api/v1"))
    mark_login_window(chosen, p)
    assert chosen.region_code() == CUSTOM and chosen.endpoint_edit.text() == "https://api.private.example/api/v1"


def test_a_profile_filled_in_later_cannot_move_a_fixed_endpoint(qapp: Any, policy: Any) -> None:
    from app.ui.login import LoginPrefill, LoginWindow
    from app.ui.policy_marks import mark_login_window

    w = LoginWindow()
    mark_login_window(w, policy)
    w.prefill(LoginPrefill(identity="ops", endpoint="https://api.elsewhere.example/api/v1"))
    assert w.region_code() == "eu-west-2" and w.identity_edit.text() == "ops"
