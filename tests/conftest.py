"""Project-wide test settings: Qt offscreen, no real user config touched."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Never read or write the developer's real ~/.osc or keyring from tests.
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
