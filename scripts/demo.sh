#!/usr/bin/env bash
# Set up (if needed) and run the demo: the sandbox API, a demo SoftHSM2 card, and the login window
# (headless, printing the session's events, when there is no display).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/python -m app demo "$@"
