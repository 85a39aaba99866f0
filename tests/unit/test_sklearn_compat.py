"""scikit-learn 1.9's histogram binning fails on a column with no non-missing value; the guarded
fix gives it no thresholds (no split), as earlier versions did, and changes nothing else."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from lookalike_udf.estimators._sklearn_compat import ensure_binning_handles_all_missing
from lookalike_udf.training import fit_run_model


def test_all_missing_column_gets_no_thresholds_and_others_are_unchanged():
    ensure_binning_handles_all_missing()
    from sklearn.ensemble._hist_gradient_boosting import binning

    find = binning._find_binning_thresholds
    assert find(np.array([np.nan, np.nan]), 255).size == 0
    # zero weight on the only present value counts as missing
    assert find(np.array([np.nan, 1.0]), 255, np.array([1.0, 0.0])).size == 0
    np.testing.assert_array_equal(find(np.array([1.0, 2.0, np.nan, 4.0]), 255), [1.5, 3.0])
    assert find(np.array([3.0, 3.0]), 255).size == 0


def test_model_with_an_all_missing_column_fits_and_never_splits_on_it():
    from sklearn.ensemble import HistGradientBoostingClassifier

    ensure_binning_handles_all_missing()
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=300), np.full(300, np.nan)])
    y = (X[:, 0] > 0).astype(int)
    clf = HistGradientBoostingClassifier(max_iter=5).fit(X, y)
    used = {
        int(f) for p in clf._predictors for node in p[0].nodes if not node["is_leaf"] for f in [node["feature_idx"]]
    }
    assert used == {0}


def test_bagging_run_whose_sparse_feature_is_missing_in_a_bag_trains():
    # 'rare' is present for 2 of 400 rows: some bags and early-stopping splits see none of it,
    # which made scikit-learn 1.9 raise "window shape cannot be larger than input array shape".
    rng = np.random.default_rng(1)
    n = 400
    label = np.r_[np.ones(40, dtype=np.int32), np.zeros(n - 40, dtype=np.int32)]
    signal = rng.normal(size=n) + 2.0 * label
    rare = np.full(n, np.nan)
    rare[[390, 399]] = [1.0, 2.0]
    examples = pa.table(
        {
            "example_id": [f"e{i:04d}" for i in range(n)],
            "run_id": ["r"] * n,
            "user_id": [f"u{i:04d}" for i in range(n)],
            "label": pa.array(label),
            "weight": np.ones(n),
            "example_source": ["label"] * 40 + ["unlabeled_sample"] * (n - 40),
            "split": ["train"] * n,
            "signal": signal,
            "rare": rare,
        }
    )
    model = fit_run_model("r", examples, 7, pu_method="bagging", pu_bags=5)
    assert model.params["training_method"] == "pu_bagging"
    assert len(model.params["n_iter"]) == 5
