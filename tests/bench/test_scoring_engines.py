"""bench/scoring_engines.py in its small mode, end to end: every model type scored by the Python
scorer and by the compiled SQL in DuckDB, in worker subprocesses, with equal scores (no timing
asserted)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import scoring_engines  # noqa: E402


def test_small_mode_scores_every_model_type_the_same_in_sql_and_python(tmp_path):
    results = scoring_engines.main(
        ["--rows", "20000", "--repeat", "1", "--engines", "python,sql", "--workdir", str(tmp_path)]
    )
    assert results["models"] == ["hgb", "rf", "logistic", "bagging20"]
    fit = results["fit"]
    assert fit["bagging20"]["members"] == 20 and fit["bagging20"]["training_method"] == "pu_bagging"
    assert all(fit[m]["n_features"] == 80 for m in fit)
    by_key = {(r["model"], r["engine"]): r for r in results["engines"]}
    assert set(by_key) == {(m, e) for m in fit for e in ("python", "sql")}
    for (model, engine), r in by_key.items():
        assert "error" not in r, (model, engine, r.get("error"))
        assert all(rep["rows"] == 20_000 for rep in r["repetitions"])
        if engine == "sql":
            assert r["max_abs_diff"] <= 1e-9, (model, r["max_abs_diff"])
            assert r["sql_kib"] > 0
    assert json.loads((tmp_path / "results.json").read_text())["rows"] == 20_000


def test_generator_is_seeded_and_has_the_promised_columns():
    a, logit = scoring_engines.make_rows(2_000, 5)
    b, _ = scoring_engines.make_rows(2_000, 5)
    # (to_pandas: NaN equals NaN there; num_01 holds NaN values)
    assert a.to_pandas().equals(b.to_pandas())
    assert not a.to_pandas().equals(scoring_engines.make_rows(2_000, 6)[0].to_pandas())
    assert a.num_columns == 81 and len(logit) == 2_000
    assert sum(c.startswith("num_") for c in a.column_names) == 60
    assert sum(c.startswith("cat_") for c in a.column_names) == 10
    assert sum(c.startswith("flag_") for c in a.column_names) == 10
    assert a.column("num_03").null_count > 0 and a.column("cat_9").null_count > 0
    unseen = [v for v in a.column("cat_9").to_pylist() if v and v.startswith("new_")]
    assert unseen  # values the training set never holds
    train = scoring_engines.training_examples()
    assert not any(v and v.startswith("new_") for v in train.column("cat_9").to_pylist())
