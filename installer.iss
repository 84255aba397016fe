; Inno Setup script: turns dist\bangla-meder\ (built on Windows with `pyinstaller pyinstaller.spec`)
; into a per-user setup program, dist\bangla-meder-setup.exe. Build with: iscc installer.iss
; No administrator rights are needed; user data (%LOCALAPPDATA%\bangla-meder) is never touched by
; uninstalling.

#define AppName "Bangla MedER"
; The version lives in pyproject.toml only. Its [project] `version = "x.y.z"` reads as an INI entry (Windows
; drops the quotes); `iscc /DAppVersion=x.y.z installer.iss` overrides it.
#ifndef AppVersion
  #define AppVersion ReadIni(AddBackslash(SourcePath) + "pyproject.toml", "project", "version", "")
#endif
#if AppVersion == ""
  #error "no version found in pyproject.toml's [project] section"
#endif

[Setup]
AppId={{6C1B7D0E-6F55-4B8B-9F0A-0B4C1B5E2D11}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=Bangla MedER team
DefaultDirName={localappdata}\Programs\bangla-meder
DefaultGroupName={#AppName}
PrivilegesRequired=lowest
OutputDir=dist
OutputBaseFilename=bangla-meder-setup
SetupIconFile=packaging\bangla-meder.ico
UninstallDisplayIcon={app}\bangla-meder.exe
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible

[Files]
Source: "dist\bangla-meder\*"; DestDir: "{app}"; Flags: recursesubdirs createallsubdirs ignoreversion

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\bangla-meder.exe"
Name: "{userdesktop}\{#AppName}"; Filename: "{app}\bangla-meder.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; GroupDescription: "Shortcuts:"

[Run]
Filename: "{app}\bangla-meder.exe"; Description: "Start {#AppName}"; Flags: nowait postinstall skipifsilent
