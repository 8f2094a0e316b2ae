"""French for every string of app/ui, kept so as new strings come in:
- pyside6-lupdate run over app/ui finds no string the committed .ts lacks a finished French for;
- every tr()/translate() call has literal arguments (lupdate extracts nothing else: a wrapper taking the
  text as a variable, or an alias of translate named tr, hid strings whose French was then never found);
- each French keeps its English's placeholders, HTML tags and keyboard mnemonic;
- the windows added this afternoon, rendered in French (artifacts/screenshots/fr/), find the French of
  every string they ask for, in the context their tr() really uses."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.ui.conftest import ARTIFACTS, ROOT

UI = ROOT / "app" / "ui"
TS = ROOT / "resources" / "i18n" / "osc_trusted_login_fr.ts"


def _lupdate() -> str:
    here = Path(sys.executable).parent / "pyside6-lupdate"
    found = str(here) if here.exists() else shutil.which("pyside6-lupdate")
    # Qt 5's plain lupdate cannot read Python: only PySide6's (PySide6-Essentials ships it) will do.
    assert found, "pyside6-lupdate not found beside the interpreter nor on PATH"
    return found


def _unfinished(ts: Path) -> list[str]:
    root = ET.parse(ts).getroot()
    out = []
    for ctx in root.iter("context"):
        for m in ctx.iter("message"):
            t = m.find("translation")
            assert t is not None
            forms = [f.text or "" for f in t.iter("numerusform")] or [t.text or ""]
            if t.get("type") == "unfinished" or not all(f.strip() for f in forms):
                out.append(f"{ctx.findtext('name')}: {m.findtext('source')!r}")
    return out


def test_every_ui_string_has_a_finished_french_translation(tmp_path: Path) -> None:
    """lupdate over app/ui into a copy of the committed .ts: a new or changed string comes out unfinished."""
    copy = tmp_path / TS.name
    shutil.copy(TS, copy)
    sources = sorted(str(p) for p in UI.rglob("*.py"))
    r = subprocess.run([_lupdate(), "-silent", *sources, "-ts", str(copy)],
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    root = ET.parse(copy).getroot()
    assert len(root.findall("context/message")) > 300  # lupdate did read the sources
    missing = _unfinished(copy)
    assert missing == [], (
        "strings of app/ui without a finished French translation: run "
        "`.venv/bin/pyside6-lupdate $(find app/ui -name '*.py') -ts resources/i18n/osc_trusted_login_fr.ts`, "
        f"translate them and mark them finished: {missing}"
    )


def _call_name(node: ast.Call) -> str | None:
    f = node.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None


def _is_text(node: ast.expr) -> bool:
    # implicit concatenation ("a" "b") is one Constant; f-strings, "+", variables are not extracted
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def untranslatable_calls(source: str, filename: str) -> list[str]:
    """tr()/translate() calls of `source` that pyside6-lupdate cannot extract (or reads wrongly)."""
    out = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Attribute):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            if node.value.attr in ("tr", "translate") and names and names != [node.value.attr]:
                out.append(f"{where}: {names[0]} = ...{node.value.attr} (lupdate knows no other name)")
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        if name == "tr":
            if not isinstance(node.func, ast.Attribute):
                out.append(f"{where}: bare tr(...) (lupdate reads its arguments as text and comment)")
            elif not node.args or not _is_text(node.args[0]):
                out.append(f"{where}: tr() of something else than a literal text")
        elif name == "translate" and not (len(node.args) >= 2 and all(map(_is_text, node.args[:2]))):
            out.append(f"{where}: translate() without a literal context and text")
    return out


def test_translation_calls_are_extractable() -> None:
    problems = []
    for path in sorted(UI.rglob("*.py")):
        problems += untranslatable_calls(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert problems == []


def test_the_extractability_check_catches_what_hid_strings() -> None:
    hidden = '''
from PySide6.QtCore import QCoreApplication
def _tr(text):
    return QCoreApplication.translate("policy", text)
tr = QCoreApplication.translate
x = tr("picker", "software key")
class W:
    def f(self, what):
        return self.tr(what), self.tr(f"{what} left"), translate("ctx", "a " + what)
'''
    found = untranslatable_calls(hidden, "x.py")
    assert len(found) == 6, found
    fine = 'translate = QCoreApplication.translate\ntranslate("policy", "Set by" " your organisation")\n'
    fine += "class W:\n    def f(self):\n        return self.tr('Log in')\n"
    assert untranslatable_calls(fine, "y.py") == []


_PLACEHOLDER = re.compile(r"%(?:n|L?\d+)")
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")


def _mnemonic(text: str) -> str | None:
    i = text.replace("&&", "").find("&")
    return None if i < 0 else text.replace("&&", "")[i + 1 : i + 2]


def _shape_problems(source: str, french: str) -> list[str]:
    out = []
    if sorted(set(_PLACEHOLDER.findall(source))) != sorted(set(_PLACEHOLDER.findall(french))):
        out.append("placeholders")
    if sorted(_TAG.findall(source)) != sorted(_TAG.findall(french)):
        out.append("HTML tags")
    if (_mnemonic(source) is None) != (_mnemonic(french) is None) or french.replace("&&", "").count("&") > 1:
        out.append("keyboard mnemonic")
    return out


def test_french_keeps_placeholders_tags_and_mnemonics() -> None:
    problems = []
    for ctx in ET.parse(TS).getroot().iter("context"):
        for m in ctx.iter("message"):
            source, t = m.findtext("source") or "", m.find("translation")
            assert t is not None
            for french in [f.text or "" for f in t.iter("numerusform")] or [t.text or ""]:
                if m.get("numerus") == "yes" and "%n" not in french:
                    french += " %n"  # a singular form may spell the number out ("1 heure")
                problems += [f"{ctx.findtext('name')}: {source!r} -> {french!r}: {p}"
                             for p in _shape_problems(source, french)]
    assert problems == []
    assert _shape_problems("Log i&n", "Se connecter") == ["keyboard mnemonic"]
    assert _shape_problems("<b>%1</b> left", "%1 restant") == ["HTML tags"]


# -- the French windows, with every lookup recorded ------------------------------------------------------


class Lookups:
    """Every (context, text) the windows asked the translators for, while French was installed."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def lost(self) -> list[str]:
        """The texts of ours that the French catalogue answered in none of the contexts asked."""
        from PySide6.QtCore import QTranslator

        from app.ui.i18n import qm_path

        french_qm = QTranslator()
        path = qm_path("fr")
        assert path is not None and french_qm.load(str(path))
        ours = {c.findtext("name") for c in ET.parse(TS).getroot().iter("context")}
        by_text: dict[str, set[str]] = {}
        for context, source in self.asked:
            by_text.setdefault(source, set()).add(context)
        assert by_text, "nothing was asked: the recorder saw no lookup"
        # PySide's tr() asks the class, then its bases (QDialog, QObject...): one of them must answer.
        # Texts that only Qt's own classes ask (a line edit's menu) are Qt's, not ours.
        return sorted(
            f"{sorted(ctxs)}: {text!r}"
            for text, ctxs in by_text.items()
            if ctxs & ours or any(not c.startswith("Q") for c in ctxs)
            if not any(french_qm.translate(c, text) for c in ctxs)
        )


@pytest.fixture
def french(qapp: Any) -> Iterator[Lookups]:
    """French installed, plus a translator asked first that records every (context, text) looked up."""
    from PySide6.QtCore import QCoreApplication, QTranslator

    from app.ui.app import ensure_qapplication
    from app.ui.i18n import install_language

    lookups = Lookups()

    class Recorder(QTranslator):
        def translate(self, context: str, source: str, disambiguation: str | None = None, n: int = -1) -> Any:
            lookups.asked.append((context, source))
            return None  # not found here: Qt goes on to the French translator

    ensure_qapplication()
    assert install_language("fr") == "fr"
    recorder = Recorder()
    QCoreApplication.installTranslator(recorder)  # the last installed is asked first
    try:
        yield lookups
    finally:
        QCoreApplication.removeTranslator(recorder)
        install_language("en")


def _shot(qtbot: Any, widget: Any, name: str) -> None:
    from PySide6.QtWidgets import QApplication

    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    for _ in range(3):  # the layout's queued growth before the picture
        QApplication.processEvents()
    path = ARTIFACTS / "screenshots" / "fr" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    assert widget.grab().save(str(path)) and path.stat().st_size > 1000


@pytest.fixture
def managed_policy() -> Iterator[Any]:
    import app.policy
    from app.policy import SourceDoc, merge

    doc = {
        "version": 1,
        "endpoints": {"fixed": [{"region": "eu-west-2", "api": "https://api.eu-west-2.outscale.com/api/v1"}]},
        "remember_me": False,
        "local_agent": False,
        "certificate_sources": ["card"],
    }
    policy = merge([SourceDoc("/etc/osc-trusted-login/policy.json", doc)])
    app.policy.install(policy)
    yield policy
    app.policy.install(None)


def test_new_windows_in_french(qtbot: Any, french: Lookups, managed_policy: Any,
                               tmp_path: Path) -> None:
    """The set-up dialog, the agent panel, the policy marks, a computer store's row and a database
    password, in French: their words are French and every string they asked for was found."""
    from PySide6.QtCore import QCoreApplication

    from app.session.model import AuthMethod, CertificateChoice, Credentials, LoginRequest, Secret
    from app.tokens.model import CertificateEntry, CertificateSource, KeyFactor, KeyType
    from app.tokens.pin import PinPurpose, PinRequest
    from app.ui.agent_panel import AgentPanel
    from app.ui.inventory import rows_from_inventory
    from app.ui.login import LoginWindow
    from app.ui.mfa_setup_dialog import MfaSetupDialog
    from app.ui.picker import CertificatePicker, InventorySnapshot
    from app.ui.pin_dialog import PinDialog
    from app.ui.policy_marks import mark_login_window, mark_settings
    from app.ui.settings import SettingsDialog, SettingsStore

    QCoreApplication.translate("NoSuchContext", "no such text")  # the recorder sees it, French lacks it
    assert french.lost() == ["['NoSuchContext']: 'no such text'"]
    french.asked.clear()

    request = LoginRequest(
        credentials=Credentials(AuthMethod.PASSWORD, "operator@example.com", Secret("")),
        region="eu-west-2", certificate=CertificateChoice("pkcs11:token=Demo;type=cert"))
    setup = MfaSetupDialog(request, lambda _req: None)
    setup.trusted_check.setChecked(True)
    _shot(qtbot, setup, "20-mfa-setup")
    assert setup.check_button.text() == "&Vérifier le compte" and not setup.secret_edit.isHidden()
    setup.reject()

    handle = SimpleNamespace(endpoint="http://127.0.0.1:47613/api/v1", access_key="OTLLOCAL0123456789AB",
                             profile_file=Path("/tmp/config.json"), profile_names=["otl"])
    panel = AgentPanel(handle)  # type: ignore[arg-type]
    panel.set_ended()
    _shot(qtbot, panel, "21-agent-panel")
    assert panel.title().startswith("Vos outils OUTSCALE") and panel.access_key.text() == "(terminée)"

    login = LoginWindow()
    mark_login_window(login, managed_policy)
    _shot(qtbot, login, "22-login-policy")
    assert login.region_combo.toolTip() == "Défini par votre organisation"
    settings = SettingsDialog(SettingsStore(tmp_path / "settings.json"))
    mark_settings(settings, managed_policy)
    _shot(qtbot, settings, "23-settings-policy")
    assert settings.local_agent.toolTip() == "Défini par votre organisation"

    entry = CertificateEntry(
        CertificateSource.STORE, "nss:Firefox", "operator", b"", subject="CN=Demo Operator",
        issuer="CN=Example CA", key_type=KeyType.EC, curve="secp256r1", fingerprint_sha256="ab" * 32,
        store_name="Firefox profile default", key_factor=KeyFactor.KNOWLEDGE, has_private_key=True)
    rows = rows_from_inventory(SimpleNamespace(certificates=(entry,)))  # type: ignore[arg-type]
    assert "clé logicielle" in rows[0].key and not rows[0].usable
    assert rows[0].problems == ("interdit par votre organisation (cartes à puce uniquement)",)
    picker = CertificatePicker()
    picker.set_snapshot(InventorySnapshot(rows))
    picker.resize(900, 400)
    _shot(qtbot, picker, "24-picker-computer-store")

    pin = PinDialog(PinRequest("Firefox profile default", PinPurpose.LOGIN, database_password=True))
    _shot(qtbot, pin, "25-pin-database-password")
    assert pin.windowTitle() == "Mot de passe"
    assert french.lost() == []


def test_french_also_translates_qts_own_words(qapp: Any) -> None:
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QDialogButtonBox

    from app.ui.i18n import install_language

    try:
        install_language("fr")
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        # Qt's standard buttons take their words from qtbase_fr.qm, not from the app's own file
        assert box.button(QDialogButtonBox.StandardButton.Cancel).text().replace("&", "") == "Annuler"
        assert QCoreApplication.translate("QPlatformTheme", "Cancel") == "Annuler"
        install_language("en")
        assert QCoreApplication.translate("QPlatformTheme", "Cancel") == "Cancel"
        box.deleteLater()
    finally:
        install_language("en")


def test_session_warnings_are_worded_in_french(french: Lookups) -> None:
    """The core's warnings carry a code (app.session.model.Notice): the window words each in French; the
    cause's technical detail stays as the core wrote it; an unknown code keeps the core's English."""
    from app.session.model import Notice
    from app.ui.errors import describe_warning

    cases = {
        "account_unreadable": ({"detail": "HTTP 403"}, "Le compte n\u2019a pas pu être lu (HTTP 403)."),
        "no_temporary_key": ({"detail": "x", "quota": True}, "le quota de clés d\u2019accès est atteint"),
        "pin_not_given": ({}, "le décompte continue"),
        "pin_refused": ({"tries_left": 1, "final_try": True}, "Code PIN incorrect ; le décompte continue."),
        "unlock_failed": ({"detail": "CKR_DEVICE_ERROR"}, "(CKR_DEVICE_ERROR) ; le décompte continue"),
        "old_key_not_deleted": ({"detail": "timeout", "access_key_id": "AK1", "until": "2026-12-05"},
                                "temporaire AK1 n\u2019a pas pu être supprimée (timeout)"),
    }
    for code, (data, french_words) in cases.items():
        text = describe_warning("English words", {"warning": code, **data})
        assert french_words in text, (code, text)
    locked = describe_warning("English words", {"warning": "pin_refused", "pin_locked": True})
    assert "bloqué" in locked
    assert describe_warning("English words", {"warning": "from a newer core"}) == "English words"
    notice = Notice("The account could not be read (HTTP 403).", "account_unreadable", "HTTP 403")
    assert describe_warning(notice, notice.event_data()) == "Le compte n\u2019a pas pu être lu (HTTP 403)."
    assert french.lost() == []
