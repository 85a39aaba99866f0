"""tune_model (hyperparameter search within a time budget), auto_tune (feature selection) and the
always-on leakage flag."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from sklearn.metrics import roc_auc_score

from lookalike_udf import dbt_models
from lookalike_udf.errors import RunValidationError
from lookalike_udf.scoring import LookalikeModel
from lookalike_udf.training import fit_run_model
from lookalike_udf.tuning import (
    MAX_CANDIDATES,
    candidate_order,
    grid_points,
    suspected_leakage,
    tune_params,
    univariate_auc,
)
from lookalike_udf.validation import check_run
from test_model_types import examples
from test_pu import pu_examples


def with_columns(t: pa.Table, **columns) -> pa.Table:
    for name, values in columns.items():
        t = t.append_column(name, pa.array(values))
    return t


def summary_for(t: pa.Table, run_id: str = "r") -> pa.Table:
    labels = t.column("label").to_numpy()
    pos, neg = int(labels.sum()), int((1 - labels).sum())
    return pa.Table.from_pylist(
        [
            {
                "run_id": run_id,
                "n_input_labels": t.num_rows,
                "n_positive_users": pos,
                "n_negative_users": neg,
                "n_positive_labels": pos,
                "n_negative_labels": neg,
                "n_matched_labels": t.num_rows,
                "n_matched_positive_labels": pos,
                "n_matched_negative_labels": neg,
            }
        ]
    )


def run_row(**settings) -> dict:
    return {
        "run_id": "r",
        "is_declared": True,
        "n_declared": 1,
        "engagement_type": "MULTI_ENGAGE",
        "min_seed_users": 10,
        "test_fraction": 0.2,
        "random_seed": 5,
        "build_only": False,
        **settings,
    }


# --- tune_model -------------------------------------------------------------------------------


def test_candidates_start_with_the_defaults_in_a_seeded_order():
    for model_type in ("hgb", "rf", "logistic"):
        order = candidate_order(model_type, 7)
        assert order[0] == {} and len(order) == min(MAX_CANDIDATES, len(grid_points(model_type)))
        assert order == candidate_order(model_type, 7)
        assert grid_points(model_type)[0] not in order[1:]  # the defaults are not evaluated twice
    assert len(grid_points("hgb")) == 36 and len(grid_points("rf")) == 12 and len(grid_points("logistic")) == 6
    assert candidate_order("hgb", 7) != candidate_order("hgb", 8)


def test_a_supervised_hgb_search_can_reach_the_grids_first_point():
    """Supervised hgb fits no L2 by default (decision 0037), so ``{}`` is not the grid's first point
    (L2 10): that point is a candidate there, and still left out of positive-only searches."""
    first = grid_points("hgb")[0]
    assert first["l2_regularization"] == 10.0
    orders = [candidate_order("hgb", seed, defaults_differ=True) for seed in range(40)]
    assert any(first in order for order in orders)
    assert all(len(order) == MAX_CANDIDATES and order[0] == {} for order in orders)
    assert not any(first in candidate_order("hgb", seed) for seed in range(40))
    # tune_params passes it for supervised hgb only: with a seed whose order has it second and a
    # budget spent after two candidates, the supervised search evaluates it, the other does not.
    t = examples(n=240)
    train = t.filter(pc.equal(t.column("split"), "train"))
    from lookalike_udf.features import FeatureEncoder

    enc = FeatureEncoder().fit(train, ["signal", "tier", "noise"])
    X, y = enc.transform(train), train.column("label").to_numpy()
    w, groups = train.column("weight").to_numpy(), train.column("user_id").to_pylist()
    seed = next(s for s in range(200) if candidate_order("hgb", s, defaults_differ=True)[1] == first)
    for supervised in (True, False):
        ticks = iter(range(0, 1000, 10))
        _, record = tune_params(
            "hgb",
            X,
            y,
            w,
            enc.categorical_mask_,
            groups,
            seed,
            15.0,
            clock=lambda ticks=ticks: next(ticks),
            supervised=supervised,
        )
        assert len(record["candidates"]) == 2
        assert (record["candidates"][1]["params"] == first) is supervised


@pytest.mark.parametrize("model_type", ["hgb", "logistic"])
def test_tuning_records_every_candidate_and_keeps_the_best(model_type):
    t = examples()
    model = fit_run_model("r", t, 3, model_type=model_type, tune_model=True)
    tuning = model.params["tuning"]
    aucs = [c["cv_auc"] for c in tuning["candidates"]]
    assert tuning["candidates"][0]["params"] == {} and len(aucs) == len(candidate_order(model_type, 3))
    assert tuning["n_folds"] == 3 and tuning["stopped_by_budget"] is False
    best = int(np.argmax(aucs))  # first of the best: ties go to the earlier candidate
    assert tuning["chosen"] == tuning["candidates"][best]["params"]
    assert tuning["chosen_cv_auc"] == max(aucs) >= aucs[0]
    for key, value in tuning["chosen"].items():  # the chosen parameters are the ones fitted
        assert model.params[key] == value
    assert all(0.8 < a < 1.0 for a in aucs) and len(set(aucs)) > 1
    assert fit_run_model("r", t, 3, model_type=model_type, tune_model=True).to_json() == model.to_json()
    assert "tuning" not in fit_run_model("r", t, 3, model_type=model_type).params


def test_a_spent_budget_still_evaluates_the_defaults():
    t = examples()
    train = t.filter(pc.equal(t.column("split"), "train"))
    from lookalike_udf.features import FeatureEncoder

    enc = FeatureEncoder().fit(train, ["signal", "tier", "noise"])
    X, y = enc.transform(train), train.column("label").to_numpy()
    w, groups = train.column("weight").to_numpy(), train.column("user_id").to_pylist()
    ticks = iter(range(0, 1000, 10))  # every clock read is 10 s later
    chosen, record = tune_params("hgb", X, y, w, enc.categorical_mask_, groups, 3, 15.0, clock=lambda: next(ticks))
    # start 0, after the defaults 10 (< 15: go on), after the second candidate 20 (>= 15: stop)
    assert [c["params"] for c in record["candidates"]] == candidate_order("hgb", 3)[:2]
    assert record["stopped_by_budget"] is True
    ticks = iter(range(0, 1000, 100))
    chosen, record = tune_params("hgb", X, y, w, enc.categorical_mask_, groups, 3, 1.0, clock=lambda: next(ticks))
    assert len(record["candidates"]) == 1 and chosen == {} and record["stopped_by_budget"] is True


def test_bagging_pu_tunes_positives_against_unlabeled_and_applies_to_every_member():
    t, truth = pu_examples(n_unl=800, seed=2)
    model = fit_run_model("pu", t, 3, model_type="logistic", pu_bags=4, tune_model=True)
    tuning = model.params["tuning"]
    assert model.params["training_method"] == "pu_bagging" and tuning["n_folds"] == 3
    c = tuning["chosen"].get("C", 1.0)
    assert model.params["C"] == c
    members = json.loads(model.to_json())["estimator"]["members"]
    assert len(members) == 4
    # Every member was fitted with the same C: refitting one with the default C gives other weights.
    untuned = fit_run_model("pu", t, 3, model_type="logistic", pu_bags=4)
    if c != 1.0:
        assert json.loads(untuned.to_json())["estimator"]["members"][0]["coef"] != members[0]["coef"]
    unl = t.column("label").to_numpy() == 0
    assert roc_auc_score(truth[unl], model.predict(t)[unl]) > 0.8


# --- validation -------------------------------------------------------------------------------


def test_bad_tuning_settings_name_the_run_the_setting_and_the_fix():
    t = examples(n=100)
    with pytest.raises(
        RunValidationError,
        match=r"^run 'r': tune_model 'yes' must be true or false\. "
        r"Fix the runs input column or var lookalike_tune_model\.$",
    ):
        fit_run_model("r", t, 1, tune_model="yes")
    with pytest.raises(
        RunValidationError,
        match=r"^run 'r': auto_tune 1 must be true or false\. "
        r"Fix the runs input column or var lookalike_auto_tune\.$",
    ):
        fit_run_model("r", t, 1, auto_tune=1)
    for bad, kind in (
        (0, ""),
        (0.5, ""),
        (3601, ""),
        (float("nan"), "a number "),
        ("60", "a number "),
        (True, "a number "),
    ):
        with pytest.raises(RunValidationError) as error:
            fit_run_model("r", t, 1, tune_model=True, tune_time_budget_seconds=bad)
        assert str(error.value) == (
            f"run 'r': tune_time_budget_seconds {bad!r} must be {kind}between 1 and 3600. "
            "Fix the runs input column or var lookalike_tune_time_budget_seconds."
        )
    errors = check_run(
        run_row(tune_model=None, auto_tune="true", tune_time_budget_seconds=0.0), {"n_input_labels": 1}
    ).errors
    assert errors[:3] == [
        "run 'r': tune_model None must be true or false. Fix the runs input column or var lookalike_tune_model.",
        "run 'r': auto_tune 'true' must be true or false. Fix the runs input column or var lookalike_auto_tune.",
        "run 'r': tune_time_budget_seconds 0.0 must be between 1 and 3600. Fix the runs input "
        "column or var lookalike_tune_time_budget_seconds.",
    ]
    good = check_run(run_row(tune_model=True, auto_tune=False, tune_time_budget_seconds=60.0), {"n_input_labels": 1})
    assert not [e for e in good.errors if "tune" in e]


# --- auto_tune --------------------------------------------------------------------------------


def planted_features(t: pa.Table, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    n = t.num_rows
    signal = t.column("signal").to_numpy()
    tier = t.column("tier").to_pylist()
    return with_columns(
        t,
        signal_copy=2.0 * signal + 1.0 + 1e-6 * rng.normal(size=n),  # near-duplicate of signal
        tier_renamed=["P" if v == "pro" else "F" for v in tier],  # same categories as tier
        noise_b=rng.normal(size=n),
        noise_c=rng.normal(size=n),
        constant=["basic"] * n,  # dropped by the encoder
        one_value_or_missing=[None if i % 7 == 0 else 1.0 for i in range(n)],  # a missingness flag
    )


def test_auto_tune_drops_duplicates_and_useless_features_and_still_scores_full_rows():
    t = planted_features(examples(n=1200, seed=4))
    model = fit_run_model("r", t, 3, auto_tune=True)
    selection = model.params["feature_selection"]
    reasons = {d["feature"]: d["reason"] for d in selection["dropped"]}
    assert reasons["signal_copy"] == "near-duplicate of signal (|correlation| > 0.99)"
    assert reasons["tier_renamed"] == "duplicate of tier (same categories)"
    assert {"noise", "noise_b", "noise_c"} & set(
        reasons
    )  # pure noise adds nothing (which one depends on the seeded folds)
    assert all(
        r.startswith("adds nothing (permutation importance")
        for f, r in reasons.items()
        if f not in ("signal_copy", "tier_renamed")
    )
    assert "signal" in model.feature_names and "tier" in model.feature_names
    assert model.encoder.dropped_ == {"constant": "a single distinct value"}  # constants never reach selection
    assert selection["kept"] == len(model.feature_names) == 8 - len(reasons)
    assert not set(reasons) & set(model.feature_names)
    # The stored model scores rows with every input column and round-trips through JSON.
    again = LookalikeModel.from_json(model.to_json())
    test = t.filter(pc.equal(t.column("split"), "test"))
    np.testing.assert_array_equal(again.predict(test), model.predict(test))
    assert roc_auc_score(test.column("label").to_numpy(), model.predict(test)) > 0.8
    assert fit_run_model("r", t, 3, auto_tune=True).to_json() == model.to_json()
    untuned = fit_run_model("r", t, 3)
    assert "feature_selection" not in untuned.params and len(untuned.feature_names) == 8


def test_auto_tune_keeps_a_feature_that_works_only_through_an_interaction():
    rng = np.random.default_rng(1)
    n = 1500
    a, b = rng.integers(0, 2, n), rng.integers(0, 2, n)
    label = ((a ^ b) == 1) & (rng.random(n) < 0.9) | (rng.random(n) < 0.05)
    t = pa.table(
        {
            "example_id": [f"x{i}" for i in range(n)],
            "run_id": ["r"] * n,
            "user_id": [f"{i:05d}" for i in range(n)],
            "label": pa.array(label.astype(np.int32)),
            "weight": np.ones(n),
            "as_of_at": pa.array([None] * n, type=pa.timestamp("us")),
            "snapshot_at": pa.array([None] * n, type=pa.timestamp("us")),
            "example_source": ["label"] * n,
            "split": ["train"] * n,
            "a": a.astype(float),
            "b": b.astype(float),
            "noise": rng.normal(size=n),
        }
    )
    assert univariate_auc(a.astype(float), label.astype(int), np.ones(n), False) < 0.55  # alone, a is useless
    model = fit_run_model("r", t, 3, auto_tune=True)
    assert model.feature_names[:2] == ["a", "b"]
    assert not {"a", "b"} & {d["feature"] for d in model.params["feature_selection"]["dropped"]}


# --- leakage ----------------------------------------------------------------------------------


def test_univariate_auc_matches_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    w = rng.uniform(0.5, 2, 300)
    x = rng.normal(size=300) + y
    assert univariate_auc(x, y, w, False) == pytest.approx(roc_auc_score(y, x, sample_weight=w))
    assert univariate_auc(-x, y, w, False) == pytest.approx(roc_auc_score(y, x, sample_weight=w))
    codes = rng.integers(0, 3, 300).astype(float)
    codes[:10] = np.nan
    # Category rates are cross-fitted: rows 0, 2, 4, ... get rates learned on rows 1, 3, 5, ... and back.
    score = np.empty(300)
    for f in (0, 1):
        mine, other = np.arange(300) % 2 == f, np.arange(300) % 2 != f
        for c in (0.0, 1.0, 2.0, np.nan):
            is_c = np.isnan(codes) if np.isnan(c) else codes == c
            score[mine & is_c] = np.average(y[other & is_c], weights=w[other & is_c])
    expected = roc_auc_score(y, score, sample_weight=w)
    assert univariate_auc(codes, y, w, True) == pytest.approx(max(expected, 1 - expected))
    # One category per row: in-sample rates would separate perfectly; cross-fitted they carry nothing.
    assert univariate_auc(np.arange(300.0), y, w, True) < 0.51  # only the two folds' base rates differ


def test_leakage_flag_fires_on_planted_columns_and_is_reported():
    t = examples(n=800, seed=5)
    label = t.column("label").to_numpy()
    rng = np.random.default_rng(9)
    flips = rng.random(len(label)) < 0.005
    t = with_columns(
        t,
        days_since_conversion=np.where(label == 1, rng.uniform(0, 3, len(label)), np.nan),
        converted_flag=np.where((label == 1) ^ flips, "yes", "no").tolist(),
    )
    model = fit_run_model("r", t, 3)
    leaks = {d["feature"]: d["auc"] for d in model.params["suspected_leakage"]}
    assert set(leaks) == {"days_since_conversion", "converted_flag"}
    assert leaks["days_since_conversion"] == 1.0 and 0.98 < leaks["converted_flag"] < 1.0
    row = dbt_models.train_models(pa.Table.from_pylist([run_row()]), summary_for(t), t).to_pylist()[0]
    assert row["model_status"] == "TRAINED"
    assert json.loads(row["model_params"])["suspected_leakage"] == model.params["suspected_leakage"]
    assert (
        "run 'r': suspected label leakage: converted_flag (AUC 0.99" in row["status_message"]
        or "run 'r': suspected label leakage: days_since_conversion (AUC 1.000)" in row["status_message"]
    )
    assert "days_since_conversion (AUC 1.000)" in row["status_message"]


def test_leakage_flag_stays_quiet_on_honest_features():
    t = examples()
    model = fit_run_model("r", t, 3)
    assert model.params["suspected_leakage"] == []
    row = dbt_models.train_models(pa.Table.from_pylist([run_row()]), summary_for(t), t).to_pylist()[0]
    assert json.loads(row["model_params"])["suspected_leakage"] == []
    assert "leakage" not in (row["status_message"] or "")
    # The threshold is strict: a strong but honest feature (AUC ~0.93) is not flagged.
    X = np.c_[t.column("signal").to_numpy()]
    y = t.column("label").to_numpy()
    assert suspected_leakage(X * 3, y, np.ones(len(y)), np.array([False]), ["s"], threshold=0.98) == []


def test_train_models_passes_the_tuning_settings():
    t = planted_features(examples(seed=6))
    runs = pa.Table.from_pylist(
        [run_row(model_type="logistic", tune_model=True, tune_time_budget_seconds=30.0, auto_tune=True)]
    )
    row = dbt_models.train_models(runs, summary_for(t), t).to_pylist()[0]
    params = json.loads(row["model_params"])
    assert params["tune_model"] is True and params["auto_tune"] is True
    assert params["tuning"]["budget_seconds"] == 30.0 and params["tuning"]["model_type"] == "logistic"
    assert "signal_copy" in [d["feature"] for d in params["feature_selection"]["dropped"]]
    assert "auto_tune dropped" in row["status_message"] and "signal_copy" in row["status_message"]
    assert row["n_features"] == params["feature_selection"]["kept"]


@pytest.mark.parametrize("repeated_users", [False, True])
def test_cv_folds_are_stratified_grouped_and_seeded(repeated_users):
    """cv_folds: every example in exactly one validation fold, each fold's positive share near the
    whole set's, a user's examples never on both sides, the same folds for the same seed. With one
    example per user the fast StratifiedKFold path is taken; with repeated users, the grouped one."""
    from lookalike_udf.tuning import cv_folds

    rng = np.random.default_rng(0)
    n = 600
    y = (rng.random(n) < 0.3).astype(int)
    groups = [f"u{i // 3 if repeated_users else i}" for i in range(n)]
    folds = cv_folds(y, groups, random_seed=9, n_folds=5)
    assert len(folds) == 5
    seen = np.zeros(n, dtype=int)
    for train_idx, valid_idx in folds:
        seen[valid_idx] += 1
        assert len(np.intersect1d(train_idx, valid_idx)) == 0 and len(train_idx) + len(valid_idx) == n
        assert abs(y[valid_idx].mean() - y.mean()) < 0.05
        assert not {groups[i] for i in train_idx} & {groups[i] for i in valid_idx}
    assert seen.min() == 1 and seen.max() == 1
    again = cv_folds(y, groups, random_seed=9, n_folds=5)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again, strict=False))
    other = cv_folds(y, groups, random_seed=10, n_folds=5)
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(folds, other, strict=False))
