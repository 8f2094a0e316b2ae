# Build the Windows bundle and its Inno Setup installer, sign both when a certificate is given, and
# smoke-test the result (the bundle, then a silent per-user install, then a silent uninstall).
#
#   powershell -File packaging\windows\build-windows.ps1
#
# Signing secrets come from CI only (never committed):
#   WINDOWS_CERT_PFX_BASE64   the code-signing certificate (.pfx), base64
#   WINDOWS_CERT_PASSWORD     its password
# Needs: Python with the project's `ui` and `package` extras, Inno Setup 6 (iscc), and signtool
# (Windows SDK) when signing.
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..\..")
$Py = if ($env:PYTHON) { $env:PYTHON } else { "python" }
$Version = & $Py -c "import app; print(app.__version__)"
$Timestamp = "http://timestamp.digicert.com"

function Invoke-Checked([string]$exe, [string[]]$arguments) {
  & $exe @arguments
  if ($LASTEXITCODE -ne 0) { throw "$exe $($arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

# --- bundle ---------------------------------------------------------------------------------------------
Invoke-Checked $Py @("-m", "PyInstaller", "--noconfirm", "--log-level", "WARN", "--workpath", "build\pyinstaller",
                     "--distpath", "dist", "packaging\osc-trusted-login.spec")
$Bundle = "dist\osc-trusted-login"
Invoke-Checked "$Bundle\osc-trusted-login-cli.exe" @("--version")
Invoke-Checked "$Bundle\osc-trusted-login-cli.exe" @("selftest", "--offscreen")

# --- signing (our two executables; Qt's and Python's DLLs are already signed by their vendors) ---------
# The certificate goes into the user's store for the build and is referred to by thumbprint, so that no
# password appears on any command line; it is removed from the store and the disk afterwards.
$Cert = $null
$IsccArgs = @("/DAppVersion=$Version")
try {
  if ($env:WINDOWS_CERT_PFX_BASE64) {
    $Pfx = Join-Path $env:RUNNER_TEMP "otl-codesign.pfx"
    [IO.File]::WriteAllBytes($Pfx, [Convert]::FromBase64String($env:WINDOWS_CERT_PFX_BASE64))
    $Password = ConvertTo-SecureString $env:WINDOWS_CERT_PASSWORD -AsPlainText -Force
    $Cert = Import-PfxCertificate -FilePath $Pfx -CertStoreLocation Cert:\CurrentUser\My -Password $Password
    Remove-Item -Force $Pfx
    $SignTool = (Get-ChildItem "${env:ProgramFiles(x86)}\Windows Kits\10\bin\*\x64\signtool.exe" |
                 Sort-Object FullName -Descending | Select-Object -First 1).FullName
    $Sign = @("sign", "/sha1", $Cert.Thumbprint, "/s", "My", "/fd", "sha256", "/tr", $Timestamp, "/td", "sha256")
    foreach ($exe in @("$Bundle\osc-trusted-login.exe", "$Bundle\osc-trusted-login-cli.exe")) {
      Invoke-Checked $SignTool ($Sign + @($exe))
    }
    # Inno Setup runs this for the installer and the uninstaller: $q is a quote, $f the quoted file name.
    $IsccArgs += @("/DSIGN", ("/Ssigntool=`$q$SignTool`$q " + ($Sign -join " ") + " `$f"))
  }

  # --- installer ----------------------------------------------------------------------------------------
  $Iscc = (Get-Command iscc -ErrorAction SilentlyContinue).Source
  if (-not $Iscc) { $Iscc = "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe" }
  Invoke-Checked $Iscc ($IsccArgs + @("packaging\windows\osc-trusted-login.iss"))
  $Setup = "dist\osc-trusted-login_${Version}_windows_x64_setup.exe"
  if ($Cert) { Invoke-Checked $SignTool @("verify", "/pa", $Setup) }
} finally {
  if ($Cert) { Remove-Item -Force "Cert:\CurrentUser\My\$($Cert.Thumbprint)" }
}

# --- smoke test of the installer: per-user silent install, run, silent uninstall ----------------------
$Target = Join-Path $env:LOCALAPPDATA "Programs\OUTSCALE Trusted Login (smoke)"
$p = Start-Process $Setup -ArgumentList "/VERYSILENT", "/SUPPRESSMSGBOXES", "/NORESTART", "/CURRENTUSER",
                   "/DIR=`"$Target`"", "/LOG=dist\setup-smoke.log" -Wait -PassThru
if ($p.ExitCode -ne 0) { throw "silent install failed ($($p.ExitCode))" }
Invoke-Checked "$Target\osc-trusted-login-cli.exe" @("selftest", "--offscreen", "--json")
$Start = Join-Path $env:APPDATA "Microsoft\Windows\Start Menu\Programs\OUTSCALE Trusted Login.lnk"
if (-not (Test-Path $Start)) { throw "no Start-menu entry at $Start" }
$p = Start-Process "$Target\unins000.exe" -ArgumentList "/VERYSILENT", "/SUPPRESSMSGBOXES", "/NORESTART" -Wait -PassThru
if ($p.ExitCode -ne 0) { throw "silent uninstall failed ($($p.ExitCode))" }
# The uninstaller re-launches itself from %TEMP% and returns at once: wait for it to finish.
for ($i = 0; $i -lt 60 -and (Test-Path "$Target\osc-trusted-login.exe"); $i++) { Start-Sleep -Seconds 1 }
if (Test-Path "$Target\osc-trusted-login.exe") { throw "the uninstaller left the application behind" }

$Hash = (Get-FileHash -Algorithm SHA256 $Setup).Hash.ToLower()
"$Hash  $(Split-Path $Setup -Leaf)" | Out-File -Encoding ascii "$Setup.sha256"
Write-Host "build-windows: $Setup"
