"""The per-feature quality report (lookalike_udf.quality) on hand-made rows."""

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from sklearn.metrics import roc_auc_score

from lookalike_udf.quality import (
    FEATURE_REPORT_SCHEMA,
    IMPORTANCE_EPSILON,
    feature_report,
    lift,
    population_prevalence,
    rank_features,
    weighted_auc,
    weighted_correlation,
)
from lookalike_udf.training import fit_run_model


def _frame(run_id, label, weight, split, **features):
    n = len(label)
    return pa.table(
        {
            "example_id": [f"{run_id}-{i}" for i in range(n)],
            "run_id": [run_id] * n,
            "user_id": [f"{run_id}-u{i:04d}" for i in range(n)],
            "label": pa.array(np.asarray(label, dtype=np.int32)),
            "weight": pa.array(np.asarray(weight, dtype=np.float64)),
            "as_of_at": pa.array([None] * n, type=pa.timestamp("us")),
            "snapshot_at": pa.array([None] * n, type=pa.timestamp("us")),
            "example_source": ["label"] * n,
            "split": list(split),
            **features,
        }
    )


def planted_examples(run_id="r", n=1000, seed=0):
    """`planted` separates the classes; `noise_a`, `noise_b` and `noise_cat` are independent of the label."""
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < 0.4).astype(np.int32)
    return _frame(
        run_id,
        label,
        np.ones(n),
        np.where(np.arange(n) % 3 == 0, "test", "train"),
        noise_a=rng.normal(size=n),
        planted=rng.normal(size=n) + 2.5 * label,
        noise_b=rng.normal(size=n),
        noise_cat=rng.choice(["x", "y", "z"], size=n).tolist(),
    )


def model_rows(*entries):
    """Rows shaped like lookalike_run_models: (run_id, status, model_json)."""
    return pa.table(
        {
            "run_id": [e[0] for e in entries],
            "model_status": [e[1] for e in entries],
            "model_json": pa.array([e[2] for e in entries], type=pa.string()),
        }
    )


def by_feature(table, run_id):
    return {r["feature"]: r for r in table.to_pylist() if r["run_id"] == run_id}


def test_planted_column_gets_rank_one():
    ex = planted_examples()
    model = fit_run_model("r", ex, random_seed=1)
    population = ex.select(["noise_a", "planted", "noise_b", "noise_cat"])
    report = feature_report(model_rows(("r", "TRAINED", model.to_json())), ex, population)
    assert report.schema == FEATURE_REPORT_SCHEMA
    rows = by_feature(report, "r")
    assert set(rows) == {"noise_a", "planted", "noise_b", "noise_cat"}
    assert rows["planted"]["rank"] == 1
    # Ranks 1..k go to the features with importance above the epsilon, in importance order; the rest get none.
    ranked = sorted((r for r in rows.values() if r["importance"] > IMPORTANCE_EPSILON), key=lambda r: -r["importance"])
    assert [r["rank"] for r in ranked] == list(range(1, len(ranked) + 1))
    assert all(r["rank"] is None for r in rows.values() if r["importance"] <= IMPORTANCE_EPSILON)
    assert rows["planted"]["importance"] > 0.2
    for name in ("noise_a", "noise_b", "noise_cat"):
        assert abs(rows[name]["importance"]) < 0.03, name
        assert abs(rows[name]["correlation"]) < 0.1, name
    assert rows["planted"]["correlation"] > 0.6
    # planted is numeric: prevalence is its mean, and a ratio of means is no lift.
    assert rows["planted"]["prevalence_kind"] == "mean" and rows["planted"]["lift"] is None
    assert rows["planted"]["prevalence_target"] / rows["planted"]["prevalence_population"] > 1.5
    assert rows["noise_cat"]["prevalence_kind"] == "top_category_share"
    assert rows["noise_cat"]["lift"] == pytest.approx(
        rows["noise_cat"]["prevalence_target"] / rows["noise_cat"]["prevalence_population"], abs=1e-12
    )
    assert rows["planted"]["importance_std"] >= 0


def test_report_is_reproducible():
    ex = planted_examples(n=300)
    models = model_rows(("r", "TRAINED", fit_run_model("r", ex, random_seed=1).to_json()))
    population = ex.select(["noise_a", "planted", "noise_b", "noise_cat"])
    assert feature_report(models, ex, population).equals(feature_report(models, ex, population))


def hand_examples():
    """20 positives (weights 3 for i < 5, else 1) and 20 negatives, with values worked out below."""
    i = np.arange(20)
    pos_w = np.where(i < 5, 3.0, 1.0)
    x = np.concatenate([i.astype(float), -1.0 - i])
    flag = [bool(k % 2 == 0) for k in i] + [bool(k % 3 == 0) for k in i]
    color = ["red" if k < 8 else "blue" for k in i[:-1]] + [None] + ["green" if k % 2 else "blue" for k in i]
    return _frame(
        "h",
        [1] * 20 + [0] * 20,
        np.concatenate([pos_w, np.ones(20)]),
        ["test" if k % 4 == 0 else "train" for k in range(40)],
        x=x,
        flag=flag,
        color=color,
    )


HAND_POPULATION = pa.table(
    {
        "x": [float(k) for k in range(10)],  # mean 4.5
        "flag": [True, True, True, False, False, False, False, False, False, None],  # 3 of 9
        "color": ["red", "red", "blue", "blue", "blue", "blue", "blue", "green", None, None],  # red 2 of 8
        "unused": list(range(10)),
    }
)


def test_prevalence_and_lift_by_hand():
    ex = hand_examples()
    model = fit_run_model("h", ex, random_seed=0)
    assert sorted(model.feature_names) == ["color", "flag", "x"]
    rows = by_feature(feature_report(model_rows(("h", "TRAINED", model.to_json())), ex, HAND_POPULATION), "h")
    # x among positives: sum(w * x) = 3 * (0+1+2+3+4) + (5+...+19) = 30 + 180 = 210; sum(w) = 15 + 15 = 30.
    assert rows["x"]["feature_kind"] == "numeric" and rows["x"]["reference_value"] is None
    assert rows["x"]["prevalence_target"] == pytest.approx(7.0, abs=1e-12)
    assert rows["x"]["prevalence_population"] == pytest.approx(4.5, abs=1e-12)
    assert rows["x"]["prevalence_kind"] == "mean"
    assert rows["x"]["lift"] is None  # a ratio of means is not a lift
    # flag among positives: true at even i: 0, 2, 4 (weight 3 each) and 6..18 (7 rows, weight 1) = 16 of 30.
    assert rows["flag"]["feature_kind"] == "boolean" and rows["flag"]["prevalence_kind"] == "share_true"
    assert rows["flag"]["prevalence_target"] == pytest.approx(16 / 30, abs=1e-12)
    assert rows["flag"]["prevalence_population"] == pytest.approx(1 / 3, abs=1e-12)
    assert rows["flag"]["lift"] == pytest.approx(1.6, abs=1e-12)
    # color among positives: red weight 3*5 + 3 = 18, blue 11, one null (i = 19) left out -> 18 / 29.
    assert rows["color"]["feature_kind"] == "categorical" and rows["color"]["reference_value"] == "red"
    assert rows["color"]["prevalence_kind"] == "top_category_share"
    assert rows["color"]["prevalence_target"] == pytest.approx(18 / 29, abs=1e-12)
    assert rows["color"]["prevalence_population"] == pytest.approx(2 / 8, abs=1e-12)
    assert rows["color"]["lift"] == pytest.approx((18 / 29) / 0.25, abs=1e-12)
    # Correlation of the categorical feature is that of its indicator "color = red" (nulls left out).
    labels = np.array([1] * 20 + [0] * 20, dtype=float)
    weights = ex.column("weight").to_numpy()
    keep = np.array([c is not None for c in ex.column("color").to_pylist()])
    red = np.array([c == "red" for c in ex.column("color").to_pylist()], dtype=float)
    expected = np.cov(red[keep], labels[keep], aweights=weights[keep])
    assert rows["color"]["correlation"] == pytest.approx(
        expected[0, 1] / np.sqrt(expected[0, 0] * expected[1, 1]), abs=1e-12
    )
    assert rows["x"]["correlation"] > 0.8  # positives 0..19, negatives -1..-20


def test_weighted_correlation_equals_pearson_on_repeated_rows():
    x = np.array([1.0, 2.0, 4.0, 7.0, np.nan, 3.0])
    y = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 1.0])
    w = np.array([1.0, 2.0, 3.0, 1.0, 5.0, 2.0])
    keep = np.isfinite(x)
    rx, ry = np.repeat(x[keep], w[keep].astype(int)), np.repeat(y[keep], w[keep].astype(int))
    assert weighted_correlation(x, y, w) == pytest.approx(np.corrcoef(rx, ry)[0, 1], abs=1e-12)
    assert weighted_correlation(np.ones(4), np.array([0.0, 1, 0, 1]), np.ones(4)) is None  # constant feature
    assert weighted_correlation(np.array([1.0, np.nan]), np.array([0.0, 1.0]), np.ones(2)) is None


def test_population_prevalence_runs_in_sql_on_a_duckdb_relation():
    con = duckdb.connect()
    relation = con.from_arrow(HAND_POPULATION)
    wanted = [
        ("x", "numeric", None),
        ("flag", "boolean", None),
        ("color", "categorical", "blue"),
        ("color", "categorical", "it's"),
        ("missing", "numeric", None),
        ("color", "categorical", None),
    ]
    got = population_prevalence(relation, wanted)
    assert got[("x", "numeric", None)] == pytest.approx(4.5)
    assert got[("flag", "boolean", None)] == pytest.approx(1 / 3)
    assert got[("color", "categorical", "blue")] == pytest.approx(5 / 8)
    assert got[("color", "categorical", "it's")] == 0.0  # quoted safely, matches nothing
    assert got[("missing", "numeric", None)] is None
    assert got[("color", "categorical", None)] is None
    assert population_prevalence(HAND_POPULATION, wanted) == got  # an Arrow table goes through DuckDB too


def test_failed_and_broken_runs_get_no_rows_and_do_not_stop_others():
    good = planted_examples("good", n=300)
    other = planted_examples("broken", n=300, seed=1)
    ex = pa.concat_tables([good, other])
    models = model_rows(
        ("good", "TRAINED", fit_run_model("good", good, random_seed=1).to_json()),
        ("broken", "TRAINED", '{"format": "lookalike-model/1"}'),
        ("failed", "FAILED", None),
    )
    report = feature_report(models, ex, good.select(["noise_a", "planted", "noise_b", "noise_cat"]))
    assert set(report.column("run_id").to_pylist()) == {"good"}
    assert report.num_rows == 4


def test_single_class_test_split_gives_null_importance_and_no_rank():
    ex = planted_examples(n=300)
    model = fit_run_model("r", ex, random_seed=1)
    label = ex.column("label").to_numpy()
    split = ["test" if (k % 3 == 0 and label[k] == 1) else "train" for k in range(ex.num_rows)]
    ex = ex.set_column(ex.schema.get_field_index("split"), "split", pa.array(split))
    rows = by_feature(feature_report(model_rows(("r", "TRAINED", model.to_json())), ex, ex.select(["planted"])), "r")
    assert all(r["importance"] is None for r in rows.values())
    assert all(r["rank"] is None for r in rows.values())  # no importance, no importance rank
    assert rows["noise_a"]["prevalence_population"] is None  # not in the population relation


def test_report_does_not_depend_on_row_order():
    ex = planted_examples(n=300)
    models = model_rows(("r", "TRAINED", fit_run_model("r", ex, random_seed=1).to_json()))
    population = ex.select(["noise_a", "planted", "noise_b", "noise_cat"])
    shuffled = ex.take(pa.array(np.random.default_rng(5).permutation(ex.num_rows)))
    assert feature_report(models, shuffled, population).equals(feature_report(models, ex, population))


def _with_actions(models, action, fingerprint):
    n = models.num_rows
    return models.append_column("training_action", pa.array([action] * n, type=pa.string())).append_column(
        "training_fingerprint", pa.array([fingerprint] * n, type=pa.string())
    )


def test_reused_model_carries_its_rows_over_and_recomputes_only_the_population_figures():
    ex = planted_examples(n=300)
    model_json = fit_run_model("r", ex, random_seed=1).to_json()
    population = ex.select(["noise_a", "planted", "noise_b", "noise_cat"])
    first = feature_report(_with_actions(model_rows(("r", "TRAINED", model_json)), "trained", "fp1"), ex, population)
    assert set(first.column("training_fingerprint").to_pylist()) == {"fp1"}
    # Mark the stored rows, so a carried-over row is told apart from a recomputed one.
    marked = first.set_column(
        first.schema.get_field_index("importance"), "importance", pc.add(first.column("importance"), 100.0)
    )
    smaller = population.slice(0, 100)  # a changed population
    reused = _with_actions(model_rows(("r", "TRAINED", model_json)), "reused", "fp1")

    carried = by_feature(feature_report(reused, ex, smaller, previous=marked), "r")
    fresh = by_feature(feature_report(reused, ex, smaller), "r")
    for name, row in fresh.items():
        assert carried[name]["importance"] == pytest.approx(row["importance"] + 100.0)
        if row["rank"] is not None:  # (+100 lifts the unranked ones above the epsilon: they get ranks after these)
            assert carried[name]["rank"] == row["rank"]
        # The population figures follow the current population, not the previous build's.
        assert carried[name]["prevalence_population"] == row["prevalence_population"]
        assert carried[name]["lift"] == row["lift"]
        assert carried[name]["prevalence_kind"] == row["prevalence_kind"]
    assert carried["planted"]["prevalence_population"] != by_feature(first, "r")["planted"]["prevalence_population"]

    # Recomputed: a refitted model, another fingerprint, force, or a previous table without fingerprints.
    for models, previous, force in [
        (_with_actions(model_rows(("r", "TRAINED", model_json)), "trained", "fp1"), marked, False),
        (_with_actions(model_rows(("r", "TRAINED", model_json)), "reused", "fp2"), marked, False),
        (reused, marked, True),
        (reused, marked.drop_columns(["training_fingerprint"]), False),
    ]:
        rows = by_feature(feature_report(models, ex, smaller, previous=previous, force=force), "r")
        assert rows["planted"]["importance"] == pytest.approx(fresh["planted"]["importance"])


def _bagging_model(n=3000, bags=20):
    ex = planted_examples(n=n)
    unlabeled = ex.set_column(
        ex.schema.get_field_index("example_source"),
        "example_source",
        pa.array(["label" if v == 1 else "unlabeled_sample" for v in ex.column("label").to_pylist()]),
    )
    model = fit_run_model("r", unlabeled, random_seed=1, pu_bags=bags)
    assert len(model._scorer.members) == bags
    return model, unlabeled.filter(pc.equal(unlabeled.column("split"), "test"))


def test_large_bagging_ensemble_is_measured_on_its_first_members_in_one_pass(monkeypatch):
    """A cap that fits the first 5 members on MIN_IMPORTANCE_ROWS rows: those 5 members are used,
    each scores the rows once and the stacked shuffled copies once (one block), and the planted
    column still ranks first."""
    import lookalike_udf.quality as quality

    model, test = _bagging_model()
    copies = 4 * quality.N_REPEATS + 1
    trees = [quality._tree_count(m) for m in model._scorer.members]
    monkeypatch.setattr(quality, "IMPORTANCE_BUDGET", quality.MIN_IMPORTANCE_ROWS * copies * sum(trees[:5]))
    assert quality.importance_plan(model, test.num_rows) == (quality.MIN_IMPORTANCE_ROWS, 5)
    used = []
    original = type(model._scorer.members[0]).predict_proba_positive

    def counting(self, X):
        used.append((id(self), X.shape[0]))
        return original(self, X)

    monkeypatch.setattr(type(model._scorer.members[0]), "predict_proba_positive", counting)
    out = quality.permutation_importance(model, test, seed=1)
    assert {member for member, _ in used} == {id(m) for m in model._scorer.members[:5]}
    n = quality.MIN_IMPORTANCE_ROWS
    assert sorted(rows for _, rows in used) == [n] * 5 + [n * (copies - 1)] * 5
    assert max(out, key=lambda name: out[name][0]) == "planted"


def test_the_plan_keeps_every_member_and_the_rows_when_the_cap_allows():
    import lookalike_udf.quality as quality

    model, test = _bagging_model(n=600, bags=3)
    assert quality.importance_plan(model, test.num_rows) == (test.num_rows, 3)
    assert quality.importance_plan(model, 50_000) == (quality.MAX_IMPORTANCE_ROWS, 3)


def test_one_pass_equals_scoring_every_shuffle_alone():
    """The stacked copies give the figures of the plain loop: one shuffle, one score, one AUC."""
    from sklearn.metrics import roc_auc_score

    import lookalike_udf.quality as quality

    ex = planted_examples(n=900)
    model = fit_run_model("r", ex, random_seed=1, model_type="hgb")
    test = ex.filter(pc.equal(ex.column("split"), "test"))
    out = quality.permutation_importance(model, test, seed=4)
    X = model.encoder.transform(test)
    y, w = test.column("label").to_numpy(), test.column("weight").to_numpy()
    base = roc_auc_score(y, model._scorer.predict_proba_positive(X), sample_weight=w)
    for j, name in enumerate(model.feature_names):
        rng = np.random.default_rng([4, 2, j])
        drops = []
        for _ in range(quality.N_REPEATS):
            shuffled = X.copy()
            shuffled[:, j] = X[rng.permutation(len(y)), j]
            drops.append(base - roc_auc_score(y, model._scorer.predict_proba_positive(shuffled), sample_weight=w))
        assert out[name] == pytest.approx((np.mean(drops), np.std(drops)), abs=1e-12), name


def test_weighted_auc_by_hand():
    # Positives at 0.9 and 0.4, negatives at 0.4 and 0.1; weights 1, 2 | 1, 3.
    # Pairs: (0.9 vs 0.4) 1*1 won, (0.9 vs 0.1) 1*3 won, (0.4 vs 0.4) 2*1 tied = 1, (0.4 vs 0.1) 2*3 won.
    # (1 + 3 + 1 + 6) / (3 * 4) = 11/12.
    y = np.array([1, 1, 0, 0])
    score = np.array([0.9, 0.4, 0.4, 0.1])
    w = np.array([1.0, 2.0, 1.0, 3.0])
    assert weighted_auc(y, score, w) == pytest.approx(11 / 12, abs=1e-15)
    assert weighted_auc(y, score, w) == pytest.approx(roc_auc_score(y, score, sample_weight=w), abs=1e-15)


@pytest.mark.parametrize("seed", range(6))
def test_weighted_auc_matches_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 3000))
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    # Coarse scores, so many ties; weights with zeros.
    score = np.round(rng.random(n), int(rng.integers(1, 4)))
    w = rng.choice([0.0, 0.5, 1.0, 2.5], size=n)
    w[:2] = 1.0
    assert weighted_auc(y, score, w) == pytest.approx(roc_auc_score(y, score, sample_weight=w), abs=1e-12)
    assert weighted_auc(y, score, np.ones(n)) == pytest.approx(roc_auc_score(y, score), abs=1e-12)


def test_weighted_auc_without_a_weighted_class_is_nan():
    assert np.isnan(weighted_auc(np.array([1, 1, 0]), np.array([0.2, 0.3, 0.1]), np.array([1.0, 1.0, 0.0])))
    assert np.isnan(weighted_auc(np.array([], dtype=int), np.array([]), np.array([])))


def test_rank_skips_features_of_importance_zero_negative_or_null():
    rows = [
        {"feature": f, "importance": imp, "correlation": corr}
        for f, imp, corr in [
            ("a", 0.0, 0.9),
            ("b", 0.02, 0.1),
            ("c", 3.700743415417188e-17, 0.5),
            ("d", -0.001, 0.2),
            ("e", 0.02, -0.3),
            ("f", None, 0.8),
            ("g", 2e-9, 0.0),
        ]
    ]
    ranked = rank_features(rows)
    assert [(r["feature"], r["rank"]) for r in ranked] == [
        ("e", 1),
        ("b", 2),
        ("g", 3),
        ("c", None),
        ("a", None),
        ("d", None),
        ("f", None),
    ]


def test_lift_is_for_shares_only_and_bounded():
    assert lift("boolean", 16 / 30, 1 / 3) == pytest.approx(1.6, abs=1e-12)
    assert lift("categorical", 0.62, 0.25) == pytest.approx(2.48, abs=1e-12)
    assert lift("categorical", 0.62, 0.01) == pytest.approx(62.0, abs=1e-12)  # at MIN_LIFT_SHARE: at most 100
    assert lift("categorical", 0.62, 0.0099) is None  # rarer than 1 %: no lift
    assert (
        lift("boolean", 0.5, 0.0) is None and lift("boolean", None, 0.5) is None and lift("boolean", 0.5, None) is None
    )
    assert lift("numeric", 7.84, 0.01) is None  # the 784 of issue 25


def test_rows_carried_from_an_older_release_get_the_new_rank_and_prevalence_kind():
    """A previous table written before prevalence_kind existed, ranking a feature of importance 0,
    with a numeric lift: the carried rows follow this release's rules."""
    ex = planted_examples(n=300)
    model_json = fit_run_model("r", ex, random_seed=1).to_json()
    population = ex.select(["noise_a", "planted", "noise_b", "noise_cat"])
    first = feature_report(_with_actions(model_rows(("r", "TRAINED", model_json)), "trained", "fp1"), ex, population)
    old = first.drop_columns(["prevalence_kind"])
    n = old.num_rows
    old = old.set_column(
        old.schema.get_field_index("importance"),
        "importance",
        pa.array([0.0 if f == "noise_a" else 0.1 for f in old.column("feature").to_pylist()]),
    )
    old = old.set_column(old.schema.get_field_index("rank"), "rank", pa.array(list(range(1, n + 1)), type=pa.int64()))
    reused = _with_actions(model_rows(("r", "TRAINED", model_json)), "reused", "fp1")
    rows = by_feature(feature_report(reused, ex, population, previous=old), "r")
    assert rows["noise_a"]["importance"] == 0.0 and rows["noise_a"]["rank"] is None
    assert sorted(r["rank"] for r in rows.values() if r["rank"] is not None) == [1, 2, 3]
    assert {f: r["prevalence_kind"] for f, r in rows.items()} == {
        "noise_a": "mean",
        "planted": "mean",
        "noise_b": "mean",
        "noise_cat": "top_category_share",
    }
    assert rows["planted"]["lift"] is None
