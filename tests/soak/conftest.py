"""Soak tests: whole flows repeated with the timers sped up, sampling what a process that runs all day
must keep flat. Short in CI (a few cycles after warm-up); long on demand:

    OTL_SOAK_SECONDS=3600 ./scripts/test.sh tests/soak      # one hour per soak test
"""

from __future__ import annotations

import pytest

from tests.rigs.sandbox import _shared_server_pki  # noqa: F401 - fixture
from tests.soak.sampler import soak_seconds
from tests.ui.conftest import api, qm_cache, ui_app, ui_thread_gc  # noqa: F401 - fixtures


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    long_run = soak_seconds(0.0)
    for item in items:
        if "tests/soak/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.soak)
            if long_run:  # OTL_SOAK_SECONDS: pytest-timeout's 300 s would stop the long run
                item.add_marker(pytest.mark.timeout(long_run + 600))
