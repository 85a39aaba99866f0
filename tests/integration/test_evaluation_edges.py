"""The evaluation macros (docs/evaluation.md) on hand-made rows with the edges the fixture lacks:
a group of one class, a group whose scores are all equal, weights (null = 1) and scores of exactly
0 and 1 (log loss clipping), and feature columns that are all null or hold one value.

The macros are compiled once by the real dbt (`dbt compile --inline`, no build) and the compiled
SQL runs in DuckDB on those rows; every figure is compared with scikit-learn or pandas on the same
rows.
"""

from __future__ import annotations

import json
import math

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, log_loss, precision_recall_fscore_support

from conftest import run_dbt

pytestmark = pytest.mark.integration

MARK = "-- lookalike-edge-split --"
FEATURES = [
    {"name": "x", "kind": "numeric"},
    {"name": "flag", "kind": "boolean"},
    {"name": "cat", "kind": "categorical"},
    {"name": "all null", "kind": "numeric"},
]
INLINE = f"""
{{{{ lookalike.lookalike_binary_metrics('edge_rows', group_by=['grp']) }}}}
{MARK}
{{{{ lookalike.lookalike_threshold_metrics('edge_rows', group_by=['grp'], top_pct=25) }}}}
{MARK}
{{{{ lookalike.lookalike_confusion_matrix('edge_rows', 'edge_thresholds', group_by=['grp']) }}}}
{MARK}
{{{{ lookalike.lookalike_feature_info('feature_rows', {json.dumps(FEATURES)}, group_by=['grp']) }}}}
"""


def _rows():
    rng = np.random.default_rng(7)
    rows = []
    # one_class: positives only, scores spread (AUC and KS undefined, log loss defined).
    rows += [("one_class", float(s), 1, None) for s in rng.uniform(0.05, 0.95, 12)]
    # ties: every score equal, both classes, weights.
    rows += [("ties", 0.5, int(i % 3 == 0), [1.0, 2.0, None][i % 3]) for i in range(15)]
    # weighted: both classes, weights with nulls, and scores of exactly 0 and 1 (clipped).
    scores = np.round(rng.uniform(0, 1, 40), 2)
    labels = (rng.uniform(0, 1, 40) < scores).astype(int)
    weights = rng.choice([0.5, 1.0, 3.0, None], 40)
    rows += [("weighted", float(s), int(y), w) for s, y, w in zip(scores, labels, weights, strict=True)]
    rows += [
        ("weighted", 0.0, 1, 2.0),
        ("weighted", 1.0, 0, 1.0),
        ("weighted", 1.0, 1, None),
        ("weighted", 0.0, 0, None),
    ]
    return pd.DataFrame(rows, columns=["grp", "score", "label", "weight"])


def _feature_rows():
    return pd.DataFrame(
        {
            "grp": ["a"] * 6 + ["b"],
            "x": [1.5, None, -2.0, 4.0, 4.0, None, 7.0],
            "flag": [True, False, None, True, True, False, None],
            "cat": ["u", "v", None, "u", "w", None, "z"],
            "all null": [None] * 7,
        }
    ).astype({"x": "float64", "flag": "boolean", "all null": "float64"})


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    work = tmp_path_factory.mktemp("evaluation_edges")
    proc = run_dbt(["compile", "--inline", INLINE, "--output", "json"], work / "empty.duckdb", work)
    start = proc.stdout.index("{\n")
    sql = json.loads(proc.stdout[start : proc.stdout.rindex("}") + 1])["compiled"]
    metrics, thresholds, confusion, features = sql.split(MARK)
    return {"metrics": metrics, "thresholds": thresholds, "confusion": confusion, "features": features}


@pytest.fixture(scope="module")
def con(compiled):
    con = duckdb.connect()
    edge_rows = _rows()  # noqa: F841 (read by DuckDB)
    feature_rows = _feature_rows()  # noqa: F841
    con.execute("create table edge_rows as select grp, score, label, cast(weight as double) as weight from edge_rows")
    con.execute(
        'create table feature_rows as select grp, x, flag, cat, cast("all null" as double) as "all null" from feature_rows'
    )
    con.execute(f"create table edge_thresholds as {compiled['thresholds']}")
    yield con
    con.close()


def _group(grp):
    d = _rows()
    d = d[d.grp == grp]
    return d.label.to_numpy(int), d.score.to_numpy(float), d.weight.fillna(1.0).to_numpy(float)


def _df(con, sql):
    return con.execute(sql).df()


def test_log_loss_auc_and_counts_match_sklearn_on_every_edge(con, compiled):
    rows = _df(con, compiled["metrics"]).set_index("grp")
    assert sorted(rows.index) == ["one_class", "ties", "weighted"]
    for grp, m in rows.iterrows():
        y, s, w = _group(grp)
        assert m.log_loss == pytest.approx(log_loss(y, s, sample_weight=w, labels=[0, 1]), rel=1e-12, abs=1e-12), grp
        assert m.n_examples == len(y) and m.sum_weight == pytest.approx(w.sum())
    assert math.isnan(rows.loc["one_class"].auc) and math.isnan(rows.loc["one_class"].ks)
    assert rows.loc["ties"].auc == pytest.approx(0.5) and rows.loc["ties"].ks == pytest.approx(0.0)
    # Scores of exactly 0 and 1 on the wrong class cost -ln(eps) each, as in scikit-learn.
    assert rows.loc["weighted"].log_loss > 1.0


def test_threshold_accuracy_and_confusion_matrix_match_sklearn_on_every_edge(con, compiled):
    thresholds = _df(con, "select * from edge_thresholds")
    # A group of one class has a top_pct cutoff but no max_ks one; ties give both.
    assert sorted(map(tuple, thresholds[["grp", "cutoff"]].to_numpy())) == [
        ("one_class", "top_pct"),
        ("ties", "max_ks"),
        ("ties", "top_pct"),
        ("weighted", "max_ks"),
        ("weighted", "top_pct"),
    ]
    cells = _df(con, compiled["confusion"])
    assert len(cells) == 4 * len(thresholds)
    for _, t in thresholds.iterrows():
        y, s, w = _group(t.grp)
        predicted = (s >= t.threshold).astype(int)
        assert t.accuracy == pytest.approx(accuracy_score(y, predicted, sample_weight=w), abs=1e-12)
        precision, recall, f1, _ = precision_recall_fscore_support(
            y, predicted, labels=[0, 1], sample_weight=w, zero_division=np.nan
        )
        for value, expected in (
            (t.precision_positive, precision[1]),
            (t.recall_positive, recall[1]),
            (t.f1_positive, f1[1]),
        ):
            assert (math.isnan(value) and math.isnan(expected)) or value == pytest.approx(expected, abs=1e-12)
        mine = cells[(cells.grp == t.grp) & (cells.cutoff == t.cutoff)]
        n = mine.pivot(index="actual_label", columns="predicted_label", values="n_examples").to_numpy()
        weighted = mine.pivot(index="actual_label", columns="predicted_label", values="sum_weight").to_numpy()
        np.testing.assert_array_equal(n, confusion_matrix(y, predicted, labels=[0, 1]))
        np.testing.assert_allclose(weighted, confusion_matrix(y, predicted, labels=[0, 1], sample_weight=w), atol=1e-12)
        assert (mine.threshold == t.threshold).all()
    # Every score tied: the top 25 % cutoff is that score, so every row is predicted positive.
    ties = cells[(cells.grp == "ties") & (cells.cutoff == "top_pct")]
    assert ties[ties.predicted_label == 0].n_examples.sum() == 0
    # One class: the cells of the missing class are there, with 0.
    one = cells[cells.grp == "one_class"]
    assert one[one.actual_label == 0].n_examples.tolist() == [0, 0]


def test_feature_info_matches_pandas(con, compiled):
    rows = _df(con, compiled["features"])
    frame = _feature_rows()
    assert len(rows) == 2 * len(FEATURES)
    for _, r in rows.iterrows():
        values = frame.loc[frame.grp == r.grp, r.feature]
        assert r.n_examples == len(values)
        assert r.null_count == int(values.isna().sum())
        if r.feature_kind == "categorical":
            assert r.category_count == values.nunique()
            assert all(pd.isna(r[c]) for c in ("min_value", "max_value", "mean_value", "median_value", "stddev_value"))
            continue
        assert pd.isna(r.category_count)
        numbers = values.astype("float64")
        for column, expected in (
            ("min_value", numbers.min()),
            ("max_value", numbers.max()),
            ("mean_value", numbers.mean()),
            ("median_value", numbers.median()),
            ("stddev_value", numbers.std()),
        ):
            if pd.isna(expected):
                assert pd.isna(r[column]), (r.grp, r.feature, column)
            else:
                assert r[column] == pytest.approx(expected, abs=1e-12), (r.grp, r.feature, column)
    # Group b holds one row: no sample standard deviation; the all-null column has no moments.
    assert pd.isna(rows[(rows.grp == "b") & (rows.feature == "x")].stddev_value.iloc[0])
    assert rows[rows.feature == "all null"].null_count.tolist() == [6, 1] or sorted(
        rows[rows.feature == "all null"].null_count
    ) == [1, 6]
