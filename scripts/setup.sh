#!/usr/bin/env bash
# One-time (idempotent) set-up on Debian/Ubuntu: system packages for cards and Qt, then a virtualenv
# in .venv with the project and its test tools. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  softhsm2 opensc p11-kit opencryptoki openssl   # tokens and TLS peers used by the demo and the tests
  libegl1 libgl1 libfontconfig1 libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0   # Qt at run time
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-randr0
  libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 fonts-dejavu-core
  qttools5-dev-tools                              # lrelease: builds the .qm translations
  pcscd vsmartcard-vpcd libpcsclite1 iproute2     # the PC/SC + OpenSC + emulated PIV card rig (private pcscd)
  libnss3-tools                                   # certutil/pk12util: NSS databases for the OS-store tests
  gcc libc6-dev                                   # hostile tests build a crashing PKCS#11 module with cc
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# VENV/PYTHON pick another interpreter (CI also runs the suite on Python 3.12: VENV=.venv312).
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
# Installs follow constraints.txt (every package pinned to versions the suite passed with; refresh with
# scripts/lock.sh), so a new release upstream cannot change what we test or ship.
stamp=$VENV/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "setup: installing Python packages into $VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  "$VENV/bin/python" -m pip install -q -c constraints.txt -e ".[test,dev]"
  rm -f "$VENV"/.installed-*; touch "$stamp"
fi
