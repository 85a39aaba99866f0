"""Tree ensembles as SQL: one CASE per tree (its nesting is the tree's depth), summed in a
balanced tree of additions.

``lookalike-hgb/1`` (HistGradientBoostingClassifier) follows scikit-learn's
``_predict_one_from_raw_data``: a missing value follows ``missing_go_to_left``; a numeric split
goes left when ``x <= num_threshold`` (float64); a categorical split maps the encoder's code to
scikit-learn's ordinal position (``categories``), goes left when that position is in the node's
``raw_left_cat_bitsets`` row, right when it is a known category of the feature
(``known_cat_bitsets[f_idx_map[feature]]``), and like a missing value otherwise (codes unseen in
training included). Bitsets are resolved into code lists when compiling. The log-odds are the
baseline plus every tree's leaf value.

``lookalike-rf/1`` (RandomForestClassifier): scikit-learn compares the input rounded to float32
with a float64 threshold; each threshold is turned into the equivalent bound on the double
(:func:`float32_le_bound`), so no engine needs a 32-bit float type. Missing values follow
``missing_go_to_left``; the probability is the mean of the leaves' positive shares.

Only the JSON payload is read.
"""

from __future__ import annotations

from sqlglot import exp

from ._common import Member, case, float32_le_bound, in_codes, le_threshold, number
from ._common import payload_float as _float

HGB_FORMAT = "lookalike-hgb/1"
RF_FORMAT = "lookalike-rf/1"


def _bits(row: list[int]) -> set[int]:
    return {32 * w + b for w, word in enumerate(row) for b in range(32) if (int(word) >> b) & 1}


def _check_children(nodes: dict, i: int, n: int, where: str) -> None:
    left, right = int(nodes["left"][i]), int(nodes["right"][i])
    if not (i < left < n and i < right < n):
        raise ValueError(f"{where}: node {i} points at an invalid child")


def hgb_member(payload: dict, features: list[exp.Expression]) -> Member:
    """Log-odds of a ``lookalike-hgb/1`` payload over the encoded feature expressions
    (``features[j]`` is encoder column ``j``; categorical ones hold integer codes)."""
    if payload.get("format") != HGB_FORMAT:
        raise ValueError(f"expected a {HGB_FORMAT} payload, found {payload.get('format')!r}")
    n_features = int(payload["n_features"])
    if n_features != len(features):
        raise ValueError(f"the model expects {n_features} features but the encoder has {len(features)}")
    order = [int(c) for c in payload["column_order"]]
    categories = {int(k): [_float(v) for v in vals] for k, vals in payload["categories"].items()}
    known = [_bits(row) for row in payload["known_cat_bitsets"]]
    f_idx_map = [int(v) for v in payload["f_idx_map"]]

    def code_sets(feature_idx: int, raw_left: set[int]) -> tuple[set[int], set[int]]:
        """Encoder codes that go left / right at a categorical split (others: like missing)."""
        cats = categories[order[feature_idx]]
        known_positions = known[f_idx_map[feature_idx]]
        left, right = set(), set()
        for position, value in enumerate(cats):
            if value != int(value) or value < 0:
                continue  # not a code the SQL encoder can produce
            if position in raw_left:
                left.add(int(value))
            elif position in known_positions:
                right.add(int(value))
        return left, right

    terms = []
    for t, tree in enumerate(payload["trees"]):
        nodes = tree["nodes"]
        n = len(nodes["value"])
        bitsets = [_bits(row) for row in tree.get("raw_left_cat_bitsets", [])]

        def build(i: int, depth: int = 0) -> exp.Expression:
            if depth > n:
                raise ValueError(f"trees[{t}]: the nodes form a cycle")
            if int(nodes["is_leaf"][i]):
                return number(_float(nodes["value"][i]))
            _check_children(nodes, i, n, f"trees[{t}]")
            feature_idx = int(nodes["feature_idx"][i])
            x = features[order[feature_idx]].copy()
            mgl = bool(int(nodes["missing_go_to_left"][i]))
            left, right = build(int(nodes["left"][i]), depth + 1), build(int(nodes["right"][i]), depth + 1)
            if int(nodes["is_categorical"][i]):
                go_left, go_right = code_sets(feature_idx, bitsets[int(nodes["bitset_idx"][i])])
                # NULL IN (...) is unknown, so a CASE sends missing values to its ELSE branch.
                if mgl:
                    return case(in_codes(x, go_right), right, left) if go_right else left
                return case(in_codes(x, go_left), left, right) if go_left else right
            return le_threshold(x, _float(nodes["num_threshold"][i]), mgl, left, right)

        terms.append(build(0))
    return Member(terms=terms, intercept=_float(payload["baseline"]), link="logistic")


def rf_member(payload: dict, features: list[exp.Expression]) -> Member:
    """Positive-class probability of a ``lookalike-rf/1`` payload (mean of the trees' leaf shares)."""
    if payload.get("format") != RF_FORMAT:
        raise ValueError(f"expected a {RF_FORMAT} payload, found {payload.get('format')!r}")
    n_features = int(payload["n_features"])
    if n_features != len(features):
        raise ValueError(f"the model expects {n_features} features but the encoder has {len(features)}")
    terms = []
    for t, nodes in enumerate(payload["trees"]):
        n = len(nodes["value"])

        def build(i: int, depth: int = 0) -> exp.Expression:
            if depth > n:
                raise ValueError(f"trees[{t}]: the nodes form a cycle")
            if int(nodes["is_leaf"][i]):
                return number(_float(nodes["value"][i]))
            _check_children(nodes, i, n, f"trees[{t}]")
            x = features[int(nodes["feature"][i])].copy()
            bound = float32_le_bound(_float(nodes["threshold"][i]))
            return le_threshold(
                x,
                bound,
                bool(int(nodes["missing_go_to_left"][i])),
                build(int(nodes["left"][i]), depth + 1),
                build(int(nodes["right"][i]), depth + 1),
            )

        terms.append(build(0))
    return Member(terms=terms, divisor=float(len(terms)), link="identity")
