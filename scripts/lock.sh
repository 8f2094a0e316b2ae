#!/usr/bin/env bash
# Refresh constraints.txt: resolve pyproject.toml's dependencies (runtime, test, dev and packaging) afresh
# in a throwaway virtualenv and pin every package to the version installed. Then run ./scripts/test.sh
# (it reinstalls .venv from the new pins) and commit constraints.txt only if the suite passes.
#
#   scripts/lock.sh                  (PYTHON=python3.11 by default: the oldest Python we support)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q --upgrade pip
"$tmp/venv/bin/python" -m pip install -q ".[test,dev,package]"
# pins for other platforms (marker lines) cannot be resolved here: they are carried over as they are
other_platforms=$(grep -E '^#? ?macOS only|; *sys_platform' constraints.txt || true)
{
  echo "# Every Python package the product, its tests and its installers use, pinned to versions the"
  echo "# suite passed with. scripts/setup.sh and packaging/ install with '-c constraints.txt'."
  echo "# Refresh: scripts/lock.sh, then ./scripts/test.sh; commit only a green run. Made with $("$tmp/venv/bin/python" -V)."
  "$tmp/venv/bin/python" -m pip freeze --exclude-editable --all | grep -vE '^(osc-trusted-login|pip|setuptools|wheel)=='
  if [ -n "$other_platforms" ]; then echo "$other_platforms"; fi
} > constraints.txt
echo "lock: wrote constraints.txt ($(grep -vc '^#' constraints.txt) pins); now run ./scripts/test.sh"
