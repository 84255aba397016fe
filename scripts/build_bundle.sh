#!/usr/bin/env bash
# Build the one-folder app with PyInstaller, check it frozen (scripts/check_frozen.py), and pack a tar.xz.
#   scripts/build_bundle.sh        -> dist/bangla-meder/ and dist/bangla-meder-linux-x86_64.tar.xz
# What the bundle leaves out, and why: packaging/bundle_contents.py. The size table at the end compares with
# packaging/bundle-sizes-before.tsv: the bundle before issue 15 trimmed it (996 MB by du, 314 MiB as .tar.xz).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || ./run --version >/dev/null   # make sure .venv exists
.venv/bin/python -m pip install -q "pyinstaller==6.22.3"
rm -rf build/pyinstaller dist/bangla-meder        # PyInstaller's work folder is named after the spec
started=$SECONDS
.venv/bin/pyinstaller --noconfirm --log-level WARN pyinstaller.spec
echo "built in $((SECONDS - started)) s"
cp packaging/bangla-meder.desktop packaging/install-linux.sh dist/bangla-meder/
# self-test, window, trainer and a quick retrain that the app starts itself, without .venv on the path; the
# Windows workflow runs the same script on the Windows bundle
.venv/bin/python scripts/check_frozen.py dist/bangla-meder
echo
echo "== size (MiB; targets: unpacked <= 880, compressed <= 300)"
# xz packs libtorch far tighter than gzip; every Linux file manager extracts it
tar -C dist -cf - bangla-meder | xz -T0 -6 > dist/bangla-meder-linux-x86_64.tar.xz
.venv/bin/python scripts/bundle_sizes.py dist/bangla-meder --archive dist/bangla-meder-linux-x86_64.tar.xz \
  --before packaging/bundle-sizes-before.tsv --save build/bundle-sizes.tsv
du -sh dist/bangla-meder dist/bangla-meder-linux-x86_64.tar.xz
