"""Model type ``logistic``: median fill with missing indicators and standardisation for numeric
columns, one-hot for categorical codes, then scikit-learn's LogisticRegression.

Defaults (:func:`default_params`), tuning grid (:data:`GRID`), :func:`fit` (the pipeline is
:func:`build_pipeline`), the JSON format ``lookalike-logistic/1`` (:func:`dump`, :func:`load` with
validation) and its scorer (:class:`LogisticScorer`, NumPy). Only :func:`fit` and
:func:`build_pipeline` import scikit-learn.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import LookalikeError
from .base import EstimatorType, ModelFormatError, _decode_float, _encode_float, _float_list, _n_features, _uint_list

NAME = "logistic"

FORMAT = "lookalike-logistic/1"


def dump(pipeline, numeric_columns: list[int], categorical_columns: list[int], n_features: int) -> dict:
    """Payload of the pipeline :func:`build_pipeline` builds and fits.

    Numeric columns: median fill, a missing indicator for columns with missing training values,
    standardisation (mean and scale over filled values and indicators). Categorical codes: one-hot
    vocabularies (a missing value is its own category when training had one; unseen codes are all
    zeros). Then the coefficients and intercept.
    """
    pre = pipeline.named_steps["prepare"]
    clf = pipeline.named_steps["model"]
    payload = {
        "format": FORMAT,
        "n_features": int(n_features),
        "numeric_columns": [int(c) for c in numeric_columns],
        "categorical_columns": [int(c) for c in categorical_columns],
        "fill": [],
        "indicator_columns": [],
        "mean": [],
        "scale": [],
        "categories": [],
    }
    if numeric_columns:
        num = pre.named_transformers_["num"]
        imputer, scaler = num.named_steps["impute"], num.named_steps["scale"]
        payload["fill"] = [float(v) for v in imputer.statistics_]
        indicator = imputer.indicator_
        payload["indicator_columns"] = [int(i) for i in (indicator.features_ if indicator is not None else [])]
        payload["mean"] = [float(v) for v in scaler.mean_]
        payload["scale"] = [float(v) for v in scaler.scale_]
    if categorical_columns:
        onehot = pre.named_transformers_["cat"]
        payload["categories"] = [[_encode_float(v) for v in cats] for cats in onehot.categories_]
    payload["coef"] = [float(v) for v in np.asarray(clf.coef_).ravel()]
    payload["intercept"] = float(np.asarray(clf.intercept_).ravel()[0])
    return payload


class LogisticScorer:
    """Scores rows with a validated logistic payload. Build it with :func:`load`."""

    engine = "numpy"

    def __init__(self, payload: dict, engine: str = "auto"):
        n_features = _n_features(payload)
        self.n_features = n_features
        self.numeric = _uint_list(payload.get("numeric_columns"), "numeric_columns", upper=n_features)
        self.categorical = _uint_list(payload.get("categorical_columns"), "categorical_columns", upper=n_features)
        if sorted(self.numeric.tolist() + self.categorical.tolist()) != list(range(n_features)):
            raise ModelFormatError("numeric_columns and categorical_columns must split the feature indices")
        k = len(self.numeric)
        self.fill = _float_list(payload.get("fill"), "fill", k)
        self.indicator = _uint_list(payload.get("indicator_columns"), "indicator_columns", upper=max(k, 1))
        if len(self.indicator) > k or np.any(np.diff(self.indicator) <= 0):
            raise ModelFormatError("indicator_columns must be increasing positions among numeric_columns")
        width = k + len(self.indicator)
        self.mean = _float_list(payload.get("mean"), "mean", width)
        self.scale = _float_list(payload.get("scale"), "scale", width)
        if np.any(self.scale <= 0):
            raise ModelFormatError("scale must be positive")
        categories = payload.get("categories")
        if not isinstance(categories, list) or len(categories) != len(self.categorical):
            raise ModelFormatError("categories must hold one list per categorical column")
        self.categories = [_float_list(c, f"categories[{i}]", finite=False) for i, c in enumerate(categories)]
        width += sum(len(c) for c in self.categories)
        self.coef = _float_list(payload.get("coef"), "coef", width)
        intercept = payload.get("intercept")
        self.intercept = _decode_float(intercept, "intercept")
        if not math.isfinite(self.intercept):
            raise ModelFormatError("intercept must be finite")

    def design_matrix(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise LookalikeError(f"expected a matrix with {self.n_features} feature columns, got shape {X.shape}")
        X = np.where(np.isinf(X), np.nan, X)  # infinities are treated as missing (as in training)
        parts = []
        if len(self.numeric):
            num = X[:, self.numeric]
            missing = np.isnan(num)
            filled = np.where(missing, self.fill, num)
            dense = np.hstack([filled, missing[:, self.indicator].astype(np.float64)])
            parts.append((dense - self.mean) / self.scale)
        for col, cats in zip(self.categorical, self.categories, strict=False):
            values = X[:, col]
            parts.append(
                ((values[:, None] == cats[None, :]) | (np.isnan(values)[:, None] & np.isnan(cats)[None, :])).astype(
                    np.float64
                )
            )
        return np.hstack(parts)

    def predict_raw(self, X) -> np.ndarray:
        """The log-odds: design matrix times coefficients plus the intercept."""
        return self.design_matrix(X) @ self.coef + self.intercept

    def predict_proba_positive(self, X) -> np.ndarray:
        from scipy.special import expit

        return expit(self.predict_raw(X))

    #: Space of :meth:`contributions` and :meth:`predict_raw`: the log-odds.
    raw_space = "log_odds"

    def design_owners(self) -> np.ndarray:
        """For each design-matrix column, the input feature it comes from: a numeric column and its
        missing indicator belong to that column, a one-hot column to its categorical column."""
        owners = [self.numeric, self.numeric[self.indicator]]
        owners += [
            np.full(len(cats), col, dtype=np.int64)
            for col, cats in zip(self.categorical, self.categories, strict=False)
        ]
        return np.concatenate(owners).astype(np.int64)

    def contributions(self, X) -> tuple[np.ndarray, np.ndarray]:
        """``(bias, contributions)`` in log-odds with ``bias + contributions.sum(axis=1) == predict_raw(X)``.

        Each design column contributes its coefficient times its value (the standardised filled
        value, the standardised missing indicator, or the one-hot 0/1), summed back to the input
        feature it comes from (:meth:`design_owners`). The bias is the intercept: a row at the
        training mean of every numeric column and in no known category.
        """
        design = self.design_matrix(X)
        terms = design * self.coef
        contrib = np.zeros((design.shape[0], self.n_features), dtype=np.float64)
        for d, owner in enumerate(self.design_owners()):
            contrib[:, owner] += terms[:, d]
        return np.full(design.shape[0], self.intercept, dtype=np.float64), contrib


def load(payload: dict, engine: str = "auto") -> LogisticScorer:
    """Validate a payload written by :func:`dump` and return a scorer for it."""
    return LogisticScorer(payload, engine=engine)


def to_sql(payload: dict, features: list):
    """The payload as SQL over the encoded feature expressions ``features``: one
    :class:`lookalike_udf.sql.Member` (validated with :func:`load` first, so no malformed index
    reaches the SQL). sqlglot is imported here, not when scoring in Python."""
    from ..sql.linear import logistic_member

    load(payload, engine="numpy")
    return logistic_member(payload, features)


# --- Defaults, grid and fit (fit-only imports stay inside the functions) ---------------------


#: A category code seen in fewer than this many training rows gets no one-hot column of its own: it
#: is encoded as all zeros, like a code first seen at scoring time (decision 0034: one column per
#: rare category let the model fit noise and put it 0.001 .. 0.03 AUC behind scikit-learn's
#: ``OneHotEncoder(min_frequency=10)`` pipeline on the benchmark). The stored format is unchanged.
MIN_CATEGORY_ROWS = 10


def frequent_categories(X, categorical: list[int], min_rows: int | None = None) -> list[np.ndarray]:
    """Per categorical column, the sorted codes (NaN last, when frequent) seen in at least
    ``min_rows`` (default :data:`MIN_CATEGORY_ROWS`) rows of ``X``; a column with no such code keeps
    its most frequent one (the first of the ties), so every column has a vocabulary.

    >>> frequent_categories(np.array([[0.0], [0.0], [1.0], [np.nan], [np.nan]]), [0], min_rows=2)
    [array([ 0., nan])]
    >>> frequent_categories(np.array([[3.0], [2.0], [2.0]]), [0], min_rows=10)
    [array([2.])]
    """
    min_rows = MIN_CATEGORY_ROWS if min_rows is None else int(min_rows)
    out = []
    for col in categorical:
        values = np.asarray(X[:, col], dtype=np.float64)
        missing = np.isnan(values)
        codes, counts = np.unique(values[~missing], return_counts=True)
        keep = codes[counts >= min_rows]
        if missing.sum() >= min_rows:
            keep = np.append(keep, np.nan)
        elif not len(keep):
            keep = codes[[int(np.argmax(counts))]] if len(codes) and counts.max() >= missing.sum() else [np.nan]
        out.append(np.asarray(keep, dtype=np.float64))
    return out


def default_params(random_seed: int) -> dict:
    return {"C": 1.0, "max_iter": 2000, "random_state": int(random_seed) % (2**32)}


#: tune_model grid (lookalike_udf.tuning): the default (C 1) first.
GRID = {
    "C": [1.0, 0.03, 0.1, 0.3, 3.0, 10.0],
}


def build_pipeline(mask: np.ndarray, random_seed: int, overrides: dict | None = None):
    """The unfitted scikit-learn Pipeline and the numeric and categorical column indices."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [int(i) for i in np.flatnonzero(~mask)]
    categorical = [int(i) for i in np.flatnonzero(mask)]
    parts = []
    if numeric:
        parts.append(
            (
                "num",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
                        ("scale", StandardScaler()),
                    ]
                ),
                numeric,
            )
        )
    if categorical:
        parts.append(("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical))
    model = Pipeline(
        [
            ("prepare", ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)),
            ("model", LogisticRegression(**{**default_params(random_seed), **(overrides or {})})),
        ]
    )
    return model, numeric, categorical


def fit(X, y, w, mask, random_seed, overrides: dict | None = None) -> tuple[dict, dict]:
    from .fitting import threads_for

    model, numeric, categorical = build_pipeline(mask, random_seed, overrides)
    X = np.where(np.isinf(X), np.nan, X)  # infinities are treated as missing (the scorer does the same)
    if categorical:  # rare codes get no column of their own (MIN_CATEGORY_ROWS)
        model.set_params(prepare__cat__categories=frequent_categories(X, categorical))
    with threads_for(len(y)):
        model.fit(X, y, model__sample_weight=w)
    params = {
        **default_params(random_seed),
        **(overrides or {}),
        "n_iter": int(np.max(model.named_steps["model"].n_iter_)),
    }
    return dump(model, numeric, categorical, X.shape[1]), params


TYPE = EstimatorType(
    name=NAME, format=FORMAT, estimator="LogisticRegression", fit=fit, load=load, to_sql=to_sql, grid=GRID
)
