"""The benchmark harness: a deterministic generator, and the S scale end to end (no timing asserted)."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import generate  # noqa: E402
import run as bench_run  # noqa: E402


def test_generator_is_deterministic_and_seeded(tmp_path):
    first, again, other = (tmp_path / "a.duckdb", tmp_path / "b.duckdb", tmp_path / "c.duckdb")
    info = generate.generate(first, "S", seed=7)
    generate.generate(again, "S", seed=7)
    generate.generate(other, "S", seed=8)
    assert generate.checksums(first) == generate.checksums(again)
    differs = generate.checksums(other)
    assert all(differs[t] != generate.checksums(first)[t] for t in ("snapshots", "events", "labels", "truth"))
    rows = info["rows"]
    assert rows["events"] == 200_000 and rows["truth"] == 10_000 and rows["runs"] == 3
    # r_negatives: 500 positives + 500 negatives; the positive-only runs: 1,000 positives each.
    assert rows["labels"] == 3_000
    with duckdb.connect(str(first), read_only=True) as con:
        per_run = dict(con.execute("select run_id || ':' || label, count(*) from inputs.labels group by 1").fetchall())
        assert per_run == {"r_negatives:0": 500, "r_negatives:1": 500, "r_positives:1": 1000, "r_single:1": 1000}
        # Every label's user is a true positive / negative of the generator, as the label says.
        assert (
            con.execute("""select count(*) from inputs.labels l join inputs.truth t using (user_id)
                              where (l.label = 1) <> t.y_true""").fetchone()[0]
            == 0
        )
        # 20 numeric, 5 categorical and 5 boolean features, with some missing numbers.
        cols = [
            r[0]
            for r in con.execute("select column_name from duckdb_columns() where table_name = 'snapshots'").fetchall()
        ]
        assert len(cols) == 2 + 30
        assert con.execute("select count(*) from inputs.snapshots where num_01 is null").fetchone()[0] > 0


@pytest.mark.integration
def test_scale_s_runs_end_to_end_against_the_baseline(tmp_path):
    results = bench_run.main(["--scale", "S", "--repeat", "1", "--workdir", str(tmp_path)])
    rep = results["repetitions"][0]
    assert {r: a["status"] for r, a in rep["first_actions"].items()} == {
        "r_negatives": "FINISHED",
        "r_positives": "FINISHED",
        "r_single": "FINISHED",
    }
    # Nothing changed: every run keeps its model and scores.
    assert {(a["training_action"], a["scoring_action"]) for a in rep["unchanged_actions"].values()} == {
        ("reused", "reused")
    }
    # One run's labels changed: that run alone is refit and rescored.
    assert {r: (a["training_action"], a["scoring_action"]) for r, a in rep["changed_actions"].items()} == {
        "r_negatives": ("trained", "scored"),
        "r_positives": ("reused", "reused"),
        "r_single": ("reused", "reused"),
    }
    # Same job: both score the population against the generator's truth about equally well.
    for run_id, ours in rep["true_auc_ours"].items():
        base = rep["true_auc_baseline"][run_id]
        assert ours > 0.7 and base > 0.7, (run_id, ours, base)
        assert abs(ours - base) < 0.03, (run_id, ours, base)
    # The floor scored the same rows: 10,000 users, less the seeds of the SINGLE_ENGAGE run.
    assert rep["floor"]["r_negatives"]["rows"] == 10_000
    assert 10_000 - 1_000 <= rep["floor"]["r_single"]["rows"] < 10_000
    assert rep["first_build"]["peak_rss_mib"] > 0 and rep["baseline"]["peak_rss_mib"] > 0
    assert (tmp_path / "results-S.json").exists()
    assert "| ours / baseline: wall |" in bench_run.summary(results)
