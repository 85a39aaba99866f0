"""A compiled scoring kernel for the stored gradient-boosted trees (issue 27, decision 0027).

:func:`flatten_hgb` lays every tree of a validated ``lookalike-hgb/1`` payload out in contiguous
node arrays; :func:`score_raw` adds the baseline and every tree's leaf value for each row of the
scorer's prepared matrix, with a numba kernel, in the order ``predict_proba`` adds them (baseline
first, then the trees in order), so the result is the same to the last bit.

Two ways through a tree, chosen per tree when it is flattened:

* **padded** (every split numeric, depth at most 3, the default shape): the tree becomes a complete
  depth-3 tree in heap order (a leaf above depth 3 becomes pass-through nodes with threshold +inf
  that send every row left, NaN included, and its value is copied to the leaves below). For a block
  of rows all 7 comparisons are made on contiguous feature columns and the leaf is chosen with
  selects, without branches, so the loop vectorises.
* **padded walk** (depth at most 3 with categorical splits): the same padded tree walked level by
  level; a categorical split looks the code up in a 257-entry routing table built from its
  bitsets (left, right, or as missing: unknown codes, codes outside 0..255 and NaN).

A model (or a bagging ensemble of models prepared alike) whose trees are all padded is scored by
:func:`score_members` instead: every member's trees over each block in one call, each numeric
split a single comparison, each categorical split a comparison and a bit test (decision 0046; see
:class:`PaddedMembers`). :func:`score_raw` remains for deeper trees, random forests and the few
hand-made bitsets the fused form cannot express.
* **walk** (deeper trees): a node walk with exactly the routing of
  scikit-learn's predictor (and :meth:`~lookalike_udf.estimators.hgb.HGBScorer._next_nodes`): NaN
  follows ``missing_go_to_left``; a categorical value goes left when its code is in the split's
  bitset, right when it is a known category, and is treated as missing otherwise (unknown,
  negative or >= 256 codes).

numba is an optional dependency (the ``fast`` extra). Nothing here imports it until the first
block is scored (:func:`kernel_available` only looks for it), and scoring never depends on it:
the estimators fall back to their previous path when it is missing, when the environment variable
``LOOKALIKE_SCORING_KERNEL`` is ``off``, or when compiling or running the kernel fails (logged once).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

#: Environment variable: ``off`` (or ``0``, ``false``, ``no``) keeps the previous scoring path.
ENV_VAR = "LOOKALIKE_SCORING_KERNEL"
_OFF = {"off", "0", "false", "no"}

#: Rows scored through every tree before the next rows (the block's accumulators stay in L1 and
#: its feature columns in L2).
KERNEL_ROWS = 512

#: Rows per block of :func:`score_members`: the block's three copies of each feature column
#: (3 x 30 features x 256 rows x 8 bytes = 180 KiB at 30 features) stay in L2 while every tree of
#: every member is added (256, 512 and 1,024 measured alike at 200k x 30; 64 and 128 slower).
MEMBER_ROWS = 256

#: Trees at most this deep with numeric splits only are padded (2**depth - 1 comparisons per row).
PAD_DEPTH = 3
_PAD_NODES = 2**PAD_DEPTH - 1
_PAD_LEAVES = 2**PAD_DEPTH

_state = {"compiled": None, "members": None, "failed": None}


def kernel_requested() -> bool:
    """False when ``LOOKALIKE_SCORING_KERNEL`` turns the kernel off."""
    return os.environ.get(ENV_VAR, "auto").strip().lower() not in _OFF


def numba_installed() -> bool:
    """Whether numba can be imported (without importing it)."""
    try:
        return importlib.util.find_spec("numba") is not None
    except (ImportError, ValueError):  # ValueError: blocked with sys.modules["numba"] = None
        return False


def kernel_available() -> bool:
    """Whether the kernel will be used: requested, numba installed, and no earlier failure.
    Does not import numba."""
    return kernel_requested() and _state["failed"] is None and numba_installed()


def disable(error: BaseException) -> None:
    """Stop using the kernel in this process after ``error`` (logged once, as a warning)."""
    if _state["failed"] is None:
        _state["failed"] = error
        logger.warning("lookalike scoring kernel disabled, scoring with the previous path: %r", error)


@dataclass
class FlatTrees:
    """Every tree of one model as contiguous node arrays (global node indices)."""

    baseline: float
    kind: np.ndarray  # per tree: 1 padded, 0 walk
    root: np.ndarray  # per tree: its root's global node index (walk trees)
    pad: np.ndarray  # per tree: its row in the padded arrays (padded trees), else -1
    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    is_leaf: np.ndarray
    value: np.ndarray
    missing_left: np.ndarray
    is_categorical: np.ndarray
    bitset_row: np.ndarray  # categorical nodes: row of raw_left
    known_row: np.ndarray  # categorical nodes: row of known (f_idx_map of the feature)
    raw_left: np.ndarray  # (rows, 8) uint32: every tree's left-category bitsets
    known: np.ndarray  # (n categorical features, 8) uint32: known categories
    f_idx_map: np.ndarray  # per feature: its row of ``known`` (categorical features)
    pad_feature: np.ndarray  # (padded trees, 7)
    pad_threshold: np.ndarray  # (padded trees, 7)
    pad_missing_right: np.ndarray  # (padded trees, 7)
    pad_value: np.ndarray  # (padded trees, 8)
    pad_route: np.ndarray  # (padded trees, 7): row of ``routes`` of a categorical node, else 0
    routes: np.ndarray  # (rows, 257) uint8: 1 = right for category code 0..255, [256] missing

    @property
    def n_trees(self) -> int:
        return len(self.kind)


def _depth(nodes: dict, node: int = 0) -> int:
    if nodes["is_leaf"][node]:
        return 0
    return 1 + max(_depth(nodes, int(nodes["left"][node])), _depth(nodes, int(nodes["right"][node])))


def _route(tree, node: int, known: np.ndarray, f_idx_map: np.ndarray) -> np.ndarray:
    """Where a categorical split sends each code 0..255 (1 = right) and, at 256, a missing value:
    left when the code is in the split's bitset, right when it is a known category, otherwise as
    a missing value (scikit-learn's routing of unknown categories)."""
    n = tree.nodes
    codes = np.arange(256)
    left_bits = tree.raw_left[n["bitset_idx"][node]]
    known_bits = known[f_idx_map[n["feature_idx"][node]]]
    in_left = ((left_bits[codes >> 5] >> (codes & 31).astype(np.uint32)) & 1).astype(bool)
    in_known = ((known_bits[codes >> 5] >> (codes & 31).astype(np.uint32)) & 1).astype(bool)
    missing_right = 0 if n["missing_go_to_left"][node] else 1
    route = np.where(in_left, 0, np.where(in_known, 1, missing_right))
    return np.append(route, missing_right).astype(np.uint8)


def _pad(tree, routes: list, known: np.ndarray, f_idx_map: np.ndarray):
    """A tree of depth <= 3 as 7 splits (heap order) and 8 leaf values; each categorical split's
    routing table is appended to ``routes``."""
    nodes = tree.nodes
    route_row = np.zeros(_PAD_NODES, dtype=np.int64)
    feature = np.zeros(_PAD_NODES, dtype=np.int64)
    threshold = np.full(_PAD_NODES, np.inf)
    missing_right = np.zeros(_PAD_NODES, dtype=np.uint8)
    value = np.zeros(_PAD_LEAVES, dtype=np.float64)

    def fill(node: int, slot: int, level: int) -> None:
        if level == PAD_DEPTH:  # a leaf at full depth
            value[slot - _PAD_NODES] = nodes["value"][node]
            return
        if nodes["is_leaf"][node]:
            # Pass-through: +inf threshold and missing values left, so every row goes left; the
            # value fills every leaf below (only the leftmost is ever reached).
            first = slot
            for _ in range(PAD_DEPTH - level):
                first = 2 * first + 1
            count = 2 ** (PAD_DEPTH - level)
            value[first - _PAD_NODES : first - _PAD_NODES + count] = nodes["value"][node]
            return
        feature[slot] = nodes["feature_idx"][node]
        missing_right[slot] = 0 if nodes["missing_go_to_left"][node] else 1
        if nodes["is_categorical"][node]:
            route_row[slot] = len(routes)
            routes.append(_route(tree, node, known, f_idx_map))
        else:
            threshold[slot] = nodes["num_threshold"][node]
        fill(int(nodes["left"][node]), 2 * slot + 1, level + 1)
        fill(int(nodes["right"][node]), 2 * slot + 2, level + 1)

    fill(0, 0, 0)
    return feature, threshold, missing_right, value, route_row


def flatten_hgb(trees, baseline: float, known_cat_bitsets: np.ndarray, f_idx_map: np.ndarray) -> FlatTrees:
    """Flatten the validated trees (:class:`~lookalike_udf.estimators.hgb._Tree`) of one model."""
    n_trees = len(trees)
    kind = np.zeros(n_trees, dtype=np.int8)
    root = np.zeros(n_trees, dtype=np.int64)
    pad = np.full(n_trees, -1, dtype=np.int64)
    columns = {
        name: []
        for name in ("feature", "threshold", "left", "right", "is_leaf", "value", "missing_left", "is_categorical")
    }
    bitset_row, known_row, raw_left = [], [], []
    pads = []
    known = np.asarray(known_cat_bitsets, dtype=np.uint32).reshape(-1, 8)
    routes = [np.zeros(257, dtype=np.uint8)]  # row 0: numeric splits (never read for them)
    offset, bit_offset = 0, 0
    for t, tree in enumerate(trees):
        n = tree.nodes
        n_nodes = len(n["value"])
        split = n["is_leaf"] == 0
        categorical = split & (n["is_categorical"] != 0)
        if _depth(n) <= PAD_DEPTH:
            kind[t] = 2 if categorical.any() else 1
            pad[t] = len(pads)
            pads.append(_pad(tree, routes, known, f_idx_map))
        root[t] = offset
        columns["feature"].append(np.where(split, n["feature_idx"], 0))
        columns["threshold"].append(np.where(split & ~categorical, n["num_threshold"], 0.0))
        columns["left"].append(np.where(split, n["left"] + offset, 0))
        columns["right"].append(np.where(split, n["right"] + offset, 0))
        columns["is_leaf"].append((~split).astype(np.uint8))
        columns["value"].append(n["value"])
        columns["missing_left"].append((n["missing_go_to_left"] != 0).astype(np.uint8))
        columns["is_categorical"].append(categorical.astype(np.uint8))
        bitset_row.append(np.where(categorical, n["bitset_idx"] + bit_offset, 0))
        known_row.append(np.where(categorical, f_idx_map[np.where(categorical, n["feature_idx"], 0)], 0))
        raw_left.append(tree.raw_left)
        offset += n_nodes
        bit_offset += len(tree.raw_left)
    ints = {"feature", "left", "right"}
    arrays = {
        name: np.ascontiguousarray(
            np.concatenate(parts),
            dtype=np.int64 if name in ints else (np.float64 if name in ("threshold", "value") else np.uint8),
        )
        for name, parts in columns.items()
    }
    raw = np.concatenate(raw_left) if bit_offset else np.zeros((0, 8), dtype=np.uint32)
    if pads:
        pad_feature, pad_threshold, pad_missing_right, pad_value, pad_route = (
            np.stack(p) for p in zip(*pads, strict=True)
        )
    else:
        pad_feature = np.zeros((0, _PAD_NODES), dtype=np.int64)
        pad_threshold = np.zeros((0, _PAD_NODES), dtype=np.float64)
        pad_missing_right = np.zeros((0, _PAD_NODES), dtype=np.uint8)
        pad_value = np.zeros((0, _PAD_LEAVES), dtype=np.float64)
        pad_route = np.zeros((0, _PAD_NODES), dtype=np.int64)
    return FlatTrees(
        baseline=float(baseline),
        kind=kind,
        root=root,
        pad=pad,
        bitset_row=np.ascontiguousarray(np.concatenate(bitset_row), dtype=np.int64),
        known_row=np.ascontiguousarray(np.concatenate(known_row), dtype=np.int64),
        raw_left=np.ascontiguousarray(raw, dtype=np.uint32),
        known=np.ascontiguousarray(known, dtype=np.uint32),
        f_idx_map=np.ascontiguousarray(f_idx_map, dtype=np.int64),
        pad_feature=np.ascontiguousarray(pad_feature, dtype=np.int64),
        pad_threshold=np.ascontiguousarray(pad_threshold, dtype=np.float64),
        pad_missing_right=np.ascontiguousarray(pad_missing_right, dtype=np.uint8),
        pad_value=np.ascontiguousarray(pad_value, dtype=np.float64),
        pad_route=np.ascontiguousarray(pad_route, dtype=np.int64),
        routes=np.ascontiguousarray(np.stack(routes), dtype=np.uint8),
        **arrays,
    )


def flatten_walk(trees: list[dict]) -> FlatTrees:
    """Flatten node arrays that are walked, never padded: the random forest's trees
    (:class:`~lookalike_udf.estimators.rf.RFScorer`: ``left``, ``right``, ``feature``,
    ``threshold``, ``missing_go_to_left``, ``is_leaf``, ``value``; numeric splits only, a row goes
    left when its value is at most the threshold and a missing value where the node says). The
    kernel adds the leaf values in tree order from a baseline of 0: the forest's NumPy sum."""
    n_trees = len(trees)
    offsets = np.cumsum([0] + [len(t["value"]) for t in trees])
    split = [t["is_leaf"] == 0 for t in trees]

    def cat(dtype, per_tree):
        return np.ascontiguousarray(
            np.concatenate([per_tree(t, s, o) for t, s, o in zip(trees, split, offsets, strict=False)]), dtype=dtype
        )

    n_nodes = int(offsets[-1])
    zeros8 = np.zeros(n_nodes, dtype=np.uint8)
    return FlatTrees(
        baseline=0.0,
        kind=np.zeros(n_trees, dtype=np.int8),
        root=np.ascontiguousarray(offsets[:-1], dtype=np.int64),
        pad=np.full(n_trees, -1, dtype=np.int64),
        feature=cat(np.int64, lambda t, s, o: np.where(s, t["feature"], 0)),
        threshold=cat(np.float64, lambda t, s, o: np.where(s, t["threshold"], 0.0)),
        left=cat(np.int64, lambda t, s, o: np.where(s, t["left"] + o, 0)),
        right=cat(np.int64, lambda t, s, o: np.where(s, t["right"] + o, 0)),
        is_leaf=cat(np.uint8, lambda t, s, o: (~s).astype(np.uint8)),
        value=cat(np.float64, lambda t, s, o: t["value"]),
        missing_left=cat(np.uint8, lambda t, s, o: (t["missing_go_to_left"] != 0).astype(np.uint8)),
        is_categorical=zeros8,
        bitset_row=np.zeros(n_nodes, dtype=np.int64),
        known_row=np.zeros(n_nodes, dtype=np.int64),
        raw_left=np.zeros((0, 8), dtype=np.uint32),
        known=np.zeros((0, 8), dtype=np.uint32),
        f_idx_map=np.zeros(0, dtype=np.int64),
        pad_feature=np.zeros((0, _PAD_NODES), dtype=np.int64),
        pad_threshold=np.zeros((0, _PAD_NODES), dtype=np.float64),
        pad_missing_right=np.zeros((0, _PAD_NODES), dtype=np.uint8),
        pad_value=np.zeros((0, _PAD_LEAVES), dtype=np.float64),
        pad_route=np.zeros((0, _PAD_NODES), dtype=np.int64),
        routes=np.zeros((1, 257), dtype=np.uint8),
    )


def _compile():
    """The numba kernel (imported and compiled on first use, never at import of the library)."""
    import numba

    @numba.njit(nogil=True, cache=False)
    def score(
        XT,
        baseline,
        kind,
        root,
        pad,
        feature,
        threshold,
        left,
        right,
        is_leaf,
        value,
        missing_left,
        is_categorical,
        bitset_row,
        known_row,
        raw_left,
        known,
        pad_feature,
        pad_threshold,
        pad_missing_right,
        pad_value,
        pad_route,
        routes,
        block_rows,
        out,
    ):
        # XT: the prepared matrix transposed (one contiguous row per feature column).
        n_rows = XT.shape[1]
        n_trees = kind.shape[0]
        for b0 in range(0, n_rows, block_rows):
            b1 = min(b0 + block_rows, n_rows)
            for r in range(b0, b1):
                out[r] = baseline
            for t in range(n_trees):
                if kind[t] == 1:
                    p = pad[t]
                    c0 = XT[pad_feature[p, 0]]
                    c1 = XT[pad_feature[p, 1]]
                    c2 = XT[pad_feature[p, 2]]
                    c3 = XT[pad_feature[p, 3]]
                    c4 = XT[pad_feature[p, 4]]
                    c5 = XT[pad_feature[p, 5]]
                    c6 = XT[pad_feature[p, 6]]
                    t0 = pad_threshold[p, 0]
                    t1 = pad_threshold[p, 1]
                    t2 = pad_threshold[p, 2]
                    t3 = pad_threshold[p, 3]
                    t4 = pad_threshold[p, 4]
                    t5 = pad_threshold[p, 5]
                    t6 = pad_threshold[p, 6]
                    m0 = np.int64(pad_missing_right[p, 0])
                    m1 = np.int64(pad_missing_right[p, 1])
                    m2 = np.int64(pad_missing_right[p, 2])
                    m3 = np.int64(pad_missing_right[p, 3])
                    m4 = np.int64(pad_missing_right[p, 4])
                    m5 = np.int64(pad_missing_right[p, 5])
                    m6 = np.int64(pad_missing_right[p, 6])
                    leaves = pad_value[p]
                    for r in range(b0, b1):
                        # 1 = go right: above the threshold, or missing (NaN) with missing going right.
                        x = c0[r]
                        g0 = np.int64(x > t0) | (np.int64(x != x) & m0)
                        x = c1[r]
                        g1 = np.int64(x > t1) | (np.int64(x != x) & m1)
                        x = c2[r]
                        g2 = np.int64(x > t2) | (np.int64(x != x) & m2)
                        x = c3[r]
                        g3 = np.int64(x > t3) | (np.int64(x != x) & m3)
                        x = c4[r]
                        g4 = np.int64(x > t4) | (np.int64(x != x) & m4)
                        x = c5[r]
                        g5 = np.int64(x > t5) | (np.int64(x != x) & m5)
                        x = c6[r]
                        g6 = np.int64(x > t6) | (np.int64(x != x) & m6)
                        # Level 2 takes node 2 after a right turn at the root, else node 1; level 3
                        # the node 3 + k (k = 2 * g0 + h1); the leaf is 4 * g0 + 2 * h1 + h2.
                        h1 = (g0 & g2) | ((1 - g0) & g1)
                        k = 2 * g0 + h1
                        h2 = (g3 & (k == 0)) | (g4 & (k == 1)) | (g5 & (k == 2)) | (g6 & (k == 3))
                        out[r] += leaves[4 * g0 + 2 * h1 + h2]
                elif kind[t] == 2:
                    # A padded tree with categorical splits: each split either compares (numeric)
                    # or looks the code up in its routing table (categorical; codes outside
                    # 0..255 and NaN read the table's missing entry).
                    p = pad[t]
                    leaves = pad_value[p]
                    for r in range(b0, b1):
                        k = 0
                        for _level in range(3):
                            x = XT[pad_feature[p, k], r]
                            route = pad_route[p, k]
                            if route == 0:
                                g = np.int64(x > pad_threshold[p, k]) | (
                                    np.int64(x != x) & np.int64(pad_missing_right[p, k])
                                )
                            elif x >= 0.0 and x < 256.0:
                                g = np.int64(routes[route, np.int64(x)])
                            else:
                                g = np.int64(routes[route, 256])
                            k = 2 * k + 1 + g
                        out[r] += leaves[k - 7]
                else:
                    start = root[t]
                    for r in range(b0, b1):
                        node = start
                        while is_leaf[node] == 0:
                            x = XT[feature[node], r]
                            if x != x:
                                go_left = missing_left[node] != 0
                            elif is_categorical[node] != 0:
                                if x < 0.0 or x >= 256.0:
                                    go_left = missing_left[node] != 0
                                else:
                                    code = np.int64(x)
                                    word = code >> 5
                                    bit = np.uint32(code & 31)
                                    if (raw_left[bitset_row[node], word] >> bit) & np.uint32(1):
                                        go_left = True
                                    elif (known[known_row[node], word] >> bit) & np.uint32(1):
                                        go_left = False
                                    else:
                                        go_left = missing_left[node] != 0
                            else:
                                go_left = x <= threshold[node]
                            node = left[node] if go_left else right[node]
                        out[r] += value[node]

    return score


def compiled():
    """The compiled kernel function (numba imported and the kernel compiled on the first call)."""
    if _state["compiled"] is None:
        _state["compiled"] = _compile()
    return _state["compiled"]


def score_raw(flat: FlatTrees, X: np.ndarray, out: np.ndarray | None = None, block_rows: int = KERNEL_ROWS):
    """Baseline plus every tree's leaf value for each row of the prepared (column-major float64)
    matrix ``X``; releases the GIL while it runs. Raises whatever numba raises."""
    X = np.asarray(X, dtype=np.float64)
    if out is None:
        out = np.empty(X.shape[0], dtype=np.float64)
    if X.shape[0] == 0:
        return out
    XT = np.ascontiguousarray(X.T)  # no copy for the column-major matrix the scorer prepares
    compiled()(
        XT,
        flat.baseline,
        flat.kind,
        flat.root,
        flat.pad,
        flat.feature,
        flat.threshold,
        flat.left,
        flat.right,
        flat.is_leaf,
        flat.value,
        flat.missing_left,
        flat.is_categorical,
        flat.bitset_row,
        flat.known_row,
        flat.raw_left,
        flat.known,
        flat.pad_feature,
        flat.pad_threshold,
        flat.pad_missing_right,
        flat.pad_value,
        flat.pad_route,
        flat.routes,
        int(block_rows),
        out,
    )
    return out


# --- Every tree padded: one comparison (and one bit test) per split, every member in one call ------

#: Where a split reads its column in :func:`score_members`' block (``side``): the column with
#: missing values read as -inf (the split sends them left), as +inf (right), the column's
#: missing indicator (1.0 missing, 0.0 not) for a split that sends missing values right and every
#: number left (threshold +inf or NaN), or, for a categorical split whose missing values go right,
#: the feature's "treated as missing" indicator (NaN, a code outside 0..255 or an unknown category).
SIDE_LEFT, SIDE_RIGHT, SIDE_MISSING, SIDE_CATEGORY_MISSING = 0, 1, 2, 3

#: Bits of a category bitset (scikit-learn's 8 x 32-bit words) as 64-bit words.
_CAT_WORDS = 4


@dataclass
class PaddedMembers:
    """The padded trees of one or more models (bagging members), back to back.

    ``predict_proba``'s rule for a numeric split is "right when ``x > threshold``, or when ``x`` is
    missing and missing values go right". The kernel makes that a single comparison
    ``column[side][row] > threshold`` on three copies of each feature column, built once per block
    of rows: missing values replaced by -inf (``SIDE_LEFT``: ``-inf > t`` is false for every
    threshold), by +inf (``SIDE_RIGHT``: ``+inf > t`` is true for every threshold below +inf), or
    the missing indicator with threshold 0.5 (``SIDE_MISSING``: a split that sends missing values
    right and whose threshold is +inf or NaN sends exactly the missing values right). A NaN
    threshold with missing values left sends every row left: threshold +inf on the ``SIDE_LEFT``
    column. Numbers are compared unchanged, so every row takes the branch ``predict_proba`` takes.

    A categorical split (decision 0046) goes right when ``comparison | (onehot & mask) != 0``.
    Per block and categorical feature the kernel writes the code's bit (``1 << code`` in 64-bit
    words, all zero for a code treated as missing) and a "treated as missing" indicator: NaN, a
    value outside 0..255, or a code that is not a known category of the feature (scikit-learn
    routes those as missing values). ``mask`` holds the known categories that are not in the
    split's left bitset (they go right); the comparison reads the indicator with threshold 0.5 when
    missing values go right, and is never true (``SIDE_LEFT``, threshold +inf) when they go left.
    Numeric splits of a tree with categorical splits have an all-zero mask. This is scikit-learn's
    routing exactly when every category of a split's left bitset is a known category (scikit-learn
    builds it so); :func:`stack_padded` checks it and otherwise leaves the model to the padded walk.
    """

    baselines: np.ndarray  # (members,)
    starts: np.ndarray  # (members + 1,): member m's trees are starts[m]:starts[m + 1]
    feature: np.ndarray  # (trees, 7) int64
    side: np.ndarray  # (trees, 7) int64: SIDE_*
    threshold: np.ndarray  # (trees, 7) float64, as compared (see above)
    value: np.ndarray  # (trees, 8) float64
    has_cat: np.ndarray  # (trees,) uint8: the tree has a categorical split
    cat_col: np.ndarray  # (trees, 7) int64: categorical splits: row of ``cat_features``, else 0
    mask: np.ndarray  # (trees, 7, n_words) uint64: categories that go right (0 for numeric splits)
    cat_features: np.ndarray  # (categorical features,) int64: their columns in the prepared matrix
    cat_known: np.ndarray  # (categorical features, 4) uint64: their known categories

    @property
    def n_members(self) -> int:
        return len(self.baselines)

    @property
    def n_words(self) -> int:
        """64-bit words of a category mask the kernel tests (1 when every known code is below 64)."""
        return int(self.mask.shape[2])


def compare_form(pad_threshold: np.ndarray, pad_missing_right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ``side`` and compared threshold of padded numeric splits (see :class:`PaddedMembers`)."""
    threshold = np.asarray(pad_threshold, dtype=np.float64)
    right = np.asarray(pad_missing_right) != 0
    nan = np.isnan(threshold)
    indicator = right & (nan | (threshold == np.inf))
    side = np.where(right, np.where(indicator, SIDE_MISSING, SIDE_RIGHT), SIDE_LEFT).astype(np.int64)
    compared = np.where(indicator, 0.5, np.where(nan, np.inf, threshold))
    return side, np.ascontiguousarray(compared, dtype=np.float64)


def _bits(words32: np.ndarray) -> np.ndarray:
    """Booleans (..., 256) from scikit-learn's (..., 8) uint32 bitsets (bit c of word c >> 5 is
    category c)."""
    codes = np.arange(256)
    words = np.asarray(words32, dtype=np.uint32)[..., codes >> 5]
    return ((words >> (codes & 31).astype(np.uint32)) & 1).astype(bool)


def _words64(bits: np.ndarray) -> np.ndarray:
    """Booleans (..., 256) as (..., 4) uint64 words (bit c of word c >> 6 is category c)."""
    packed = np.packbits(np.asarray(bits, dtype=bool), axis=-1, bitorder="little")
    return np.ascontiguousarray(packed).view("<u8").astype(np.uint64)


def _category_splits(flats: list[FlatTrees]):
    """The categorical splits of every member's padded trees in :func:`score_members`' form, or
    None when one cannot be tested exactly there (a left category that is not a known one while
    missing values go right, or members that know different categories of a feature). Per member:
    tree (in tree order), slot, feature, the categories that go right, whether missing goes right."""
    known_of: dict[int, np.ndarray] = {}
    per_member = []
    for f in flats:
        route_row = f.pad_route[f.pad]  # (trees, 7), tree order; 0 for numeric splits
        tree, slot = np.nonzero(route_row)
        features = f.pad_feature[f.pad][tree, slot]
        known_rows = _bits(f.known)  # (categorical features, 256)
        for feature in np.unique(features).tolist():
            bits = known_rows[f.f_idx_map[feature]]
            if feature in known_of and not np.array_equal(known_of[feature], bits):
                return None
            known_of[feature] = bits
        known = known_rows[f.f_idx_map[features]] if len(features) else np.zeros((0, 256), dtype=bool)
        route = f.routes[route_row[tree, slot]]  # (splits, 257): 1 = right; [256] missing
        if np.any((route[:, :256] != route[:, 256:]) & ~known):
            return None
        per_member.append((tree, slot, features, known & (route[:, :256] == 1), route[:, 256] == 1))
    return known_of, per_member


def stack_padded(flats: list[FlatTrees]) -> PaddedMembers | None:
    """The members' trees for :func:`score_members`, or None unless every tree of every member is
    padded (depth at most 3; numeric splits, or categorical ones that :func:`_category_splits`
    accepts)."""
    if not flats or any(f.n_trees == 0 or not np.all((f.kind == 1) | (f.kind == 2)) for f in flats):
        return None
    categories = _category_splits(flats)
    if categories is None:
        return None
    known_of, per_member = categories
    rows = [f.pad for f in flats]  # every tree, in tree order
    feature = np.concatenate([f.pad_feature[r] for f, r in zip(flats, rows, strict=True)])
    side, threshold = compare_form(
        np.concatenate([f.pad_threshold[r] for f, r in zip(flats, rows, strict=True)]),
        np.concatenate([f.pad_missing_right[r] for f, r in zip(flats, rows, strict=True)]),
    )
    n_trees = len(feature)
    cat_features = np.array(sorted(known_of), dtype=np.int64)
    cat_known = _words64(np.array([known_of[f] for f in cat_features.tolist()]).reshape(-1, 256))
    highest = max((int(np.flatnonzero(b).max()) for b in known_of.values() if b.any()), default=0)
    n_words = highest // 64 + 1
    has_cat = np.zeros(n_trees, dtype=np.uint8)
    cat_col = np.zeros((n_trees, _PAD_NODES), dtype=np.int64)
    mask = np.zeros((n_trees, _PAD_NODES, n_words), dtype=np.uint64)
    starts = np.cumsum([0] + [f.n_trees for f in flats]).astype(np.int64)
    position = np.zeros(int(cat_features.max()) + 1 if len(cat_features) else 1, dtype=np.int64)
    position[cat_features] = np.arange(len(cat_features))
    for m, (tree, slot, features, right, missing_right) in enumerate(per_member):
        t = starts[m] + tree
        has_cat[t] = 1
        cat_col[t, slot] = position[features]
        mask[t, slot] = _words64(right)[:, :n_words]
        side[t, slot] = np.where(missing_right, SIDE_CATEGORY_MISSING, SIDE_LEFT)
        threshold[t, slot] = np.where(missing_right, 0.5, np.inf)
    return PaddedMembers(
        baselines=np.array([f.baseline for f in flats], dtype=np.float64),
        starts=starts,
        feature=np.ascontiguousarray(feature, dtype=np.int64),
        side=np.ascontiguousarray(side, dtype=np.int64),
        threshold=np.ascontiguousarray(threshold, dtype=np.float64),
        value=np.ascontiguousarray(
            np.concatenate([f.pad_value[r] for f, r in zip(flats, rows, strict=True)]), dtype=np.float64
        ),
        has_cat=has_cat,
        cat_col=cat_col,
        mask=np.ascontiguousarray(mask),
        cat_features=cat_features,
        cat_known=cat_known,
    )


# The kernel's source, written out for the number of mask words it tests (numba compiles one kernel
# per word count; the words of each split are loop-invariant locals, as the thresholds are).
_MEMBERS_SOURCE = """
def score_members_kernel(
    XT, baselines, starts, feature, side, threshold, value, has_cat, cat_col, mask, cat_features, cat_known,
    block_rows, raw,
):
    n_features = XT.shape[0]
    n_rows = XT.shape[1]
    n_members = baselines.shape[0]
    n_cat = cat_features.shape[0]
    acc = np.empty(block_rows, dtype=np.float64)
    # Per feature f: row f missing -> -inf, row n_features + f missing -> +inf, row
    # 2 * n_features + f the missing indicator, row 3 * n_features + f (categorical features) the
    # category's "treated as missing" indicator.
    sides = np.zeros((4 * n_features, block_rows), dtype=np.float64)
    # Per categorical feature j and mask word w: row w * n_cat + j, the code's bit in word w.
    onehot = np.zeros((N_WORDS * max(n_cat, 1), block_rows), dtype=np.uint64)
    one = np.uint64(1)
    for b0 in range(0, n_rows, block_rows):
        b1 = min(b0 + block_rows, n_rows)
        n = b1 - b0
        for f in range(n_features):
            src = XT[f]
            low = sides[f]
            high = sides[n_features + f]
            missing = sides[2 * n_features + f]
            for i in range(n):
                x = src[b0 + i]
                nan = x != x
                low[i] = -np.inf if nan else x
                high[i] = np.inf if nan else x
                missing[i] = 1.0 if nan else 0.0
        for j in range(n_cat):
            src = XT[cat_features[j]]
            treated_missing = sides[3 * n_features + cat_features[j]]
            for i in range(n):
                x = src[b0 + i]
                code = 0
                known = False
                if x >= 0.0 and x < 256.0:  # NaN fails both; fractional codes truncate (a cast)
                    code = np.int64(x)
                    known = ((cat_known[j, code >> 6] >> np.uint64(code & 63)) & one) != 0
                treated_missing[i] = 0.0 if known else 1.0
                bit = (one << np.uint64(code & 63)) if known else np.uint64(0)
                for w in range(N_WORDS):
                    onehot[w * n_cat + j, i] = bit if (code >> 6) == w else np.uint64(0)
        for m in range(n_members):
            baseline = baselines[m]
            for i in range(n):
                acc[i] = baseline
            for t in range(starts[m], starts[m + 1]):
                c0 = sides[side[t, 0] * n_features + feature[t, 0]]
                c1 = sides[side[t, 1] * n_features + feature[t, 1]]
                c2 = sides[side[t, 2] * n_features + feature[t, 2]]
                c3 = sides[side[t, 3] * n_features + feature[t, 3]]
                c4 = sides[side[t, 4] * n_features + feature[t, 4]]
                c5 = sides[side[t, 5] * n_features + feature[t, 5]]
                c6 = sides[side[t, 6] * n_features + feature[t, 6]]
                t0 = threshold[t, 0]
                t1 = threshold[t, 1]
                t2 = threshold[t, 2]
                t3 = threshold[t, 3]
                t4 = threshold[t, 4]
                t5 = threshold[t, 5]
                t6 = threshold[t, 6]
                v0 = value[t, 0]
                v1 = value[t, 1]
                v2 = value[t, 2]
                v3 = value[t, 3]
                v4 = value[t, 4]
                v5 = value[t, 5]
                v6 = value[t, 6]
                v7 = value[t, 7]
                if has_cat[t] == 0:
                    for i in range(n):
                        # True = go right. Heap order: node 0, then 1 (left) / 2 (right), then 3..6.
                        g0 = c0[i] > t0
                        g1 = c1[i] > t1
                        g2 = c2[i] > t2
                        g3 = c3[i] > t3
                        g4 = c4[i] > t4
                        g5 = c5[i] > t5
                        g6 = c6[i] > t6
                        h1 = g2 if g0 else g1
                        h2 = (g6 if h1 else g5) if g0 else (g4 if h1 else g3)
                        # The leaf 4 * g0 + 2 * h1 + h2, chosen with selects (no gather).
                        a = v1 if h2 else v0
                        b = v3 if h2 else v2
                        c = v5 if h2 else v4
                        d = v7 if h2 else v6
                        acc[i] += (d if h1 else c) if g0 else (b if h1 else a)
                else:
@CAT_SETUP@
                    for i in range(n):
                        # Right when the comparison says so or the code's bit is in the mask.
@CAT_TESTS@
                        h1 = g2 if g0 else g1
                        h2 = (g6 if h1 else g5) if g0 else (g4 if h1 else g3)
                        a = v1 if h2 else v0
                        b = v3 if h2 else v2
                        c = v5 if h2 else v4
                        d = v7 if h2 else v6
                        acc[i] += (d if h1 else c) if g0 else (b if h1 else a)
            for i in range(n):
                raw[m, b0 + i] = acc[i]
"""


def _members_source(n_words: int) -> str:
    setup, tests = [], []
    for k in range(_PAD_NODES):
        words = []
        for w in range(n_words):
            setup.append(f"o{k}_{w} = onehot[{w} * n_cat + cat_col[t, {k}]]")
            setup.append(f"m{k}_{w} = mask[t, {k}, {w}]")
            words.append(f"(o{k}_{w}[i] & m{k}_{w})")
        tests.append(f"g{k} = (c{k}[i] > t{k}) | (({' | '.join(words)}) != 0)")
    return (
        _MEMBERS_SOURCE.replace("N_WORDS", str(n_words))
        .replace("@CAT_SETUP@", "\n".join(" " * 20 + line for line in setup))
        .replace("@CAT_TESTS@", "\n".join(" " * 24 + line for line in tests))
    )


def _compile_members(n_words: int):
    """The numba kernel of :func:`score_members` for masks of ``n_words`` words (compiled on first use)."""
    import numba

    namespace = {"np": np}
    exec(compile(_members_source(n_words), f"<lookalike_udf.kernels.score_members/{n_words}>", "exec"), namespace)
    # No fastmath: comparisons and additions stay IEEE double, in predict_proba's order.
    return numba.njit(nogil=True, cache=False, boundscheck=False, error_model="numpy")(
        namespace["score_members_kernel"]
    )


def compiled_members(n_words: int = 1):
    """The compiled kernel of :func:`score_members` for ``n_words`` mask words (compiled on the
    first call for that count)."""
    if _state["members"] is None:
        _state["members"] = {}
    if n_words not in _state["members"]:
        _state["members"][n_words] = _compile_members(n_words)
    return _state["members"][n_words]


def score_members(stacked: PaddedMembers, X: np.ndarray, block_rows: int = MEMBER_ROWS) -> np.ndarray:
    """Each member's raw score (baseline plus its trees' leaf values, added in tree order as
    ``predict_proba`` adds them) for each row of the prepared matrix ``X`` (column-major float64,
    prepared alike for every member): a (members, rows) array. Every block of rows goes through
    every member's trees before the next block, so its columns are read from cache. Releases the
    GIL while it runs. Raises whatever numba raises."""
    X = np.asarray(X, dtype=np.float64)
    raw = np.empty((stacked.n_members, X.shape[0]), dtype=np.float64)
    if X.shape[0] == 0:
        return raw
    XT = np.ascontiguousarray(X.T)  # no copy for the column-major matrix the scorer prepares
    compiled_members(stacked.n_words)(
        XT,
        stacked.baselines,
        stacked.starts,
        stacked.feature,
        stacked.side,
        stacked.threshold,
        stacked.value,
        stacked.has_cat,
        stacked.cat_col,
        stacked.mask,
        stacked.cat_features,
        stacked.cat_known,
        int(block_rows),
        raw,
    )
    return raw
