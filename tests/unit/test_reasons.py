"""Per-user reasons (lookalike_udf.reasons): contributions plus bias equal the raw score exactly for
every model type, a planted signal is the top reason, and the dbt entry point's rows."""

import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from scipy.special import expit, logit
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

from lookalike_udf import dbt_models
from lookalike_udf.estimators import hgb as hgb_type
from lookalike_udf.estimators import load as load_estimator
from lookalike_udf.estimators import logistic as logistic_type
from lookalike_udf.estimators import rf as rf_type
from lookalike_udf.integrity import model_sha256
from lookalike_udf.reasons import format_value, top_reasons
from lookalike_udf.scoring import LookalikeModel
from lookalike_udf.training import fit_run_model

EXACT = 1e-9


@pytest.fixture(scope="module")
def matrix():
    """A matrix with a numeric column with missing values, a categorical column (codes 0..4 and
    missing), a large-scale numeric column and a boolean; rows to explain with an unseen category,
    more missing values, missing where training had none, and infinities."""
    rng = np.random.default_rng(11)
    n = 1200
    X = np.c_[
        rng.normal(size=n),
        rng.integers(0, 5, n).astype(float),
        rng.normal(size=n) * 100,
        rng.integers(0, 2, n).astype(float),
    ]
    X[rng.random(n) < 0.1, 0] = np.nan
    X[rng.random(n) < 0.05, 1] = np.nan
    logit_ = 1.2 * np.nan_to_num(X[:, 0]) + (X[:, 1] == 3) * 1.5 + 0.01 * X[:, 2] - 0.5 * X[:, 3]
    y = (rng.random(n) < expit(logit_)).astype(int)
    w = rng.uniform(0.5, 2.0, n)
    X_new = X[:300].copy()
    X_new[:20, 1] = 7.0
    X_new[20:40, 0] = np.nan
    X_new[40:50, 3] = np.nan
    X_new[50:55, 2] = np.inf
    X_new[55:60, 0] = -np.inf
    return X, y, w, X_new


def round_trip(payload):
    return load_estimator(json.loads(json.dumps(payload, allow_nan=False)))


def assert_exact(scorer, X, raw):
    bias, contrib = scorer.contributions(X)
    assert bias.shape == (len(X),) and contrib.shape == (len(X), X.shape[1])
    np.testing.assert_allclose(bias + contrib.sum(axis=1), raw, rtol=0, atol=EXACT)
    assert np.ptp(bias) == 0  # one bias for every row


@pytest.mark.parametrize("engine", ["sklearn", "numpy"])
def test_hgb_contributions_sum_to_the_log_odds(matrix, engine):
    X, y, w, X_new = matrix
    clf = HistGradientBoostingClassifier(max_iter=60, max_leaf_nodes=8, categorical_features=[1], random_state=0)
    clf.fit(X, y, sample_weight=w)
    scorer = load_estimator(json.loads(json.dumps(hgb_type.dump(clf), allow_nan=False)), engine=engine)
    raw = clf.decision_function(X_new)
    np.testing.assert_allclose(scorer.predict_raw(X_new), raw, rtol=0, atol=1e-12)
    assert_exact(scorer, X_new, raw)
    assert scorer.raw_space == "log_odds"


def test_hgb_contributions_without_stored_counts(matrix):
    """Payloads keep node counts for inspection only; without them split nodes get the plain mean
    of their leaves and the sum stays exact."""
    X, y, w, X_new = matrix
    clf = HistGradientBoostingClassifier(max_iter=20, categorical_features=[1], random_state=0).fit(X, y)
    payload = hgb_type.dump(clf)
    for tree in payload["trees"]:
        del tree["nodes"]["count"]
    assert_exact(round_trip(payload), X_new, clf.decision_function(X_new))


def test_rf_contributions_sum_to_the_probability(matrix):
    X, y, w, X_new = matrix
    rf = RandomForestClassifier(n_estimators=25, min_samples_leaf=3, max_depth=8, random_state=0).fit(
        X, y, sample_weight=w
    )
    scorer = round_trip(rf_type.dump(rf))
    X_ok = np.where(np.isinf(X_new), np.nan, X_new)  # scikit-learn's forest cannot read infinities
    assert_exact(scorer, X_ok, rf.predict_proba(X_ok)[:, 1])
    assert_exact(scorer, X_new, scorer.predict_proba_positive(X_new))
    assert scorer.raw_space == "probability"


def test_logistic_contributions_sum_to_the_log_odds_grouped_by_input_feature(matrix):
    X, y, w, X_new = matrix
    mask = np.array([False, True, False, False])
    pipeline, numeric, categorical = logistic_type.build_pipeline(mask, 0)
    pipeline.fit(X, y, model__sample_weight=w)
    scorer = round_trip(logistic_type.dump(pipeline, numeric, categorical, 4))
    X_ok = np.where(np.isinf(X_new), np.nan, X_new)  # scikit-learn's pipeline cannot read infinities
    assert_exact(scorer, X_ok, pipeline.decision_function(X_ok))
    assert_exact(scorer, X_new, scorer.predict_raw(X_new))
    # Column 0 owns its standardised value and its missing indicator; column 1 its one-hot block.
    owners = scorer.design_owners()
    assert owners.tolist() == [0, 2, 3, 0] + [1] * len(scorer.categories[0])
    _, contrib = scorer.contributions(X_ok)
    design = scorer.design_matrix(X_ok)
    np.testing.assert_allclose(contrib[:, 0], design[:, 0] * scorer.coef[0] + design[:, 3] * scorer.coef[3], atol=1e-12)
    np.testing.assert_allclose(contrib[:, 1], design[:, 4:] @ scorer.coef[4:], atol=1e-12)


def arrow_examples(n=900, seed=0, negatives=True):
    """Training examples with a planted signal ``planted`` (positives high), a categorical
    ``tier`` that weakly follows the label, noise, and missing values."""
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < 0.4).astype(np.int32)
    planted = rng.normal(size=n) + 3.0 * label
    noise = rng.normal(size=n)
    tier = np.where(rng.random(n) < 0.5 + 0.2 * label, "pro", "free").astype(object)
    tier[rng.random(n) < 0.05] = None
    noise[rng.random(n) < 0.1] = np.nan
    return pa.table(
        {
            "example_id": [f"e{i}" for i in range(n)],
            "run_id": ["r"] * n,
            "user_id": [f"{i:05d}" for i in range(n)],
            "label": pa.array(label),
            "weight": pa.array(np.ones(n)),
            "as_of_at": pa.array([None] * n, type=pa.timestamp("us")),
            "snapshot_at": pa.array([None] * n, type=pa.timestamp("us")),
            "example_source": ["label" if negatives or lab else "unlabeled_sample" for lab in label],
            "split": np.where(np.arange(n) % 5 == 0, "test", "train").tolist(),
            "planted": planted,
            "tier": pa.array(tier.tolist(), pa.string()),
            "noise": pa.array(noise, from_pandas=True),
            "flag": (rng.random(n) < 0.5).tolist(),
        }
    )


@pytest.fixture(scope="module")
def fitted():
    """Run models of every type, supervised and bagging PU (4 bags), keyed by (model_type, pu)."""
    sup, pu = arrow_examples(), arrow_examples(negatives=False)
    models = {}
    for model_type in ("hgb", "rf", "logistic"):
        models[(model_type, False)] = fit_run_model("r", sup, 3, model_type=model_type)
        models[(model_type, True)] = fit_run_model("r", pu, 3, model_type=model_type, pu_bags=4)
    return models, sup


@pytest.mark.parametrize("model_type", ["hgb", "rf", "logistic"])
@pytest.mark.parametrize("bagging", [False, True], ids=["single", "bagging"])
def test_run_model_contributions_are_exact(fitted, model_type, bagging):
    models, rows = fitted
    model = LookalikeModel.from_json(models[(model_type, bagging)].to_json())
    assert model.is_bagging is bagging
    bias, contrib = model.contributions(rows)
    total = bias + contrib.sum(axis=1)
    assert contrib.shape == (rows.num_rows, len(model.feature_names))
    # The raw score, computed independently of the contributions.
    members = model._scorer.members if bagging else [model._scorer]
    member_scores = np.vstack([m.predict_proba_positive(model.encoder.transform(rows)) for m in members])
    expected = member_scores.mean(axis=0) if model_type == "rf" else logit(member_scores).mean(axis=0)
    np.testing.assert_allclose(total, expected, rtol=0, atol=EXACT)
    np.testing.assert_allclose(model.predict_raw(rows), expected, rtol=0, atol=EXACT)
    assert model.raw_space == ("probability" if model_type == "rf" else "log_odds")
    if not bagging or model_type == "rf":  # the score itself follows from the raw score
        score = model.predict(rows)
        np.testing.assert_allclose(total if model_type == "rf" else expit(total), score, rtol=0, atol=EXACT)
    # top_reasons keeps the identity per row: bias + listed reasons + the rest = raw score.
    reasons = top_reasons(model, rows)
    listed = sum(np.nan_to_num(reasons[f"reason_{r}_contribution"]) for r in (1, 2, 3))
    np.testing.assert_allclose(
        reasons["bias"] + listed + reasons["other_contribution"], reasons["raw_score"], rtol=0, atol=EXACT
    )


@pytest.mark.parametrize("model_type", ["hgb", "rf", "logistic"])
@pytest.mark.parametrize("bagging", [False, True], ids=["single", "bagging"])
def test_a_planted_signal_is_the_top_reason(fitted, model_type, bagging):
    models, rows = fitted
    model = models[(model_type, bagging)]
    user = pa.table({"planted": [6.5], "tier": ["free"], "noise": [0.0], "flag": [False]})
    reasons = top_reasons(model, user)
    assert reasons["reason_1_feature"] == ["planted"]
    assert reasons["reason_1_value"] == ["6.5"]
    assert reasons["reason_1_contribution"][0] > 0
    # Reasons only push the score up, largest first.
    contributions = [reasons[f"reason_{r}_contribution"][0] for r in (1, 2, 3)]
    present = [c for c in contributions if not math.isnan(c)]
    assert all(c > 0 for c in present) and present == sorted(present, reverse=True)
    # A user low on the planted signal: it pulls the score down and is no reason.
    low = top_reasons(model, pa.table({"planted": [-4.0], "tier": ["free"], "noise": [0.0], "flag": [False]}))
    assert "planted" not in [low[f"reason_{r}_feature"][0] for r in (1, 2, 3)]
    assert low["other_contribution"][0] < 0


def test_format_value():
    assert [
        format_value(v) for v in (None, True, False, 3, 12.5, 3.0, 0.1, 1e20, float("nan"), float("-inf"), "pro")
    ] == [None, "true", "false", "3", "12.5", "3", "0.1", "1e+20", "NaN", "-Infinity", "pro"]


def test_format_value_rounds_to_four_significant_digits_and_keeps_integer_digits():
    """Issue 25: reason values printed unrounded (0.13597775996465733, 33.08264720775463)."""
    from decimal import Decimal

    values = [
        0.13597775996465733,
        33.08264720775463,
        2 / 3,
        -2 / 3,
        1234.5678,
        123456.7,
        99999.99,
        0.99995,
        -0.00045678,
        0.00001234567,
        2e15 / 3,
        -0.0,
        0.0,
        1234567891234,
        Decimal("12.3456789"),
        Decimal("1234567.891"),
        Decimal("100.00"),
        Decimal("-3.14159"),
        Decimal("0.000"),
    ]
    assert [format_value(v) for v in values] == [
        "0.136",
        "33.08",
        "0.6667",
        "-0.6667",
        "1235",
        "123457",
        "100000",
        "1",
        "-0.0004568",
        "1.235e-05",
        "666666666666667",
        "0",
        "0",
        "1234567891234",
        "12.35",
        "1234568",
        "100",
        "-3.142",
        "0",
    ]


def model_row(run_id, model):
    text = model.to_json()
    return {"run_id": run_id, "model_status": "TRAINED", "model_json": text, "model_sha256": model_sha256(text)}


def test_user_reasons_entry_point_reads_only_the_audience_rows(fitted):
    models, rows = fitted
    features = rows.select(["user_id", "planted", "tier", "noise", "flag"]).slice(0, 50)
    audience = pa.concat_tables(
        [
            features.append_column("run_id", pa.array(["a"] * 50)),
            features.slice(0, 10).append_column("run_id", pa.array(["b"] * 10)),
            features.slice(0, 5).append_column("run_id", pa.array(["not_trained"] * 5)),
        ]
    )
    audience = audience.append_column("audience_score", pa.array(np.linspace(1, 0, 65)))
    audience = audience.append_column("audience_score_rank", pa.array(np.arange(1, 66)))
    tampered = model_row("b", models[("rf", False)])
    tampered["model_json"] = tampered["model_json"].replace('"value":[', '"value":[0.5,', 1)
    model_rows = pa.Table.from_pylist(
        [
            model_row("a", models[("hgb", True)]),
            tampered,
            {"run_id": "c", "model_status": "FAILED", "model_json": None, "model_sha256": None},
        ]
    )
    out = dbt_models.user_reasons(model_rows, audience, batch_size=16).read_all()
    assert out.schema == dbt_models.REASON_SCHEMA
    # Run b's model fails its checksum and not_trained has none: only run a has rows, one per user.
    assert set(out.column("run_id").to_pylist()) == {"a"} and out.num_rows == 50
    assert sorted(out.column("user_id").to_pylist()) == sorted(features.column("user_id").to_pylist())
    assert out.column("raw_score_space").to_pylist() == ["log_odds"] * 50
    assert set(out.column("model_sha256").to_pylist()) == {model_sha256(models[("hgb", True)].to_json())}
    t = out.to_pydict()
    listed = sum(np.nan_to_num(np.array(t[f"reason_{r}_contribution"], dtype=float)) for r in (1, 2, 3))
    np.testing.assert_allclose(
        np.array(t["bias"]) + listed + np.array(t["other_contribution"]), t["raw_score"], atol=EXACT
    )
    # A null contribution means no reason at that rank: feature and value are null too.
    for r in (1, 2, 3):
        missing = pc.is_null(out.column(f"reason_{r}_contribution")).to_pylist()
        assert missing == pc.is_null(out.column(f"reason_{r}_feature")).to_pylist()


def test_hgb_contributions_from_leaf_paths_equal_the_node_walk(matrix):
    """The compiled engine adds each row's whole leaf path at once; the numpy engine walks the
    nodes step by step. Same steps, so the same contributions (to rounding), NaN, inf and unseen
    categories included."""
    X, y, w, X_new = matrix
    clf = HistGradientBoostingClassifier(
        max_iter=40, max_leaf_nodes=8, max_depth=3, categorical_features=[1], random_state=2
    ).fit(X, y, sample_weight=w)
    payload = json.loads(json.dumps(hgb_type.dump(clf), allow_nan=False))
    fast = load_estimator(payload, engine="sklearn")
    walk = load_estimator(payload, engine="numpy")
    bias_fast, contrib_fast = fast.contributions(X_new)
    bias_walk, contrib_walk = walk.contributions(X_new)
    np.testing.assert_allclose(bias_fast, bias_walk, rtol=0, atol=1e-12)
    np.testing.assert_allclose(contrib_fast, contrib_walk, rtol=0, atol=1e-12)
    assert np.count_nonzero(contrib_fast) > len(X_new)  # several features per row, not a trivial model
    # Enough rows x trees (30,000 x 40) for the trees to be split between two threads.
    big = np.tile(X_new, (100, 1))
    np.testing.assert_allclose(fast.contributions(big)[1], np.tile(contrib_walk, (100, 1)), rtol=0, atol=1e-12)
