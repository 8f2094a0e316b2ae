#!/usr/bin/env bash
# Build the Linux bundle (PyInstaller, one folder) and the .deb, from the repository root's .venv.
#
#   packaging/build-linux.sh            -> dist/osc-trusted-login/ and dist/osc-trusted-login_<ver>_<arch>.deb
#   PYTHON=/path/to/python packaging/build-linux.sh     (use another interpreter, e.g. in CI)
#   SKIP_BUNDLE=1 packaging/build-linux.sh              (re-package an existing dist/osc-trusted-login/)
#
# Build on the OLDEST distribution you support (CI: Ubuntu 22.04): the bundle carries its own Qt, Python
# and most libraries but uses the system's glibc, so it runs on that glibc and newer ones.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
NAME=osc-trusted-login
PY=${PYTHON:-.venv/bin/python}

export PATH="$PATH:/usr/sbin:/sbin"   # ldconfig, for non-root users

# Builder tools: binutils (objdump, strip) for PyInstaller, and the shared libpython it bundles (Debian's
# python3 binary is statically linked; its libpython3.X package provides the .so).
need=()
dpkg-query -W -f='${Status}' binutils 2>/dev/null | grep -q "install ok installed" || need+=(binutils)
LIBPY=$("$PY" -c 'import sysconfig as s; print(s.get_config_var("INSTSONAME") or s.get_config_var("LDLIBRARY"))')
LIBPY_DIR=$("$PY" -c 'import sysconfig as s; print(s.get_config_var("LIBDIR"))')
# Read the linker cache once: `ldconfig -p | grep -q` fails under pipefail when grep stops early
# (ldconfig gets SIGPIPE), which reported present libraries as missing.
LDCACHE=$(ldconfig -p)
if [ ! -e "$LIBPY_DIR/$LIBPY" ] && ! grep -qF "$LIBPY" <<<"$LDCACHE"; then
  need+=("libpython$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')")
fi
if ((${#need[@]})); then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "build-linux: installing Debian packages for the build: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# PyInstaller silently leaves out Qt's X11 helpers that the builder lacks; the app then fails on X11
# (libxcb-cursor0 is mandatory since Qt 6.5). Refuse to build without them.
XCB_LIBS=(libxcb-cursor.so.0 libxcb-icccm.so.4 libxcb-keysyms.so.1 libxcb-image.so.0 libxcb-render-util.so.0
          libxcb-randr.so.0 libxcb-shape.so.0 libxcb-xkb.so.1 libxkbcommon-x11.so.0)
for lib in "${XCB_LIBS[@]}"; do
  if ! grep -qF "$lib" <<<"$LDCACHE"; then
    echo "build-linux: $lib is missing on this builder; install it (see packaging/README.md)" >&2
    exit 1
  fi
done

VERSION=$("$PY" -c 'import app; print(app.__version__)')
ARCH=$(dpkg --print-architecture)

if [ -z "${SKIP_BUNDLE:-}" ]; then
  # PyInstaller as pinned by pyproject's `package` extra, only if missing (the venv is shared).
  if ! "$PY" -c 'import PyInstaller, PySide6' 2>/dev/null; then
    # The extras as pyproject.toml states them (with their environment markers), pinned by constraints.txt.
    "$PY" -m pip install -q -c constraints.txt -e ".[ui,package]"
  fi
  echo "build-linux: PyInstaller bundle (one folder)"
  "$PY" -m PyInstaller --noconfirm --log-level WARN --workpath build/pyinstaller --distpath dist \
    packaging/$NAME.spec
fi
BUNDLE=dist/$NAME
[ -x "$BUNDLE/$NAME" ] || { echo "build-linux: no bundle at $BUNDLE" >&2; exit 1; }

# --- the .deb ---------------------------------------------------------------------------------------------
STAGE=build/deb/${NAME}_${VERSION}_${ARCH}
rm -rf "$STAGE"
mkdir -p "$STAGE/DEBIAN" "$STAGE/opt" "$STAGE/usr/bin" "$STAGE/usr/share/applications" \
         "$STAGE/usr/share/icons/hicolor/256x256/apps" "$STAGE/usr/share/icons/hicolor/scalable/apps" \
         "$STAGE/usr/share/doc/$NAME"
cp -a "$BUNDLE" "$STAGE/opt/$NAME"
# Relative link: also works in a throwaway root (dpkg -x / dpkg --root) and the bootloader follows it.
ln -s "../../opt/$NAME/$NAME" "$STAGE/usr/bin/$NAME"
install -m 0644 packaging/linux/$NAME.desktop "$STAGE/usr/share/applications/$NAME.desktop"
install -m 0644 resources/icons/$NAME.png "$STAGE/usr/share/icons/hicolor/256x256/apps/$NAME.png"
install -m 0644 resources/icons/$NAME.svg "$STAGE/usr/share/icons/hicolor/scalable/apps/$NAME.svg"
install -m 0644 packaging/licenses/THIRD-PARTY-NOTICES.md "$STAGE/usr/share/doc/$NAME/copyright"
# An example managed policy (docs/POLICY.md), NOT active: an administrator copies it to /etc/$NAME/.
install -m 0644 packaging/linux/policy.example.json "$STAGE/usr/share/doc/$NAME/policy.example.json"

# The oldest glibc the bundle's binaries accept (what dpkg-shlibdeps would compute for libc6).
GLIBC=$(find "$STAGE/opt/$NAME" -type f \( -name '*.so*' -o -name "$NAME" \) -print0 \
        | xargs -0 objdump -T 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)

# Depends: what the bundle takes from the system (ldd on every library: glibc, libxcb, GL/EGL, fonts) and
# the X11 helpers Qt's xcb plugin needs (bundled too, listed so that a builder that lacked one still
# yields a working install). Recommends: what smart cards need.
DEPENDS="libc6 (>= ${GLIBC}), libxcb1, libx11-6, libx11-xcb1, libxcb-cursor0, libxcb-icccm4, libxcb-image0,
 libxcb-keysyms1, libxcb-randr0, libxcb-render-util0, libxcb-render0, libxcb-shape0, libxcb-shm0, libxcb-sync1,
 libxcb-xfixes0, libxcb-xkb1, libxkbcommon0, libxkbcommon-x11-0, libegl1, libgl1, libfontconfig1,
 libfreetype6, libdbus-1-3, fonts-dejavu-core | fonts-liberation2 | fonts-noto-core"
DEPENDS=$(echo "$DEPENDS" | tr -d '\n' | tr -s ' ')
SIZE_KB=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)

cat > "$STAGE/DEBIAN/control" <<EOF
Package: $NAME
Version: $VERSION
Architecture: $ARCH
Maintainer: OUTSCALE Trusted Login maintainers <trusted-login@outscale.invalid>
Section: utils
Priority: optional
Installed-Size: $SIZE_KB
Depends: $DEPENDS
Recommends: opensc, pcscd, p11-kit
Suggests: gnome-keyring | kwalletmanager
Homepage: https://github.com/outscale
Description: OUTSCALE Trusted Login (trusted session with a client certificate)
 A desktop client for OUTSCALE's "trusted session with a client certificate": log in with a
 certificate on a smart card (PKCS#11) or in a PKCS#12/PEM file; removing the card starts a
 visible countdown after which the session ends and its temporary access key is revoked.
 .
 Self-contained: bundles Python, Qt 6 (LGPL-3.0) and its Python libraries under /opt/$NAME.
 Third-party licences: /opt/$NAME/_internal/licenses/.
EOF

# Files 0644 and folders 0755, executables and shared libraries keep their x bit; owned by root.
find "$STAGE" -type d -exec chmod 0755 {} +
find "$STAGE" -type f ! -perm -u+x -exec chmod 0644 {} +
find "$STAGE" -type f -perm -u+x -exec chmod 0755 {} +

DEB=dist/${NAME}_${VERSION}_${ARCH}.deb
dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$DEB" >/dev/null
(cd dist && sha256sum "$(basename "$DEB")" > "$(basename "$DEB").sha256")
echo "build-linux: $DEB ($(du -h "$DEB" | cut -f1); bundle $(du -sh "$BUNDLE" | cut -f1); needs glibc >= $GLIBC)"
