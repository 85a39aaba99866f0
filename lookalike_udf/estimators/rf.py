"""Model type ``rf``: scikit-learn's RandomForestClassifier on the encoder's matrix (category codes
as numbers, missing values routed by scikit-learn's trees).

Defaults (:func:`default_params`), tuning grid (:data:`GRID`), :func:`fit`, the JSON format
``lookalike-rf/1`` (:func:`dump`, :func:`load` with validation) and its scorer
(:class:`RFScorer`, a NumPy traversal). Only :func:`fit` imports scikit-learn.
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from ..errors import LookalikeError
from .base import EstimatorType, ModelFormatError, _encode_float, _float_list, _n_features, _uint_list

NAME = "rf"

FORMAT = "lookalike-rf/1"
_RF_INT_FIELDS = ("left", "right", "feature", "missing_go_to_left")


def dump(estimator) -> dict:
    """Payload of a fitted binary ``RandomForestClassifier``: each tree's node arrays from ``tree_``.

    Leaves keep the positive-class share of their (weighted) samples, computed as
    ``predict_proba`` computes it, so scores match it to the last bits.
    """
    if list(getattr(estimator, "classes_", [])) != [0, 1]:
        raise ModelFormatError("only random forests fitted on the classes 0 and 1 can be stored")
    trees = []
    for member in estimator.estimators_:
        tree = member.tree_
        value = np.asarray(tree.value)[:, 0, :]
        total = value.sum(axis=1)
        total[total == 0.0] = 1.0
        leaf = tree.children_left == -1
        trees.append(
            {
                # Leaves point at themselves (-1 in scikit-learn); they are never followed.
                "left": [int(v) for v in np.where(leaf, 0, tree.children_left)],
                "right": [int(v) for v in np.where(leaf, 0, tree.children_right)],
                "feature": [int(v) for v in np.where(leaf, 0, tree.feature)],
                # A split on "missing or not" has threshold +inf (all present values go left).
                "threshold": [
                    _encode_float(v) if not is_leaf else 0.0 for v, is_leaf in zip(tree.threshold, leaf, strict=True)
                ],
                "missing_go_to_left": [int(v) for v in np.asarray(tree.missing_go_to_left)],
                "is_leaf": [int(v) for v in leaf],
                "value": [float(v) for v in value[:, 1] / total],
            }
        )
    return {"format": FORMAT, "n_features": int(estimator.n_features_in_), "trees": trees}


class RFScorer:
    """Scores rows with a validated random-forest payload (float32 inputs as in scikit-learn's
    trees): the compiled kernel's node walk (:mod:`lookalike_udf.kernels`, ``engine`` 'kernel', or
    'auto' when numba is installed) or a NumPy traversal (any other engine, or after the kernel
    failed), the same sums in the same order. Build it with :func:`load`."""

    def __init__(self, payload: dict, engine: str = "auto"):
        n_features = _n_features(payload)
        self.n_features = n_features
        trees = payload.get("trees")
        if not isinstance(trees, list) or not trees:
            raise ModelFormatError("trees must be a non-empty list")
        self.trees = []
        for t, tree in enumerate(trees):
            where = f"trees[{t}]"
            if not isinstance(tree, dict) or not isinstance(tree.get("value"), list) or not tree["value"]:
                raise ModelFormatError(f"{where}: expected an object with a non-empty 'value' list")
            n = len(tree["value"])
            nodes = {name: _uint_list(tree.get(name), f"{where}.{name}", n) for name in _RF_INT_FIELDS + ("is_leaf",)}
            nodes["threshold"] = _float_list(tree.get("threshold"), f"{where}.threshold", n, finite=False)
            if np.any(np.isnan(nodes["threshold"])):
                raise ModelFormatError(f"{where}.threshold: NaN is not a valid threshold")
            nodes["value"] = _float_list(tree.get("value"), f"{where}.value", n)
            split = nodes["is_leaf"] == 0
            idx = np.arange(n)
            if np.any(
                split
                & ((nodes["left"] <= idx) | (nodes["right"] <= idx) | (nodes["left"] >= n) | (nodes["right"] >= n))
            ):
                raise ModelFormatError(f"{where}: a split node points at an invalid child")
            if np.any(split & (nodes["feature"] >= n_features)):
                raise ModelFormatError(f"{where}: a split uses a feature index outside 0..{n_features - 1}")
            if np.any((nodes["value"] < 0) | (nodes["value"] > 1)):
                raise ModelFormatError(f"{where}: leaf values must be probabilities in 0..1")
            self.trees.append(nodes)
        self._flat = None
        if engine == "kernel" or (engine == "auto" and kernels.kernel_available()):
            if engine == "kernel" and not kernels.numba_installed():
                raise ImportError("engine 'kernel' needs numba (pip install 'lookalike-udf[fast]')")
            self._flat = kernels.flatten_walk(self.trees)
        self.engine = "kernel" if self._flat is not None else "numpy"

    def _matrix(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise LookalikeError(f"expected a matrix with {self.n_features} feature columns, got shape {X.shape}")
        return X.astype(np.float32).astype(np.float64)  # scikit-learn's trees compare float32 inputs

    @staticmethod
    def _next_nodes(n: dict, X32: np.ndarray, rows: np.ndarray, current: np.ndarray) -> np.ndarray:
        values = X32[rows, n["feature"][current]]
        go_left = np.where(np.isnan(values), n["missing_go_to_left"][current] != 0, values <= n["threshold"][current])
        return np.where(go_left, n["left"][current], n["right"][current])

    def predict_proba_positive(self, X) -> np.ndarray:
        X32 = self._matrix(X)
        if self._flat is not None:
            try:
                return kernels.score_raw(self._flat, X32) / len(self.trees)
            except Exception as error:  # never let the optional kernel fail scoring
                kernels.disable(error)
                self._flat = None
                self.engine = "numpy"
        total = np.zeros(X32.shape[0], dtype=np.float64)
        for n in self.trees:
            node = np.zeros(X32.shape[0], dtype=np.int64)
            active = np.flatnonzero(n["is_leaf"][node] == 0)
            while active.size:
                node[active] = self._next_nodes(n, X32, active, node[active])
                active = active[n["is_leaf"][node[active]] == 0]
            total += n["value"][node]
        return total / len(self.trees)

    #: Space of :meth:`contributions`: the forest's raw output is its probability.
    raw_space = "probability"

    def predict_raw(self, X) -> np.ndarray:
        """The forest's raw score: its probability (the mean of the trees' leaf values)."""
        return self.predict_proba_positive(X)

    def contributions(self, X) -> tuple[np.ndarray, np.ndarray]:
        """Path contributions (Saabas) in probability: ``(bias, contributions)`` with
        ``bias + contributions.sum(axis=1) == predict_proba_positive(X)`` (to rounding).

        Every node's stored value is the positive share of its (weighted, bootstrap) training rows,
        so a split node's value is its children's weighted mean. Along a row's path each step's
        change in value goes to the node's split feature; trees are averaged, and the bias is the
        mean of the roots' values (the same for every row).
        """
        X32 = self._matrix(X)
        contrib = np.zeros(X32.shape, dtype=np.float64)
        bias = 0.0
        for n in self.trees:
            value = n["value"]
            bias += value[0]
            node = np.zeros(X32.shape[0], dtype=np.int64)
            active = np.flatnonzero(n["is_leaf"][node] == 0)
            while active.size:
                current = node[active]
                child = self._next_nodes(n, X32, active, current)
                contrib[active, n["feature"][current]] += value[child] - value[current]
                node[active] = child
                active = active[n["is_leaf"][node[active]] == 0]
        k = len(self.trees)
        return np.full(X32.shape[0], bias / k, dtype=np.float64), contrib / k


def load(payload: dict, engine: str = "auto") -> RFScorer:
    """Validate a payload written by :func:`dump` and return a scorer for it."""
    return RFScorer(payload, engine=engine)


def to_sql(payload: dict, features: list):
    """The payload as SQL over the encoded feature expressions ``features``: one
    :class:`lookalike_udf.sql.Member` (validated with :func:`load` first, so no malformed index
    reaches the SQL). sqlglot is imported here, not when scoring in Python."""
    from ..sql.trees import rf_member

    load(payload, engine="numpy")
    return rf_member(payload, features)


# --- Defaults, grid and fit (fit-only imports stay inside fit) -------------------------------


def default_params(n_train: int, random_seed: int, n_estimators: int = 100) -> dict:
    """Defaults for RandomForestClassifier: 100 trees, depth <= 10, leaves of 1 % of the rows (3..50)."""
    return {
        "n_estimators": int(n_estimators),
        "max_depth": 10,
        "min_samples_leaf": int(np.clip(n_train // 100, 3, 50)),
        "max_features": "sqrt",
        "random_state": int(random_seed) % (2**32),
    }


#: tune_model grid (lookalike_udf.tuning): the defaults first on each axis (depth 10, max_features sqrt).
GRID = {
    "max_depth": [10, 6, 16, None],
    "max_features": ["sqrt", 0.33, 0.6],
}


def bagging_overrides(n_bags: int) -> dict:
    """A member of an ``n_bags`` bagging PU ensemble gets 200 / n_bags trees (at least 10)."""
    return {"n_estimators": max(10, 200 // n_bags)}


def fit(X, y, w, mask, random_seed, overrides: dict | None = None) -> tuple[dict, dict]:
    from sklearn.ensemble import RandomForestClassifier

    from .fitting import threads_for, uniform_weights

    params = {**default_params(len(y), random_seed), **(overrides or {})}
    estimator = RandomForestClassifier(n_jobs=1, **params)
    with threads_for(len(y)):
        estimator.fit(X, y, sample_weight=None if uniform_weights(w) else w)
    return dump(estimator), params


TYPE = EstimatorType(
    name=NAME,
    format=FORMAT,
    estimator="RandomForestClassifier",
    fit=fit,
    load=load,
    to_sql=to_sql,
    grid=GRID,
    bagging_overrides=bagging_overrides,
)
