#!/usr/bin/env bash
# Smoke test of the Linux installer: check the .deb's metadata and contents, install it into a throwaway
# root (dpkg --root, no maintainer scripts run as root on this system), run the installed binary's
# `--version` and `selftest` with a clean environment (offscreen, and on Xvfb when installed), check
# every bundled library resolves, ask apt
# whether this system's archive can satisfy the package's dependencies, and (as root, online) run it in
# a chroot that holds nothing but its dependency closure: what a clean install on this distribution gets.
#
#   packaging/smoke-linux.sh [path/to/osc-trusted-login_<ver>_<arch>.deb]
# Exit code 0 only when every check passed. Used by .ci/run and .github/workflows/release.yml.
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=osc-trusted-login
DEB=${1:-$(ls -t dist/${NAME}_*.deb 2>/dev/null | head -1)}
[ -f "$DEB" ] || { echo "smoke: no .deb given or found in dist/ (run packaging/build-linux.sh)" >&2; exit 1; }
EXPECTED_VERSION=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' app/__init__.py)

failures=0
ok() { echo "  PASS  $*"; }
bad() { echo "  FAIL  $*"; failures=$((failures + 1)); }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/otl-smoke.XXXXXX")
XVFB_PID=""
trap '[ -z "$XVFB_PID" ] || kill "$XVFB_PID" 2>/dev/null; rm -rf "$WORK"' EXIT

# A real X server when Xvfb is installed: the app then runs on Qt's xcb plugin, as on a desktop, not
# only offscreen. (Its abstract socket is reachable from the chroot below too.)
XDISPLAY=""
if command -v Xvfb >/dev/null; then
  Xvfb -displayfd 3 -nolisten tcp -screen 0 1280x800x24 3>"$WORK/xvfb.fd" 2>"$WORK/xvfb.log" &
  XVFB_PID=$!
  for _ in $(seq 100); do [ -s "$WORK/xvfb.fd" ] && break; sleep 0.1; done
  [ -s "$WORK/xvfb.fd" ] && XDISPLAY=":$(tr -d '[:space:]' <"$WORK/xvfb.fd")"
fi
echo "smoke: $DEB ($(du -h "$DEB" | cut -f1))"

# --- metadata -------------------------------------------------------------------------------------------
info=$(dpkg-deb --info "$DEB")
field() { dpkg-deb --field "$DEB" "$1"; }
check "package name is $NAME" test "$(field Package)" = "$NAME"
check "version is $EXPECTED_VERSION (app/__init__.py)" test "$(field Version)" = "$EXPECTED_VERSION"
for dep in "libc6 (>=" libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0 libegl1 libfontconfig1; do
  check "Depends lists $dep" grep -qF "$dep" <<<"$(field Depends)"
done
for rec in opensc pcscd; do check "Recommends $rec" grep -qw "$rec" <<<"$(field Recommends)"; done
check "no maintainer scripts (nothing runs as root at install)" \
  bash -c "! grep -qE '^ +[0-9]+ bytes, +[0-9]+ lines +(pre|post)(inst|rm)' <<<\"\$1\"" _ "$info"

# --- contents -------------------------------------------------------------------------------------------
dpkg-deb --contents "$DEB" | awk '{ $1 = $2 = $3 = $4 = $5 = ""; sub(/^ +/, ""); print }' > "$WORK/contents"
has() { grep -qE "$1" "$WORK/contents"; }
check "/opt/$NAME/$NAME executable" has "^\./opt/$NAME/$NAME$"
check "/usr/bin/$NAME links to /opt" has "^\./usr/bin/$NAME -> \.\./\.\./opt/$NAME/$NAME$"
check ".desktop entry" has "^\./usr/share/applications/$NAME\.desktop$"
check "icon (hicolor 256x256 and scalable)" \
  bash -c "grep -q 'hicolor/256x256/apps/$NAME.png' '$WORK/contents' && grep -q 'scalable/apps/$NAME.svg' '$WORK/contents'"
check "third-party licences shipped (notices, LGPL-3.0, LGPL-2.1, per-package files)" bash -c "
  grep -q '_internal/licenses/THIRD-PARTY-NOTICES.md' '$WORK/contents' &&
  grep -q '_internal/licenses/LGPL-3.0.txt' '$WORK/contents' && grep -q '_internal/licenses/LGPL-2.1.txt' '$WORK/contents' &&
  grep -q '_internal/licenses/tlslite-ng/' '$WORK/contents' && grep -q '_internal/licenses/python-pkcs11/' '$WORK/contents'"
check "tlslite-ng shipped as replaceable .py source (LGPL)" has "_internal/tlslite/tlsconnection\.py$"
check "PyKCS11 (GPL, test-only) NOT shipped" bash -c "! grep -qi 'pykcs11' '$WORK/contents'"
check "GTK3 theme plugin and Wayland/EGLFS plugins NOT shipped" \
  bash -c "! grep -qE 'libqgtk3|plugins/wayland|libqeglfs|libgtk-3' '$WORK/contents'"
check "Qt offscreen and xcb display plugins shipped" \
  bash -c "grep -q 'platforms/libqxcb.so' '$WORK/contents' && grep -q 'platforms/libqoffscreen.so' '$WORK/contents'"
if command -v desktop-file-validate >/dev/null; then
  check ".desktop entry validates" desktop-file-validate packaging/linux/$NAME.desktop
fi

# --- install into a throwaway root ---------------------------------------------------------------------
ROOTFS=$WORK/root
mkdir -p "$ROOTFS/var/lib/dpkg/updates" "$ROOTFS/var/lib/dpkg/info" "$ROOTFS/var/log"
touch "$ROOTFS/var/lib/dpkg/status" "$ROOTFS/var/lib/dpkg/available"
# An empty root has none of the Depends: --force-depends; the point is that dpkg accepts and unpacks it.
if dpkg --root="$ROOTFS" --log="$ROOTFS/var/log/dpkg.log" --force-depends --force-not-root -i "$DEB" >"$WORK/dpkg.log" 2>&1; then
  ok "dpkg --root installs it"
else
  bad "dpkg --root installs it"; sed 's/^/        /' "$WORK/dpkg.log"
  dpkg-deb -x "$DEB" "$ROOTFS"   # keep going with a plain unpack
fi
BIN=$ROOTFS/usr/bin/$NAME
# A clean environment: no display, a fresh HOME, no user Qt or Python settings.
run_clean() {  # [VAR=value ...] command args...
  env -i PATH=/usr/bin:/bin HOME="$WORK/home" LANG=C.UTF-8 TMPDIR="$WORK" "$@"
}
mkdir -p "$WORK/home"
out=$(run_clean "$BIN" --version 2>&1) || true
check "'$NAME --version' through /usr/bin prints $EXPECTED_VERSION" grep -qx "$NAME $EXPECTED_VERSION" <<<"$out"

start=$(date +%s%N)
if run_clean "$BIN" selftest --json >"$WORK/selftest.json" 2>"$WORK/selftest.err"; then
  ok "'$NAME selftest' passes ($(( ($(date +%s%N) - start) / 1000000 )) ms)"
else
  bad "'$NAME selftest' passes"
fi
python3 - "$WORK/selftest.json" <<'EOF' || { echo "        (selftest output:)"; sed 's/^/        /' "$WORK/selftest.json" "$WORK/selftest.err"; }
import json, sys
d = json.load(open(sys.argv[1]))
for c in d["checks"]:
    lines = c["detail"].splitlines() or [""]
    print(f"        selftest {c['status'].upper():4} {c['name']}: {lines[0]}")
    for line in lines[1:]:
        print(f"                        {line}")
assert d["frozen"], "selftest did not run from the frozen bundle"
EOF

# The whole product from the bundle, when SoftHSM2 is installed: a demo card with a key generated on it,
# login through PKCS#11 + mutual TLS to the sandbox API, a call, logout with the key revoked.
if [ -e /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so ] || [ -e /usr/lib/softhsm/libsofthsm2.so ]; then
  out=$(run_clean "$BIN" demo --headless --state-dir "$WORK/demo" 2>&1) || true
  if grep -q 'ReadVms returned' <<<"$out" && grep -q 'revoked (checked on the sandbox)' <<<"$out"; then
    ok "'$NAME demo --headless': card login, mutual TLS, API call, key revoked"
  else
    bad "'$NAME demo --headless': card login, mutual TLS, API call, key revoked"; sed 's/^/        /' <<<"$out"
  fi
else
  echo "  SKIP  demo run (SoftHSM2 is not installed)"
fi

if [ -n "$XDISPLAY" ]; then
  out=$(run_clean DISPLAY="$XDISPLAY" "$BIN" selftest --check login-window --check x11 2>&1) || true
  if grep -q "'xcb' display plugin" <<<"$out" && grep -q 'All 3 checks passed' <<<"$out"; then
    ok "on an X server (Xvfb): the login window opens with the xcb plugin"
  else
    bad "on an X server (Xvfb): the login window opens with the xcb plugin"; sed 's/^/        /' <<<"$out"
  fi
  # The real entry point, as the desktop entry starts it: no arguments, the login window must appear
  # (polled with xwininfo), with the WM class the .desktop file's StartupWMClass names. Then the same in
  # French: a different title proves the compiled translations (.qm) are in the bundle.
  if command -v xwininfo >/dev/null; then
    gui_title() {  # extra args... -> the title of our top-level window ("" if none appeared)
      # Not through run_clean: `&` on a function would background a subshell, and $! would be its pid.
      env -i PATH=/usr/bin:/bin HOME="$WORK/home" LANG=C.UTF-8 TMPDIR="$WORK" DISPLAY="$XDISPLAY" \
        "$BIN" "$@" >>"$WORK/gui.log" 2>&1 &
      local pid=$! line=""
      for _ in $(seq 100); do
        line=$(DISPLAY="$XDISPLAY" xwininfo -root -tree 2>/dev/null | grep -F "(\"$NAME\" \"$NAME\")" | head -1)
        [ -n "$line" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
      done
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      sed -n 's/^[^"]*"\(.*\)": (.*/\1/p' <<<"$line"
    }
    title_en=$(gui_title)
    title_fr=$(gui_title --language fr)
    check "'$NAME' with no arguments opens the login window, WM class $NAME ('$title_en')" test -n "$title_en"
    check "in French ('$title_fr'): the translations are bundled" \
      bash -c '[ -n "$1" ] && [ "$1" != "$2" ]' _ "$title_fr" "$title_en"
    check "... and writes no traceback" bash -c "! grep -q Traceback '$WORK/gui.log'"
  fi
else
  echo "  SKIP  X server run (no Xvfb; the offscreen selftest above still loads the xcb plugin's libraries)"
fi

# Every bundled library resolves: from the bundle itself or from a package the .deb Depends on.
INTERNAL=$ROOTFS/opt/$NAME/_internal
missing=$(find "$INTERNAL" -name '*.so*' -type f -print0 \
  | LD_LIBRARY_PATH="$INTERNAL:$INTERNAL/PySide6/Qt/lib" xargs -0 -n1 ldd 2>/dev/null | grep 'not found' | sort -u || true)
check "every bundled library resolves (ldd)" test -z "$missing"
[ -z "$missing" ] || echo "$missing" | sed 's/^/        /'
from_system=$(find "$INTERNAL" -name '*.so*' -type f -print0 \
  | LD_LIBRARY_PATH="$INTERNAL:$INTERNAL/PySide6/Qt/lib" xargs -0 -n1 ldd 2>/dev/null \
  | awk '/=>/ {print $3}' | grep -v "^$INTERNAL" | xargs -rn1 basename | sort -u | tr '\n' ' ')
echo "        libraries taken from the system: $from_system"

# Would a Debian/Ubuntu system with this archive install it (all Depends satisfiable)? Simulation only.
if command -v apt-get >/dev/null && [ -n "$(ls /var/lib/apt/lists/ 2>/dev/null | grep -v -e lock -e partial -e auxfiles)" ]; then
  if apt-get install -s -q "$(readlink -f "$DEB")" >"$WORK/apt.log" 2>&1; then
    ok "apt can satisfy every dependency from this system's archive (simulated)"
    n=$(grep -c '^Inst ' "$WORK/apt.log" || true)
    echo "        a system like this one would install $n package(s): $(grep '^Inst ' "$WORK/apt.log" | awk '{print $2}' | tr '\n' ' ')"
  else
    bad "apt can satisfy every dependency from this system's archive (simulated)"; tail -5 "$WORK/apt.log" | sed 's/^/        /'
  fi
else
  echo "  SKIP  apt dependency simulation (no apt package lists on this machine)"
fi

# A clean system: a chroot holding only the .deb's dependency closure as apt resolves it from an empty
# system (no Recommends), unpacked from this system's archive (Debian 12 here), plus the .deb itself.
# Needs root (chroot) and the archive; SMOKE_CLEAN_ROOT=0 skips it.
if [ "${SMOKE_CLEAN_ROOT:-1}" = 0 ]; then
  echo "  SKIP  clean-system chroot (SMOKE_CLEAN_ROOT=0)"
elif [ "$(id -u)" != 0 ] || [ ! -x /usr/sbin/chroot ] || [ -z "$(ls /var/lib/apt/lists/ 2>/dev/null | grep -v -e lock -e partial -e auxfiles)" ]; then
  echo "  SKIP  clean-system chroot (needs root, chroot and apt package lists)"
else
  CLEAN=$WORK/clean
  mkdir -p "$CLEAN/debs" "$CLEAN/root/dev" "$CLEAN/root/tmp" "$CLEAN/root/home/user"
  : > "$CLEAN/status"
  pkgs=$(apt-get -o Dir::State::status="$CLEAN/status" --no-install-recommends install -s -q "$(readlink -f "$DEB")" \
         2>/dev/null | awk '/^Inst/ && $2 != "'"$NAME"'" {print $2}')
  if [ -n "$pkgs" ] && (cd "$CLEAN/debs" && apt-get download -q $pkgs >"$CLEAN/download.log" 2>&1); then
    for d in "$CLEAN"/debs/*.deb "$DEB"; do dpkg-deb -x "$d" "$CLEAN/root"; done
    cp -a /dev/null /dev/urandom /dev/random "$CLEAN/root/dev/"
    chmod 1777 "$CLEAN/root/tmp"
    in_clean() { env -i HOME=/home/user PATH=/usr/bin:/bin LANG=C.UTF-8 /usr/sbin/chroot "$CLEAN/root" "$@"; }
    echo "        clean root: $(wc -w <<<"$pkgs") packages ($(du -sh "$CLEAN/debs" | cut -f1) of .debs)"
    check "clean system: '$NAME --version'" bash -c "$(declare -f in_clean); CLEAN='$CLEAN'; in_clean /usr/bin/$NAME --version"
    if in_clean /usr/bin/$NAME selftest --json >"$CLEAN/selftest.json" 2>"$CLEAN/selftest.err"; then
      ok "clean system: '$NAME selftest' passes (Qt xcb plugin libraries, login window, mutual TLS)"
    else
      bad "clean system: '$NAME selftest' passes"; sed 's/^/        /' "$CLEAN/selftest.json" "$CLEAN/selftest.err"
    fi
    if [ -n "$XDISPLAY" ]; then
      out=$(env -i HOME=/home/user PATH=/usr/bin:/bin LANG=C.UTF-8 DISPLAY="$XDISPLAY" /usr/sbin/chroot \
            "$CLEAN/root" /usr/bin/$NAME selftest --check login-window --check x11 2>&1) || true
      check "clean system on an X server (Xvfb): the login window opens with the xcb plugin" \
        bash -c "grep -q \"'xcb' display plugin\" <<<\"\$1\" && grep -q 'All 3 checks passed' <<<\"\$1\"" _ "$out"
    fi
  else
    echo "  SKIP  clean-system chroot (could not download the dependency closure; offline?)"
  fi
fi

if ((failures)); then echo "smoke: $failures check(s) FAILED"; exit 1; fi
echo "smoke: all checks passed"
