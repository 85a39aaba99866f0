"""The model types a run can use (setting ``model_type``) and how each is fitted and stored.

- ``hgb``: HistGradientBoostingClassifier (the default; see :func:`default_hgb_params`).
- ``rf``: RandomForestClassifier on the encoder's matrix (category codes as numbers, missing values
  routed by scikit-learn's trees).
- ``logistic``: median fill with missing indicators and standardisation for numeric columns,
  one-hot for categorical codes, then LogisticRegression.
- ``auto``: the one of the three with the best cross-validated AUC on the run's train split
  (:func:`select_model_type`); the choice and every candidate's AUC are recorded.

Every fitter returns ``(payload, params)``: a JSON payload of :mod:`lookalike_udf.model_io` and
the parameters to record.
"""

from __future__ import annotations

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from .model_io import dump_hgb, dump_logistic, dump_rf

MODEL_TYPES = ("hgb", "rf", "logistic", "auto")
FITTED_TYPES = ("hgb", "rf", "logistic")
ESTIMATOR_NAMES = {"hgb": "HistGradientBoostingClassifier", "rf": "RandomForestClassifier",
                   "logistic": "LogisticRegression"}

#: Below this many rows a fit runs on one thread: OpenMP start-up and contention with other dbt
#: threads cost more than the parallel work saves (a 40-row fit took 0.04 s on one thread and up
#: to 10 s on two busy cores).
SINGLE_THREAD_ROWS = 50_000


def threads_for(n_rows: int):
    return threadpool_limits(limits=1) if n_rows < SINGLE_THREAD_ROWS else threadpool_limits(limits=None)


def _uniform(w: np.ndarray) -> bool:
    return w.size == 0 or bool(np.all(w == w[0]))


def default_hgb_params(n_train: int, random_seed: int) -> dict:
    """Defaults for HistGradientBoostingClassifier, regularised for small seed lists.

    Shallow trees (8 leaves, depth 3), a minimum leaf size of 5 % of the training rows kept within
    5..200, strong L2 on leaf values, and early stopping on a stratified 20 % validation split
    once there are at least 200 training rows (below that the split is too noisy, so the number of
    trees is capped at 100 instead). On the demo this lifts test AUC from 0.79 to 0.83 against
    deeper, unregularised trees, whose train AUC was 0.999.
    """
    early = n_train >= 200
    return {
        "learning_rate": 0.05,
        "max_iter": 300 if early else 100,
        "max_leaf_nodes": 8,
        "max_depth": 3,
        "min_samples_leaf": int(np.clip(n_train // 20, 5, 200)),
        "l2_regularization": 10.0,
        "early_stopping": early,
        "validation_fraction": 0.2 if early else None,
        "n_iter_no_change": 20,
        "random_state": int(random_seed) % (2**32),
    }


def default_rf_params(n_train: int, random_seed: int, n_estimators: int = 100) -> dict:
    """Defaults for RandomForestClassifier: 100 trees, depth <= 10, leaves of 1 % of the rows (3..50)."""
    return {
        "n_estimators": int(n_estimators),
        "max_depth": 10,
        "min_samples_leaf": int(np.clip(n_train // 100, 3, 50)),
        "max_features": "sqrt",
        "random_state": int(random_seed) % (2**32),
    }


def default_logistic_params(random_seed: int) -> dict:
    return {"C": 1.0, "max_iter": 2000, "random_state": int(random_seed) % (2**32)}


def fit_hgb(X, y, w, mask, random_seed, overrides: dict | None = None) -> tuple[dict, dict]:
    params = {**default_hgb_params(len(y), random_seed), **(overrides or {})}
    estimator = HistGradientBoostingClassifier(categorical_features=mask if mask.any() else None, **params)
    # Equal weights are the same as none, and skip scikit-learn's slow weighted-percentile binning
    # (about 1 s per fit on a few thousand rows).
    with threads_for(len(y)):
        estimator.fit(X, y, sample_weight=None if _uniform(w) else w)
    return dump_hgb(estimator), {**params, "n_iter": int(estimator.n_iter_)}


def fit_rf(X, y, w, mask, random_seed, n_estimators: int = 100, overrides: dict | None = None) -> tuple[dict, dict]:
    params = {**default_rf_params(len(y), random_seed, n_estimators), **(overrides or {})}
    estimator = RandomForestClassifier(n_jobs=1, **params)
    with threads_for(len(y)):
        estimator.fit(X, y, sample_weight=None if _uniform(w) else w)
    return dump_rf(estimator), params


def logistic_pipeline(mask: np.ndarray, random_seed: int,
                      overrides: dict | None = None) -> tuple[Pipeline, list[int], list[int]]:
    numeric = [int(i) for i in np.flatnonzero(~mask)]
    categorical = [int(i) for i in np.flatnonzero(mask)]
    parts = []
    if numeric:
        parts.append(("num", Pipeline([
            ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
            ("scale", StandardScaler()),
        ]), numeric))
    if categorical:
        parts.append(("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical))
    pipeline = Pipeline([
        ("prepare", ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)),
        ("model", LogisticRegression(**{**default_logistic_params(random_seed), **(overrides or {})})),
    ])
    return pipeline, numeric, categorical


def fit_logistic(X, y, w, mask, random_seed, overrides: dict | None = None) -> tuple[dict, dict]:
    pipeline, numeric, categorical = logistic_pipeline(mask, random_seed, overrides)
    X = np.where(np.isinf(X), np.nan, X)  # infinities are treated as missing (the scorer does the same)
    with threads_for(len(y)):
        pipeline.fit(X, y, model__sample_weight=w)
    params = {**default_logistic_params(random_seed), **(overrides or {}), "n_iter": int(np.max(pipeline.named_steps["model"].n_iter_))}
    return dump_logistic(pipeline, numeric, categorical, X.shape[1]), params


def fit_estimator(model_type: str, X, y, w, mask, random_seed, *, rf_trees: int = 100,
                  overrides: dict | None = None) -> tuple[dict, dict]:
    """Fit one model of ``model_type`` (``hgb``, ``rf`` or ``logistic``); ``overrides`` replace
    default parameters (the result of ``tune_model``, :mod:`lookalike_udf.tuning`)."""
    if model_type == "hgb":
        return fit_hgb(X, y, w, mask, random_seed, overrides)
    if model_type == "rf":
        return fit_rf(X, y, w, mask, random_seed, rf_trees, overrides)
    if model_type == "logistic":
        return fit_logistic(X, y, w, mask, random_seed, overrides)
    raise ValueError(f"unknown model type {model_type!r}")


def select_model_type(X, y, w, mask, groups, random_seed, n_folds: int = 3) -> tuple[str, dict]:
    """The fitted type with the best mean cross-validated AUC (weighted) on the given rows.

    Folds are stratified by label and grouped by user (all examples of a user in one fold), seeded.
    Ties go to the earlier type of ``hgb``, ``rf``, ``logistic``. Returns the type and a record
    ``{"cv_auc": {type: auc}, "n_folds": k, "chosen": type}``.
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold

    from .model_io import load_estimator

    n_minor = int(min((y == 1).sum(), (y == 0).sum()))
    folds = int(min(n_folds, n_minor))
    if folds < 2:
        return "hgb", {"cv_auc": {}, "n_folds": 0, "chosen": "hgb",
                       "note": "too few examples of a class to cross-validate; hgb used"}
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=int(random_seed) % (2**32))
    aucs = {t: [] for t in FITTED_TYPES}
    for train_idx, valid_idx in splitter.split(X, y, groups):
        if len(np.unique(y[valid_idx])) < 2 or len(np.unique(y[train_idx])) < 2:
            continue
        for model_type in FITTED_TYPES:
            payload, _ = fit_estimator(model_type, X[train_idx], y[train_idx], w[train_idx], mask, random_seed)
            scores = load_estimator(payload).predict_proba_positive(X[valid_idx])
            aucs[model_type].append(roc_auc_score(y[valid_idx], scores, sample_weight=w[valid_idx]))
    means = {t: round(float(np.mean(v)), 6) for t, v in aucs.items() if v}
    if not means:
        return "hgb", {"cv_auc": {}, "n_folds": folds, "chosen": "hgb", "note": "no usable fold; hgb used"}
    chosen = max(FITTED_TYPES, key=lambda t: (means.get(t, -1.0), -FITTED_TYPES.index(t)))
    return chosen, {"cv_auc": means, "n_folds": folds, "chosen": chosen}
