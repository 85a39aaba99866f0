"""Training and the dbt entry points on Arrow tables shaped like the warehouse relations."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from sklearn.metrics import roc_auc_score

from lookalike_udf import dbt_models
from lookalike_udf.errors import LookalikeError, RunValidationError
from lookalike_udf.estimators.hgb import default_params as default_hgb_params
from lookalike_udf.outputs import DELTA_SCORE_SCHEMA
from lookalike_udf.scoring import LookalikeModel
from lookalike_udf.training import fit_run_model


def examples(run_id="r", n=400, seed=0, negatives=True):
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < 0.4).astype(np.int32)
    signal = rng.normal(size=n) + 1.5 * label
    tier = np.where(rng.random(n) < 0.5 + 0.3 * label, "pro", "free")
    return pa.table(
        {
            "example_id": [f"{run_id}-{i}" for i in range(n)],
            "run_id": [run_id] * n,
            "user_id": [f"{i:05d}" for i in range(n)],
            "label": pa.array(label),
            "weight": pa.array(np.where(label == 1, 2.0, 1.0)),
            "as_of_at": pa.array([None] * n, type=pa.timestamp("us")),
            "snapshot_at": pa.array([None] * n, type=pa.timestamp("us")),
            "example_source": ["label" if negatives or lab else "unlabeled_sample" for lab in label],
            "split": np.where(np.arange(n) % 5 == 0, "test", "train").tolist(),
            "signal": signal,
            "tier": tier.tolist(),
            "noise_flag": (rng.random(n) < 0.5).tolist(),
        }
    )


def test_default_params_scale_with_data():
    small, large = default_hgb_params(40, 1), default_hgb_params(100_000, 1)
    assert small["min_samples_leaf"] == 5 and small["early_stopping"] is False and small["max_iter"] == 100
    assert large["min_samples_leaf"] == 200 and large["early_stopping"] is True


def test_fit_learns_the_signal_and_round_trips_through_json():
    t = examples()
    model = fit_run_model("r", t, random_seed=3)
    assert model.feature_names == ["signal", "tier", "noise_flag"]
    test = t.filter(pc.equal(t.column("split"), "test"))
    scores = model.predict(test)
    assert roc_auc_score(test.column("label").to_numpy(), scores) > 0.8
    again = LookalikeModel.from_json(model.to_json())
    np.testing.assert_array_equal(again.predict(test), scores)
    assert json.loads(model.to_json())["format"] == "lookalike-model/1"


def test_training_is_deterministic_for_a_seed():
    t = examples()
    assert fit_run_model("r", t, 5).to_json() == fit_run_model("r", t, 5).to_json()


def test_single_class_train_split_is_refused():
    t = examples()
    t = t.set_column(t.schema.get_field_index("label"), "label", pa.array(np.ones(t.num_rows, dtype=np.int32)))
    with pytest.raises(RunValidationError, match="run 'r': the train split holds a single class"):
        fit_run_model("r", t, 1)


def test_no_usable_feature_is_refused():
    t = examples().drop_columns(["signal", "tier", "noise_flag"]).append_column("flat", pa.array([1.0] * 400))
    with pytest.raises(
        RunValidationError, match=r"run 'r': no usable feature columns \(flat: a single distinct value\)"
    ):
        fit_run_model("r", t, 1)


def test_from_json_refuses_other_formats():
    with pytest.raises(LookalikeError, match="format 'pickle'"):
        LookalikeModel.from_json(json.dumps({"format": "pickle"}))
    with pytest.raises(LookalikeError, match="not valid JSON"):
        LookalikeModel.from_json("\x80\x04")


def run_rows(*run_ids, **overrides):
    rows = []
    for rid in run_ids:
        rows.append(
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
                **overrides.get(rid, {}),
            }
        )
    return pa.Table.from_pylist(rows)


def summary_rows(t: pa.Table, run_id: str, **overrides):
    labels = t.column("label").to_numpy()
    n_pos, n_neg = int(labels.sum()), int((labels == 0).sum())
    return {
        "run_id": run_id,
        "n_input_labels": t.num_rows,
        "n_positive_users": n_pos,
        "n_negative_users": n_neg,
        "n_positive_labels": n_pos,
        "n_negative_labels": n_neg,
        "n_matched_labels": t.num_rows,
        "n_matched_positive_labels": n_pos,
        "n_matched_negative_labels": n_neg,
        **overrides,
    }


def test_train_models_reports_each_run_and_a_failure_does_not_stop_others():
    good, bad = examples("good"), examples("bad", seed=1)
    summary = pa.Table.from_pylist([summary_rows(good, "good"), summary_rows(bad, "bad", n_negative_users=7)])
    out = dbt_models.train_models(run_rows("bad", "good"), summary, pa.concat_tables([good, bad]))
    assert out.schema == dbt_models.RUN_MODEL_SCHEMA
    rows = {r["run_id"]: r for r in out.to_pylist()}
    assert rows["good"]["model_status"] == "TRAINED" and rows["good"]["n_features"] == 3
    assert rows["good"]["n_train_examples"] == 320 and rows["good"]["n_test_examples"] == 80
    assert rows["bad"]["model_status"] == "FAILED" and rows["bad"]["model_json"] is None
    assert rows["bad"]["status_message"].startswith("run 'bad': negative_label_users has 7 distinct users")

    preds = dbt_models.predict_training_examples(out, pa.concat_tables([good, bad]))
    assert preds.schema == dbt_models.PREDICTION_SCHEMA
    assert set(preds.column("run_id").to_pylist()) == {"good"} and preds.num_rows == 400

    population = good.select(["user_id", "signal", "tier", "noise_flag"])
    stream = dbt_models.score_population(out, population, batch_size=64, runs=run_rows("good", "bad"))
    assert isinstance(stream, pa.RecordBatchReader)  # written batch by batch, never held whole
    scores = stream.read_all()
    assert scores.num_rows == 400
    assert scores.column("user_id").to_pylist() == population.column("user_id").to_pylist()
    s = scores.column("score").to_numpy()
    assert ((s > 0) & (s < 1)).all()
    # Batched scoring equals scoring all rows at once.
    whole = dbt_models.score_population(out, population, batch_size=10_000).read_all()
    np.testing.assert_array_equal(whole.column("score").to_numpy(), s)


def test_build_only_runs_are_not_scored():
    good = examples("good")
    models = dbt_models.train_models(run_rows("good"), pa.Table.from_pylist([summary_rows(good, "good")]), good)
    population = good.select(["user_id", "signal", "tier", "noise_flag"])
    scores = dbt_models.score_population(
        models, population, runs=run_rows("good", good={"build_only": True})
    ).read_all()
    assert scores.num_rows == 0 and scores.schema == DELTA_SCORE_SCHEMA  # DuckDB / Arrow: decision 0036


class _FailsOnSecondBatch:
    """A stored model that scores one batch, then raises (e.g. bad data deep in the population)."""

    def __init__(self, model):
        self.model, self.calls = model, 0

    def predict(self, batch):
        self.calls += 1
        if self.calls == 2:
            raise ValueError("could not convert 'n/a' to float")
        return self.model.predict(batch)


def test_a_run_whose_scoring_fails_part_way_gets_a_marker_row_and_the_others_go_on(monkeypatch):
    good = examples("good")
    models = dbt_models.train_models(
        run_rows("good", "flaky"),
        pa.Table.from_pylist([summary_rows(good, "good"), summary_rows(good, "flaky")]),
        pa.concat_tables([good, good.set_column(1, "run_id", pa.array(["flaky"] * good.num_rows))]),
    )
    loaded, failures = dbt_models.load_verified_models(models)
    assert set(loaded) == {"good", "flaky"} and failures == {}
    loaded["flaky"] = _FailsOnSecondBatch(loaded["flaky"])
    monkeypatch.setattr(dbt_models, "load_verified_models", lambda _: (loaded, {}))
    population = good.select(["user_id", "signal", "tier", "noise_flag"])
    scores = dbt_models.score_population(models, population, batch_size=100).read_all()
    counts = {}
    for row in scores.to_pylist():
        users, scored = counts.get(row["run_id"], (0, 0))
        counts[row["run_id"]] = (users + (row["user_id"] is not None), scored + (row["score"] is not None))
    # good: all 400 users; flaky: its first batch of 100, then one marker row with no user and no score.
    assert counts == {"good": (400, 400), "flaky": (100, 100)}
    marker = [r for r in scores.to_pylist() if r["scoring_action"] == "failed"]
    assert len(marker) == 1 and marker[0]["run_id"] == "flaky" and marker[0]["user_id"] is None
    assert marker[0]["scoring_message"] == "run 'flaky': scoring failed: ValueError: could not convert 'n/a' to float"
    # A failed run is never carried over to the next build, even with an unchanged fingerprint.
    from lookalike_udf.engines import engine_for
    from lookalike_udf.reuse import carry_over

    # (No fingerprints were given above, so each run gets one here: a None key is never carried.)
    run_ids = scores.column("run_id").cast(pa.string())
    stored = scores.set_column(
        scores.schema.get_field_index("score_fingerprint"),
        "score_fingerprint",
        pc.binary_join_element_wise(pa.scalar("fp-"), run_ids, ""),
    )
    fingerprints = {rid: f"fp-{rid}" for rid in run_ids.to_pylist()}
    carried = carry_over(
        engine_for(stored),
        stored,
        "score_fingerprint",
        fingerprints,
        failed=("scoring_action", "failed"),
        batch_size=100,
    )
    assert set(carried.runs) == {"good"}


def test_the_same_examples_in_another_row_order_give_the_same_model():
    good = examples("good")
    summary = pa.Table.from_pylist([summary_rows(good, "good")])
    shuffled = good.take(pa.array(np.random.default_rng(3).permutation(good.num_rows)))
    first = dbt_models.train_models(run_rows("good"), summary, good).to_pylist()[0]
    again = dbt_models.train_models(run_rows("good"), summary, shuffled).to_pylist()[0]
    assert first["model_status"] == again["model_status"] == "TRAINED"
    assert first["model_json"] == again["model_json"]
