"""Project-wide test settings: Qt offscreen, no real user config touched."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Never read or write the developer's real ~/.osc or keyring from tests.
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")

# Shared rigs (fixtures usable from every test package): SoftHSM2 cards, p11-kit removable card,
# opencryptoki lockout token. See tests/rigs/*.py.
pytest_plugins = ["tests.rigs.softhsm", "tests.rigs.p11kit", "tests.rigs.opencryptoki", "tests.rigs.pcsc.fixtures"]
