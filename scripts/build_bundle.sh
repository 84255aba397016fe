#!/usr/bin/env bash
# Build the one-folder app with PyInstaller, run its frozen self-test, and pack a tar.gz.
#   scripts/build_bundle.sh        -> dist/bangla-meder/ and dist/bangla-meder-linux-x86_64.tar.gz
set -euo pipefail
cd "$(dirname "$0")/.."
./run --version >/dev/null                       # make sure .venv exists
.venv/bin/python -m pip install -q "pyinstaller==6.22.3"
rm -rf build/bangla-meder dist/bangla-meder
.venv/bin/pyinstaller --noconfirm --log-level WARN pyinstaller.spec
cp packaging/bangla-meder.desktop packaging/install-linux.sh dist/bangla-meder/
echo "== frozen self-test"
QT_QPA_PLATFORM=offscreen env -i HOME="$HOME" PATH=/usr/bin:/bin dist/bangla-meder/bangla-meder --selftest
echo "== size"
du -sh dist/bangla-meder
du -sh dist/bangla-meder/_internal/* | sort -h | tail -8
tar -C dist -czf dist/bangla-meder-linux-x86_64.tar.gz bangla-meder
du -sh dist/bangla-meder-linux-x86_64.tar.gz
