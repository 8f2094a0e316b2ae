; Inno Setup 6 recipe for OUTSCALE Trusted Login: a per-user install (no administrator rights), a
; Start-menu entry, an uninstaller, and Authenticode signing of the installer and the uninstaller when
; the build passes /DSIGN and a "signtool" sign tool (see build-windows.ps1; secrets come from CI only).
;
;   iscc /DAppVersion=0.1.0 packaging\windows\osc-trusted-login.iss
;   -> dist\osc-trusted-login_<version>_windows_x64_setup.exe  (from the PyInstaller folder dist\osc-trusted-login)

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#define AppName "OUTSCALE Trusted Login"
#define ExeName "osc-trusted-login.exe"
#define Root "..\.."

[Setup]
; A fixed AppId: upgrades replace the previous version instead of installing beside it.
AppId={{6E4B2C1A-3F5D-4C8E-9A27-0B1D5E7F9C31}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=OUTSCALE
AppPublisherURL=https://github.com/outscale
VersionInfoVersion={#AppVersion}
; Per user: installs under %LOCALAPPDATA%\Programs, no UAC prompt. The user may still pick "all users".
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
; PySide6 6.x needs Windows 10 1809 or later.
MinVersion=10.0.17763
OutputDir={#Root}\dist
OutputBaseFilename=osc-trusted-login_{#AppVersion}_windows_x64_setup
SetupIconFile={#Root}\resources\icons\osc-trusted-login.ico
UninstallDisplayIcon={app}\{#ExeName}
UninstallDisplayName={#AppName}
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
CloseApplications=yes
#ifdef SIGN
SignTool=signtool
SignedUninstaller=yes
#endif

[Languages]
Name: "en"; MessagesFile: "compiler:Default.isl"
Name: "fr"; MessagesFile: "compiler:Languages\French.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
; The whole PyInstaller folder: two executables (the windowed app and its -cli twin) and _internal\
; (Qt, Python, licences in _internal\licenses). ignoreversion: always replace on upgrade.
Source: "{#Root}\dist\osc-trusted-login\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[InstallDelete]
; An upgrade must not leave the previous version's libraries next to the new ones.
Type: filesandordirs; Name: "{app}\_internal"

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#ExeName}"; Comment: "Log in to OUTSCALE with a smart card"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#ExeName}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#ExeName}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
