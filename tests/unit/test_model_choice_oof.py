"""model_type hgb_logistic_or_rf: hgb, logistic or rf chosen from out-of-fold predictions on the
train split, hgb kept unless a challenger is ahead by more than the fold noise (decision 0034)."""

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from lookalike_udf import estimators, tuning
from lookalike_udf.estimators import hgb as hgb_type
from lookalike_udf.training import fit_run_model, refit_model
from test_model_choice import as_examples, linear, xor


def checkerboard(n, seed):
    """A 4 x 4 checkerboard on two of six numbers (10 % flipped): deep forest trees carve it; the
    shallow hgb trees (8 leaves, depth 3) often stop early on it at this size, and no linear model
    does better than chance."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 4, size=(n, 6))
    y = ((np.floor(X[:, 0]) + np.floor(X[:, 1])) % 2).astype(np.int64)
    flip = rng.random(n) < 0.1
    y[flip] = 1 - y[flip]
    return X, y


def choose(X, y, w=None, seed=1, **kwargs):
    w = np.ones(len(y)) if w is None else w
    mask = np.zeros(X.shape[1], dtype=bool)
    return tuning.choose_hgb_logistic_or_rf(X, y, w, mask, np.arange(len(y)), seed, **kwargs)


def test_the_new_value_is_a_choice_not_a_type():
    assert estimators.HGB_LOGISTIC_OR_RF == "hgb_logistic_or_rf"
    assert estimators.model_types()[-1] == "hgb_logistic_or_rf"
    assert estimators.HGB_LOGISTIC_OR_RF in estimators.CHOICES
    assert tuning.OOF_CANDIDATES == ("hgb", "logistic", "rf")
    with pytest.raises(ValueError, match="unknown model type 'hgb_logistic_or_rf'"):
        estimators.get("hgb_logistic_or_rf")


# --- The rule, on hand-computed figures -------------------------------------------------------


def test_the_rule_takes_a_challenger_ahead_by_more_than_one_standard_error():
    # rf - hgb per fold: 0.02, 0.04, 0.03, 0.05, 0.01 -> mean 0.03, sd 0.015811, se 0.007071
    fold = {
        "hgb": [0.70, 0.70, 0.70, 0.70, 0.70],
        "logistic": [0.69, 0.70, 0.71, 0.70, 0.70],
        "rf": [0.72, 0.74, 0.73, 0.75, 0.71],
    }
    chosen, figures = tuning.oof_rule({"hgb": 0.70, "logistic": 0.701, "rf": 0.73}, fold)
    assert chosen == "rf"
    assert figures == {"challenger": "rf", "mean_difference": 0.03, "standard_error": 0.007071}
    # ahead by 0.03 with se 0.0071: 4.2 standard errors; a margin of 5 keeps hgb
    assert tuning.oof_rule({"hgb": 0.70, "logistic": 0.701, "rf": 0.73}, fold, margin_se=5.0)[0] == "hgb"


def test_the_rule_keeps_hgb_when_the_best_challenger_is_within_the_noise():
    # logistic - hgb per fold: +0.05, -0.04, +0.03, -0.02, +0.005 -> mean 0.005, se 0.0168
    fold = {
        "hgb": [0.80, 0.80, 0.80, 0.80, 0.80],
        "logistic": [0.85, 0.76, 0.83, 0.78, 0.805],
        "rf": [0.79, 0.79, 0.79, 0.79, 0.79],
    }
    chosen, figures = tuning.oof_rule({"hgb": 0.800, "logistic": 0.804, "rf": 0.790}, fold)
    assert chosen == "hgb"
    assert figures["challenger"] == "logistic" and figures["mean_difference"] == 0.005
    assert figures["standard_error"] == pytest.approx(
        np.std([0.05, -0.04, 0.03, -0.02, 0.005], ddof=1) / 5**0.5, abs=1e-6
    )


def test_the_challenger_is_the_best_out_of_fold_and_must_be_ahead_of_hgb_there_too():
    fold = {"hgb": [0.70, 0.71, 0.72], "logistic": [0.75, 0.76, 0.77], "rf": [0.60, 0.61, 0.62]}
    # logistic is ahead in every fold, but its pooled out-of-fold AUC is not above hgb's: hgb kept
    assert tuning.oof_rule({"hgb": 0.75, "logistic": 0.74, "rf": 0.60}, fold)[0] == "hgb"
    assert tuning.oof_rule({"hgb": 0.71, "logistic": 0.76, "rf": 0.61}, fold) == (
        "logistic",
        {"challenger": "logistic", "mean_difference": 0.05, "standard_error": 0.0},
    )


# --- The choice on data -----------------------------------------------------------------------


def test_out_of_fold_predictions_come_from_the_fold_model_that_did_not_see_the_row():
    X, y = linear(200, 5)
    w = np.ones(len(y))
    mask = np.zeros(X.shape[1], dtype=bool)
    folds, predictions = tuning.oof_scores(X, y, w, mask, np.arange(len(y)), 3)
    assert len(folds) == tuning.OOF_FOLDS
    assert sorted(np.concatenate([v for _, v in folds]).tolist()) == list(range(200))  # each row once
    assert set(predictions) == {"hgb", "logistic", "rf"}
    train_idx, valid_idx = folds[2]
    payload, _ = estimators.fit("rf", X[train_idx], y[train_idx], w[train_idx], mask, 3)
    expected = estimators.load(payload).predict_proba_positive(X[valid_idx])
    np.testing.assert_array_equal(predictions["rf"][valid_idx], expected)
    assert not np.isnan(predictions["logistic"]).any()


def test_a_small_linear_train_split_gets_logistic_with_its_figures_recorded():
    X, y = linear(400, 0)
    model = fit_run_model("r", as_examples(X, y), 3, model_type="hgb_logistic_or_rf")
    params = model.params
    assert params["model_type"] == "logistic" and params["model_type_requested"] == "hgb_logistic_or_rf"
    sel = params["model_selection"]
    assert sel["method"] == "hgb_logistic_or_rf" and sel["chosen"] == "logistic" and sel["challenger"] == "logistic"
    assert sel["candidates"] == ["hgb", "logistic", "rf"] and sel["n_folds"] == 5 and sel["margin_se"] == 1.0
    assert sel["n_train_rows"] == 400 and sel["max_rows"] == tuning.CHOICE_MAX_ROWS
    assert {t: len(v) for t, v in sel["fold_auc"].items()} == {"hgb": 5, "logistic": 5, "rf": 5}
    assert sel["oof_auc"]["logistic"] == max(sel["oof_auc"].values())
    d = np.array(sel["fold_auc"]["logistic"]) - np.array(sel["fold_auc"]["hgb"])
    assert sel["mean_difference"] == pytest.approx(d.mean(), abs=2e-6)
    assert sel["mean_difference"] > sel["standard_error"] > 0
    assert sel["reason"] == (
        "logistic ahead of hgb out of fold by more than 1 standard error(s) of the paired fold differences"
    )
    # the fitted model is the one a run set to logistic fits
    alone = fit_run_model("r", as_examples(X, y), 3, model_type="logistic")
    assert json.loads(model.to_json())["estimator"] == json.loads(alone.to_json())["estimator"]
    json.dumps(params)  # lands in lookalike_run_models.model_params as JSON


def test_a_non_linear_train_split_does_not_get_logistic():
    X, y = xor(500, 0)
    chosen, record = choose(X, y)
    assert chosen in ("hgb", "rf")
    assert record["oof_auc"]["logistic"] < 0.6 < record["oof_auc"]["hgb"]
    # the pooled AUC is the AUC of the out-of-fold predictions, recomputed here
    folds, predictions = tuning.oof_scores(X, y, np.ones(500), np.zeros(4, bool), np.arange(500), 1)
    assert record["oof_auc"]["hgb"] == round(roc_auc_score(y, predictions["hgb"]), 6)


def test_a_checkerboard_gets_rf_and_rf_is_better_on_fresh_rows_too():
    X, y = checkerboard(1500, 0)
    model = fit_run_model("r", as_examples(X, y), 1, model_type="hgb_logistic_or_rf")
    sel = model.params["model_selection"]
    assert model.params["model_type"] == "rf" and model.params["estimator"] == "RandomForestClassifier"
    assert sel["chosen"] == sel["challenger"] == "rf"
    assert sel["oof_auc"]["rf"] > sel["oof_auc"]["hgb"] + 0.05 > sel["oof_auc"]["logistic"] + 0.05
    assert sel["mean_difference"] > sel["standard_error"] > 0  # 0.069 against 0.043
    # the choice was right: on 2,000 rows it never saw, rf is ahead of hgb (0.75 against 0.52)
    X_new, y_new = checkerboard(2000, 99)
    hgb = fit_run_model("r", as_examples(X, y), 1, model_type="hgb")
    fresh = as_examples(X_new, y_new)
    assert roc_auc_score(y_new, model.predict(fresh)) > roc_auc_score(y_new, hgb.predict(fresh)) + 0.05


def test_the_choice_is_deterministic_for_a_seed():
    X, y = linear(300, 2)
    t = as_examples(X, y)
    first = fit_run_model("r", t, 7, model_type="hgb_logistic_or_rf")
    second = fit_run_model("r", t, 7, model_type="hgb_logistic_or_rf")
    assert first.to_json() == second.to_json()
    assert first.params["model_selection"] == second.params["model_selection"]


def test_a_train_split_above_the_row_cap_keeps_hgb_without_cross_validation():
    X, y = linear(400, 1)
    chosen, record = choose(X, y, max_rows=399)
    assert (chosen, record) == (
        "hgb",
        {
            "method": "hgb_logistic_or_rf",
            "n_train_rows": 400,
            "max_rows": 399,
            "candidates": ["hgb", "logistic", "rf"],
            "chosen": "hgb",
            "reason": "train split above 399 rows: hgb kept without cross-validation",
        },
    )


def test_too_few_examples_of_a_class_keep_hgb():
    X, y = linear(60, 4)
    y[:] = 0
    y[:1] = 1
    chosen, record = choose(X, y)
    assert chosen == "hgb" and record["n_folds"] == 0
    assert record["reason"] == "too few examples of a class to cross-validate: hgb kept"


def test_positive_only_runs_keep_the_hgb_bagging_model_unchanged():
    X, y = linear(300, 3)
    t = as_examples(X, y, negatives=False)
    chosen = fit_run_model("r", t, 5, pu_bags=3, model_type="hgb_logistic_or_rf")
    hgb = fit_run_model("r", t, 5, pu_bags=3, model_type="hgb")
    assert chosen.params["training_method"] == "pu_bagging" and chosen.params["model_type"] == "hgb"
    assert json.loads(chosen.to_json())["estimator"] == json.loads(hgb.to_json())["estimator"]
    assert chosen.params["model_selection"] == {
        "method": "hgb_logistic_or_rf",
        "chosen": "hgb",
        "reason": "run without negatives: hgb kept without cross-validation",
    }


def test_the_refit_on_every_label_keeps_the_choice():
    X, y = linear(400, 6)
    split = ["train" if i % 4 else "test" for i in range(400)]
    t = as_examples(X, y, split=split)
    split_model = fit_run_model("r", t, 3, model_type="hgb_logistic_or_rf")
    refitted = refit_model("r", t, split_model, 3)
    assert refitted.params["model_type"] == split_model.params["model_type"] == "logistic"
    assert refitted.params["n_train_rows"] == 400
    assert refitted.params["model_selection"] == split_model.params["model_selection"]


# --- Supervised parameters (decision 0037) ----------------------------------------------------


def test_runs_with_negatives_fit_hgb_with_leaf_20_and_no_l2_and_positive_only_runs_keep_the_defaults():
    assert estimators.get("hgb").supervised_params is hgb_type.supervised_params
    # 5 % of the rows within 5..20: the defaults' leaf below 400 rows, scikit-learn's 20 from 400
    leaves = {n: hgb_type.supervised_params(n)["min_samples_leaf"] for n in (40, 300, 399, 400, 10_000)}
    assert leaves == {40: 5, 300: 15, 399: 19, 400: 20, 10_000: 20}
    assert {n: hgb_type.default_params(n, 1)["min_samples_leaf"] for n in leaves} == {
        40: 5,
        300: 15,
        399: 19,
        400: 20,
        10_000: 200,
    }
    assert hgb_type.supervised_params(10_000)["l2_regularization"] == 0.0
    X, y = xor(500, 1)
    model = fit_run_model("r", as_examples(X, y), 3, model_type="hgb")
    assert model.params["training_method"] == "supervised"
    assert (model.params["min_samples_leaf"], model.params["l2_regularization"]) == (20, 0.0)
    # the rest are the defaults, and the stored trees are those of a fit with these overrides
    defaults = hgb_type.default_params(500, 3)
    assert {k: model.params[k] for k in ("max_depth", "max_leaf_nodes", "learning_rate")} == {
        k: defaults[k] for k in ("max_depth", "max_leaf_nodes", "learning_rate")
    }
    mask = np.zeros(X.shape[1], dtype=bool)
    payload, _ = hgb_type.fit(X, y, np.ones(500), mask, 3, overrides=hgb_type.supervised_params(500))
    assert model.estimator_payload == payload
    # positives against unlabeled users: the regularised defaults (25 = 5 % of 500 rows, L2 10)
    plain = fit_run_model("r", as_examples(X, y, negatives=False), 3, model_type="hgb", pu_method="plain")
    assert plain.params["training_method"] == "pu_plain"
    assert (plain.params["min_samples_leaf"], plain.params["l2_regularization"]) == (25, 10.0)
    bagged = fit_run_model("r", as_examples(X, y, negatives=False), 3, model_type="hgb", pu_bags=2)
    assert bagged.params["training_method"] == "pu_bagging" and bagged.params["l2_regularization"] == 10.0
    assert bagged.params["min_samples_leaf"] == 25  # 5 % of a member's rows (262 positives and a bag)


def test_tuned_parameters_win_over_the_supervised_ones_and_types_without_them_are_unchanged():
    X, y = xor(300, 2)
    w, mask = np.ones(300), np.zeros(4, dtype=bool)
    _, params = estimators.fit("hgb", X, y, w, mask, 3, overrides={"l2_regularization": 1.0}, supervised=True)
    assert (params["min_samples_leaf"], params["l2_regularization"]) == (15, 1.0)  # 5 % of 300, tuned L2
    _, params = estimators.fit("hgb", X, y, w, mask, 3, overrides={"min_samples_leaf": 9}, supervised=True)
    assert (params["min_samples_leaf"], params["l2_regularization"]) == (9, 0.0)
    _, params = estimators.fit("hgb", X, y, w, mask, 3)
    assert (params["min_samples_leaf"], params["l2_regularization"]) == (15, 10.0)
    assert estimators.get("logistic").supervised_params(300) == estimators.get("rf").supervised_params(300) == {}
    assert estimators.fit("logistic", X, y, w, mask, 3, supervised=True) == estimators.fit("logistic", X, y, w, mask, 3)


def test_the_choice_judges_hgb_with_its_supervised_parameters_and_the_refit_keeps_them():
    X, y = xor(400, 3)
    w, mask = np.ones(400), np.zeros(4, dtype=bool)
    folds, predictions = tuning.oof_scores(X, y, w, mask, np.arange(400), 3)
    train_idx, valid_idx = folds[1]
    payload, _ = estimators.fit("hgb", X[train_idx], y[train_idx], w[train_idx], mask, 3, supervised=True)
    np.testing.assert_array_equal(
        predictions["hgb"][valid_idx], estimators.load(payload).predict_proba_positive(X[valid_idx])
    )
    split = ["train" if i % 4 else "test" for i in range(400)]
    t = as_examples(X, y, split=split)
    split_model = fit_run_model("r", t, 3, model_type="hgb")
    refitted = refit_model("r", t, split_model, 3)
    assert refitted.params["n_train_rows"] == 400
    assert (refitted.params["min_samples_leaf"], refitted.params["l2_regularization"]) == (20, 0.0)
