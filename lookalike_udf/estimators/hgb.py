"""Model type ``hgb``: scikit-learn's HistGradientBoostingClassifier (the default type).

Defaults (:func:`default_params`), tuning grid (:data:`GRID`), :func:`fit`, the JSON format
``lookalike-hgb/1`` (:func:`dump`, :func:`load` with validation) and its scorer
(:class:`HGBScorer`). Only :func:`fit` imports scikit-learn's estimator; loading and scoring do not.

Models live in a warehouse table, and anything read back from the warehouse must not be able to
run code, so pickle and joblib are out. :func:`dump` writes the ensemble's trees (node arrays
and categorical bitsets), the baseline and the categorical encoding that scikit-learn applies
before prediction. :func:`load` validates every index in that payload and rebuilds a scorer.

The scorer uses scikit-learn's compiled tree predictor when it is importable (same code path as
``predict_proba``, so results match to the last bit) and a vectorised NumPy traversal otherwise.
Both are tested for parity with ``predict_proba``.

>>> import numpy as np
>>> from sklearn.ensemble import HistGradientBoostingClassifier
>>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]] * 10)
>>> y = np.array([0, 0, 1, 1] * 10)
>>> clf = HistGradientBoostingClassifier(max_iter=3, min_samples_leaf=2).fit(X, y)
>>> scorer = load(dump(clf))
>>> bool(np.array_equal(scorer.predict_proba_positive(X), clf.predict_proba(X)[:, 1]))
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import kernels
from ..errors import LookalikeError
from .base import EstimatorType, ModelFormatError, _decode_float, _encode_float, _n_features

NAME = "hgb"

FORMAT = "lookalike-hgb/1"

#: Node fields a payload must carry; they are all the traversal needs.
_CORE_FIELDS = (
    "value",
    "feature_idx",
    "num_threshold",
    "missing_go_to_left",
    "left",
    "right",
    "is_leaf",
    "is_categorical",
    "bitset_idx",
)
#: Extra node fields kept for inspection (split gains feed feature importance).
_EXTRA_FIELDS = ("count", "gain", "depth", "bin_threshold")
_FLOAT_FIELDS = {"value", "num_threshold", "gain"}
_MAX_UINT32 = 2**32 - 1


def dump(estimator) -> dict:
    """Return a JSON-serialisable payload for a fitted binary ``HistGradientBoostingClassifier``."""
    if getattr(estimator, "n_trees_per_iteration_", None) != 1:
        raise ModelFormatError("only binary HistGradientBoostingClassifier models can be stored")
    n_features = int(estimator.n_features_in_)
    preprocessor = getattr(estimator, "_preprocessor", None)
    if preprocessor is None:
        column_order = list(range(n_features))
        categories = {}
    else:
        # scikit-learn ordinal-encodes categorical columns and moves them first before predicting.
        is_cat = np.asarray(estimator.is_categorical_, dtype=bool)
        cat_idx = [int(i) for i in np.flatnonzero(is_cat)]
        num_idx = [int(i) for i in np.flatnonzero(~is_cat)]
        column_order = cat_idx + num_idx
        encoder = preprocessor.named_transformers_["encoder"]
        categories = {
            str(col): [float(v) for v in np.asarray(cats, dtype=np.float64) if not np.isnan(v)]
            for col, cats in zip(cat_idx, encoder.categories_, strict=False)
        }
    known, f_idx_map = estimator._bin_mapper.make_known_categories_bitsets()
    trees = []
    for iteration in estimator._predictors:
        predictor = iteration[0]
        nodes = predictor.nodes
        fields = {}
        for name in _CORE_FIELDS + _EXTRA_FIELDS:
            column = nodes[name]
            if name in _FLOAT_FIELDS:
                fields[name] = [_encode_float(v) for v in column]
            else:
                fields[name] = [int(v) for v in column]
        trees.append(
            {
                "nodes": fields,
                "raw_left_cat_bitsets": np.asarray(predictor.raw_left_cat_bitsets).astype(int).tolist(),
                "binned_left_cat_bitsets": np.asarray(predictor.binned_left_cat_bitsets).astype(int).tolist(),
            }
        )
    return {
        "format": FORMAT,
        "n_features": n_features,
        "column_order": column_order,
        "categories": categories,
        "baseline": _encode_float(np.asarray(estimator._baseline_prediction).ravel()[0]),
        "known_cat_bitsets": np.asarray(known).astype(int).tolist(),
        "f_idx_map": [int(v) for v in f_idx_map],
        "trees": trees,
    }


def _bitsets(value, where: str) -> np.ndarray:
    if not isinstance(value, list) or any(not isinstance(r, list) or len(r) != 8 for r in value):
        raise ModelFormatError(f"{where}: expected a list of rows of 8 integers")
    array = np.zeros((len(value), 8), dtype=np.uint32)
    for i, row in enumerate(value):
        for j, v in enumerate(row):
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= _MAX_UINT32:
                raise ModelFormatError(f"{where}[{i}][{j}]: expected an unsigned 32-bit integer")
            array[i, j] = v
    return array


@dataclass
class _Tree:
    nodes: dict  # field name -> numpy array
    raw_left: np.ndarray
    binned_left: np.ndarray


def _load_tree(tree, t: int, n_features: int) -> _Tree:
    where = f"trees[{t}]"
    if not isinstance(tree, dict) or not isinstance(tree.get("nodes"), dict):
        raise ModelFormatError(f"{where}: expected an object with 'nodes'")
    raw_nodes = tree["nodes"]
    missing = [f for f in _CORE_FIELDS if f not in raw_nodes]
    if missing:
        raise ModelFormatError(f"{where}: node fields missing: {', '.join(missing)}")
    lengths = {len(raw_nodes[f]) if isinstance(raw_nodes[f], list) else -1 for f in _CORE_FIELDS}
    if len(lengths) != 1 or -1 in lengths or 0 in lengths:
        raise ModelFormatError(f"{where}: node fields must be non-empty lists of one length")
    n_nodes = lengths.pop()
    nodes = {}
    for name in _CORE_FIELDS + _EXTRA_FIELDS:
        if name not in raw_nodes:
            continue
        values = raw_nodes[name]
        if len(values) != n_nodes:
            raise ModelFormatError(f"{where}.{name}: expected {n_nodes} values")
        # Fast paths check the element types once per column (set of types; bool is not int
        # here), then ranges in numpy: loading a 20-member model took 2 s in per-value checks.
        types = set(map(type, values))
        if name in _FLOAT_FIELDS:
            if types <= {float, int}:
                nodes[name] = np.array(values, dtype=np.float64)
            else:
                nodes[name] = np.array([_decode_float(v, f"{where}.{name}") for v in values], dtype=np.float64)
        else:
            if not types <= {int} or min(values) < 0 or max(values) > _MAX_UINT32:
                raise ModelFormatError(f"{where}.{name}: expected unsigned integers")
            nodes[name] = np.array(values, dtype=np.int64)
    raw_left = _bitsets(tree.get("raw_left_cat_bitsets", []), f"{where}.raw_left_cat_bitsets")
    binned_left = _bitsets(tree.get("binned_left_cat_bitsets", []), f"{where}.binned_left_cat_bitsets")
    split = nodes["is_leaf"] == 0
    idx = np.arange(n_nodes)
    # Children always come after their parent in scikit-learn's layout; requiring it rules out cycles.
    if np.any(
        split
        & ((nodes["left"] <= idx) | (nodes["right"] <= idx) | (nodes["left"] >= n_nodes) | (nodes["right"] >= n_nodes))
    ):
        raise ModelFormatError(f"{where}: a split node points at an invalid child")
    if np.any(split & (nodes["feature_idx"] >= n_features)):
        raise ModelFormatError(f"{where}: a split uses a feature index outside 0..{n_features - 1}")
    categorical = split & (nodes["is_categorical"] != 0)
    if np.any(categorical & (nodes["bitset_idx"] >= len(raw_left))):
        raise ModelFormatError(f"{where}: a categorical split points at a missing bitset")
    if np.any(split & ~categorical & np.isnan(nodes["num_threshold"])):
        raise ModelFormatError(f"{where}: a numeric split has a NaN threshold")
    return _Tree(nodes=nodes, raw_left=raw_left, binned_left=binned_left)


def _in_bitset(bitsets: np.ndarray, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    words = bitsets[rows, values >> 5]
    return ((words >> (values & 31).astype(np.uint32)) & 1).astype(bool)


#: Rows per block of the block-parallel scorer (:func:`run_blocks`): one thread walks every tree
#: over one block, so the block's columns stay in cache (16k x 30 float64 = 3.75 MiB) and no
#: OpenMP region is opened per tree.
BLOCK_ROWS = 16_384


def scoring_threads() -> int:
    """Threads for scoring: scikit-learn's OpenMP setting (``OMP_NUM_THREADS``, else the CPUs)."""
    try:
        from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
    except ImportError:  # pragma: no cover - scikit-learn is a dependency
        return 1
    return max(1, int(_openmp_effective_n_threads()))


def run_blocks(n_rows: int, work, n_threads: int | None = None, block_rows: int = BLOCK_ROWS) -> None:
    """Call ``work(start, stop)`` for every block of ``block_rows`` rows, on ``n_threads`` Python
    threads. scikit-learn's compiled tree predictor releases the GIL, so blocks scored on one
    thread each run side by side: at 200k users x 20-member bagging this replaced one OpenMP
    region per tree and block (two threads fighting over two busy cores) with one task per block
    (issue 17, bench/RESULTS.md). Each block writes only its own rows, so results do not depend
    on the number of threads."""
    spans = [(start, min(start + block_rows, n_rows)) for start in range(0, n_rows, block_rows)]
    threads = scoring_threads() if n_threads is None else max(1, int(n_threads))
    if threads == 1 or len(spans) <= 1:
        for start, stop in spans:
            work(start, stop)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(threads, len(spans))) as pool:
        for future in [pool.submit(work, start, stop) for start, stop in spans]:
            future.result()


class HGBScorer:
    """Scores rows with a validated payload. Build it with :func:`load`."""

    def __init__(self, payload: dict, engine: str = "auto"):
        if not isinstance(payload, dict):
            raise ModelFormatError(f"model payload must be an object, found {type(payload).__name__}")
        if payload.get("format") != FORMAT:
            raise ModelFormatError(f"model payload has format {payload.get('format')!r}; expected {FORMAT!r}")
        n_features = _n_features(payload)
        self.n_features = n_features
        order = payload.get("column_order")
        if not isinstance(order, list) or sorted(order) != list(range(n_features)):
            raise ModelFormatError("column_order must be a permutation of the feature indices")
        self.column_order = np.array(order, dtype=np.intp)
        categories = payload.get("categories")
        if not isinstance(categories, dict):
            raise ModelFormatError("categories must be an object")
        self.categories = {}
        for key, values in categories.items():
            if not key.isdigit() or int(key) >= n_features or not isinstance(values, list):
                raise ModelFormatError(f"categories[{key!r}]: expected a feature index and a list")
            cats = np.array([_decode_float(v, f"categories[{key}]") for v in values], dtype=np.float64)
            if np.isnan(cats).any() or np.any(np.diff(cats) <= 0) or len(cats) > 255:
                raise ModelFormatError(f"categories[{key!r}]: expected at most 255 sorted distinct numbers")
            self.categories[int(key)] = cats
        self.baseline = _decode_float(payload.get("baseline"), "baseline")
        self.known_cat_bitsets = _bitsets(payload.get("known_cat_bitsets"), "known_cat_bitsets")
        f_idx_map = payload.get("f_idx_map")
        if (
            not isinstance(f_idx_map, list)
            or len(f_idx_map) != n_features
            or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in f_idx_map)
        ):
            raise ModelFormatError("f_idx_map must list one unsigned integer per feature")
        self.f_idx_map = np.array(f_idx_map, dtype=np.uint32)
        n_cat = len(self.categories)
        if len(self.known_cat_bitsets) != n_cat or any(self.f_idx_map[i] >= n_cat for i in range(n_cat)):
            raise ModelFormatError("known_cat_bitsets and f_idx_map disagree with the categories")
        trees = payload.get("trees")
        if not isinstance(trees, list) or not trees:
            raise ModelFormatError("trees must be a non-empty list")
        self.trees = [_load_tree(tree, t, n_features) for t, tree in enumerate(trees)]
        for tree in self.trees:
            cat_split = (tree.nodes["is_leaf"] == 0) & (tree.nodes["is_categorical"] != 0)
            if np.any(cat_split & (tree.nodes["feature_idx"] >= n_cat)):
                raise ModelFormatError("a categorical split uses a feature that is not categorical")
        if engine not in ("auto", "kernel", "sklearn", "numpy"):
            raise ValueError("engine must be 'auto', 'kernel', 'sklearn' or 'numpy'")
        self._sklearn_predictors = None
        self._flat = None  # the compiled kernel's node arrays (lookalike_udf.kernels)
        self._padded = None  # every tree padded (depth <= 3): kernels.score_members' arrays
        self._expected = None  # split nodes' expected values, for contributions()
        self._paths = None  # per tree: leaf predictor, columns, path contributions (contributions())
        if engine in ("auto", "kernel", "sklearn"):
            try:
                self._sklearn_predictors = self._build_sklearn_predictors()
            except ImportError:
                if engine == "sklearn":
                    raise
        if engine == "kernel" or (engine == "auto" and kernels.kernel_available()):
            if engine == "kernel" and not kernels.numba_installed():
                raise ImportError("engine 'kernel' needs numba (pip install 'lookalike-udf[fast]')")
            self._flat = kernels.flatten_hgb(self.trees, self.baseline, self.known_cat_bitsets, self.f_idx_map)
            self._padded = kernels.stack_padded([self._flat])
        self._set_engine()
        # Members whose preparation is the same share one prepared block (BaggingScorer).
        self.prepare_key = (
            self.column_order.tobytes(),
            tuple((k, v.tobytes()) for k, v in sorted(self.categories.items())),
        )

    def drop_kernel(self) -> None:
        """Score with the previous path from now on (after the kernel failed)."""
        self._flat = None
        self._padded = None
        self._set_engine()

    def _set_engine(self) -> None:
        if self._flat is not None:
            self.engine = "kernel"
        else:
            self.engine = "sklearn" if self._sklearn_predictors is not None else "numpy"

    def _build_sklearn_predictors(self):
        from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE
        from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor

        predictors = []
        for tree in self.trees:
            n_nodes = len(tree.nodes["value"])
            nodes = np.zeros(n_nodes, dtype=PREDICTOR_RECORD_DTYPE)
            for name, values in tree.nodes.items():
                if name in PREDICTOR_RECORD_DTYPE.names:
                    nodes[name] = values
            predictors.append(TreePredictor(nodes, tree.binned_left, tree.raw_left))
        return predictors

    def _prepare(self, X) -> np.ndarray:
        """The predictor's matrix: its column order, category values replaced by their codes, in
        one column-major copy. Each tree reads a few features of every row, so columns laid out
        contiguously score faster (300 trees x 1M x 80: 3.3 s against 3.8 s row-major in blocks)."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise LookalikeError(f"expected a matrix with {self.n_features} feature columns, got shape {X.shape}")
        out = np.empty(X.shape, dtype=np.float64, order="F")
        for j, col in enumerate(self.column_order):
            values = X[:, col]
            cats = self.categories.get(int(col))
            if cats is None:
                out[:, j] = values
            else:
                pos = np.searchsorted(cats, values)
                found = (pos < len(cats)) & (cats[np.minimum(pos, len(cats) - 1)] == values)
                out[:, j] = np.where(found, pos, np.nan)
        return out

    def raw_block(self, X) -> np.ndarray:
        """:meth:`predict_raw` of a block of rows on the calling thread alone (one thread per tree
        walk: blocks are run side by side by :func:`run_blocks`)."""
        return self.raw_prepared(self._prepare(X))

    def raw_prepared(self, Xm: np.ndarray) -> np.ndarray:
        """:meth:`raw_block` of a matrix already prepared by :meth:`_prepare`. Uses the compiled
        kernel (:mod:`lookalike_udf.kernels`) when it is on; if it fails, logs a warning, turns it
        off for this process and scores with scikit-learn's predictors (or NumPy) as before."""
        if self._flat is not None:
            try:
                if self._padded is not None:
                    return kernels.score_members(self._padded, Xm)[0]
                return kernels.score_raw(self._flat, Xm)
            except Exception as error:  # never let the optional kernel fail scoring
                kernels.disable(error)
                self.drop_kernel()
        raw = np.full(Xm.shape[0], self.baseline, dtype=np.float64)
        if self._sklearn_predictors is not None:
            for predictor in self._sklearn_predictors:
                raw += predictor.predict(Xm, self.known_cat_bitsets, self.f_idx_map, 1)
        else:
            for tree in self.trees:
                raw += self._predict_tree_numpy(tree, Xm)
        return raw

    def predict_raw(self, X, n_threads: int | None = None) -> np.ndarray:
        """Sum of the baseline and every tree's leaf value (the log-odds), in the order
        ``predict_proba`` adds them, so the result is the same to the last bit. Rows are scored in
        blocks of :data:`BLOCK_ROWS`, each block by one thread walking every tree (:func:`run_blocks`)."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise LookalikeError(f"expected a matrix with {self.n_features} feature columns, got shape {X.shape}")
        raw = np.empty(X.shape[0], dtype=np.float64)

        def work(start, stop):
            raw[start:stop] = self.raw_block(X[start:stop])

        run_blocks(X.shape[0], work, n_threads)
        return raw

    def staged_raw(self, X):
        """The raw score (log-odds) of every row after each tree, in the order ``predict_proba``
        adds them: what scikit-learn's ``staged_decision_function`` gives for the fitted estimator
        (lookalike_run_training_log). One array per tree."""
        Xm = self._prepare(X)
        raw = np.full(Xm.shape[0], self.baseline, dtype=np.float64)
        for i, tree in enumerate(self.trees):
            if self._sklearn_predictors is not None:
                raw = raw + self._sklearn_predictors[i].predict(Xm, self.known_cat_bitsets, self.f_idx_map, 1)
            else:
                raw = raw + self._predict_tree_numpy(tree, Xm)
            yield raw

    def predict_proba_positive(self, X) -> np.ndarray:
        """Probability of the positive class, as ``predict_proba(X)[:, 1]``."""
        raw = self.predict_raw(X)
        from scipy.special import expit

        return expit(raw)

    def _next_nodes(self, tree: _Tree, X: np.ndarray, rows: np.ndarray, current: np.ndarray) -> np.ndarray:
        """The child each of ``rows`` (of the prepared matrix ``X``) goes to from split nodes ``current``."""
        n = tree.nodes
        feature = n["feature_idx"][current]
        values = X[rows, feature]
        missing_left = n["missing_go_to_left"][current] != 0
        is_nan = np.isnan(values)
        go_left = np.where(is_nan, missing_left, values <= n["num_threshold"][current])
        cat = (n["is_categorical"][current] != 0) & ~is_nan
        if cat.any():
            cat_values = values[cat]
            in_range = (cat_values >= 0) & (cat_values < 256)
            codes = np.where(in_range, cat_values, 0).astype(np.int64)
            left_member = _in_bitset(tree.raw_left, n["bitset_idx"][current[cat]], codes) & in_range
            known = _in_bitset(self.known_cat_bitsets, self.f_idx_map[feature[cat]].astype(np.int64), codes) & in_range
            go_left[cat] = np.where(left_member, True, np.where(known, False, missing_left[cat]))
        return np.where(go_left, n["left"][current], n["right"][current])

    def _predict_tree_numpy(self, tree: _Tree, X: np.ndarray) -> np.ndarray:
        n = tree.nodes
        node = np.zeros(X.shape[0], dtype=np.int64)
        active = np.flatnonzero(n["is_leaf"][node] == 0)
        while active.size:
            node[active] = self._next_nodes(tree, X, active, node[active])
            active = active[n["is_leaf"][node[active]] == 0]
        return n["value"][node]

    #: Space of :meth:`contributions` and :meth:`predict_raw`: the log-odds.
    raw_space = "log_odds"

    def contributions(self, X) -> tuple[np.ndarray, np.ndarray]:
        """Path contributions (Saabas) in log-odds: ``(bias, contributions)`` with
        ``bias + contributions.sum(axis=1) == predict_raw(X)`` (to rounding).

        Every split node gets the mean of its leaves' values weighted by their training row counts
        (``count``; equal weights when a payload has no counts), so the value of a tree's root is
        the tree's expected output. Walking a row from the root to its leaf, each step's change in
        node value goes to the feature the node splits on (in the input's column order). The bias
        is the baseline plus every root's value; it is the same for every row.
        """
        Xm = self._prepare(X)
        contrib = np.zeros((Xm.shape[0], self.n_features), dtype=np.float64)
        if self._expected is None:  # once per scorer: a Python loop over the nodes
            self._expected = [_expected_node_values(tree.nodes) for tree in self.trees]
        bias = self.baseline + sum(expected[0] for expected in self._expected)
        if self._sklearn_predictors is not None:
            # Each row's leaf from the compiled predictor (a copy of the tree whose leaves hold
            # their own node index), then the leaf's whole path added at once: the sum of the
            # same steps as the walk below. Contributions are accumulated feature-major (a
            # tree's few columns are contiguous rows) and the trees split between the scoring
            # threads, each with its own sum, added in a fixed order (20 members x ~170 trees x
            # 10,000 rows: 8 s walking the nodes, 3 s leaf paths row-major, ~1 s now).
            if self._paths is None:
                self._paths = [
                    self._leaf_paths(tree, expected) for tree, expected in zip(self.trees, self._expected, strict=False)
                ]
            n_rows = Xm.shape[0]

            def part(paths):
                acc = np.zeros((self.n_features, n_rows), dtype=np.float64)
                for leaf_predictor, columns, path_t in paths:
                    if columns.size:
                        leaf = leaf_predictor.predict(Xm, self.known_cat_bitsets, self.f_idx_map, 1).astype(np.intp)
                        acc[columns] += path_t[:, leaf]
                return acc

            threads = min(scoring_threads(), len(self._paths)) if n_rows * len(self._paths) >= 1_000_000 else 1
            bounds = np.linspace(0, len(self._paths), threads + 1).astype(int)
            parts = [self._paths[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
            if threads > 1:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(max_workers=threads) as pool:
                    sums = list(pool.map(part, parts))
            else:
                sums = [part(paths) for paths in parts]
            total = sums[0]
            for other in sums[1:]:
                total += other
            return np.full(n_rows, bias, dtype=np.float64), np.ascontiguousarray(total.T)
        for tree, expected in zip(self.trees, self._expected, strict=False):
            n = tree.nodes
            node = np.zeros(Xm.shape[0], dtype=np.int64)
            active = np.flatnonzero(n["is_leaf"][node] == 0)
            while active.size:
                current = node[active]
                child = self._next_nodes(tree, Xm, active, current)
                # Each row appears once in ``active``: no repeated (row, column) pair in one step.
                contrib[active, self.column_order[n["feature_idx"][current]]] += expected[child] - expected[current]
                node[active] = child
                active = active[n["is_leaf"][node[active]] == 0]
        return np.full(Xm.shape[0], bias, dtype=np.float64), contrib

    def _leaf_paths(self, tree: _Tree, expected: np.ndarray):
        """(leaf predictor, input columns the tree splits on, path contributions: one row per
        column, one entry per node). Parents come before their children (checked by :func:`_load_tree`), so one pass
        in node order gives every node the sum of the steps from the root to it."""
        from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE
        from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor

        n = tree.nodes
        n_nodes = len(n["value"])
        split = np.flatnonzero(n["is_leaf"] == 0)
        columns = np.unique(self.column_order[n["feature_idx"][split]])
        local = {int(c): k for k, c in enumerate(columns)}
        path = np.zeros((n_nodes, len(columns)), dtype=np.float64)
        for i in split:
            k = local[int(self.column_order[n["feature_idx"][i]])]
            for child in (n["left"][i], n["right"][i]):
                path[child] = path[i]
                path[child, k] += expected[child] - expected[i]
        nodes = np.zeros(n_nodes, dtype=PREDICTOR_RECORD_DTYPE)
        for name, values in n.items():
            if name in PREDICTOR_RECORD_DTYPE.names:
                nodes[name] = values
        nodes["value"] = np.arange(n_nodes, dtype=np.float64)
        return TreePredictor(nodes, tree.binned_left, tree.raw_left), columns, np.ascontiguousarray(path.T)


def _expected_node_values(nodes: dict) -> np.ndarray:
    """Leaf values as stored; each split node the row-count-weighted mean of its children's values.

    scikit-learn keeps split nodes' values unshrunk (only leaves are multiplied by the learning
    rate), so they are recomputed from the leaves here. Children come after their parent (checked
    by :func:`_load_tree`), so one pass from the last node back fills every split node.
    """
    value = nodes["value"].copy()
    is_leaf = nodes["is_leaf"] != 0
    stored = "count" in nodes
    count = nodes["count"].astype(np.float64) if stored else is_leaf.astype(np.float64)
    for i in range(len(value) - 1, -1, -1):
        if is_leaf[i]:
            continue
        left, right = nodes["left"][i], nodes["right"][i]
        total = count[left] + count[right]
        if not stored:
            count[i] = total
        if total > 0:
            value[i] = (count[left] * value[left] + count[right] * value[right]) / total
        else:
            value[i] = 0.5 * (value[left] + value[right])
    return value


def load(payload: dict, engine: str = "auto") -> HGBScorer:
    """Validate a payload written by :func:`dump` and return a scorer for it."""
    return HGBScorer(payload, engine=engine)


def to_sql(payload: dict, features: list):
    """The payload as SQL over the encoded feature expressions ``features``: one
    :class:`lookalike_udf.sql.Member` (validated with :func:`load` first, so no malformed index
    reaches the SQL). sqlglot is imported here, not when scoring in Python."""
    from ..sql.trees import hgb_member

    load(payload, engine="numpy")
    return hgb_member(payload, features)


# --- Defaults, grid and fit (fit-only imports stay inside fit) -------------------------------


def default_params(n_train: int, random_seed: int) -> dict:
    """Defaults for HistGradientBoostingClassifier, regularised for small seed lists (runs with
    negatives replace two of them with :func:`supervised_params`).

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


#: Runs with negatives (supervised): the minimum leaf size is at most scikit-learn's 20 (decision 0037).
SUPERVISED_MIN_SAMPLES_LEAF = 20


def supervised_params(n_train: int) -> dict:
    """What a run with negatives fits instead of two of the defaults (decision 0037): no L2, and
    a minimum leaf size of 5 % of the rows kept within 5..20 (the defaults' 5..200 capped at
    scikit-learn's 20, so from 400 rows it is 20 and below it the same as the defaults'). The
    regularised defaults were chosen for small seed lists (bagging PU members, decision 0017) and
    stay theirs; measured on 14 real supervised data sets in bench/quality/RESULTS.md,
    "Supervised defaults".

    >>> supervised_params(300), supervised_params(5_000)
    ({'min_samples_leaf': 15, 'l2_regularization': 0.0}, {'min_samples_leaf': 20, 'l2_regularization': 0.0})
    """
    leaf = int(np.clip(n_train // 20, 5, SUPERVISED_MIN_SAMPLES_LEAF))
    return {"min_samples_leaf": leaf, "l2_regularization": 0.0}


#: tune_model grid (lookalike_udf.tuning): the defaults first on each axis (learning_rate 0.05,
#: 8 leaves, depth 3, l2 10).
GRID = {
    "learning_rate": [0.05, 0.1, 0.2],
    "shape": [
        {"max_leaf_nodes": 8, "max_depth": 3},
        {"max_leaf_nodes": 4, "max_depth": 2},
        {"max_leaf_nodes": 16, "max_depth": 5},
        {"max_leaf_nodes": 31, "max_depth": None},
    ],
    "l2_regularization": [10.0, 1.0, 0.1],
}


def fit(X, y, w, mask, random_seed, overrides: dict | None = None) -> tuple[dict, dict]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    from ._sklearn_compat import ensure_binning_handles_all_missing
    from .fitting import threads_for, uniform_weights

    ensure_binning_handles_all_missing()
    params = {**default_params(len(y), random_seed), **(overrides or {})}
    estimator = HistGradientBoostingClassifier(categorical_features=mask if mask.any() else None, **params)
    # Equal weights are the same as none, and skip scikit-learn's slow weighted-percentile binning
    # (about 1 s per fit on a few thousand rows).
    with threads_for(len(y)):
        estimator.fit(X, y, sample_weight=None if uniform_weights(w) else w)
    params = {**params, "n_iter": int(estimator.n_iter_)}
    log = early_stopping_log(estimator)
    if log is not None:
        params["training_log"] = log
    return dump(estimator), params


def early_stopping_log(estimator) -> dict | None:
    """The per-iteration log scikit-learn recorded while early stopping on the loss (the default
    from 200 training rows), or None when it recorded none (lookalike_run_training_log).

    ``train_loss`` is ``-train_score_`` (the weighted log loss on the rows the trees were fitted
    on) and ``validation_loss`` ``-validation_score_`` (on the held-out ``validation_fraction``),
    one entry per iteration 1..``n_iter_`` (entry 0, before the first tree, is dropped). Free: it
    reads what the fit kept. Without it, :func:`lookalike_udf.evaluation.complete_training_log`
    computes the train loss once for the stored model.
    """
    n_iter = int(estimator.n_iter_)
    if not getattr(estimator, "do_early_stopping_", False) or getattr(estimator, "scoring", "loss") != "loss":
        return None
    train = np.asarray(estimator.train_score_, dtype=np.float64)[1:]
    validation = np.asarray(estimator.validation_score_, dtype=np.float64)[1:]
    if len(train) != n_iter:
        return None
    return {
        "iteration": list(range(1, n_iter + 1)),
        "train_loss": [_encode_float(-v) for v in train],
        "validation_loss": [_encode_float(-v) for v in validation] if len(validation) == n_iter else None,
    }


TYPE = EstimatorType(
    name=NAME,
    format=FORMAT,
    estimator="HistGradientBoostingClassifier",
    fit=fit,
    load=load,
    to_sql=to_sql,
    grid=GRID,
    supervised_params=supervised_params,
)
