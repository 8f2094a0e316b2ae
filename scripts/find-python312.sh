#!/usr/bin/env bash
# Print the path of a CPython 3.12 interpreter on this machine (PATH, pyenv, /usr/bin), or nothing.
# CI runs the suite on it too: 3.12 makes None immortal, which turns the PySide6 6.12.0 refcount bug
# (and its kind) from an abort into a leak; the suite must pass on both. See docs/DECISIONS.md.
for c in python3.12 /usr/bin/python3.12 /usr/local/bin/python3.12 "$HOME"/.pyenv/versions/3.12*/bin/python3.12; do
  if p=$(command -v "$c" 2>/dev/null) && "$p" -c 'import sys, venv; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; then
    echo "$p"; exit 0
  fi
done
exit 0
