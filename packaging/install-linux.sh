#!/usr/bin/env bash
# Install an unpacked bangla-meder folder for the current user: menu entry + icon, no root needed.
# Run from inside the unpacked folder:  ./install-linux.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
icons="${XDG_DATA_HOME:-$HOME/.local/share}/icons/hicolor/256x256/apps"
mkdir -p "$apps" "$icons"
cp "$here/_internal/packaging/bangla-meder.png" "$icons/bangla-meder.png"
sed "s|^Exec=.*|Exec=\"$here/bangla-meder\"|" "$here/bangla-meder.desktop" > "$apps/bangla-meder.desktop"
chmod +x "$apps/bangla-meder.desktop"
echo "Bangla MedER is in your applications menu. Your data will live in ~/.local/share/bangla-meder."
