#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
VENV=${VENV:-.venv}
export QT_QPA_PLATFORM=offscreen
# House rules first (fast): ruff with bandit rules everywhere, mypy --strict on the Qt-free core.
"$VENV"/bin/ruff check -q app tests bench packaging
"$VENV"/bin/mypy app/tokens app/session
exec "$VENV"/bin/python -m pytest -q -p no:cacheprovider "$@"
