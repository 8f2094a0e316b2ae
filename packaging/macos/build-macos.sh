#!/usr/bin/env bash
# Build "OUTSCALE Trusted Login.app" and a .dmg on macOS (14 or later: PySide6 6.12's minimum), then
# sign, notarize and staple when the credentials are in the environment (CI secrets; never committed):
#
#   MACOS_CERT_P12_BASE64, MACOS_CERT_PASSWORD   Developer ID Application certificate (.p12, base64) + password
#   MACOS_SIGN_IDENTITY                          e.g. "Developer ID Application: OUTSCALE (TEAMID)"
#   APPLE_ID, APPLE_TEAM_ID, APPLE_APP_PASSWORD  notarytool credentials (app-specific password)
#
# Without them the app is signed ad hoc (runs locally; Gatekeeper will warn on other Macs).
#   packaging/macos/build-macos.sh  ->  dist/OUTSCALE Trusted Login.app, dist/osc-trusted-login_<ver>_macos_<arch>.dmg
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
APP_NAME="OUTSCALE Trusted Login"
APP="dist/$APP_NAME.app"
VERSION=$("$PY" -c 'import app; print(app.__version__)')
ARCH=$(uname -m)
DMG="dist/osc-trusted-login_${VERSION}_macos_${ARCH}.dmg"

# --- signing identity in a throwaway keychain (CI) --------------------------------------------------------
if [ -n "${MACOS_CERT_P12_BASE64:-}" ]; then
  KEYCHAIN="$RUNNER_TEMP/otl-signing.keychain-db"
  KEYCHAIN_PASSWORD=$(uuidgen)
  echo "$MACOS_CERT_P12_BASE64" | base64 --decode > "$RUNNER_TEMP/otl-cert.p12"
  security create-keychain -p "$KEYCHAIN_PASSWORD" "$KEYCHAIN"
  security set-keychain-settings -lut 21600 "$KEYCHAIN"
  security unlock-keychain -p "$KEYCHAIN_PASSWORD" "$KEYCHAIN"
  security import "$RUNNER_TEMP/otl-cert.p12" -P "$MACOS_CERT_PASSWORD" -A -t cert -f pkcs12 -k "$KEYCHAIN"
  rm -f "$RUNNER_TEMP/otl-cert.p12"
  security set-key-partition-list -S apple-tool:,apple: -k "$KEYCHAIN_PASSWORD" "$KEYCHAIN" >/dev/null
  security list-keychains -d user -s "$KEYCHAIN" $(security list-keychains -d user | tr -d '"')
  trap 'security delete-keychain "$KEYCHAIN" || true' EXIT
fi

# --- bundle (PyInstaller signs every binary and the .app: hardened runtime + entitlements when an
# identity is given, ad hoc otherwise) -------------------------------------------------------------------
"$PY" -m PyInstaller --noconfirm --log-level WARN --workpath build/pyinstaller --distpath dist \
  packaging/osc-trusted-login.spec
codesign --verify --deep --strict --verbose=2 "$APP"
if [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
  # The entitlements that let the hardened runtime load third-party PKCS#11 modules must be on the executable.
  codesign -d --entitlements - --xml "$APP/Contents/MacOS/osc-trusted-login" | grep -q disable-library-validation
fi

# --- smoke test of the .app's executable ---------------------------------------------------------------
"$APP/Contents/MacOS/osc-trusted-login" --version
"$APP/Contents/MacOS/osc-trusted-login" selftest --offscreen

# --- dmg: the app and a link to /Applications -----------------------------------------------------------
STAGE=build/dmg
rm -rf "$STAGE" "$DMG"
mkdir -p "$STAGE"
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"
hdiutil create -volname "$APP_NAME" -srcfolder "$STAGE" -fs HFS+ -format UDZO -ov "$DMG"
if [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
  codesign --force --timestamp --sign "$MACOS_SIGN_IDENTITY" "$DMG"
fi

# --- notarization -------------------------------------------------------------------------------------
if [ -n "${APPLE_ID:-}" ] && [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
  xcrun notarytool submit "$DMG" --apple-id "$APPLE_ID" --team-id "$APPLE_TEAM_ID" \
    --password "$APPLE_APP_PASSWORD" --wait --timeout 30m
  xcrun stapler staple "$DMG"
  xcrun stapler validate "$DMG"
  spctl --assess --type open --context context:primary-signature --verbose=2 "$DMG"
else
  echo "build-macos: not notarized (no APPLE_ID / MACOS_SIGN_IDENTITY): Gatekeeper will warn on other Macs"
fi

# --- the dmg's own smoke test: mount, run the copy inside, detach ---------------------------------------
MNT=$(mktemp -d)
hdiutil attach -nobrowse -readonly -mountpoint "$MNT" "$DMG" >/dev/null
"$MNT/$APP_NAME.app/Contents/MacOS/osc-trusted-login" selftest --offscreen --json > dist/selftest-macos.json \
  || { cat dist/selftest-macos.json; hdiutil detach "$MNT"; exit 1; }
hdiutil detach "$MNT" >/dev/null
(cd dist && shasum -a 256 "$(basename "$DMG")" > "$(basename "$DMG").sha256")
echo "build-macos: $DMG ($(du -h "$DMG" | cut -f1))"
