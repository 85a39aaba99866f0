"""Stored models are checked (model_sha256 and a load) before reuse and before use: a corrupt or
edited model fails only its run, with a message naming the run and the fix, or is refitted."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import model_edits
from lookalike_udf import dbt_models
from lookalike_udf.integrity import (
    StoredModelError,
    load_verified_models,
    model_sha256,
    verify_stored_model,
    without_retrained_warnings,
)
from lookalike_udf.quality import feature_report

FIX = (
    "Run `dbt build` again to refit it (a stored model that fails this check is refitted), "
    "or refit every run with `dbt build --vars '{lookalike_force_retrain: true}'`."
)
MISMATCH = "did not match its checksum model_sha256 (edited or corrupted since it was trained)"


def examples(run_id: str, n: int = 200, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < 0.4).astype(np.int32)
    return pa.table(
        {
            "example_id": [f"{run_id}-{i:04d}" for i in range(n)],
            "run_id": [run_id] * n,
            "user_id": [f"{i:05d}" for i in range(n)],
            "label": pa.array(label),
            "weight": pa.array(np.ones(n)),
            "as_of_at": pa.nulls(n, pa.timestamp("us")),
            "snapshot_at": pa.nulls(n, pa.timestamp("us")),
            "example_source": ["label"] * n,
            "split": np.where(np.arange(n) % 5 == 0, "test", "train").tolist(),
            "signal": rng.normal(size=n) + 1.5 * label,
            "tier": np.where(rng.random(n) < 0.5 + 0.3 * label, "pro", "free").tolist(),
        }
    )


def inputs(*run_ids):
    exs = pa.concat_tables([examples(rid, seed=i) for i, rid in enumerate(run_ids)])
    runs = pa.Table.from_pylist(
        [
            {
                "run_id": rid,
                "is_declared": True,
                "n_declared": 1,
                "engagement_type": "MULTI_ENGAGE",
                "min_seed_users": 10,
                "test_fraction": 0.2,
                "unlabeled_sample_size": 5000,
                "random_seed": 42,
                "build_only": False,
                # the edits (tests/model_edits.py) change hgb tree nodes
                "model_type": "hgb",
            }
            for rid in run_ids
        ]
    )
    summary = []
    for rid in run_ids:
        labels = exs.filter(pc.equal(exs.column("run_id"), rid)).column("label").to_numpy()
        n_pos, n_neg = int(labels.sum()), int((labels == 0).sum())
        summary.append(
            {
                "run_id": rid,
                "n_input_labels": len(labels),
                "n_positive_users": n_pos,
                "n_negative_users": n_neg,
                "n_positive_labels": n_pos,
                "n_negative_labels": n_neg,
                "n_matched_labels": len(labels),
                "n_matched_positive_labels": n_pos,
                "n_matched_negative_labels": n_neg,
            }
        )
    fingerprints = pa.Table.from_pylist(
        [{"run_id": rid, "training_checksum": f"t-{rid}", "population_checksum": f"p-{rid}"} for rid in run_ids]
    )
    return runs, pa.Table.from_pylist(summary), exs, fingerprints


@pytest.fixture(scope="module")
def built():
    runs, summary, exs, fingerprints = inputs("a", "b")
    models = dbt_models.train_models(runs, summary, exs, fingerprints)
    return {"runs": runs, "summary": summary, "examples": exs, "fingerprints": fingerprints, "models": models}


def edit(models: pa.Table, run_id: str, model_json=None, sha=None, drop_sha=False, split_model_json=None) -> pa.Table:
    """``models`` with run ``run_id``'s model_json and/or model_sha256 (or split_model_json) replaced."""
    rows = models.to_pylist()
    for row in rows:
        if row["run_id"] == run_id:
            if model_json is not None:
                row["model_json"] = model_json
            if split_model_json is not None:
                row["split_model_json"] = split_model_json
            if sha is not None:
                row["model_sha256"] = None if sha == "null" else sha
    table = pa.Table.from_pylist(rows, schema=models.schema)
    return table.drop_columns(["model_sha256"]) if drop_sha else table


def model_json_of(models: pa.Table, run_id: str) -> str:
    return next(r["model_json"] for r in models.to_pylist() if r["run_id"] == run_id)


def test_train_models_stores_the_sha256_of_the_json_as_written(built):
    for row in built["models"].to_pylist():
        assert row["model_status"] == "TRAINED"
        assert row["model_sha256"] == model_sha256(row["model_json"]) and len(row["model_sha256"]) == 64


def _cases(good_json: str) -> dict:
    """run 'b' edited in each way -> the exact cause of its failure."""
    cut = '{"format":"lookalike-model/1",'
    return {
        # The JSON changed, the checksum did not: never parsed.
        "hash mismatch": (dict(model_json=model_edits.every_score_one(good_json)), MISMATCH),
        "null checksum": (dict(sha="null"), MISMATCH),
        # Checksums recomputed to match (or absent): the load catches the corruption.
        "invalid JSON": (
            dict(model_json=cut, sha=model_sha256(cut)),
            "could not be loaded (stored model is not valid JSON: Expecting property name enclosed "
            "in double quotes: line 1 column 31 (char 30))",
        ),
        "bad node index": (
            dict(
                model_json=model_edits.bad_node_index(good_json),
                sha=model_sha256(model_edits.bad_node_index(good_json)),
            ),
            "could not be loaded (trees[0]: a split node points at an invalid child)",
        ),
        "wrong feature count": (
            dict(
                model_json=model_edits.wrong_feature_count(good_json),
                sha=model_sha256(model_edits.wrong_feature_count(good_json)),
            ),
            "could not be loaded (stored model expects 2 features but its encoder has 1; "
            "the stored model is inconsistent, retrain it.)",
        ),
        "no checksum column, invalid JSON": (
            dict(model_json=cut, drop_sha=True),
            "could not be loaded (stored model is not valid JSON: Expecting property "
            "name enclosed in double quotes: line 1 column 31 (char 30))",
        ),
        "empty model_json": (dict(model_json=""), "is missing (model_json is empty)"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "hash mismatch",
        "null checksum",
        "invalid JSON",
        "bad node index",
        "wrong feature count",
        "no checksum column, invalid JSON",
        "empty model_json",
    ],
)
def test_a_corrupt_model_fails_only_its_run_and_names_it_and_the_fix(built, case):
    change, cause = _cases(model_json_of(built["models"], "b"))[case]
    models = edit(built["models"], "b", **change)
    loaded, failures = load_verified_models(models)
    assert set(loaded) == {"a"}
    assert failures == {"b": f"run 'b': the stored model in lookalike_run_models {cause}, so it was not used. {FIX}"}


def test_the_hash_mismatch_message_word_for_word(built):
    models = edit(built["models"], "b", model_json=model_edits.every_score_one(model_json_of(built["models"], "b")))
    assert load_verified_models(models)[1]["b"] == (
        "run 'b': the stored model in lookalike_run_models did not match its checksum model_sha256 (edited or "
        "corrupted since it was trained), so it was not used. Run `dbt build` again to refit it (a stored model "
        "that fails this check is refitted), or refit every run with "
        "`dbt build --vars '{lookalike_force_retrain: true}'`."
    )


def test_an_older_table_without_the_checksum_column_is_loaded_when_valid(built):
    loaded, failures = load_verified_models(built["models"].drop_columns(["model_sha256"]))
    assert set(loaded) == {"a", "b"} and failures == {}
    with pytest.raises(StoredModelError, match="did not match its checksum"):
        verify_stored_model(
            {"run_id": "a", "model_json": model_json_of(built["models"], "a"), "model_sha256": "0" * 64}
        )


def test_failed_runs_are_not_verified(built):
    rows = built["models"].to_pylist() + [
        {"run_id": "f", "model_status": "FAILED", "model_json": None, "model_sha256": None}
    ]
    loaded, failures = load_verified_models(rows)
    assert set(loaded) == {"a", "b"} and failures == {}


def _rebuild(built, previous, force=False):
    return {
        r["run_id"]: r
        for r in dbt_models.train_models(
            built["runs"], built["summary"], built["examples"], built["fingerprints"], previous=previous, force=force
        ).to_pylist()
    }


def test_an_intact_model_is_reused(built):
    rows = _rebuild(built, built["models"])
    assert {r["training_action"] for r in rows.values()} == {"reused"}
    assert rows["b"]["model_json"] == model_json_of(built["models"], "b")


@pytest.mark.parametrize("edit_name", ["invalid_json", "bad_node_index", "wrong_feature_count", "every_score_one"])
def test_an_edited_model_is_refitted_with_a_warning_and_the_other_run_reused(built, edit_name):
    good = model_json_of(built["models"], "b")
    rows = _rebuild(built, edit(built["models"], "b", model_json=model_edits.EDITS[edit_name](good)))
    assert rows["a"]["training_action"] == "reused"
    assert rows["b"]["training_action"] == "trained" and rows["b"]["model_status"] == "TRAINED"
    assert rows["b"]["model_json"] == good  # the same examples give the same model
    assert rows["b"]["model_sha256"] == model_sha256(good)
    assert rows["b"]["status_message"] == (
        "run 'b': the stored model in lookalike_run_models did not match its checksum model_sha256 (edited or "
        "corrupted since it was trained); it was retrained."
    )


def test_an_edited_split_model_is_refitted_too(built):
    """The split model (split_model_json: the model of the metrics) is verified before reuse as well."""
    good = next(r["split_model_json"] for r in built["models"].to_pylist() if r["run_id"] == "b")
    rows = _rebuild(built, edit(built["models"], "b", split_model_json=model_edits.wrong_feature_count(good)))
    assert rows["a"]["training_action"] == "reused"
    assert rows["b"]["training_action"] == "trained" and rows["b"]["split_model_json"] == good
    assert rows["b"]["split_model_sha256"] == model_sha256(good)
    assert rows["b"]["status_message"] == (
        "run 'b': the stored model in lookalike_run_models did not match its checksum split_model_sha256 (edited "
        "or corrupted since it was trained); it was retrained."
    )


def test_a_table_without_checksums_is_reused_when_it_loads_and_gains_them(built):
    rows = _rebuild(built, built["models"].drop_columns(["model_sha256", "split_model_sha256"]))
    assert {r["training_action"] for r in rows.values()} == {"reused"}
    assert all(r["model_sha256"] == model_sha256(r["model_json"]) for r in rows.values())
    assert all(r["split_model_sha256"] == model_sha256(r["split_model_json"]) for r in rows.values())


def test_a_table_without_checksums_refits_a_model_that_does_not_load(built):
    good = model_json_of(built["models"], "b")
    rows = _rebuild(built, edit(built["models"], "b", model_json=model_edits.bad_node_index(good), drop_sha=True))
    assert rows["a"]["training_action"] == "reused" and rows["b"]["training_action"] == "trained"
    assert rows["b"]["status_message"] == (
        "run 'b': the stored model in lookalike_run_models could not be loaded (trees[0]: a split node points at "
        "an invalid child); it was retrained."
    )


def test_the_retrained_warning_is_not_carried_into_later_reuses(built):
    good = model_json_of(built["models"], "b")
    retrained = dbt_models.train_models(
        built["runs"],
        built["summary"],
        built["examples"],
        built["fingerprints"],
        previous=edit(built["models"], "b", model_json=model_edits.invalid_json(good)),
    )
    rows = _rebuild(built, retrained)
    assert rows["b"]["training_action"] == "reused" and rows["b"]["status_message"] is None
    assert without_retrained_warnings(
        "run 'b': features not used: x (constant) | run 'b': the stored model in "
        "lookalike_run_models is missing (model_json is empty); it was retrained."
    ) == ("run 'b': features not used: x (constant)")


def test_scoring_emits_a_failure_marker_for_a_run_whose_model_fails_verification(built):
    good = model_json_of(built["models"], "b")
    models = edit(built["models"], "b", model_json=model_edits.every_score_one(good))
    population = examples("a").select(["user_id", "signal", "tier"])
    scores = (
        dbt_models.score_population(
            models, population, batch_size=64, runs=built["runs"], fingerprints=built["fingerprints"]
        )
        .read_all()
        .to_pylist()
    )
    by_run = {}
    for row in scores:
        by_run.setdefault(row["run_id"], []).append(row)
    assert len(by_run["a"]) == 200 and {r["scoring_action"] for r in by_run["a"]} == {"scored"}
    assert all(0 < r["score"] < 1 for r in by_run["a"])
    [marker] = by_run["b"]
    assert marker["scoring_action"] == "failed" and marker["user_id"] is None and marker["score"] is None
    assert marker["scoring_message"] == (
        f"run 'b': the stored model in lookalike_run_models {MISMATCH}, so it was not used. {FIX}"
    )
    # Previous scores are never carried over for it either (its fingerprint is not computed).
    previous = dbt_models.score_population(
        built["models"], population, runs=built["runs"], fingerprints=built["fingerprints"]
    ).read_all()
    again = (
        dbt_models.score_population(
            models, population, runs=built["runs"], fingerprints=built["fingerprints"], previous=previous
        )
        .read_all()
        .to_pylist()
    )
    assert [r["scoring_action"] for r in again if r["run_id"] == "b"] == ["failed"]
    assert {r["scoring_action"] for r in again if r["run_id"] == "a"} == {"reused"}
    # A build_only run is not scored, so it gets no marker.
    build_only = pa.Table.from_pylist([dict(r, build_only=r["run_id"] == "b") for r in built["runs"].to_pylist()])
    rows = dbt_models.score_population(models, population, runs=build_only).read_all()
    assert set(rows.column("run_id").to_pylist()) == {"a"}


def test_training_predictions_and_the_quality_report_skip_only_that_run(built):
    # Both runs have negatives and a test split, so they were refitted on every label: the
    # predictions and the report use the split model (split_model_json), which is edited here.
    assert all(r["split_model_json"] for r in built["models"].to_pylist())
    good = next(r["split_model_json"] for r in built["models"].to_pylist() if r["run_id"] == "b")
    models = edit(built["models"], "b", split_model_json=model_edits.wrong_feature_count(good))
    predictions = dbt_models.predict_training_examples(models, built["examples"])
    assert set(predictions.column("run_id").to_pylist()) == {"a"} and predictions.num_rows == 200
    report = feature_report(models, built["examples"], examples("a").select(["signal", "tier"]), runs=built["runs"])
    assert set(report.column("run_id").to_pylist()) == {"a"} and report.num_rows == 2
    loaded, failures = load_verified_models(models, split_models=True)
    assert set(loaded) == {"a"}
    assert failures["b"].startswith(
        "run 'b': the stored model in lookalike_run_models did not match its checksum split_model_sha256 "
    )
    # The scoring model is not what they use: an edited model_json leaves them whole (scoring
    # refuses it: test_scoring_emits_a_failure_marker_for_a_run_whose_model_fails_verification).
    scoring_edited = edit(
        built["models"], "b", model_json=model_edits.wrong_feature_count(model_json_of(built["models"], "b"))
    )
    assert dbt_models.predict_training_examples(scoring_edited, built["examples"]).num_rows == 400
    assert set(load_verified_models(scoring_edited)[1]) == {"b"}
    # Both of b's models edited, for the reuse case below.
    models = edit(built["models"], "b", model_json=model_edits.wrong_feature_count(model_json_of(built["models"], "b")))
    models = edit(models, "b", split_model_json=model_edits.wrong_feature_count(good))
    # A reused run's carried rows are dropped too when its model now fails verification.
    reused = pa.Table.from_pylist([dict(r, training_action="reused") for r in models.to_pylist()], schema=models.schema)
    intact = pa.Table.from_pylist(
        [dict(r, training_action="reused") for r in built["models"].to_pylist()], schema=models.schema
    )
    full = dbt_models.predict_training_examples(intact, built["examples"])
    carried = dbt_models.predict_training_examples(reused, built["examples"], previous=full)
    assert set(carried.column("run_id").to_pylist()) == {"a"}
