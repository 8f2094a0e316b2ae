"""Builds every screen (EN and FR) and reports clipped word-wrapped labels and windows larger than the
screen, as JSON lines. Run in a subprocess per scale factor by test_layout_audit.py:

    QT_QPA_PLATFORM=offscreen:configfile=<screen.json> QT_SCALE_FACTOR=2 python -m tests.ui.layout_audit
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from app.session.model import AuthMethod, CertificateChoice, SessionInfo
from app.tokens.pin import PinPurpose, PinRequest


def _info() -> SessionInfo:
    return SessionInfo(
        account_id="123456789012", account_email="operator@example.com", method=AuthMethod.PASSWORD,
        identity="operator@example.com", region="eu-west-2",
        endpoint="https://api.eu-west-2.outscale.com/api/v1",
        certificate_subject="CN=demo operator with a rather long name,OU=Operations,O=Example Company",
        certificate_fingerprint="ab" * 32, card_label="OTL Demo Card",
        temporary_key_id="AKTEMP0123456789ABCD",
        temporary_key_expires=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 300)),
        trusted_env=False, grace_seconds=300.0,
        tls_summary="TLS 1.3, TLS_AES_128_GCM_SHA256, ecdsa_secp256r1_sha256",
        warnings=("No temporary access key could be created; this session signs its calls with the key "
                  "you gave, which stays valid after the session.",),
    )


def _screens() -> Iterator[tuple[str, Callable[[], Any]]]:
    from app.session.api import Vm
    from app.tokens.errors import PinIncorrect
    from app.ui.errors import describe
    from app.ui.login import LoginPrefill, LoginWindow, PickedCertificate
    from app.ui.picker import CertificatePicker, CertRow, InventorySnapshot
    from app.ui.pin_dialog import PinDialog
    from app.ui.session_window import SessionWindow

    def login() -> Any:
        return LoginWindow()

    def login_busy_error() -> Any:
        w = LoginWindow(profiles=("default", "prod"))
        w.prefill(LoginPrefill(
            identity="operator@example.com", secret="x", endpoint="https://127.0.0.1:8443/api/v1",
            certificate=PickedCertificate(CertificateChoice("pkcs11:token=Demo"),
                                          "demo operator with a long common name", "OTL Demo Card (SoftHSM)"),
            note="Demo: sandbox API on https://127.0.0.1:8443/api/v1.", remember=True))
        w.show_message(*describe(PinIncorrect(token_label="OTL Demo Card", tries_left=2)))
        w.set_busy(True, "Server verified. Waiting for the card's PIN...")
        return w

    def login_validation() -> Any:
        w = LoginWindow()
        w.submit()
        return w

    def picker() -> Any:
        p = CertificatePicker()
        rows = tuple(CertRow("OTL Demo Card", "card", f"operator {i}", f"CN=operator {i}", "CN=Example CA",
                             "2027-01-01", "EC 256", i % 2 == 0,
                             () if i % 2 == 0 else ("expired on 2020-01-01, not for client authentication",),
                             CertificateChoice(f"pkcs11:id=%0{i}"), f"{i:02x}" * 32) for i in range(4))
        p.set_snapshot(InventorySnapshot(rows, ("Card software not loaded: /usr/lib/broken.so",)))
        return p

    def picker_empty() -> Any:
        p = CertificatePicker()
        p.set_snapshot(InventorySnapshot((), ("Card software not loaded: /usr/lib/broken.so",)))
        return p

    def pin_last_try() -> Any:
        return PinDialog(PinRequest("OTL Demo Card with a long label", PinPurpose.LOGIN, tries_left=1,
                                    final_try=True, last_error=describe(PinIncorrect(token_label="x"))[1]))

    def session() -> Any:
        sw = SessionWindow()
        sw.set_info(_info())
        sw.set_vms([Vm("i-0a1b2c3d", "running", "tinav6.c2r4p2", private_ip="10.0.0.10",
                       tags=(("Name", "web-1"),))])
        sw.start_countdown(time.monotonic() + 299.5)
        sw.offer_unlock("The card's PIN was not given: the countdown goes on.")
        return sw

    def settings() -> Any:
        import tempfile
        from pathlib import Path

        from app.ui.settings import SettingsDialog, SettingsStore

        return SettingsDialog(SettingsStore(Path(tempfile.mkdtemp()) / "settings.json"))

    yield from [("login", login), ("login-busy-error", login_busy_error),
                ("login-validation", login_validation),
                ("picker", picker), ("picker-empty", picker_empty), ("pin-last-try", pin_last_try),
                ("session", session), ("settings", settings)]


def audit(window: Any) -> list[str]:
    """Problems of a shown window: larger than the screen, word-wrapped labels shorter than they need."""
    from PySide6.QtWidgets import QLabel

    problems = []
    area = window.screen().availableGeometry()
    frame = window.frameGeometry()
    if frame.width() > area.width() or frame.height() > area.height():
        problems.append(f"window {frame.width()}x{frame.height()} > screen {area.width()}x{area.height()}")
    for label in window.findChildren(QLabel):
        if not (label.wordWrap() and label.isVisibleTo(window) and label.text()):
            continue
        need = label.heightForWidth(label.width())
        if need > label.height() + 1:
            problems.append(f"label {label.objectName() or label.text()[:40]!r}: {label.height()} px high "
                            f"for {need} px of text at {label.width()} px wide")
    return problems


def _dark_palette() -> Any:
    from PySide6.QtGui import QColor, QPalette

    p = QPalette()
    for role, colour in ((QPalette.ColorRole.Window, "#2d2d2d"), (QPalette.ColorRole.WindowText, "#e8e8e8"),
                         (QPalette.ColorRole.Base, "#1e1e1e"), (QPalette.ColorRole.AlternateBase, "#262626"),
                         (QPalette.ColorRole.Text, "#e8e8e8"), (QPalette.ColorRole.Button, "#353535"),
                         (QPalette.ColorRole.ButtonText, "#e8e8e8"),
                         (QPalette.ColorRole.Highlight, "#3d6fb4"),
                         (QPalette.ColorRole.HighlightedText, "#ffffff")):
        p.setColor(role, QColor(colour))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#7a7a7a"))
    p.setColor(QPalette.ColorRole.PlaceholderText, QColor("#9a9a9a"))  # as dark desktop themes set it
    return p


def main() -> int:
    """Print one JSON object per screen, language and size: {"screen", "lang", "size", "problems"}.

    Arguments: [--dark] (a dark Fusion palette, as a dark desktop gives) [--shots DIR] (save each screen
    at its default size as DIR/<lang>/<screen>.png).
    """
    from pathlib import Path

    from PySide6.QtWidgets import QApplication

    from app.ui.app import ensure_qapplication
    from app.ui.i18n import install_language

    shots = Path(sys.argv[sys.argv.index("--shots") + 1]) if "--shots" in sys.argv else None
    if "--dark" in sys.argv:
        QApplication.setStyle("Fusion")
        QApplication.setPalette(_dark_palette())
    app = ensure_qapplication()
    for lang in ("en", "fr"):
        install_language(lang)
        for name, build in _screens():
            w = build()
            w.show()
            for size in ("default", "800x600"):
                if size == "800x600":
                    area = w.screen().availableGeometry()
                    fw, fh = w.frameGeometry().width() - w.width(), w.frameGeometry().height() - w.height()
                    w.resize(min(800, area.width()) - fw, min(600, area.height()) - fh)
                for _ in range(3):
                    QApplication.processEvents()
                if shots is not None and size == "default":
                    (shots / lang).mkdir(parents=True, exist_ok=True)
                    w.grab().save(str(shots / lang / f"{name}.png"))
                line = {"screen": name, "lang": lang, "size": size, "problems": audit(w)}
                print(json.dumps(line), flush=True)
            if hasattr(w, "allow_close"):
                w.allow_close()
            w.close()
            w.deleteLater()
            app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
