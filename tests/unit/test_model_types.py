"""Model types (hgb, rf, logistic, auto): JSON parity with scikit-learn, malformed payloads, the
choice of auto, and the settings sample_size, extra_attention and expected_positive_share."""

import copy
import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score

from lookalike_udf import dbt_models
from lookalike_udf.errors import RunValidationError
from lookalike_udf.estimators import ModelFormatError
from lookalike_udf.estimators import load as load_estimator
from lookalike_udf.estimators import logistic as logistic_type
from lookalike_udf.estimators import rf as rf_type
from lookalike_udf.scoring import LookalikeModel
from lookalike_udf.training import balance_weights, fit_run_model, sample_down
from lookalike_udf.tuning import select_model_type
from lookalike_udf.validation import check_run


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    n = 1500
    X = np.c_[
        rng.normal(size=n),  # numeric with missing values
        rng.integers(0, 5, n).astype(float),  # categorical codes 0..4 (with missing)
        rng.normal(size=n) * 100,  # numeric, large scale
        rng.integers(0, 2, n).astype(float),  # boolean
    ]
    X[rng.random(n) < 0.1, 0] = np.nan
    X[rng.random(n) < 0.05, 1] = np.nan
    logit = 1.2 * np.nan_to_num(X[:, 0]) + (X[:, 1] == 3) * 1.5 + 0.01 * X[:, 2] - 0.5 * X[:, 3]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    w = rng.uniform(0.5, 2.0, n)
    X_new = X[:400].copy()
    X_new[:20, 1] = 7.0  # an unseen category code
    X_new[20:40, 0] = np.nan  # more missing values
    X_new[40:50, 3] = np.nan  # missing where training had none
    return X, y, w, X_new


def test_rf_parity_with_predict_proba(data):
    X, y, w, X_new = data
    rf = RandomForestClassifier(n_estimators=25, min_samples_leaf=3, max_depth=8, random_state=0).fit(
        X, y, sample_weight=w
    )
    payload = json.loads(json.dumps(rf_type.dump(rf), allow_nan=False))
    scorer = load_estimator(payload)
    np.testing.assert_allclose(scorer.predict_proba_positive(X_new), rf.predict_proba(X_new)[:, 1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(scorer.predict_proba_positive(X), rf.predict_proba(X)[:, 1], rtol=0, atol=1e-12)


def test_logistic_parity_with_predict_proba(data):
    X, y, w, X_new = data
    mask = np.array([False, True, False, False])
    pipeline, numeric, categorical = logistic_type.build_pipeline(mask, 0)
    pipeline.fit(X, y, model__sample_weight=w)
    payload = json.loads(json.dumps(logistic_type.dump(pipeline, numeric, categorical, 4), allow_nan=False))
    assert payload["indicator_columns"] == [0]  # only column 0 had missing training values
    assert payload["categories"][0] == [0.0, 1.0, 2.0, 3.0, 4.0, "nan"]
    scorer = load_estimator(payload)
    np.testing.assert_allclose(
        scorer.predict_proba_positive(X_new), pipeline.predict_proba(X_new)[:, 1], rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(scorer.predict_proba_positive(X), pipeline.predict_proba(X)[:, 1], rtol=0, atol=1e-12)


def test_rare_category_codes_get_no_column_and_score_like_unseen_codes():
    """Decision 0034: a code seen in fewer than MIN_CATEGORY_ROWS (10) training rows is encoded as
    all zeros, like a code first seen at scoring time; the stored format is unchanged."""
    assert logistic_type.MIN_CATEGORY_ROWS == 10
    rng = np.random.default_rng(8)
    codes = np.r_[np.zeros(200), np.ones(150), np.full(9, 2.0), np.full(10, 3.0), np.full(9, np.nan)]
    n = len(codes)
    X = np.c_[rng.normal(size=n), codes]
    y = (rng.random(n) < 1 / (1 + np.exp(-(X[:, 0] + (codes == 1))))).astype(int)
    y[350:359] = 1  # code 2 is all positives: with its own column it would get a large coefficient
    mask = np.array([False, True])
    payload, params = logistic_type.fit(X, y, np.ones(n), mask, 0)
    # 2 (9 rows) and missing (9 rows) are rare; 3 (10 rows) keeps its column
    assert payload["categories"] == [[0.0, 1.0, 3.0]]
    assert len(payload["coef"]) == 1 + 3  # the number, then one column per kept code
    assert params == {"C": 1.0, "max_iter": 2000, "random_state": 0, "n_iter": params["n_iter"]}
    scorer = load_estimator(json.loads(json.dumps(payload, allow_nan=False)))
    rows = np.array([[0.5, 2.0], [0.5, np.nan], [0.5, 7.0], [0.5, 0.0], [0.5, 1.0]])
    p = scorer.predict_proba_positive(rows)
    assert p[0] == p[1] == p[2]  # rare, rare missing and unseen: the same all-zeros encoding
    assert len({p[0], p[3], p[4]}) == 3
    # the payload scores exactly like the scikit-learn pipeline it was dumped from
    pipeline, numeric, categorical = logistic_type.build_pipeline(mask, 0)
    pipeline.set_params(prepare__cat__categories=logistic_type.frequent_categories(X, categorical))
    pipeline.fit(X, y, model__sample_weight=np.ones(n))
    np.testing.assert_allclose(p, pipeline.predict_proba(rows)[:, 1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(scorer.predict_proba_positive(X), pipeline.predict_proba(X)[:, 1], rtol=0, atol=1e-12)
    # a column without any frequent code keeps its most frequent one (9 rows of 2, 9 of 3: the first)
    assert [c.tolist() for c in logistic_type.frequent_categories(X[350:368], [1])] == [[2.0]]


@pytest.fixture(scope="module")
def payloads(data):
    X, y, w, _ = data
    rf = RandomForestClassifier(n_estimators=3, max_depth=4, random_state=0).fit(X, y)
    pipeline, numeric, categorical = logistic_type.build_pipeline(np.array([False, True, False, False]), 0)
    pipeline.fit(X, y)
    return {"rf": rf_type.dump(rf), "logistic": logistic_type.dump(pipeline, numeric, categorical, 4)}


@pytest.mark.parametrize(
    "kind, mutate, message",
    [
        ("rf", lambda p: p.update(trees=[]), "non-empty"),
        ("rf", lambda p: p["trees"][0]["left"].__setitem__(0, 0), "invalid child"),
        ("rf", lambda p: p["trees"][0]["feature"].__setitem__(0, 9), "feature index outside"),
        ("rf", lambda p: p["trees"][0]["value"].__setitem__(0, 1.5), "probabilities"),
        ("rf", lambda p: p["trees"][0]["threshold"].pop(), "threshold: expected a list of"),
        ("rf", lambda p: p["trees"][0]["threshold"].__setitem__(0, "nan"), "NaN is not a valid threshold"),
        ("rf", lambda p: p["trees"][0]["left"].__setitem__(0, -3), "expected integers"),
        ("logistic", lambda p: p.update(coef=p["coef"][:-1]), "coef: expected a list of"),
        ("logistic", lambda p: p.update(categorical_columns=[0]), "split the feature indices"),
        ("logistic", lambda p: p["scale"].__setitem__(0, 0.0), "scale must be positive"),
        ("logistic", lambda p: p.update(intercept="inf"), "intercept must be finite"),
        ("logistic", lambda p: p.update(categories=[]), "one list per categorical column"),
        ("logistic", lambda p: p.update(indicator_columns=[5]), "indicator_columns"),
        ("logistic", lambda p: p.update(format="pickle"), "format 'pickle'"),
    ],
)
def test_malformed_payloads_are_refused(payloads, kind, mutate, message):
    bad = copy.deepcopy(payloads[kind])
    mutate(bad)
    with pytest.raises(ModelFormatError, match=message):
        load_estimator(bad)


def examples(n=600, seed=0, negatives=True, linear=False):
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < 0.4).astype(np.int32)
    signal = rng.normal(size=n) + 1.5 * label
    return pa.table(
        {
            "example_id": [f"x{i}" for i in range(n)],
            "run_id": ["r"] * n,
            "user_id": [f"{i // 2:05d}" for i in range(n)],  # two examples per user
            "label": pa.array(label),
            "weight": pa.array(np.where(label == 1, 2.0, 1.0)),
            "as_of_at": pa.array([None] * n, type=pa.timestamp("us")),
            "snapshot_at": pa.array([None] * n, type=pa.timestamp("us")),
            "example_source": ["label" if negatives or v else "unlabeled_sample" for v in label],
            "split": np.where((np.arange(n) // 2) % 5 == 0, "test", "train").tolist(),
            "signal": signal,
            "tier": np.where(rng.random(n) < 0.5 + 0.3 * label, "pro", "free").tolist(),
            "noise": rng.normal(size=n),
        }
    )


@pytest.mark.parametrize("model_type", ["hgb", "rf", "logistic"])
def test_each_model_type_learns_and_round_trips(model_type):
    t = examples()
    model = fit_run_model("r", t, 3, model_type=model_type)
    assert model.params["model_type"] == model_type and model.params["model_type_requested"] == model_type
    test = t.filter(pc.equal(t.column("split"), "test"))
    scores = model.predict(test)
    assert roc_auc_score(test.column("label").to_numpy(), scores) > 0.8
    again = LookalikeModel.from_json(model.to_json())
    np.testing.assert_array_equal(again.predict(test), scores)
    assert fit_run_model("r", t, 3, model_type=model_type).to_json() == model.to_json()


def test_bagging_pu_works_with_every_base_type():
    t = examples(negatives=False)
    for model_type in ("rf", "logistic"):
        model = fit_run_model("r", t, 3, model_type=model_type, pu_bags=4)
        assert model.is_bagging and model.params["training_method"] == "pu_bagging"
        assert json.loads(model.to_json())["estimator"]["members"][0]["format"] == f"lookalike-{model_type}/1"
        assert len(np.unique(model.predict_training(t))) > 50


def test_auto_picks_the_best_cross_validated_type_and_records_it():
    t = examples()
    model = fit_run_model("r", t, 3, model_type="auto")
    selection = model.params["model_selection"]
    assert set(selection["cv_auc"]) == {"hgb", "rf", "logistic"} and selection["n_folds"] == 3
    assert selection["chosen"] == model.params["model_type"] == max(selection["cv_auc"], key=selection["cv_auc"].get)
    assert model.params["model_type_requested"] == "auto"


def test_auto_prefers_logistic_on_a_purely_linear_signal():
    rng = np.random.default_rng(0)
    n = 400
    X = rng.normal(size=(n, 5))
    y = (X @ np.array([1.0, -1.0, 0.8, 0.5, -0.5]) + 0.3 * rng.normal(size=n) > 0).astype(int)
    chosen, record = select_model_type(X, y, np.ones(n), np.zeros(5, dtype=bool), [str(i) for i in range(n)], 1)
    assert chosen == "logistic" and record["cv_auc"]["logistic"] > record["cv_auc"]["hgb"]


def test_sample_down_keeps_class_balance_and_total_weights():
    t = examples(n=1000).filter(pc.equal(examples(n=1000).column("split"), "train"))
    kept, weights = sample_down(t, 100, 7)
    assert kept.num_rows == 100
    y_all, w_all = t.column("label").to_numpy(), t.column("weight").to_numpy()
    y = kept.column("label").to_numpy()
    assert abs(y.mean() - y_all.mean()) < 0.01
    for cls in (0, 1):
        assert weights[y == cls].sum() == pytest.approx(w_all[y_all == cls].sum())
    again, _ = sample_down(t, 100, 7)
    assert again.column("example_id").to_pylist() == kept.column("example_id").to_pylist()
    model = fit_run_model("r", examples(n=1000), 7, sample_size=100)
    assert model.params["n_train_rows"] == 100 and model.params["sampled_from_rows"] == 800


def test_extra_attention_balances_class_weights():
    y = np.array([1, 0, 0, 0, 0])
    w = balance_weights(y, np.array([2.0, 1.0, 1.0, 1.0, 1.0]))
    assert w[y == 1].sum() == pytest.approx(w[y == 0].sum()) == pytest.approx(3.0)
    model = fit_run_model("r", examples(), 3, extra_attention=True)
    assert model.params["extra_attention"] is True


def test_bad_settings_name_the_run_and_the_fix():
    t = examples()
    with pytest.raises(RunValidationError, match="run 'r': model_type 'xgb' is not one of hgb, rf, logistic, auto"):
        fit_run_model("r", t, 1, model_type="xgb")
    with pytest.raises(RunValidationError, match="sample_size 5 must be between 20 and 1000000000000"):
        fit_run_model("r", t, 1, sample_size=5)
    with pytest.raises(RunValidationError) as error:
        fit_run_model("r", t, 1, model_type="Logistc")
    assert str(error.value) == (
        "run 'r': model_type 'Logistc' is not one of hgb, rf, logistic, auto, hgb_or_logistic, hgb_logistic_or_rf. "
        "Did you mean 'logistic'? Fix the runs input column or var lookalike_model_type "
        "(null means the variable)."
    )
    run = {
        "run_id": "x",
        "engagement_type": "MULTI_ENGAGE",
        "test_fraction": 0.2,
        "model_type": "hbg",
        "sample_size": 3,
        "expected_positive_share": 1.0,
    }
    errors = check_run(run, {"n_input_labels": 1}).errors
    assert errors[0] == (
        "run 'x': model_type 'hbg' is not one of hgb, rf, logistic, auto, hgb_or_logistic, hgb_logistic_or_rf. Did you mean "
        "'hgb'? Fix the runs input column or var lookalike_model_type (null means the variable)."
    )
    run["model_type"] = "xgboost"  # nothing close: no guess
    assert check_run(run, {"n_input_labels": 1}).errors[0] == (
        "run 'x': model_type 'xgboost' is not one of hgb, rf, logistic, auto, hgb_or_logistic, hgb_logistic_or_rf. Fix the runs input "
        "column or var lookalike_model_type (null means the variable)."
    )
    assert errors[1].startswith("run 'x': sample_size 3 must be between 20 and 1000000000000 (null = no limit).")
    assert errors[2].startswith("run 'x': expected_positive_share 1.0 must be at least 0 and below 1")


def test_train_models_records_the_model_type():
    t = examples()
    runs = pa.Table.from_pylist(
        [
            {
                "run_id": "r",
                "is_declared": True,
                "n_declared": 1,
                "engagement_type": "MULTI_ENGAGE",
                "min_seed_users": 10,
                "test_fraction": 0.2,
                "random_seed": 5,
                "build_only": False,
                "model_type": "rf",
                "sample_size": None,
                "extra_attention": False,
            }
        ]
    )
    labels = t.column("label").to_numpy()
    summary = pa.Table.from_pylist(
        [
            {
                "run_id": "r",
                "n_input_labels": t.num_rows,
                "n_positive_users": int(labels.sum()),
                "n_negative_users": int((1 - labels).sum()),
                "n_positive_labels": int(labels.sum()),
                "n_negative_labels": int((1 - labels).sum()),
                "n_matched_labels": t.num_rows,
                "n_matched_positive_labels": int(labels.sum()),
                "n_matched_negative_labels": int((1 - labels).sum()),
            }
        ]
    )
    row = dbt_models.train_models(runs, summary, t).to_pylist()[0]
    assert row["model_status"] == "TRAINED" and row["model_type"] == "rf"
    assert json.loads(row["model_params"])["estimator"] == "RandomForestClassifier"
