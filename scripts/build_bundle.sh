#!/usr/bin/env bash
# Build the one-folder app with PyInstaller, run its frozen self-test and trainer, and pack a tar.xz.
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
echo "== frozen self-test"
QT_QPA_PLATFORM=offscreen env -i HOME="$HOME" PATH=/usr/bin:/bin dist/bangla-meder/bangla-meder --selftest
echo "== frozen window: opens and keeps running (offscreen) for 15 s"
rc=0; QT_QPA_PLATFORM=offscreen timeout 15 env -i HOME="$HOME" PATH=/usr/bin:/bin QT_QPA_PLATFORM=offscreen \
  dist/bangla-meder/bangla-meder --data-dir build/frozen-window || rc=$?
[ "$rc" = 124 ] || { echo "the frozen window exited with code $rc"; exit 1; }
echo "ok"
echo "== frozen trainer (torch): evaluate the bundled teacher on two sentences"
printf 'নাপা\tB-Medicine\nখান\tO\n\nমাথা\tB-Symptom\nব্যথা\tI-Symptom\n' > build/frozen-check.conll
env -i HOME="$HOME" PATH=/usr/bin:/bin dist/bangla-meder/bangla-meder --trainer evaluate \
  --model dist/bangla-meder/_internal/model_assets/teacher --data build/frozen-check.conll
echo
echo "== frozen retrain (Model > Retrain): 12 reviewed documents, quick preset"
rm -rf build/frozen-retrain && mkdir -p build/frozen-retrain
.venv/bin/python - <<'PY'
from engine.spans import Entity
from engine.storage import Repository

repo = Repository("build/frozen-retrain/meder.sqlite3")
notes = [("রোগীর জ্বর আছে, নাপা খেতে বলা হয়েছে।", [(6, 10, "Symptom"), (16, 20, "Medicine")]),
         ("মাথা ব্যথা হলে প্যারাসিটামল খাবেন।", [(0, 10, "Symptom"), (15, 27, "Medicine")])]
ids = repo.add_documents([(f"n{i}", t, "check", [Entity(*e) for e in ents]) for i in range(14)
                          for t, ents in [notes[i % 2]]], origin="human")
for doc_id in ids[:12]:
    repo.set_reviewed(doc_id)
repo.close()
PY
env -i HOME="$HOME" PATH=/usr/bin:/bin dist/bangla-meder/bangla-meder --trainer retrain \
  --db build/frozen-retrain/meder.sqlite3 --out build/frozen-retrain/models \
  --bundled dist/bangla-meder/_internal/model_assets --preset quick --json-progress | tail -n 1 | cut -c 1-300
ls build/frozen-retrain/models
echo
echo "== size (MiB; targets: unpacked <= 880, compressed <= 300)"
# xz packs libtorch far tighter than gzip; every Linux file manager extracts it
tar -C dist -cf - bangla-meder | xz -T0 -6 > dist/bangla-meder-linux-x86_64.tar.xz
.venv/bin/python scripts/bundle_sizes.py dist/bangla-meder --archive dist/bangla-meder-linux-x86_64.tar.xz \
  --before packaging/bundle-sizes-before.tsv --save build/bundle-sizes.tsv
du -sh dist/bangla-meder dist/bangla-meder-linux-x86_64.tar.xz
