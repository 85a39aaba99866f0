"""Refit on every label (decision 0032): the model that scores the population is the split model's
choices fitted again on the train and test splits; every metric still comes from the split model."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from lookalike_udf import dbt_models
from lookalike_udf.errors import RunValidationError
from lookalike_udf.scoring import LookalikeModel
from lookalike_udf.training import (
    NO_TEST_ROWS,
    PU_NOT_REFITTED,
    fit_run_model,
    fit_run_models,
    refit_model,
)


def examples(n: int = 300, seed: int = 0, run_id: str = "r", unlabeled: bool = False) -> pa.Table:
    """Labelled examples with a signal in ``x`` and ``tier``; every fifth example is in the test split.
    ``unlabeled``: the negatives are sampled unlabeled users (a positive-only run)."""
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < 0.4).astype(np.int32)
    source = np.where((label == 0) & unlabeled, "unlabeled_sample", "label")
    return pa.table(
        {
            "example_id": [f"{run_id}-{i:04d}" for i in range(n)],
            "run_id": [run_id] * n,
            "user_id": [f"{i:05d}" for i in range(n)],
            "label": pa.array(label),
            "weight": pa.array(np.where(np.arange(n) % 7 == 0, 2.0, 1.0)),
            "as_of_at": pa.nulls(n, pa.timestamp("us")),
            "snapshot_at": pa.nulls(n, pa.timestamp("us")),
            "example_source": source.tolist(),
            "split": np.where(np.arange(n) % 5 == 0, "test", "train").tolist(),
            "x": rng.normal(size=n) + 1.2 * label,
            "noise": rng.normal(size=n),
            "tier": np.where(rng.random(n) < 0.4 + 0.3 * label, "pro", "free").tolist(),
        }
    )


def all_train(table: pa.Table) -> pa.Table:
    """The same examples, every one in the train split."""
    return table.set_column(table.column_names.index("split"), "split", pa.array(["train"] * table.num_rows))


def counts(table: pa.Table) -> tuple[int, int]:
    split = table.column("split").to_numpy(zero_copy_only=False)
    return int((split == "train").sum()), int((split == "test").sum())


@pytest.mark.parametrize("model_type", ["hgb", "logistic", "rf"])
def test_the_refit_is_the_same_fit_on_every_row(model_type):
    table = examples()
    n_train, n_test = counts(table)
    fitted = fit_run_models("r", table, 7, model_type=model_type)
    assert fitted.refitted
    refit = fitted.scoring
    assert refit.params["n_train_rows"] == n_train + n_test == 300
    assert refit.params["refit"] == {
        "applied": True,
        "n_rows": 300,
        "n_train_rows": n_train,
        "n_test_rows": n_test,
        "split_model_n_train_rows": n_train,
    }
    assert fitted.split.params["n_train_rows"] == n_train == 240
    # Fitting the same type on the same 300 rows marked 'train' gives the same estimator, bit for bit.
    direct = fit_run_model("r", all_train(table), 7, model_type=model_type)
    assert refit.estimator_payload == direct.estimator_payload
    assert refit.encoder.to_dict() == direct.encoder.to_dict()
    assert np.array_equal(refit.predict(table), direct.predict(table))
    assert not np.array_equal(refit.predict(table), fitted.split.predict(table))


def test_refit_rows_follow_example_id_not_arrival_order():
    table = examples()
    shuffled = table.take(pa.array(np.random.default_rng(3).permutation(table.num_rows)))
    a = fit_run_models("r", table, 7, model_type="hgb").scoring
    b = fit_run_models("r", shuffled, 7, model_type="hgb").scoring
    assert a.to_json() == b.to_json()


def test_the_split_model_is_the_model_fitted_without_refit():
    """Metrics come from the split model: it is byte for byte the model of refit_on_all_labels false,
    which is the model of fit_run_model (the metrics of earlier releases)."""
    table = examples()
    on = fit_run_models("r", table, 7)
    off = fit_run_models("r", table, 7, refit_on_all_labels=False)
    assert not off.refitted and off.scoring is off.split
    assert on.split.to_json() == off.split.to_json() == fit_run_model("r", table, 7).to_json()
    assert "refit" not in off.split.params


def test_train_models_stores_both_and_predictions_come_from_the_split_model():
    table = examples()
    runs = pa.Table.from_pylist(
        [
            {
                "run_id": "r",
                "is_declared": True,
                "n_declared": 1,
                "engagement_type": "MULTI_ENGAGE",
                "min_seed_users": 10,
                "test_fraction": 0.2,
                "unlabeled_sample_size": 5000,
                "random_seed": 7,
                "build_only": False,
                "refit_on_all_labels": refit,
            }
            for refit in (True,)
        ]
    )
    labels = table.column("label").to_numpy()
    summary = pa.Table.from_pylist(
        [
            {
                "run_id": "r",
                "n_input_labels": 300,
                "n_positive_users": int(labels.sum()),
                "n_negative_users": int((labels == 0).sum()),
                "n_positive_labels": int(labels.sum()),
                "n_negative_labels": int((labels == 0).sum()),
                "n_matched_labels": 300,
                "n_matched_positive_labels": int(labels.sum()),
                "n_matched_negative_labels": int((labels == 0).sum()),
            }
        ]
    )
    [row] = dbt_models.train_models(runs, summary, table).to_pylist()
    assert row["model_status"] == "TRAINED"
    split = LookalikeModel.from_json(row["split_model_json"])
    scoring = LookalikeModel.from_json(row["model_json"])
    assert row["split_model_json"] == fit_run_model("r", table, 7).to_json()
    assert json.loads(row["model_params"])["refit"]["n_rows"] == 300
    assert (row["n_train_examples"], row["n_test_examples"]) == (240, 60)
    predictions = dbt_models.predict_training_examples(pa.Table.from_pylist([row]), table).sort_by("example_id")
    assert predictions.column("score").to_pylist() == split.predict(table).tolist()
    # With the setting off the same rows come out: the metrics do not change.
    off_runs = runs.set_column(runs.column_names.index("refit_on_all_labels"), "refit_on_all_labels", pa.array([False]))
    [off] = dbt_models.train_models(off_runs, summary, table).to_pylist()
    assert off["split_model_json"] is None and off["split_model_sha256"] is None
    assert off["model_json"] == row["split_model_json"]
    off_predictions = dbt_models.predict_training_examples(pa.Table.from_pylist([off]), table).sort_by("example_id")
    assert off_predictions.column("score").to_pylist() == predictions.column("score").to_pylist()
    # Population scores come from the refit.
    population = table.select(["user_id", "x", "noise", "tier"])
    scores = dbt_models.score_population(pa.Table.from_pylist([row]), population).read_all()
    assert scores.sort_by("user_id").column("score").to_pylist() == scoring.predict(population).tolist()


def test_positive_only_runs_are_not_refitted():
    table = examples(unlabeled=True)
    fitted = fit_run_models("r", table, 7, pu_bags=3)
    assert fitted.split.params["training_method"] == "pu_bagging"
    assert not fitted.refitted and fitted.scoring is fitted.split
    assert fitted.scoring.params["refit"] == {"applied": False, "reason": PU_NOT_REFITTED}
    plain = fit_run_models("r", table, 7, pu_method="plain")
    assert not plain.refitted and plain.scoring.params["refit"]["reason"] == PU_NOT_REFITTED


def test_refit_model_can_refit_a_bagging_ensemble_on_every_row():
    """What the benchmark measures for positive-only runs (the library does not do it): the members
    are fitted on all rows, with the split model's bag count."""
    table = examples(unlabeled=True)
    split = fit_run_model("r", table, 7, pu_bags=3)
    refit = refit_model("r", table, split, 7, pu_bags=3)
    assert refit.params["training_method"] == "pu_bagging" and refit.params["n_train_rows"] == 300
    direct = fit_run_model("r", all_train(table), 7, pu_bags=3)
    assert refit.estimator_payload == direct.estimator_payload


def test_a_run_without_test_rows_is_not_refitted():
    table = all_train(examples())
    fitted = fit_run_models("r", table, 7, model_type="logistic")
    assert not fitted.refitted
    assert fitted.scoring.params["refit"] == {"applied": False, "reason": NO_TEST_ROWS}


def test_the_refit_keeps_the_split_models_choices():
    """The default model type's choice (hgb_logistic_or_rf), tune_model's parameters and auto_tune's features are made once, on
    the train split, and reused by the refit."""
    table = examples(n=400)
    fitted = fit_run_models("r", table, 7, tune_model=True, auto_tune=True, tune_time_budget_seconds=60)
    split, refit = fitted.split, fitted.scoring
    assert refit.params["model_type"] == split.params["model_type"]
    assert refit.params["model_selection"] == split.params["model_selection"]
    assert refit.params["tuning"] == split.params["tuning"]
    assert refit.params["feature_selection"] == split.params["feature_selection"]
    assert refit.feature_names == split.feature_names
    chosen = split.params["tuning"]["chosen"]
    for key, value in chosen.items():
        assert refit.params[key] == value, key


def test_sample_size_and_extra_attention_apply_to_the_refit():
    table = examples()
    fitted = fit_run_models("r", table, 7, model_type="logistic", sample_size=100, extra_attention=True)
    refit = fitted.scoring
    assert refit.params["sampled_from_rows"] == 300 and refit.params["n_train_rows"] == 100
    assert fitted.split.params["sampled_from_rows"] == 240
    assert refit.params["extra_attention"] is True


@pytest.mark.parametrize("value", ["yes", 2, None, 1.5])
def test_refit_on_all_labels_must_be_a_boolean(value):
    with pytest.raises(RunValidationError) as error:
        fit_run_models("r", examples(), 7, refit_on_all_labels=value)
    assert str(error.value) == (
        f"run 'r': refit_on_all_labels {value!r} must be true or false. "
        "Fix the runs input column or var lookalike_refit_on_all_labels."
    )


def test_the_run_check_refuses_a_non_boolean_refit_setting():
    from lookalike_udf.validation import check_run

    run = {"run_id": "r", "engagement_type": "MULTI_ENGAGE", "test_fraction": 0.2, "refit_on_all_labels": "yes"}
    errors = check_run(run, {"n_input_labels": 0}).errors
    assert any(e.startswith("run 'r': refit_on_all_labels 'yes' must be true or false.") for e in errors)


def test_the_refit_has_one_class_per_split_but_needs_both_overall():
    """A test split holding only positives still refits: the rows together have both classes."""
    table = examples()
    split = table.column("split").to_numpy(zero_copy_only=False)
    keep = pc.invert(pa.array((split == "test") & (table.column("label").to_numpy() == 0)))
    only_positive_test = table.filter(keep)
    fitted = fit_run_models("r", only_positive_test, 7, model_type="logistic")
    assert fitted.refitted
    assert fitted.scoring.params["refit"]["n_test_rows"] == int(
        (only_positive_test.column("split").to_numpy(zero_copy_only=False) == "test").sum()
    )


def test_features_the_split_model_dropped_are_reported_for_a_refitted_run():
    """The refit is fitted on the split model's features only, so the columns the split model left
    out (and why) are carried into it and still reported in status_message."""
    table = examples()
    table = table.append_column("const", pa.array([3.0] * table.num_rows))
    fitted = fit_run_models("r", table, 7, model_type="logistic")
    assert fitted.refitted
    assert fitted.split.encoder.dropped_ == {"const": "a single distinct value"}
    assert fitted.scoring.encoder.dropped_ == fitted.split.encoder.dropped_
    assert "const" not in fitted.scoring.feature_names
    runs = pa.Table.from_pylist(
        [
            {
                "run_id": "r",
                "is_declared": True,
                "n_declared": 1,
                "engagement_type": "MULTI_ENGAGE",
                "min_seed_users": 10,
                "test_fraction": 0.2,
                "random_seed": 7,
                "build_only": False,
                "model_type": "logistic",
            }
        ]
    )
    labels = table.column("label").to_numpy()
    n_pos, n_neg = int(labels.sum()), int((labels == 0).sum())
    summary = pa.Table.from_pylist(
        [
            {
                "run_id": "r",
                "n_input_labels": 300,
                "n_positive_users": n_pos,
                "n_negative_users": n_neg,
                "n_positive_labels": n_pos,
                "n_negative_labels": n_neg,
                "n_matched_labels": 300,
                "n_matched_positive_labels": n_pos,
                "n_matched_negative_labels": n_neg,
            }
        ]
    )
    [row] = dbt_models.train_models(runs, summary, table).to_pylist()
    assert row["split_model_json"] is not None
    assert "run 'r': features not used: const (a single distinct value)" in row["status_message"]
