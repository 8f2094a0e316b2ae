"""Project-wide test settings: Qt offscreen, no real user config touched."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Never read or write the developer's real ~/.osc or keyring from tests.
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
# The local API agent of the sessions tests start writes its runtime file here, never in the user's
# runtime folder (where `osc-trusted-login exec/env` of the developer's shell would find it).
os.environ["OSC_TRUSTED_LOGIN_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="otl-test-run-")

# Shared rigs (fixtures usable from every test package): SoftHSM2 cards, p11-kit removable card,
# opencryptoki lockout token, the PC/SC + OpenSC + PIV rig. See tests/rigs/*.py.
pytest_plugins = ["tests.rigs.softhsm", "tests.rigs.p11kit", "tests.rigs.opencryptoki",
                  "tests.rigs.pcsc.fixtures"]
