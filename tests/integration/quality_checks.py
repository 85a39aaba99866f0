"""Checks of the quality report shared by the fixture and demo builds."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pytest
from scipy.special import expit
from sklearn.metrics import accuracy_score, confusion_matrix, log_loss, precision_recall_fscore_support, roc_curve

from conftest import query, query_dicts
from lookalike_udf.reasons import format_value
from lookalike_udf.scoring import LookalikeModel


def _same(sql_value, sklearn_value):
    if sql_value is None:
        assert math.isnan(sklearn_value), sklearn_value
    else:
        assert sql_value == pytest.approx(float(sklearn_value), abs=1e-9)


def assert_threshold_metrics_match_sklearn(db, top_pct=10) -> int:
    """Every row of lookalike_run_threshold_metrics equals sklearn on the same prediction rows.

    Returns the number of rows checked.
    """
    rows = query_dicts(db, "select * from lookalike_run_threshold_metrics order by run_id, split, cutoff")
    groups = query(db, "select distinct run_id, split from lookalike_training_predictions")
    assert {(r["run_id"], r["split"]) for r in rows if r["cutoff"] == "top_pct"} == set(groups)
    for m in rows:
        preds = query(
            db,
            "select label, score, weight from lookalike_training_predictions where run_id = ? and split = ?",
            [m["run_id"], m["split"]],
        )
        y = np.array([p[0] for p in preds], dtype=int)
        s = np.array([p[1] for p in preds], dtype=float)
        w = np.array([1.0 if p[2] is None else p[2] for p in preds], dtype=float)
        predicted = (s >= m["threshold"]).astype(int)
        tn, fp, fn, tp = confusion_matrix(y, predicted, labels=[0, 1], sample_weight=w).ravel()
        for name, value in [
            ("true_positive", tp),
            ("false_positive", fp),
            ("true_negative", tn),
            ("false_negative", fn),
        ]:
            assert m[name] == pytest.approx(value, abs=1e-9), (m["run_id"], m["split"], m["cutoff"], name)
        assert m["n_predicted_positive"] == int(predicted.sum())
        precision, recall, f1, _ = precision_recall_fscore_support(
            y, predicted, labels=[0, 1], sample_weight=w, zero_division=np.nan
        )
        for k, cls in ((1, "positive"), (0, "negative")):
            _same(m[f"precision_{cls}"], precision[k])
            _same(m[f"recall_{cls}"], recall[k])
            _same(m[f"f1_{cls}"], f1[k])
        if m["cutoff"] == "max_ks":
            assert m["top_pct"] is None
            fpr, tpr, _ = roc_curve(y, s, sample_weight=w, drop_intermediate=False)
            ks = float(np.max(np.abs(tpr - fpr)))
            assert abs(tp / (tp + fn) - fp / (fp + tn)) == pytest.approx(ks, abs=1e-9)
            metric_ks = query(
                db, "select ks from lookalike_run_metrics where run_id = ? and split = ?", [m["run_id"], m["split"]]
            )[0][0]
            assert metric_ks == pytest.approx(ks, abs=1e-9)
        else:
            assert m["top_pct"] == top_pct
            position = max(1, math.ceil(top_pct * len(s) / 100))
            assert m["threshold"] == np.sort(s)[::-1][position - 1]
    return len(rows)


def _prediction_rows(db, run_id, split):
    preds = query(
        db,
        "select label, score, weight from lookalike_training_predictions where run_id = ? and split = ?",
        [run_id, split],
    )
    y = np.array([p[0] for p in preds], dtype=int)
    s = np.array([p[1] for p in preds], dtype=float)
    w = np.array([1.0 if p[2] is None else p[2] for p in preds], dtype=float)
    return y, s, w


def assert_evaluation_matches_sklearn(db) -> int:
    """The evaluation columns and relations (docs/evaluation.md) equal scikit-learn on the same rows
    of lookalike_training_predictions: lookalike_run_metrics' log_loss and its accuracy, precision,
    recall and f1 at the top_pct threshold; lookalike_run_threshold_metrics' accuracy; and the four
    cells of lookalike_run_confusion_matrix per cutoff, unweighted and weighted. Returns the number
    of (run, split) rows checked."""
    metrics = query_dicts(db, "select * from lookalike_run_metrics order by run_id, split")
    cuts = {
        (r["run_id"], r["split"], r["cutoff"]): r
        for r in query_dicts(db, "select * from lookalike_run_threshold_metrics")
    }
    cells = query_dicts(db, "select * from lookalike_run_confusion_matrix")
    assert len(cells) == 4 * len(cuts)
    for m in metrics:
        y, s, w = _prediction_rows(db, m["run_id"], m["split"])
        assert m["log_loss"] == pytest.approx(log_loss(y, s, sample_weight=w, labels=[0, 1]), rel=1e-12, abs=1e-12)
        top = cuts[(m["run_id"], m["split"], "top_pct")]
        assert m["threshold"] == top["threshold"]
        predicted = (s >= m["threshold"]).astype(int)
        assert m["accuracy"] == pytest.approx(accuracy_score(y, predicted, sample_weight=w), abs=1e-12)
        precision, recall, f1, _ = precision_recall_fscore_support(
            y, predicted, labels=[0, 1], sample_weight=w, zero_division=np.nan
        )
        _same(m["precision_positive"], precision[1])
        _same(m["recall_positive"], recall[1])
        _same(m["f1_positive"], f1[1])
    for (run_id, split, cutoff), t in cuts.items():
        y, s, w = _prediction_rows(db, run_id, split)
        predicted = (s >= t["threshold"]).astype(int)
        assert t["accuracy"] == pytest.approx(accuracy_score(y, predicted, sample_weight=w), abs=1e-12)
        mine = {
            (c["actual_label"], c["predicted_label"]): c
            for c in cells
            if (c["run_id"], c["split"], c["cutoff"]) == (run_id, split, cutoff)
        }
        assert sorted(mine) == [(0, 0), (0, 1), (1, 0), (1, 1)]
        unweighted = confusion_matrix(y, predicted, labels=[0, 1])
        weighted = confusion_matrix(y, predicted, labels=[0, 1], sample_weight=w)
        for (actual, pred), c in mine.items():
            assert c["threshold"] == t["threshold"]
            assert c["n_examples"] == unweighted[actual, pred], (run_id, split, cutoff, actual, pred)
            assert c["sum_weight"] == pytest.approx(weighted[actual, pred], abs=1e-9)
        # The weighted cells are the threshold table's counts.
        assert mine[(1, 1)]["sum_weight"] == pytest.approx(t["true_positive"], abs=1e-9)
        assert mine[(0, 1)]["sum_weight"] == pytest.approx(t["false_positive"], abs=1e-9)
        assert mine[(0, 0)]["sum_weight"] == pytest.approx(t["true_negative"], abs=1e-9)
        assert mine[(1, 0)]["sum_weight"] == pytest.approx(t["false_negative"], abs=1e-9)
    return len(metrics)


def seed_recall_by_numpy(db, run_id: str, pcts=(10, 20)) -> tuple[int, dict]:
    """Recall of held-out seeds computed outside SQL: the test split's distinct positive users,
    their scores from int_lookalike__population_scores, and the cut-off of a top-p % audience,
    the score c at rank k = ceil(n * p / 100) of lookalike_user_scores sorted by score. A seed above c
    counts 1, one at c counts (k - a) / t (a users above c, t at c: the expected share under a random
    tie-break), below c 0. Returns (number of seeds, {p: recall})."""
    seeds = {
        u
        for (u,) in query(
            db,
            "select user_id from lookalike_training_predictions where run_id = ? and split = 'test' and label = 1",
            [run_id],
        )
    }
    population = dict(
        query(db, "select user_id, score from int_lookalike__population_scores where run_id = ?", [run_id])
    )
    seed_scores = np.array([population[u] for u in seeds if population.get(u) is not None])
    ranked = np.sort(
        np.array(
            [
                s
                for (s,) in query(
                    db, "select score from lookalike_user_scores where run_id = ? and not is_stale", [run_id]
                )
            ]
        )
    )[::-1]
    recall = {}
    for p in pcts:
        k = math.ceil(len(ranked) * p / 100)
        cutoff = ranked[k - 1]
        tie_share = (k - np.sum(ranked > cutoff)) / np.sum(ranked == cutoff)
        recall[p] = float(np.mean(np.where(seed_scores > cutoff, 1.0, np.where(seed_scores == cutoff, tie_share, 0.0))))
    return len(seed_scores), recall


def assert_seed_recall_matches_numpy(db) -> int:
    """lookalike_run_metrics' recall columns equal :func:`seed_recall_by_numpy` on the test split of
    every scored run whose population model never saw the held-out seeds, and are null on the train
    split and for runs refitted on every label (split_model_json set: decision 0032). Returns the
    number of runs checked."""
    rows = query_dicts(db, "select * from lookalike_run_metrics")
    scored = {r for (r,) in query(db, "select distinct run_id from lookalike_user_scores where not is_stale")}
    refitted = {r for (r,) in query(db, "select run_id from lookalike_run_models where split_model_json is not null")}
    checked = 0
    for m in rows:
        if m["split"] == "train" or m["run_id"] not in scored or m["run_id"] in refitted:
            assert (m["n_held_out_seed_users"], m["recall_top_10pct"], m["recall_top_20pct"]) == (None, None, None), m
            continue
        n, recall = seed_recall_by_numpy(db, m["run_id"])
        assert m["n_held_out_seed_users"] == n
        assert m["recall_top_10pct"] == pytest.approx(recall[10], abs=1e-12)
        assert m["recall_top_20pct"] == pytest.approx(recall[20], abs=1e-12)
        checked += 1
    return checked


def assert_user_reasons_are_exact(db, max_users: int | None = None) -> int:
    """lookalike_user_reasons has one row per fresh audience user (the best ``max_users`` of each
    run, the value of var lookalike_reasons_max_users), the identity
    bias + reasons + other_contribution = raw_score holds per row, raw_score equals the stored
    model's predict_raw on the user's features, and hgb / logistic single models give
    score = sigmoid(raw_score), rf ones score = raw_score. Returns the number of rows checked."""
    reasons = query_dicts(db, "select * from lookalike_user_reasons order by run_id, score_rank")
    audience = query(
        db,
        "select run_id, user_id, score_rank, score from lookalike_audiences where not is_stale "
        "order by run_id, score_rank",
    )
    if max_users is not None:
        audience = [a for a in audience if sum(b[0] == a[0] and b[2] <= a[2] for b in audience) <= max_users]
    assert [(r["run_id"], r["user_id"], r["score_rank"], r["score"]) for r in reasons] == audience
    models = {
        r["run_id"]: r for r in query_dicts(db, "select * from lookalike_run_models where model_status = 'TRAINED'")
    }
    for r in reasons:
        listed = sum(r[f"reason_{k}_contribution"] or 0.0 for k in (1, 2, 3))
        assert r["bias"] + listed + r["other_contribution"] == pytest.approx(r["raw_score"], abs=1e-9)
        contributions = [r[f"reason_{k}_contribution"] for k in (1, 2, 3) if r[f"reason_{k}_contribution"] is not None]
        assert all(c > 0 for c in contributions) and contributions == sorted(contributions, reverse=True)
        assert r["model_sha256"] == models[r["run_id"]]["model_sha256"]
    for run_id in {r["run_id"] for r in reasons}:
        model = LookalikeModel.from_json(models[run_id]["model_json"])
        rows = [r for r in reasons if r["run_id"] == run_id]
        with duckdb.connect(str(db), read_only=True) as con:
            features = con.sql(
                "select f.* from lookalike_inference_features f join lookalike_user_reasons r "
                f"using (user_id) where r.run_id = '{run_id}' order by r.score_rank"
            ).to_arrow_table()
        raw = np.array([r["raw_score"] for r in rows])
        np.testing.assert_allclose(model.predict_raw(features), raw, rtol=0, atol=1e-9)
        if not model.is_bagging:
            score = np.array([r["score"] for r in rows])
            np.testing.assert_allclose(expit(raw) if model.raw_space == "log_odds" else raw, score, rtol=0, atol=1e-9)
        # Each reason's value is the user's value of that feature, as text.
        for r, row in zip(rows, features.to_pylist(), strict=False):
            for k in (1, 2, 3):
                if r[f"reason_{k}_feature"] is not None:
                    assert r[f"reason_{k}_value"] == format_value(row[r[f"reason_{k}_feature"]])
    return len(reasons)


def assert_calibrated_scores(db) -> dict:
    """calibrated_score (decision 0032), checked outside SQL on every fresh row of every run:

    - runs without negatives (training_method pu_*): c = the plain mean of the scores of the
      test split's label-1 rows of lookalike_training_predictions, equal to
      lookalike_runs.calibration_constant, and calibrated_score = min(1, score / c) row for row in
      lookalike_user_scores and lookalike_audiences; the order of calibrated_score never
      contradicts score_rank;
    - every other run: calibrated_score and calibration_constant are null.

    Returns run_id -> c (None for runs with negatives)."""
    methods = dict(query(db, "select run_id, training_method from lookalike_run_models where model_status = 'TRAINED'"))
    constants = dict(query(db, "select run_id, calibration_constant from lookalike_runs"))
    out = {}
    for run_id, method in methods.items():
        scores = query(
            db,
            "select user_id, score, calibrated_score from lookalike_user_scores where run_id = ? and not is_stale "
            "order by score_rank",
            [run_id],
        )
        audience = dict(
            query(
                db,
                "select user_id, calibrated_score from lookalike_audiences where run_id = ? and not is_stale",
                [run_id],
            )
        )
        if not method.startswith("pu_"):
            assert constants[run_id] is None, run_id
            assert all(c is None for _, _, c in scores) and all(c is None for c in audience.values()), run_id
            out[run_id] = None
            continue
        held_out = [
            s
            for (s,) in query(
                db,
                "select score from lookalike_training_predictions where run_id = ? and split = 'test' and label = 1",
                [run_id],
            )
        ]
        assert held_out, run_id
        c = float(np.mean(held_out))
        assert constants[run_id] == pytest.approx(c, rel=1e-12), run_id
        for user_id, score, calibrated in scores:
            assert calibrated == pytest.approx(min(1.0, score / c), rel=1e-12), (run_id, user_id)
        assert all(a >= b for (_, _, a), (_, _, b) in zip(scores, scores[1:], strict=False)), run_id
        by_user = {u: cal for u, _, cal in scores}
        for user_id, calibrated in audience.items():
            assert calibrated == by_user[user_id], (run_id, user_id)
        out[run_id] = c
    return out
