"""Languages: English (the source text) and French, from Qt Linguist files built on first use."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

log = logging.getLogger(__name__)

LANGUAGES: dict[str, str] = {"en": "English", "fr": "Français"}
ROOT = Path(__file__).resolve().parents[2]
#: The committed sources (.ts); the compiled .qm never go into git.
TS_DIR = ROOT / "resources" / "i18n"
#: Where a packaged build ships compiled translations (the installer recipes run lrelease).
PACKAGED_QM_DIR = Path(__file__).resolve().parent / "i18n"

_installed: list[QTranslator] = []
_current = "en"


def current_language() -> str:
    """The code of the language installed last ('en' until one is)."""
    return _current


def system_language() -> str:
    """'fr' when the system's UI language is French, else 'en'."""
    for name in QLocale.system().uiLanguages():
        code = name.split("-")[0].split("_")[0].lower()
        if code in LANGUAGES:
            return code
    return "en"


def _cache_dir() -> Path:
    import platformdirs  # imported here: only needed when a .qm must be built

    return Path(platformdirs.user_cache_dir("osc-trusted-login")) / "i18n"


def _lrelease() -> list[str] | None:
    import shutil  # imported here, like subprocess below: only needed when a .qm must be built

    # PySide6-Essentials ships pyside6-lrelease beside the interpreter;
    # Debian's qttools5-dev-tools has lrelease.
    here = Path(sys.executable).parent / "pyside6-lrelease"
    for cand in (str(here), shutil.which("pyside6-lrelease"), shutil.which("lrelease")):
        if cand and Path(cand).exists():
            return [cand]
    return None


def qm_path(lang: str, *, build: bool = True) -> Path | None:
    """The compiled translation for `lang`, building it from the committed .ts when needed."""
    packaged = PACKAGED_QM_DIR / f"osc_trusted_login_{lang}.qm"
    if packaged.exists():
        return packaged
    ts = TS_DIR / f"osc_trusted_login_{lang}.ts"
    if not ts.exists():
        return None
    out = _cache_dir() / f"osc_trusted_login_{lang}.qm"
    if out.exists() and out.stat().st_mtime >= ts.stat().st_mtime:
        return out
    if not build:
        return None
    tool = _lrelease()
    if tool is None:
        log.warning("no lrelease tool found: the interface stays in English")
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    import subprocess  # ~3 ms at start-up otherwise, for a step that runs once per .ts change

    r = subprocess.run(
        [*tool, "-silent", str(ts), "-qm", str(out)], capture_output=True, text=True, timeout=60, check=False
    )
    if r.returncode != 0 or not out.exists():
        log.warning("lrelease failed for %s: %s", ts.name, r.stderr.strip())
        return None
    return out


def install_language(lang: str | None) -> str:
    """Switch the application's translator to `lang` (None or '' = system language); returns the code."""
    app = QCoreApplication.instance()
    code = lang or system_language()
    if code not in LANGUAGES:
        code = "en"
    if app is None:
        return code
    global _current
    _current = code
    while _installed:
        app.removeTranslator(_installed.pop())
    if code != "en":
        path = qm_path(code)
        tr = QTranslator(app)
        if path is not None and tr.load(str(path)):
            app.installTranslator(tr)
            _installed.append(tr)
        else:
            log.warning("translation %s not available", code)
        # Qt's own words (standard buttons, the file dialog, context menus of text fields): the bundle keeps
        # qtbase_<lang>.qm for the languages the app ships (packaging/osc-trusted-login.spec)
        qt_tr = QTranslator(app)
        if qt_tr.load(f"qtbase_{code}", QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)):
            app.installTranslator(qt_tr)
            _installed.append(qt_tr)
        else:
            log.info("Qt's own %s translation not available", code)
    return code
