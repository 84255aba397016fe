"""Fuzzed imports: seeded mutants of every format never break a batch and never store a bad span.

A fixed seed and count (60 mutants per format), so a failure reproduces; ``scripts/bench_fuzz.py`` runs
the same mutator longer, each parse in a child process with a time limit.
"""

from __future__ import annotations

import pytest
from import_mutants import FORMATS, SUFFIX, check_import, good_pair, mutants, seed_file

from engine.storage import Repository

SEED = 20261125
PER_FORMAT = 60


def test_seed_files_import_with_the_entities_they_state(tmp_path):
    good = good_pair(tmp_path)
    repo = Repository(tmp_path / "db.sqlite3")
    for fmt in FORMATS:
        path = tmp_path / f"seed-{fmt}{SUFFIX[fmt]}"
        path.write_bytes(seed_file(fmt))
        assert check_import(path, fmt, path.read_bytes(), good, repo) == "ok", fmt
    repo.close()


@pytest.mark.parametrize("fmt", FORMATS)
def test_mutants_keep_the_batch_rule_and_store_only_clean_spans(tmp_path, fmt):
    good = good_pair(tmp_path)
    repo = Repository(tmp_path / "db.sqlite3")
    outcomes = {"ok": 0, "error": 0}
    for n, (_, mutation, suffix, data) in enumerate(mutants(PER_FORMAT, SEED, (fmt,))):
        path = tmp_path / f"mutant-{n}{suffix}"
        path.write_bytes(data)
        try:
            outcomes[check_import(path, fmt, data, good, repo)] += 1
        except Exception as exc:
            raise AssertionError(f"{fmt} mutant {n} ({mutation}): {exc.__class__.__name__}: {exc}") from exc
        path.unlink()
    repo.close()
    assert sum(outcomes.values()) == PER_FORMAT
