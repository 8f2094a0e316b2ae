"""Every screen rendered in English and French to artifacts/screenshots/<lang>/ (git-ignored), so a
person can look at them; and every typed error of the core has plain words in both languages."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.session.model import AuthMethod, CertificateChoice, SessionInfo
from app.tokens.pin import PinPurpose, PinRequest
from tests.rigs.softhsm import SoftHsmRig
from tests.ui.conftest import ARTIFACTS

SHOTS = ARTIFACTS / "screenshots"
LANGS = ("en", "fr")


@pytest.fixture
def language(request: pytest.FixtureRequest, qapp: Any) -> Iterator[str]:
    from app.ui.app import ensure_qapplication
    from app.ui.i18n import install_language

    ensure_qapplication()
    assert install_language(request.param) == request.param
    yield request.param
    install_language("en")


def _shot(qtbot: Any, widget: Any, lang: str, name: str) -> Path:
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    from PySide6.QtWidgets import QApplication

    for _ in range(3):  # the layout's queued growth (GrowToContent) before the picture
        QApplication.processEvents()
    path = SHOTS / lang / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    assert widget.grab().save(str(path))
    assert path.stat().st_size > 1000
    return path


def _info() -> SessionInfo:
    return SessionInfo(
        account_id="123456789012",
        account_email="operator@example.com",
        method=AuthMethod.PASSWORD,
        identity="operator@example.com",
        region="eu-west-2",
        endpoint="https://api.eu-west-2.outscale.com/api/v1",
        certificate_subject="CN=demo operator,O=Example",
        certificate_fingerprint="ab" * 32,
        card_label="OTL Demo Card",
        temporary_key_id="AKTEMP0123456789ABCD",
        # 3 h 12 min from now: the window shows it in local time and words, no warning yet
        temporary_key_expires=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 11530)),
        trusted_env=False,
        grace_seconds=300.0,
        tls_summary="TLS 1.3, TLS_AES_128_GCM_SHA256, ecdsa_secp256r1_sha256",
    )


@pytest.mark.parametrize("language", LANGS, indirect=True)
def test_render_every_screen(qtbot: Any, language: str, softhsm_rig: SoftHsmRig, tmp_path: Path) -> None:
    from app.session.api import Vm
    from app.tokens.errors import PinIncorrect
    from app.ui.errors import describe
    from app.ui.inventory import InventoryConfig, read_snapshot
    from app.ui.login import LoginPrefill, LoginWindow, PickedCertificate
    from app.ui.picker import CertificatePicker
    from app.ui.pin import PinDialog
    from app.ui.session_window import SessionWindow
    from app.ui.settings import SettingsDialog, SettingsStore

    lang = language
    w = LoginWindow()
    _shot(qtbot, w, lang, "01-login")
    w.submit()  # empty form: the messages next to the fields
    _shot(qtbot, w, lang, "02-login-validation")

    w2 = LoginWindow(profiles=("default", "prod"))
    w2.prefill(
        LoginPrefill(
            identity="operator@example.com",
            secret="x",
            endpoint="https://127.0.0.1:8443/api/v1",
            certificate=PickedCertificate(
                CertificateChoice("pkcs11:token=Demo"), "demo operator", "OTL Demo Card (SoftHSM)"
            ),
            note="Demo: sandbox API on https://127.0.0.1:8443/api/v1.",
            remember=True,
        )
    )
    w2.show_message(*describe(PinIncorrect(token_label="OTL Demo Card", tries_left=2)))
    _shot(qtbot, w2, lang, "03-login-error")
    w2.set_busy(True, "Connecting...")
    w2.clear_message()
    _shot(qtbot, w2, lang, "04-login-busy")

    # The picker with the rig's real cards: usable, expired, without key, not for client auth, garbage.
    snapshot = read_snapshot(
        InventoryConfig(
            module_paths=(softhsm_rig.module_path,),
            init_envs={softhsm_rig.module_path: softhsm_rig.env},
            account_ca_subjects=frozenset({softhsm_rig.ca.certificate.subject.rfc4514_string()}),
        )
    )
    assert any(not r.usable for r in snapshot.rows) and any(r.usable for r in snapshot.rows)
    picker = CertificatePicker()
    picker.set_snapshot(snapshot)
    picker.resize(900, 560)
    _shot(qtbot, picker, lang, "05-picker")
    empty = CertificatePicker()
    from app.ui.picker import InventorySnapshot

    empty.set_snapshot(InventorySnapshot((), ("Card software not loaded: /usr/lib/broken.so",)))
    _shot(qtbot, empty, lang, "06-picker-empty")

    for name, req in [
        ("07-pin", PinRequest("OTL Demo Card", PinPurpose.LOGIN)),
        (
            "08-pin-last-try",
            PinRequest(
                "OTL Demo Card",
                PinPurpose.LOGIN,
                tries_left=1,
                final_try=True,
                last_error=describe(PinIncorrect(token_label="OTL Demo Card"))[1],
            ),
        ),
        ("09-pin-relogin", PinRequest("OTL Demo Card", PinPurpose.RELOGIN, count_low=True)),
        ("10-pin-pad", PinRequest("OTL Demo Card", PinPurpose.LOGIN, protected_path=True)),
    ]:
        _shot(qtbot, PinDialog(req), lang, name)

    sw = SessionWindow()
    sw.set_info(_info())
    sw.set_vms(
        [
            Vm("i-0a1b2c3d", "running", "tinav6.c2r4p2", private_ip="10.0.0.10", tags=(("Name", "web-1"),)),
            Vm("i-0e4f5a6b", "stopped", "tinav5.c1r2p3", private_ip="10.0.0.12", tags=(("Name", "batch"),)),
        ]
    )
    _shot(qtbot, sw, lang, "11-session")
    sw.start_countdown(time.monotonic() + 299.5)
    _shot(qtbot, sw, lang, "12-session-card-removed")
    assert sw.countdown_text() == "05:00"
    assert sw.windowTitle().startswith("05:00")
    sw.stop_countdown()
    assert not sw.windowTitle().startswith("05:00")
    sw.allow_close()

    settings = SettingsDialog(SettingsStore(tmp_path / "settings.json"))
    _shot(qtbot, settings, lang, "13-settings")

    ended = LoginWindow()
    from app.session.model import EndReason
    from app.ui.errors import describe_end

    ended.show_message(*describe_end(EndReason.CARD_REMOVED, True))
    _shot(qtbot, ended, lang, "14-login-after-expiry")
    logged_out = LoginWindow()
    logged_out.show_message(*describe_end(EndReason.LOGOUT, True), warning=False)
    _shot(qtbot, logged_out, lang, "15-login-after-logout")

    # The language really changed: the same window is titled differently in French.
    expected = "Log in" if lang == "en" else "Connexion"
    assert expected in w.windowTitle()


@pytest.mark.parametrize("language", LANGS, indirect=True)
def test_every_core_error_has_plain_words(language: str) -> None:
    from app.ui.errors import all_error_classes, describe

    generic = {describe(Exception("x"))[0]}
    classes = all_error_classes()
    assert len(classes) > 30
    for cls in classes:
        e = _instance(cls)
        title, text = describe(e)
        assert title and text, cls
        assert title not in generic, f"{cls.__name__} falls through to the generic message"
        assert "Traceback" not in text


def test_french_titles_differ_from_english(qapp: Any) -> None:
    from app.ui.app import ensure_qapplication
    from app.ui.errors import all_error_classes, describe
    from app.ui.i18n import install_language

    ensure_qapplication()
    install_language("en")
    en = {c: describe(_instance(c))[0] for c in all_error_classes()}
    install_language("fr")
    try:
        fr = {c: describe(_instance(c))[0] for c in all_error_classes()}
    finally:
        install_language("en")
    same = [c.__name__ for c in en if en[c] == fr[c]]
    assert same == []


def _instance(cls: type[BaseException]) -> BaseException:
    # Build each error with the arguments its constructor needs (they differ by family).
    import inspect

    params = inspect.signature(cls.__init__).parameters
    args: list[Any] = []
    for name, p in list(params.items())[1:]:
        if p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty:
            args.append("/usr/lib/x.so" if name == "path" else "test")
    try:
        return cls(*args)
    except TypeError:
        return cls("test")


def _mnemonics(top: Any) -> list[tuple[str, str]]:
    from PySide6.QtWidgets import QAbstractButton, QLabel

    out = []
    for w in top.findChildren(QAbstractButton) + top.findChildren(QLabel):
        if not w.isVisibleTo(top) or (isinstance(w, QLabel) and w.buddy() is None):
            continue
        text = w.text().replace("&&", "")
        i = text.find("&")
        if i >= 0 and i + 1 < len(text):
            out.append((text[i + 1].lower(), text))
    return out


@pytest.mark.parametrize("language", LANGS, indirect=True)
def test_mnemonics_are_unique_on_every_screen(qtbot: Any, language: str, tmp_path: Path) -> None:
    from app.ui.login import LoginWindow
    from app.ui.picker import CertificatePicker
    from app.ui.pin import PinDialog
    from app.ui.session_window import SessionWindow
    from app.ui.settings import SettingsDialog, SettingsStore

    login = LoginWindow(profiles=("default",))
    screens: list[tuple[str, Any]] = [("login", login)]
    sw = SessionWindow()
    sw.unlock_button.show()
    screens += [
        ("picker", CertificatePicker()),
        ("pin", PinDialog(PinRequest("Card", PinPurpose.LOGIN))),
        ("session", sw),
        ("settings", SettingsDialog(SettingsStore(tmp_path / "s.json"))),
    ]
    problems = []
    for name, top in screens:
        qtbot.addWidget(top)
        top.show()
        variants = [top]
        if top is login:
            variants = []
            for method in (login.method_password, login.method_key):
                method.setChecked(True)
                login.region_combo.setCurrentIndex(login.region_combo.count() - 1)  # endpoint field shown
                login.remember_check.setChecked(True)
                variants.append(top)
                found = _mnemonics(top)
                keys = [k for k, _ in found]
                problems += [
                    f"{name}: {k!r} in {[t for kk, t in found if kk == k]}"
                    for k in set(keys)
                    if keys.count(k) > 1
                ]
            continue
        for v in variants:
            found = _mnemonics(v)
            keys = [k for k, _ in found]
            problems += [
                f"{name}: {k!r} in {[t for kk, t in found if kk == k]}"
                for k in set(keys)
                if keys.count(k) > 1
            ]
    sw.allow_close()
    assert problems == []


def test_french_translation_is_complete() -> None:
    import xml.etree.ElementTree as ET

    from app.ui.i18n import TS_DIR

    root = ET.parse(TS_DIR / "osc_trusted_login_fr.ts").getroot()
    messages = root.findall("context/message")
    assert len(messages) > 200
    unfinished = [
        m.findtext("source")
        for m in messages
        if m.find("translation").get("type") in ("unfinished", "vanished", "obsolete")
        or not (m.findtext("translation") or "").strip()
    ]
    assert unfinished == []


def test_key_errors_in_plain_words(qapp: Any) -> None:
    from app.session import errors as se
    from app.tokens import errors as te
    from app.ui.errors import describe

    title, text = describe(se.UnmatchedApiAccessRules("x", code="14"))
    assert title == "Certificate not allowed" and "API access rules" in text and "14" not in text
    title, text = describe(se.AuthLocked("x", retry_after=125.0, code="13"))
    assert title == "Login locked" and "2:05" in text
    title, text = describe(te.PinIncorrect(token_label="Card A", tries_left=1, final_try=True))
    assert "Card A" in text and "lock the card" in text
    title, text = describe(te.PinLocked("locked", token_label="Card A"))
    assert title == "Card locked" and "PUK" in text
    title, text = describe(se.ServerNotTrusted("x", host="api.example.com", reason="unknown issuer"))
    assert "api.example.com" in text and "unknown issuer" in text


def test_an_error_subclass_takes_the_words_of_its_nearest_described_class(qapp: Any) -> None:
    from app.session import errors as se
    from app.tokens import errors as te
    from app.ui.errors import describe

    class VendorPinIncorrect(te.PinIncorrect):
        pass

    class VendorInvalidParameter(se.InvalidParameter):
        pass

    assert describe(VendorPinIncorrect(token_label="Card A", tries_left=2)) == describe(
        te.PinIncorrect(token_label="Card A", tries_left=2)
    )
    assert describe(VendorPinIncorrect(token_label="Card A"))[0] != describe(te.TokenError("x"))[0]
    title, text = describe(VendorInvalidParameter("bad", code="4000", details="Bad name"))
    assert title == describe(se.InvalidParameter("x"))[0] and "Bad name" in text and "4000" in text

