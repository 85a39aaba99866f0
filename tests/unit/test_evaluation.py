"""The training log (lookalike_run_training_log, docs/evaluation.md): what the fit records, what is
completed for the stored model, how it is stored, and every check of its reader. Parity with
scikit-learn: the same estimator fitted with the same parameters, its ``train_score_`` /
``validation_score_`` and ``staged_predict_proba``, and sklearn.metrics.log_loss."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import log_loss

from lookalike_udf import evaluation
from lookalike_udf.estimators import ModelFormatError, hgb, logistic, rf
from lookalike_udf.integrity import model_sha256
from lookalike_udf.pu import bag_membership
from lookalike_udf.scoring import LookalikeModel
from lookalike_udf.training import fit_run_model


def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] + rng.normal(size=n) > 0).astype(int)
    w = np.where(y == 0, 2.0, 1.0)
    return X, y, w


def _table(X, y, w, pu=False):
    n = len(y)
    return pa.table(
        {
            "run_id": ["r"] * n,
            "example_id": [f"e{i:05d}" for i in range(n)],
            "user_id": [f"u{i}" for i in range(n)],
            "split": ["train"] * n,
            "example_source": ["unlabeled_sample" if (pu and v == 0) else "label" for v in y],
            "label": pa.array(y, pa.int32()),
            "weight": w,
            "a": X[:, 0],
            "b": X[:, 1],
            "c": X[:, 2],
        }
    )


def test_hgb_with_early_stopping_records_sklearns_own_scores():
    X, y, w = _data(500)
    mask = np.zeros(3, dtype=bool)
    _, params = hgb.fit(X, y, w, mask, 5)
    log = params["training_log"]
    reference = HistGradientBoostingClassifier(**hgb.default_params(len(y), 5)).fit(X, y, sample_weight=w)
    assert reference.n_iter_ == params["n_iter"] == len(log["iteration"])
    assert log["iteration"] == list(range(1, reference.n_iter_ + 1))
    np.testing.assert_array_equal(log["train_loss"], -reference.train_score_[1:])
    np.testing.assert_array_equal(log["validation_loss"], -reference.validation_score_[1:])
    # The loss scikit-learn early-stops on is the weighted log loss: the last train entry equals
    # log_loss on the rows it trained on is checked below without early stopping.
    assert log["train_loss"][-1] < log["train_loss"][0]


def test_hgb_without_early_stopping_gets_the_staged_log_loss_of_the_stored_trees():
    X, y, w = _data(150)
    model = fit_run_model("r", _table(X, y, w), 3, model_type="hgb")
    [log] = model.training_log
    # A run with negatives: the defaults with the supervised leaf size and L2 (decision 0037).
    params = {**hgb.default_params(len(y), 3), **hgb.supervised_params(len(y))}
    assert params["early_stopping"] is False
    assert (model.params["min_samples_leaf"], model.params["l2_regularization"]) == (7, 0.0)
    reference = HistGradientBoostingClassifier(**params).fit(X, y, sample_weight=w)
    expected = [log_loss(y, p[:, 1], sample_weight=w) for p in reference.staged_predict_proba(X)]
    assert log["iteration"] == list(range(1, reference.n_iter_ + 1)) and model.params["n_iter"] == reference.n_iter_
    np.testing.assert_allclose(log["train_loss"], expected, rtol=1e-12, atol=1e-15)
    assert log["validation_loss"] is None


def test_logistic_and_rf_logs_hold_the_final_loss():
    X, y, w = _data(150)
    table = _table(X, y, w)
    for model_type, iteration in (("logistic", None), ("rf", 100)):
        model = fit_run_model("r", table, 3, model_type=model_type)
        [log] = model.training_log
        expected_iteration = model.params["n_iter"] if iteration is None else iteration
        assert log["iteration"] == [expected_iteration]
        assert log["train_loss"][0] == pytest.approx(log_loss(y, model.predict(table), sample_weight=w), rel=1e-12)
    assert len(rf.fit(X, y, w, np.zeros(3, bool), 3)[0]["trees"]) == 100
    assert "training_log" not in logistic.fit(X, y, w, np.zeros(3, bool), 3)[1]  # computed once, not per fit


def test_bagging_members_each_get_their_own_log():
    X, _, _ = _data(160, seed=1)
    noise = np.random.default_rng(2).normal(size=len(X))
    y = (X[:, 0] + noise > 1.2).astype(int)  # a minority of positives: each bag a different part of the rest
    w = np.ones(len(y))
    table = _table(X, y, w, pu=True)
    model = fit_run_model("r", table, 9, model_type="hgb", pu_method="bagging", pu_bags=4)
    assert model.params["training_method"] == "pu_bagging"
    assert len(model.training_log) == 4
    assert [len(m["iteration"]) for m in model.training_log] == model.params["n_iter"]
    payload = model.estimator_payload
    pos, unl = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    ids = np.array(table.column("example_id").to_pylist(), dtype=object)[unl]
    in_bag = bag_membership(ids, payload["bagging"]["thresholds"], payload["bagging"]["seed"])
    for t, member in enumerate(payload["members"]):
        rows = np.concatenate([pos, unl[in_bag[t]]])
        scorer = hgb.load(member)
        proba = scorer.predict_proba_positive(X[rows])
        assert model.training_log[t]["train_loss"][-1] == pytest.approx(log_loss(y[rows], proba), rel=1e-12)
    assert len({m["train_loss"][-1] for m in model.training_log}) > 1  # different bags, different losses


def test_the_log_is_stored_beside_params_and_read_back():
    X, y, w = _data(150)
    model = fit_run_model("r", _table(X, y, w), 3, model_type="logistic")
    text = model.to_json()
    document = json.loads(text)
    assert document["training_log"] == model.training_log and "training_log" not in document["params"]
    assert LookalikeModel.from_json(text).training_log == model.training_log
    del document["training_log"]  # a model stored before the log existed
    assert LookalikeModel.from_json(json.dumps(document)).training_log is None


GOOD = [{"iteration": [1, 2], "train_loss": [0.6, 0.5], "validation_loss": [0.7, "inf"]}]


@pytest.mark.parametrize(
    "log, message",
    [
        ({}, "expected a non-empty list of members"),
        ([], "expected a non-empty list of members"),
        (["x"], r"training_log\[0\]: expected an object"),
        ([{"iteration": [2, 1], "train_loss": [0.1, 0.1]}], "increasing positive integers"),
        ([{"iteration": [0], "train_loss": [0.1]}], "increasing positive integers"),
        ([{"iteration": [True], "train_loss": [0.1]}], "increasing positive integers"),
        ([{"iteration": [], "train_loss": []}], "increasing positive integers"),
        ([{"iteration": [1, 2], "train_loss": [0.1]}], r"train_loss: expected a list of 2 numbers"),
        ([{"iteration": [1], "train_loss": [-0.1]}], "losses of 0 or more"),
        ([{"iteration": [1], "train_loss": ["nan"]}], "losses of 0 or more"),
        ([{"iteration": [1], "train_loss": ["0.1"]}], "expected a number, found the string"),
        ([{"iteration": [1], "train_loss": [0.1], "validation_loss": [0.1, 0.2]}], "validation_loss: expected a list"),
    ],
)
def test_a_malformed_log_is_refused(log, message):
    with pytest.raises(ModelFormatError, match=message):
        evaluation.training_log_rows(log)


def test_log_rows():
    assert evaluation.training_log_rows(GOOD + [{"iteration": [3], "train_loss": [0.2], "validation_loss": None}]) == [
        {"member": 0, "iteration": 1, "train_loss": 0.6, "validation_loss": 0.7},
        {"member": 0, "iteration": 2, "train_loss": 0.5, "validation_loss": float("inf")},
        {"member": 1, "iteration": 3, "train_loss": 0.2, "validation_loss": None},
    ]


def _row(run_id, model, training_log="keep", checksum=True):
    document = json.loads(model.to_json())
    if training_log != "keep":
        if training_log is None:
            document.pop("training_log")
        else:
            document["training_log"] = training_log
    text = json.dumps(document)
    return {
        "run_id": run_id,
        "model_status": "TRAINED",
        "model_type": "logistic",
        "model_json": text,
        "model_sha256": model_sha256(text) if checksum else "0" * 64,
    }


def test_training_log_relation_skips_runs_it_cannot_trust():
    X, y, w = _data(150)
    model = fit_run_model("r", _table(X, y, w), 3, model_type="logistic")
    rows = [
        _row("good", model),
        _row("older", model, training_log=None),  # stored before the log existed: no rows
        _row("malformed", model, training_log=[{"iteration": [1], "train_loss": [-1.0]}]),  # no rows
        _row("tampered", model, checksum=False),  # fails verification: no rows
        {"run_id": "failed", "model_status": "FAILED", "model_type": None, "model_json": None, "model_sha256": None},
    ]
    out = evaluation.training_log(pa.Table.from_pylist(rows)).to_pylist()
    assert [r["run_id"] for r in out] == ["good"]
    [r] = out
    assert r["member"] == 0 and r["iteration"] == model.params["n_iter"] and r["validation_loss"] is None
    assert r["train_loss"] == pytest.approx(log_loss(y, model.predict(_table(X, y, w)), sample_weight=w), rel=1e-12)
    assert r["model_sha256"] == rows[0]["model_sha256"] and r["model_type"] == "logistic"
