"""UI test rigs: the real controller and windows, driven against the sandbox API and a SoftHSM2 card
served over p11-kit (so that it can be pulled out and put back)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pytestqt")

from app.sandbox.server import Sandbox
from app.session.lifecycle import SessionSettings
from tests.rigs.p11kit import P11KitCard
from tests.rigs.sandbox import _shared_server_pki, make_sandbox  # noqa: F401 - fixture
from tests.rigs.softhsm import SoftHsmRig

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
FAST = SessionSettings(watch_interval=0.05, rescan_backoff=(0.05, 0.1, 0.2), tick_seconds=0.2)


@pytest.fixture(autouse=True, scope="session")
def qm_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Build the translations into a temporary folder, not the user's cache."""
    import app.ui.i18n as i18n

    folder = tmp_path_factory.mktemp("qm")
    original = i18n._cache_dir
    i18n._cache_dir = lambda: folder  # type: ignore[assignment]
    yield
    i18n._cache_dir = original  # type: ignore[assignment]


@pytest.fixture(autouse=True)
def ui_thread_gc(qapp: Any) -> Iterator[None]:
    """As in the product (app.ui.app.run): cyclic garbage collected on the UI thread only, so that a
    PySide object is never destroyed by a collection that happens to run on a PKCS#11 worker."""
    from app.ui.gc_guard import UiThreadGarbageCollector

    collector = UiThreadGarbageCollector()
    yield
    collector.stop()
    collector.deleteLater()


@pytest.fixture
def api(tmp_path: Path, _shared_server_pki: Path, softhsm_rig: SoftHsmRig) -> Iterator[Sandbox]:  # noqa: F811
    """The sandbox API with a rule requiring the rig's CA: every call needs the card."""
    sb = make_sandbox(tmp_path / "sandbox", _shared_server_pki, client_ca_pem=softhsm_rig.ca.cert_pem())
    sb.start()
    yield sb
    sb.stop()


@pytest.fixture
def ui_app(qtbot: Any, api: Sandbox, p11kit_card: P11KitCard, softhsm_rig: SoftHsmRig) -> Iterator[Any]:
    """The application's controller wired to the p11-kit card and the sandbox (login window not shown)."""
    from app.ui.app import AppOptions, TrustedLoginApp, ensure_qapplication
    from app.ui.inventory import InventoryConfig
    from app.ui.login import LoginPrefill

    ensure_qapplication()
    p11kit_card.module()  # loaded with this card's P11_KIT_SERVER_ADDRESS
    assert api.info is not None
    ca_subject = softhsm_rig.ca.certificate.subject.rfc4514_string()
    options = AppOptions(
        inventory=InventoryConfig(
            module_paths=(p11kit_card.client_module_path,),
            init_envs={p11kit_card.client_module_path: p11kit_card.init_env},
            account_ca_subjects=frozenset({ca_subject}),
        ),
        prefill=LoginPrefill(endpoint=api.info.endpoint, ca_file=api.info.ca_file),
        session_settings=FAST,
        use_keyring=False,
        quit_on_close=False,
        inventory_poll_ms=200,
    )
    app = TrustedLoginApp(options)
    qtbot.addWidget(app.login_window)
    app.sandbox = api
    app.card = p11kit_card
    yield app
    session = app.session
    if session is not None:
        session.logout()
        session.wait_ended(20)
    app.shutdown()
    if app.session_window is not None:
        app.session_window.allow_close()
        app.session_window.close()


def record(name: str, value: Any) -> None:
    """Keep a measured figure (stall, timings) under artifacts/ for the report; never asserted."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "ui-measurements.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[name] = value
    path.write_text(json.dumps(data, indent=2))
