"""Checks of the quality report shared by the fixture and demo builds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support, roc_curve

from conftest import query, query_dicts


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
        preds = query(db, "select label, score, weight from lookalike_training_predictions where run_id = ? and split = ?",
                      [m["run_id"], m["split"]])
        y = np.array([p[0] for p in preds], dtype=int)
        s = np.array([p[1] for p in preds], dtype=float)
        w = np.array([1.0 if p[2] is None else p[2] for p in preds], dtype=float)
        predicted = (s >= m["threshold"]).astype(int)
        tn, fp, fn, tp = confusion_matrix(y, predicted, labels=[0, 1], sample_weight=w).ravel()
        for name, value in [("true_positive", tp), ("false_positive", fp), ("true_negative", tn), ("false_negative", fn)]:
            assert m[name] == pytest.approx(value, abs=1e-9), (m["run_id"], m["split"], m["cutoff"], name)
        assert m["n_predicted_positive"] == int(predicted.sum())
        precision, recall, f1, _ = precision_recall_fscore_support(y, predicted, labels=[0, 1], sample_weight=w,
                                                                   zero_division=np.nan)
        for k, cls in ((1, "positive"), (0, "negative")):
            _same(m[f"precision_{cls}"], precision[k])
            _same(m[f"recall_{cls}"], recall[k])
            _same(m[f"f1_{cls}"], f1[k])
        if m["cutoff"] == "max_ks":
            assert m["top_pct"] is None
            fpr, tpr, _ = roc_curve(y, s, sample_weight=w, drop_intermediate=False)
            ks = float(np.max(np.abs(tpr - fpr)))
            assert abs(tp / (tp + fn) - fp / (fp + tn)) == pytest.approx(ks, abs=1e-9)
            metric_ks = query(db, "select ks from lookalike_run_metrics where run_id = ? and split = ?",
                              [m["run_id"], m["split"]])[0][0]
            assert metric_ks == pytest.approx(ks, abs=1e-9)
        else:
            assert m["top_pct"] == top_pct
            position = max(1, math.ceil(top_pct * len(s) / 100))
            assert m["threshold"] == np.sort(s)[::-1][position - 1]
    return len(rows)
