"""model_type hgb_or_logistic (the default until decision 0034): hgb unless logistic wins by repeated
CV by more than the fold noise on a small supervised train split (decision 0017)."""

import json

import numpy as np
import pyarrow as pa
import pytest

from lookalike_udf import estimators, tuning
from lookalike_udf.training import fit_run_model


def linear(n, seed):
    """A logit linear in six of eight numbers: logistic regression's home ground."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8))
    beta = np.r_[np.linspace(1.5, 0.5, 6), 0.0, 0.0]
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ beta)))).astype(np.int64)
    return X, y


def xor(n, seed):
    """The label is the XOR of two signs (10 % flipped): no linear model does better than chance."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 4))
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(np.int64)
    flip = rng.random(n) < 0.1
    y[flip] = 1 - y[flip]
    return X, y


def choose(X, y, w=None, seed=1, **kwargs):
    w = np.ones(len(y)) if w is None else w
    return tuning.choose_hgb_or_logistic(X, y, w, np.zeros(X.shape[1], dtype=bool), np.arange(len(y)), seed, **kwargs)


def as_examples(X, y, w=None, negatives=True, split=None):
    n = len(y)
    columns = {
        "example_id": [f"e{i:05d}" for i in range(n)],
        "run_id": ["r"] * n,
        "user_id": [f"u{i:05d}" for i in range(n)],
        "label": pa.array(y.astype(np.int32)),
        "weight": pa.array(np.ones(n) if w is None else w),
        "as_of_at": pa.array([None] * n, type=pa.timestamp("us")),
        "snapshot_at": pa.array([None] * n, type=pa.timestamp("us")),
        "example_source": ["label" if negatives or v else "unlabeled_sample" for v in y],
        "split": split if split is not None else ["train"] * n,
    }
    columns.update({f"x{j}": X[:, j] for j in range(X.shape[1])})
    return pa.table(columns)


def test_hgb_or_logistic_is_a_choice_and_no_longer_the_default():
    assert estimators.DEFAULT_MODEL_TYPE == "hgb_logistic_or_rf"  # decision 0034
    assert "hgb_or_logistic" in estimators.model_types()
    with pytest.raises(ValueError, match="unknown model type"):
        estimators.get("hgb_or_logistic")


def test_a_small_linear_train_split_gets_logistic_with_its_figures_recorded():
    X, y = linear(400, 0)
    model = fit_run_model("r", as_examples(X, y), 3, model_type="hgb_or_logistic")
    params = model.params
    assert params["model_type"] == "logistic" and params["model_type_requested"] == "hgb_or_logistic"
    assert params["estimator"] == "LogisticRegression"
    sel = params["model_selection"]
    assert sel["method"] == "hgb_or_logistic" and sel["chosen"] == "logistic"
    assert sel["n_folds"] == tuning.CHOICE_FOLDS and sel["n_repeats"] == tuning.CHOICE_REPEATS
    assert sel["n_differences"] == tuning.CHOICE_FOLDS * tuning.CHOICE_REPEATS
    assert sel["mean_difference"] > sel["standard_error"] > 0
    assert sel["cv_auc"]["logistic"] - sel["cv_auc"]["hgb"] == pytest.approx(sel["mean_difference"], abs=2e-6)
    assert sel["n_train_rows"] == 400 and sel["max_rows"] == tuning.CHOICE_MAX_ROWS
    json.dumps(params)  # lands in lookalike_run_models.model_params as JSON


def test_a_non_linear_train_split_keeps_hgb():
    X, y = xor(400, 0)
    chosen, record = choose(X, y)
    assert chosen == "hgb" and record["chosen"] == "hgb"
    assert record["cv_auc"]["hgb"] > record["cv_auc"]["logistic"] + 0.1
    assert record["mean_difference"] < 0


def test_the_choice_follows_the_sample_weights():
    """Half the rows carry a linear signal, half an XOR: the weights decide which half counts."""
    rng = np.random.default_rng(0)
    n = 600
    group = (rng.random(n) < 0.5).astype(float)
    X = rng.normal(size=(n, 8))
    y_linear = (rng.random(n) < 1 / (1 + np.exp(-2 * X[:, :6].sum(axis=1) / np.sqrt(6)))).astype(np.int64)
    y_xor = ((X[:, 6] > 0) ^ (X[:, 7] > 0)).astype(np.int64)
    y = np.where(group == 1, y_xor, y_linear)
    X = np.column_stack([X, group])
    linear_weighted, record_l = choose(X, y, np.where(group == 0, 1.0, 0.01))
    xor_weighted, record_x = choose(X, y, np.where(group == 1, 1.0, 0.01))
    assert (linear_weighted, xor_weighted) == ("logistic", "hgb"), (record_l, record_x)


def test_the_choice_is_deterministic_for_a_seed():
    X, y = linear(300, 2)
    t = as_examples(X, y)
    first = fit_run_model("r", t, 7, model_type="hgb_or_logistic")
    second = fit_run_model("r", t, 7, model_type="hgb_or_logistic")
    assert first.to_json() == second.to_json()
    assert first.params["model_selection"] == second.params["model_selection"]


def test_a_large_train_split_keeps_hgb_without_any_extra_fit(monkeypatch):
    X, y = linear(400, 1)
    t = as_examples(X, y)
    monkeypatch.setattr(tuning, "CHOICE_MAX_ROWS", 399)
    fits = []
    real_fit = estimators.fit
    monkeypatch.setattr(estimators, "fit", lambda *a, **k: fits.append(a[0]) or real_fit(*a, **k))
    model = fit_run_model("r", t, 3, model_type="hgb_or_logistic")
    assert fits == ["hgb"]  # the run's own model, nothing else
    sel = model.params["model_selection"]
    assert sel == {
        "method": "hgb_or_logistic",
        "n_train_rows": 400,
        "max_rows": 399,
        "chosen": "hgb",
        "reason": "train split above 399 rows: hgb kept without cross-validation",
    }
    assert model.params["model_type"] == "hgb"
    plain = fit_run_model("r", t, 3, model_type="hgb")
    assert json.loads(model.to_json())["estimator"] == json.loads(plain.to_json())["estimator"]


def test_positive_only_runs_keep_the_hgb_bagging_model_unchanged():
    X, y = linear(300, 3)
    t = as_examples(X, y, negatives=False)
    default = fit_run_model("r", t, 5, pu_bags=3, model_type="hgb_or_logistic")
    hgb = fit_run_model("r", t, 5, pu_bags=3, model_type="hgb")
    assert default.params["training_method"] == "pu_bagging" and default.params["model_type"] == "hgb"
    assert json.loads(default.to_json())["estimator"] == json.loads(hgb.to_json())["estimator"]
    assert default.params["model_selection"]["reason"] == "run without negatives: hgb kept without cross-validation"


def test_too_few_examples_of_a_class_keep_hgb():
    X, y = linear(60, 4)
    y[:] = 0
    y[:1] = 1
    chosen, record = choose(X, y)
    assert chosen == "hgb" and record["n_differences"] == 0 and "too few" in record["reason"]
